package authix

import (
	"bytes"
	"context"
	"hash/maphash"
	"math/bits"
	"sync"
	"time"
)

// MemoryStore is the default RevocationStore: revocations in this process's
// memory, lost on restart and not shared between processes. It keeps a seeded
// 64-bit hash of each id in 64 sharded hash tables; each Revoke sweeps a few
// slots, so expired entries go without a background goroutine and no lock is
// held for more than one shard's work. It is safe for concurrent use.
type MemoryStore struct {
	now    func() time.Time
	seed   maphash.Seed
	shards [memShards]memShard

	// Subject cut-offs are rare (password changes, bans): one map, swept a
	// few entries at each write.
	subMu    sync.RWMutex
	subjects map[uint64]subjectCut
	devices  map[uint64][]deviceEntry // per subject, at most MaxDevices
}

type deviceEntry struct {
	session TokenID
	record  []byte
	until   int64 // Unix seconds
}

type subjectCut struct {
	cutoff int64  // Unix microseconds: tokens issued at or before it are revoked
	until  uint32 // Unix seconds: the record holds while now <= until
}

const (
	memShards     = 64
	memShardShift = 64 - 6 // the top 6 bits of a key pick its shard
	memMinSlots   = 16
	// memSweepSlots is how many slots each Revoke sweeps. A lap of the
	// sweep takes len(slots)/memSweepSlots revocations, so at most that
	// many expired entries wait to be dropped.
	memSweepSlots = 16
)

type memShard struct {
	mu     sync.RWMutex
	slots  []memSlot // a power of two, at most three quarters full
	count  int       // slots in use, expired or not
	cursor int       // where the sweep resumes
	_      [16]byte  // one shard per cache line: lookups on two cores do not share one
}

// memSlot is empty when exp is zero; an expiry is never zero.
type memSlot struct {
	key uint64
	exp uint32 // Unix seconds; revoked while now <= exp
}

// NewMemoryStore returns an empty MemoryStore that reads the time from now,
// or from time.Now when now is nil.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	m := &MemoryStore{now: now, seed: maphash.MakeSeed(), subjects: make(map[uint64]subjectCut), devices: make(map[uint64][]deviceEntry)}
	for i := range m.shards {
		m.shards[i].slots = make([]memSlot, memMinSlots)
	}
	return m
}

// key hashes the whole id under a per-store seed, so that ids alike in some
// bytes still spread over the table, and nobody can aim two ids at one key.
// A lookup compares one key, so a false match has odds of about n/2^64; it
// could only refuse a valid token, never accept a revoked one.
func (m *MemoryStore) key(id *TokenID) uint64 { return maphash.Bytes(m.seed, id[:]) }

func (m *MemoryStore) shard(k uint64) *memShard { return &m.shards[k>>memShardShift] }

// expirySecond rounds up, so an entry lasts at least until expiresAt.
func expirySecond(t time.Time) uint32 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	switch {
	case s < 1:
		return 1
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}

// Revoke records id as revoked until expiresAt, and drops some entries that
// have expired. It never fails.
func (m *MemoryStore) Revoke(_ context.Context, id TokenID, expiresAt time.Time) error {
	now := m.now()
	if expiresAt.Before(now) {
		return nil
	}
	k := m.key(&id)
	s := m.shard(k)
	s.mu.Lock()
	s.put(k, expirySecond(expiresAt), now.Unix())
	s.sweep(now.Unix())
	s.mu.Unlock()
	return nil
}

// IsRevoked reports whether id is revoked now. It never fails.
func (m *MemoryStore) IsRevoked(_ context.Context, id TokenID) (bool, error) {
	k := m.key(&id)
	s := m.shard(k)
	s.mu.RLock()
	exp := s.get(k)
	s.mu.RUnlock()
	// Only a hit needs the time: most tokens were never revoked.
	return exp != 0 && m.now().Unix() <= int64(exp), nil
}

// RevokeSubject records cutoff for subject until until, one microsecond
// past the cut-off it holds if that is not earlier; see SubjectStore. It
// never fails.
func (m *MemoryStore) RevokeSubject(_ context.Context, subject SubjectID, cutoff, until time.Time) error {
	now := m.now()
	if until.Before(now) {
		return nil
	}
	k := m.key(&subject)
	c := subjectCut{cutoff: cutoff.UnixMicro(), until: expirySecond(until)}
	m.subMu.Lock()
	defer m.subMu.Unlock()
	if old, ok := m.subjects[k]; ok {
		c.cutoff, c.until = max(c.cutoff, old.cutoff+1), max(c.until, old.until)
	}
	m.subjects[k] = c
	n := memSweepSlots
	for k, e := range m.subjects {
		if int64(e.until) < now.Unix() {
			delete(m.subjects, k)
		}
		if n--; n == 0 {
			break
		}
	}
	return nil
}

// SubjectCutoff returns the cutoff recorded for subject, or the zero time;
// see SubjectStore. It never fails.
func (m *MemoryStore) SubjectCutoff(_ context.Context, subject SubjectID) (time.Time, error) {
	k := m.key(&subject)
	m.subMu.RLock()
	c, ok := m.subjects[k]
	m.subMu.RUnlock()
	if !ok || m.now().Unix() > int64(c.until) {
		return time.Time{}, nil
	}
	return time.UnixMicro(c.cutoff), nil
}

