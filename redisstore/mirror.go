package redisstore

import (
	"hash/maphash"
	"sync"
)

// mirror is the in-memory copy of the revocations held in Redis. Expiries
// are Unix milliseconds; an entry holds while now <= its expiry. Entries are
// only added or extended, never removed before they expire, so a revocation
// that Redis loses stays here until its own expiry. It is safe for
// concurrent use.
//
// An entry is keyed by a 64-bit hash of the whole id under a seed chosen
// when the Store is made, as authix's memory store does: 8 bytes instead of
// the id's 32, and Go's fastest map path. Since the seed is never seen
// outside the process, ids cannot be chosen to collide. Two ids collide by
// chance with odds of n/2^64 per lookup for n entries (about 5e-14 at a
// million), and a collision reports a token revoked, never the reverse.
type mirror struct {
	seed maphash.Seed

	mu sync.RWMutex
	m  map[uint64]int64
}

// mirrorEntry is one revocation read from Redis, keyed by mirror.key.
type mirrorEntry struct {
	key uint64
	exp int64
}

func newMirror() *mirror {
	return &mirror{seed: maphash.MakeSeed(), m: make(map[uint64]int64)}
}

func (m *mirror) key(id *[32]byte) uint64 { return maphash.Bytes(m.seed, id[:]) }

// lookup returns the expiry recorded for id, if any. Expired entries may
// still be returned; the caller compares with its clock.
func (m *mirror) lookup(id [32]byte) (int64, bool) {
	k := m.key(&id)
	m.mu.RLock()
	exp, ok := m.m[k]
	m.mu.RUnlock()
	return exp, ok
}

// insert records id as revoked until expMs, keeping the later expiry.
func (m *mirror) insert(id [32]byte, expMs int64) {
	k := m.key(&id)
	m.mu.Lock()
	m.put(k, expMs)
	m.mu.Unlock()
}

// merge records every entry that has not expired at nowMs, keeping the later
// expiry of each id. Entries already in the mirror stay.
func (m *mirror) merge(entries []mirrorEntry, nowMs int64) {
	m.mu.Lock()
	for _, e := range entries {
		if e.exp >= nowMs {
			m.put(e.key, e.exp)
		}
	}
	m.mu.Unlock()
}

// put needs m.mu held for writing.
func (m *mirror) put(k uint64, expMs int64) {
	if cur, ok := m.m[k]; !ok || cur < expMs {
		m.m[k] = expMs
	}
}

// prune drops entries that expired before nowMs and returns how many remain.
func (m *mirror) prune(nowMs int64) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	for k, exp := range m.m {
		if exp < nowMs {
			delete(m.m, k)
		}
	}
	return len(m.m)
}
