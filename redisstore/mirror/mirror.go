// Package mirror is the in-memory copy of a shared revocation store, from
// which a store answers authix's checks at the cost of a map lookup, and the
// rules that keep that copy current from a log in the backend. It knows
// nothing about any backend and imports only the standard library:
// redisstore feeds it from a Redis Stream, and a store on another backend
// (a Postgres table with a bigserial log, say) can feed it from a log of its
// own by the same rules:
//
//  1. Start with a full read: note where the log ends, read every record
//     into the Mirror, then Follower.Restart at that end.
//  2. Read the log from Follower.Pos, apply each entry's record to the
//     Mirror, and Follower.Advance with the entry's place and that of the
//     entry its writer saw last. After a read that reached the end of the
//     log, Follower.CaughtUp with the instant it was sent.
//  3. When Follower.Gap is true, go back to 1.
//  4. Past Freshness's bound, ask the backend directly, and fail closed
//     when it cannot answer.
//
// It has three parts, each safe to use on its own:
//
//   - Mirror holds the token revocations and subject cut-offs. Records only
//     grow: a later expiry, cut-off or until wins, and nothing leaves before
//     it runs out, so a full read or a log entry can never undo a revocation.
//   - Freshness knows when the mirror was last confirmed current and tells
//     whether that is within the staleness bound, past which a store must ask
//     its backend directly and fail closed if it cannot.
//   - Follower is a store's place in the backend's log: it finds a gap
//     (entries the store never saw) from each entry's link to the one before
//     it, and confirms the mirror only while there is none.
//
// Times are Unix milliseconds for expiries and untils, and Unix microseconds
// for cut-offs, the precision at which authix seals a token's issue time.
package mirror

import (
	"hash/maphash"
	"sync"
	"time"
)

// Mirror holds every live token revocation and subject cut-off of one store.
// The zero Mirror is not ready: use New. It is safe for concurrent use.
//
// A token revocation is keyed by a 64-bit hash of its id under a seed chosen
// by New, as authix's memory store does: 8 bytes instead of 32 and Go's
// fastest map path. The seed never leaves the process, so ids cannot be
// chosen to collide; two ids collide by chance with odds of n/2^64 per lookup
// for n entries (about 5e-14 at a million), and a collision reports a token
// revoked, never the reverse. Subject cut-offs are few and are keyed by their
// whole id. Both are spread over 64 shards, each behind its own lock, so a
// prune holds one shard at a time and a request waits for at most one
// shard's pass.
type Mirror struct {
	seed     maphash.Seed
	tokens   [shards]tokenShard
	subjects [shards]subjectShard
}

const shards = 64

// tokenShard is an open-addressing table with linear probing, as authix's
// memory store keeps: a lookup reads one 16-byte slot, rarely two, where a
// Go map reads its control word and then the slot, two cache misses on a
// large table. Key 0 marks an empty slot (key maps 0 to 1). At most half
// the slots are used; Prune rebuilds the table without what ran out.
type tokenShard struct {
	mu    sync.RWMutex
	slots []tokenSlot // len is a power of two
	n     int         // used slots
	_     [8]byte     // 64 bytes: one shard per cache line
}

type tokenSlot struct {
	k     uint64
	until int64
}