// SaveDevice records a session's record for subject until until; see
// DeviceStore. It never fails.
func (m *MemoryStore) SaveDevice(_ context.Context, subject SubjectID, session TokenID, record []byte, until time.Time) error {
	if until.Before(m.now()) {
		return nil
	}
	now := m.now().Unix()
	k := m.key(&subject)
	m.subMu.Lock()
	defer m.subMu.Unlock()
	kept := liveDevices(m.devices[k], now, session)
	if len(kept) == MaxDevices {
		first := 0
		for i, e := range kept {
			if e.until < kept[first].until {
				first = i
			}
		}
		kept = append(kept[:first], kept[first+1:]...)
	}
	m.devices[k] = append(kept, deviceEntry{session, bytes.Clone(record), int64(expirySecond(until))})
	n := memSweepSlots
	for k, list := range m.devices {
		if len(liveDevices(list, now, TokenID{})) == 0 {
			delete(m.devices, k)
		}
		if n--; n == 0 {
			break
		}
	}
	return nil
}

// liveDevices filters list in place to the entries still live at now,
// without session.
func liveDevices(list []deviceEntry, now int64, session TokenID) []deviceEntry {
	kept := list[:0]
	for _, e := range list {
		if e.until >= now && e.session != session {
			kept = append(kept, e)
		}
	}
	return kept
}

// Devices returns the live records of subject; see DeviceStore. It never
// fails.
func (m *MemoryStore) Devices(_ context.Context, subject SubjectID) ([][]byte, error) {
	now := m.now().Unix()
	k := m.key(&subject)
	m.subMu.RLock()
	defer m.subMu.RUnlock()
	var out [][]byte
	for _, e := range m.devices[k] {
		if e.until >= now {
			out = append(out, bytes.Clone(e.record))
		}
	}
	return out, nil
}

// DeleteDevice removes a session's record; see DeviceStore. It never fails.
func (m *MemoryStore) DeleteDevice(_ context.Context, subject SubjectID, session TokenID) error {
	k := m.key(&subject)
	m.subMu.Lock()
	defer m.subMu.Unlock()
	m.devices[k] = liveDevices(m.devices[k], m.now().Unix(), session)
	return nil
}

// Len drops every expired entry and reports how many revocations are in
// force. It locks each of the 64 shards in turn, for one pass over it.
func (m *MemoryStore) Len() int {
	now := m.now().Unix()
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.Lock()
		s.sweepAll(now)
		n += s.count
		s.mu.Unlock()
	}
	return n
}

func (s *memShard) mask() int { return len(s.slots) - 1 }

// get returns the expiry recorded for k, or 0. The table always has empty
// slots, so the probe ends.
func (s *memShard) get(k uint64) uint32 {
	mask := s.mask()
	for i := int(k) & mask; ; i = (i + 1) & mask {
		switch sl := &s.slots[i]; {
		case sl.exp == 0:
			return 0
		case sl.key == k:
			return sl.exp
		}
	}
}

// put records k until exp, keeping a later expiry already there. An expired
// entry on k's probe path gives its slot to k.
func (s *memShard) put(k uint64, exp uint32, now int64) {
	mask := s.mask()
	free := -1
	for i := int(k) & mask; ; i = (i + 1) & mask {
		sl := &s.slots[i]
		if sl.exp == 0 {
			if free < 0 {
				if (s.count+1)*4 > len(s.slots)*3 {
					s.rehash(now)
					s.put(k, exp, now) // into a table with room: no further rehash
					return
				}
				free = i
				s.count++
			}
			s.slots[free] = memSlot{key: k, exp: exp}
			return
		}
		if sl.key == k {
			sl.exp = max(sl.exp, exp)
			return
		}
		if free < 0 && int64(sl.exp) < now {
			free = i
		}
	}
}

// remove empties slot i, moving later entries of its cluster back so that
// no probe ever meets a gap before its key (no tombstones).
func (s *memShard) remove(i int) {
	mask := s.mask()
	for j := (i + 1) & mask; s.slots[j].exp != 0; j = (j + 1) & mask {
		// The entry at j may fill i unless its home lies in (i, j].
		if home := int(s.slots[j].key) & mask; (j-home)&mask >= (j-i)&mask {
			s.slots[i] = s.slots[j]
			i = j
		}
	}
	s.slots[i] = memSlot{}
	s.count--
}

// sweep drops the expired entries among the next few slots.
func (s *memShard) sweep(now int64) {
	mask := s.mask()
	for n := 0; n < memSweepSlots; n++ {
		i := s.cursor
		if sl := &s.slots[i]; sl.exp != 0 && int64(sl.exp) < now {
			s.remove(i) // a later entry may have moved into i: look again
			continue
		}
		s.cursor = (i + 1) & mask
	}
}

// sweepAll drops every expired entry, then gives memory back if the table
// is mostly empty. Entries move only back towards the slot being looked at,
// so one pass sees each of them.
func (s *memShard) sweepAll(now int64) {
	for i := 0; i < len(s.slots); {
		if sl := &s.slots[i]; sl.exp != 0 && int64(sl.exp) < now {
			s.remove(i)
			continue
		}
		i++
	}
	if len(s.slots) > memMinSlots && s.count*8 < len(s.slots) {
		s.rehash(now)
	}
}

// rehash moves the entries in force into a table sized for them: twice as
// many slots as entries, rounded up to a power of two.
func (s *memShard) rehash(now int64) {
	live := 0
	for _, sl := range s.slots {
		if sl.exp != 0 && int64(sl.exp) >= now {
			live++
		}
	}
	n := max(memMinSlots, 1<<bits.Len(uint(2*live)))
	old := s.slots
	s.slots, s.count, s.cursor = make([]memSlot, n), 0, 0
	mask := n - 1
	for _, sl := range old {
		if sl.exp == 0 || int64(sl.exp) < now {
			continue
		}
		i := int(sl.key) & mask
		for s.slots[i].exp != 0 {
			i = (i + 1) & mask
		}
		s.slots[i] = sl
		s.count++
	}
}
