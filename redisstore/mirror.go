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
//
// The entries are spread over 64 shards, each a map behind its own lock, so
// that a prune or a merge holds one shard at a time, never the whole mirror:
// requests wait at most for one shard's pass.
type mirror struct {
	seed     maphash.Seed
	shards   [mirrorShards]mirrorShard
	subjects [mirrorShards]subjectShard
}

const mirrorShards = 64

type mirrorShard struct {
	mu sync.RWMutex
	m  map[uint64]int64
	_  [32]byte // one shard per cache line
}

// subjectShard holds subject cut-offs, keyed by the whole subject id: they
// are few, so they need neither the hash key's saving nor its chance
// collisions. The shard is chosen by the seeded hash, as for tokens, so a
// prune holds one shard's lock at a time however many subjects there are.
type subjectShard struct {
	mu sync.RWMutex
	m  map[[32]byte]subjectCut
	_  [32]byte // one shard per cache line
}

// subjectCut is one subject cut-off: every token of the subject issued at or
// before cutoff (Unix microseconds) is revoked while now <= until (Unix
// milliseconds).
type subjectCut struct {
	cutoff, until int64
}

// subjectEntry is one subject cut-off read from Redis.
type subjectEntry struct {
	id  [32]byte
	cut subjectCut
}

// mirrorEntry is one revocation read from Redis, keyed by mirror.key.
type mirrorEntry struct {
	key uint64
	exp int64
}

func newMirror() *mirror {
	m := &mirror{seed: maphash.MakeSeed()}
	for i := range m.shards {
		m.shards[i].m = make(map[uint64]int64)
		m.subjects[i].m = make(map[[32]byte]subjectCut)
	}
	return m
}

func (m *mirror) key(id *[32]byte) uint64 { return maphash.Bytes(m.seed, id[:]) }

func (m *mirror) shard(k uint64) *mirrorShard { return &m.shards[k>>(64-6)] }

// lookup returns the expiry recorded for id, if any. Expired entries may
// still be returned; the caller compares with its clock.
func (m *mirror) lookup(id [32]byte) (int64, bool) {
	k := m.key(&id)
	s := m.shard(k)
	s.mu.RLock()
	exp, ok := s.m[k]
	s.mu.RUnlock()
	return exp, ok
}

// insert records id as revoked until expMs, keeping the later expiry.
func (m *mirror) insert(id [32]byte, expMs int64) { m.put(m.key(&id), expMs) }

// merge records every entry that has not expired at nowMs, keeping the later
// expiry of each id. Entries already in the mirror stay.
func (m *mirror) merge(entries []mirrorEntry, nowMs int64) {
	for _, e := range entries {
		if e.exp >= nowMs {
			m.put(e.key, e.exp)
		}
	}
}

func (m *mirror) put(k uint64, expMs int64) {
	s := m.shard(k)
	s.mu.Lock()
	if cur, ok := s.m[k]; !ok || cur < expMs {
		s.m[k] = expMs
	}
	s.mu.Unlock()
}

// prune drops entries that expired before nowMs and returns how many remain.
// It locks one shard at a time.
func (m *mirror) prune(nowMs int64) int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		for k, exp := range s.m {
			if exp < nowMs {
				delete(s.m, k)
			}
		}
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}

func (m *mirror) subjectShard(id *[32]byte) *subjectShard {
	return &m.subjects[m.key(id)>>(64-6)]
}

// subject returns the cut-off recorded for subject, if any. An expired one
// may still be returned; the caller compares until with its clock.
func (m *mirror) subject(id [32]byte) (subjectCut, bool) {
	s := m.subjectShard(&id)
	s.mu.RLock()
	c, ok := s.m[id]
	s.mu.RUnlock()
	return c, ok
}

// putSubject records a cut-off, keeping the later cutoff and the later until
// of what is there.
func (m *mirror) putSubject(id [32]byte, c subjectCut) {
	s := m.subjectShard(&id)
	s.mu.Lock()
	if cur, ok := s.m[id]; ok {
		c.cutoff, c.until = max(c.cutoff, cur.cutoff), max(c.until, cur.until)
	}
	s.m[id] = c
	s.mu.Unlock()
}

// mergeSubjects records every cut-off that has not run out at nowMs. Those
// already in the mirror stay.
func (m *mirror) mergeSubjects(entries []subjectEntry, nowMs int64) {
	for _, e := range entries {
		if e.cut.until >= nowMs {
			m.putSubject(e.id, e.cut)
		}
	}
}

// pruneSubjects drops cut-offs that ran out before nowMs and returns how
// many remain. It locks one shard at a time.
func (m *mirror) pruneSubjects(nowMs int64) int {
	n := 0
	for i := range m.subjects {
		s := &m.subjects[i]
		s.mu.Lock()
		for id, c := range s.m {
			if c.until < nowMs {
				delete(s.m, id)
			}
		}
		n += len(s.m)
		s.mu.Unlock()
	}
	return n
}
