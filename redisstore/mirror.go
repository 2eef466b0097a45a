package redisstore

import (
	"hash/maphash"
	"sync"
)

// mirrorKey is the fixed-size key of an id in the local mirror: two 64-bit
// hashes of the id under independent random seeds. Ids of any length cost the
// same 16 bytes, and a false match needs a 128-bit collision under seeds
// chosen at process start, which an attacker cannot aim for.
type mirrorKey [2]uint64

// mirror is the in-memory copy of the revocations held in Redis. Values are
// expiry times in Unix milliseconds. It is safe for concurrent use.
type mirror struct {
	seed0, seed1 maphash.Seed

	mu      sync.RWMutex
	entries map[mirrorKey]int64
	// pending, when non-nil, collects every insert made while a full sync is
	// running, so that inserts racing with the scan survive the swap.
	pending map[mirrorKey]int64
}

func newMirror() *mirror {
	return &mirror{
		seed0:   maphash.MakeSeed(),
		seed1:   maphash.MakeSeed(),
		entries: make(map[mirrorKey]int64),
	}
}

func (m *mirror) key(id string) mirrorKey {
	return mirrorKey{maphash.String(m.seed0, id), maphash.String(m.seed1, id)}
}

// lookup returns the expiry recorded for id, if any. Expired entries may
// still be returned; the caller compares with its clock.
func (m *mirror) lookup(id string) (int64, bool) {
	k := m.key(id)
	m.mu.RLock()
	exp, ok := m.entries[k]
	m.mu.RUnlock()
	return exp, ok
}

// insert records id as revoked until expMs, keeping the later expiry.
func (m *mirror) insert(id string, expMs int64) {
	k := m.key(id)
	m.mu.Lock()
	putMax(m.entries, k, expMs)
	if m.pending != nil {
		putMax(m.pending, k, expMs)
	}
	m.mu.Unlock()
}

func putMax(entries map[mirrorKey]int64, k mirrorKey, expMs int64) {
	if cur, ok := entries[k]; !ok || cur < expMs {
		entries[k] = expMs
	}
}

// beginSync starts collecting inserts for a later replace.
func (m *mirror) beginSync() {
	m.mu.Lock()
	m.pending = make(map[mirrorKey]int64)
	m.mu.Unlock()
}

// abortSync stops collecting inserts and keeps the current entries.
func (m *mirror) abortSync() {
	m.mu.Lock()
	m.pending = nil
	m.mu.Unlock()
}

// replace swaps in entries read from Redis, merged with the inserts made
// since beginSync, and drops entries that expired at or before nowMs.
func (m *mirror) replace(entries map[mirrorKey]int64, nowMs int64) {
	m.mu.Lock()
	for k, exp := range m.pending {
		putMax(entries, k, exp)
	}
	for k, exp := range entries {
		if exp <= nowMs {
			delete(entries, k)
		}
	}
	m.entries = entries
	m.pending = nil
	m.mu.Unlock()
}

// prune drops entries that expired at or before nowMs and returns how many
// remain.
func (m *mirror) prune(nowMs int64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, exp := range m.entries {
		if exp <= nowMs {
			delete(m.entries, k)
		}
	}
	return len(m.entries)
}
