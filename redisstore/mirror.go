package redisstore

import (
	"hash/maphash"
	"sync"
)

// mirrorKey is the fixed-size identity of an id in the local mirror: two
// 64-bit hashes of the id under independent random seeds. Ids of any length
// cost the same 16 bytes, and a false match needs a 128-bit collision under
// seeds chosen at process start, which an attacker cannot aim for.
type mirrorKey [2]uint64

// mirror is the in-memory copy of the revocations held in Redis. Expiries
// are Unix milliseconds. It is safe for concurrent use.
type mirror struct {
	seed0, seed1 maphash.Seed

	mu sync.RWMutex
	t  table
	// pending, when non-nil, collects every insert made while a full sync is
	// running, so that inserts racing with the scan survive the swap.
	pending map[mirrorKey]int64
}

func newMirror() *mirror {
	return &mirror{seed0: maphash.MakeSeed(), seed1: maphash.MakeSeed(), t: newTable(0)}
}

func (m *mirror) key(id string) mirrorKey {
	return mirrorKey{maphash.String(m.seed0, id), maphash.String(m.seed1, id)}
}

// lookup returns the expiry recorded for id, if any. Expired entries may
// still be returned; the caller compares with its clock. An id that is not
// there usually costs one hash and one lookup in a uint64-keyed map.
func (m *mirror) lookup(id string) (int64, bool) {
	h0 := maphash.String(m.seed0, id)
	m.mu.RLock()
	exp, ok := m.t.get(h0, func() uint64 { return maphash.String(m.seed1, id) })
	m.mu.RUnlock()
	return exp, ok
}

// insert records id as revoked until expMs, keeping the later expiry.
func (m *mirror) insert(id string, expMs int64) {
	k := m.key(id)
	m.mu.Lock()
	m.t.put(k, expMs)
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
// since beginSync, leaving out entries that expired before nowMs.
func (m *mirror) replace(entries map[mirrorKey]int64, nowMs int64) {
	t := newTable(len(entries))
	for k, exp := range entries {
		if exp >= nowMs {
			t.put(k, exp)
		}
	}
	m.mu.Lock()
	for k, exp := range m.pending {
		if exp >= nowMs {
			t.put(k, exp)
		}
	}
	m.t = t
	m.pending = nil
	m.mu.Unlock()
}

// prune drops entries that expired before nowMs and returns how many
// remain.
func (m *mirror) prune(nowMs int64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.t.prune(nowMs)
}

// table maps mirror keys to expiries. It is indexed by the first hash alone,
// which keeps lookups on Go's fast path for uint64 keys and lets a miss skip
// the second hash; the second hash is stored alongside and checked on a
// match. An id whose first hash equals another id's (about one pair in 2^64)
// lives in overflow. A table is not safe for concurrent use.
type table struct {
	main     map[uint64]tableEntry
	overflow map[mirrorKey]int64 // almost always empty
}

type tableEntry struct {
	h1  uint64
	exp int64
}

func newTable(size int) table {
	return table{main: make(map[uint64]tableEntry, size), overflow: make(map[mirrorKey]int64)}
}

// get returns the expiry for the key whose first hash is h0 and whose second
// hash h1 returns; h1 is called only when h0 is present.
func (t *table) get(h0 uint64, h1 func() uint64) (int64, bool) {
	e, ok := t.main[h0]
	if !ok {
		return 0, false
	}
	if second := h1(); e.h1 != second {
		exp, ok := t.overflow[mirrorKey{h0, second}]
		return exp, ok
	}
	return e.exp, true
}

// put records k until exp, keeping the later expiry.
func (t *table) put(k mirrorKey, exp int64) {
	e, ok := t.main[k[0]]
	switch {
	case !ok:
		t.main[k[0]] = tableEntry{h1: k[1], exp: exp}
	case e.h1 == k[1]:
		if e.exp < exp {
			t.main[k[0]] = tableEntry{h1: k[1], exp: exp}
		}
	default:
		putMax(t.overflow, k, exp)
	}
}

// prune drops entries that expired before nowMs and returns how many
// remain. An overflow entry whose main slot was freed moves into it, so get
// still finds it.
func (t *table) prune(nowMs int64) int {
	for h0, e := range t.main {
		if e.exp < nowMs {
			delete(t.main, h0)
		}
	}
	for k, exp := range t.overflow {
		if exp < nowMs {
			delete(t.overflow, k)
			continue
		}
		if _, ok := t.main[k[0]]; !ok {
			t.main[k[0]] = tableEntry{h1: k[1], exp: exp}
			delete(t.overflow, k)
		}
	}
	return len(t.main) + len(t.overflow)
}