// put records k until until in slots, keeping the later until, and
// reports whether it took a new slot.
func put(slots []tokenSlot, k uint64, until int64) bool {
	mask := uint64(len(slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch slots[i].k {
		case 0:
			slots[i] = tokenSlot{k, until}
			return true
		case k:
			slots[i].until = max(slots[i].until, until)
			return false
		}
	}
}

// rebuilt returns slots rebuilt into a table of size slots, keeping those
// not before now, and how many it kept.
func rebuilt(slots []tokenSlot, size int, now int64) ([]tokenSlot, int) {
	out, n := make([]tokenSlot, size), 0
	for _, e := range slots {
		if e.k != 0 && e.until >= now {
			put(out, e.k, e.until)
			n++
		}
	}
	return out, n
}

// minSlots is the size of an empty shard's table.
const minSlots = 16

// live counts the slots of s that have not run out before now.
func (s *tokenShard) live(now int64) int {
	n := 0
	for _, e := range s.slots {
		if e.k != 0 && e.until >= now {
			n++
		}
	}
	return n
}

// compact rebuilds s without what ran out before now, at most 1/load full.
func (s *tokenShard) compact(now int64, live, load int) {
	size := minSlots
	for load*live > size {
		size *= 2
	}
	s.slots, s.n = rebuilt(s.slots, size, now)
}

type subjectShard struct {
	mu sync.RWMutex
	m  map[[32]byte]Cut
	_  [32]byte // one shard per cache line
}

// Cut is a subject cut-off: every token of the subject issued at or before
// At (Unix microseconds) is revoked while now is not after Until (Unix
// milliseconds), that instant included.
type Cut struct {
	At, Until int64
}

// Later returns the later of the cut-off a mirror holds (held, when ok) and
// one read from the backend (read, when found and not run out at now, Unix
// ms): a record the backend lost, or holds older, never undoes what the
// mirror holds.
func Later(held Cut, ok bool, read Cut, found bool, now int64) (Cut, bool) {
	if found && now <= read.Until && (!ok || read.At > held.At) {
		return read, true
	}
	return held, ok
}

// CutoffTime returns c's cut-off as a time, or the zero time when there is
// none (!ok), as authix's SubjectStore.SubjectCutoff answers.
func CutoffTime(c Cut, ok bool) time.Time {
	if !ok {
		return time.Time{}
	}
	return time.UnixMicro(c.At)
}

// CeilMilli returns t in Unix milliseconds, rounded up: an expiry must never
// come before the one asked for.
func CeilMilli(t time.Time) int64 {
	ms := t.UnixMilli()
	if t.After(time.UnixMilli(ms)) {
		ms++
	}
	return ms
}

// New returns an empty Mirror with a fresh seed.
func New() *Mirror {
	m := &Mirror{seed: maphash.MakeSeed()}
	for i := range m.tokens {
		m.tokens[i].slots = make([]tokenSlot, minSlots)
		m.subjects[i].m = make(map[[32]byte]Cut)
	}
	return m
}

func (m *Mirror) key(id *[32]byte) uint64 { return maphash.Bytes(m.seed, id[:]) }

// tokenKey is key, never 0, which marks an empty slot.
func (m *Mirror) tokenKey(id *[32]byte) uint64 { return max(m.key(id), 1) }

func (m *Mirror) tokenShard(k uint64) *tokenShard { return &m.tokens[k>>(64-6)] }

func (m *Mirror) subjectShard(id *[32]byte) *subjectShard { return &m.subjects[m.key(id)>>(64-6)] }

// Revoke records id as revoked until until (Unix ms), keeping the later
// expiry when id is already there. A revocation that ran out before now
// (Unix ms) is not recorded.
func (m *Mirror) Revoke(id [32]byte, until, now int64) {
	if until < now {
		return
	}
	k := m.tokenKey(&id)
	s := m.tokenShard(k)
	s.mu.Lock()
	if 2*(s.n+1) > len(s.slots) {
		// Sized by what is live, so that revocations that ran out make
		// room even in a store that never prunes; a quarter full, so that
		// the next rebuild is as many inserts away as the table holds.
		s.compact(now, s.live(now)+1, 4)
	}
	if put(s.slots, k, until) {
		s.n++
	}
	s.mu.Unlock()
}

// Until returns the expiry recorded for id, if any. An expired entry may
// still be returned: the caller compares it with its clock, so that a lookup
// of an id that is not there does not read the clock.
func (m *Mirror) Until(id [32]byte) (int64, bool) {
	k := m.tokenKey(&id)
	s := m.tokenShard(k)
	s.mu.RLock()
	slots := s.slots
	mask := uint64(len(slots) - 1)
	for i := k & mask; ; i = (i + 1) & mask {
		switch slots[i].k {
		case k:
			until := slots[i].until
			s.mu.RUnlock()
			return until, true
		case 0:
			s.mu.RUnlock()
			return 0, false
		}
	}
}

// CutSubject records a cut-off for subject, keeping the later At and the
// later Until of what is there. One whose Until is before now (Unix ms) is
// not recorded.
func (m *Mirror) CutSubject(subject [32]byte, c Cut, now int64) {
	if c.Until < now {
		return
	}
	s := m.subjectShard(&subject)
	s.mu.Lock()
	if cur, ok := s.m[subject]; ok {
		c.At, c.Until = max(c.At, cur.At), max(c.Until, cur.Until)
	}
	s.m[subject] = c
	s.mu.Unlock()
}

// SubjectCut returns the cut-off recorded for subject, if any. One whose
// Until has passed may still be returned; the caller compares it with its
// clock.
func (m *Mirror) SubjectCut(subject [32]byte) (Cut, bool) {
	s := m.subjectShard(&subject)
	s.mu.RLock()
	c, ok := s.m[subject]
	s.mu.RUnlock()
	return c, ok
}

// Prune drops the revocations and cut-offs that ran out before now (Unix
// ms) and returns how many of each remain. It locks one shard at a time.
func (m *Mirror) Prune(now int64) (tokens, subjects int) {
	for i := range m.tokens {
		s := &m.tokens[i]
		s.mu.Lock()
		if live := s.live(now); live < s.n {
			s.compact(now, live, 2)
		}
		tokens += s.n
		s.mu.Unlock()

		c := &m.subjects[i]
		c.mu.Lock()
		for id, cut := range c.m {
			if cut.Until < now {
				delete(c.m, id)
			}
		}
		subjects += len(c.m)
		c.mu.Unlock()
	}
	return tokens, subjects
}
