package authix

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"
)

// RevocationStore records revoked tokens until they would have expired.
//
// The id is an opaque string: the Vault passes the lowercase hex SHA-256 of
// the token's authentication tag, never the token itself. Implementations
// must be safe for concurrent use and need nothing from this package, so a
// store can live in a module of its own.
type RevocationStore interface {
	// Revoke records id as revoked until expiresAt. It returns an error when
	// the revocation was not recorded: a logout must never be silently lost.
	// Revoking an id again keeps the later expiry; an expiresAt in the past
	// records nothing and is not an error.
	Revoke(ctx context.Context, id string, expiresAt time.Time) error

	// IsRevoked reports whether id is revoked now. An id that was never
	// revoked, or whose expiresAt has passed, is (false, nil): errors report
	// system failures only. The Vault rejects the request on an error.
	IsRevoked(ctx context.Context, id string) (bool, error)
}

// MemoryStore is the default RevocationStore: revocations kept in this
// process's memory. It is lost on restart and not shared between processes;
// when keys outlive the process (WithKeys), use a durable shared store.
//
// Entries live in one open-addressing table of 16-byte slots (96 bits of
// the id's hash and the expiry second), about 34 bytes per revocation at a
// million. Each Revoke sweeps a few slots for expired entries and Len sweeps
// them all, so memory stays bounded by the revocations still in force
// without a background goroutine. A MemoryStore is safe for concurrent use;
// lookups take no lock unless they overlap a write.
type MemoryStore struct {
	now func() time.Time

	// Lookups read the table optimistically, seqlock style: writers make
	// seq odd while they change the table, and a lookup that saw seq odd
	// or moved reads again under mu. An optimistic lookup issues no locked
	// instruction, so lookups in a row overlap their cache misses: at a
	// million entries the slot is in main memory.
	seq   atomic.Uint64
	table atomic.Pointer[memTable]

	mu     sync.RWMutex // held by writers, and by lookups that raced one
	count  int          // occupied slots, expired or not
	cursor int          // where the incremental sweep resumes
}

// memTable's length is a power of two. Once published, its slots are
// written with atomic stores under mu and read with atomic loads.
type memTable []memSlot

// memSlot is empty when its expiry is zero; an expiry is never zero, since
// expiries in the past are not recorded.
type memSlot struct {
	k0 uint64 // key bits 0-63; they also choose the home slot
	kx uint64 // key bits 64-95 << 32 | expiry in unix seconds
}

type memKey [16]byte

const (
	memMinSlots  = 64
	memSweepStep = 16
)

// NewMemoryStore returns an empty MemoryStore that reads the time from now,
// or from time.Now when now is nil.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	m := &MemoryStore{now: now}
	t := make(memTable, memMinSlots)
	m.table.Store(&t)
	return m
}

// keyOf maps an id to its entry key. The Vault's ids are hex digests, whose
// leading 24 digits (the 96 bits a slot keeps) serve directly; any other id
// is hashed first.
func keyOf(id string) memKey {
	var k memKey
	if len(id) == 2*sha256.Size && decodeHexPrefix(&k, id) {
		return k
	}
	sum := sha256.Sum256([]byte(id))
	copy(k[:], sum[:])
	return k
}

// decodeHexPrefix fills the first 12 bytes of k from the first 24 lowercase
// hex digits of s, which has at least that many; one check at the end keeps
// the loop free of branches.
func decodeHexPrefix(k *memKey, s string) bool {
	_ = s[23]
	var bad byte
	for i := range 12 {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		bad |= hi | lo
		k[i] = hi<<4 | lo
	}
	return bad <= 0x0f
}

var hexVal = func() (t [256]byte) {
	for i := range t {
		t[i] = 0xff
	}
	for i, c := range "0123456789abcdef" {
		t[c] = byte(i)
	}
	return t
}()

func keyOfSum(sum *[sha256.Size]byte) memKey {
	return memKey(sum[:16])
}

// parts splits the 96 bits a slot keeps: k0 also chooses the slot.
func (k *memKey) parts() (uint64, uint32) {
	return binary.LittleEndian.Uint64(k[:8]), binary.LittleEndian.Uint32(k[8:12])
}

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
func (m *MemoryStore) Revoke(_ context.Context, id string, expiresAt time.Time) error {
	m.revoke(keyOf(id), expiresAt)
	return nil
}

func (m *MemoryStore) revoke(k memKey, expiresAt time.Time) {
	now := m.now()
	if !expiresAt.After(now) {
		return
	}
	exp := expirySecond(expiresAt)
	k0, k1 := k.parts()
	nowSec := now.Unix()
	m.mu.Lock()
	m.seq.Add(1)
	defer func() {
		m.seq.Add(1)
		m.mu.Unlock()
	}()
	t := *m.table.Load()
	m.sweepSome(t, nowSec)
	if i := t.find(k0, k1); i >= 0 {
		if old := uint32(t[i].kx); exp > old {
			atomic.StoreUint64(&t[i].kx, t[i].kx-uint64(old)+uint64(exp))
		}
		return
	}
	if (m.count+1)*4 > len(t)*3 {
		m.sweepAll(t, nowSec)
		if (m.count+1)*2 > len(t) {
			t = m.resize(t, len(t)*2)
		}
	}
	m.put(t, memSlot{k0: k0, kx: uint64(k1)<<32 | uint64(exp)})
}

// IsRevoked reports whether id is revoked now. It never fails.
func (m *MemoryStore) IsRevoked(_ context.Context, id string) (bool, error) {
	return m.isRevoked(keyOf(id)), nil
}

func (m *MemoryStore) isRevoked(k memKey) bool {
	exp := m.expiry(k)
	return exp != 0 && m.now().Unix() <= int64(exp)
}

// revokedAt is isRevoked for a caller that has read m's clock already.
func (m *MemoryStore) revokedAt(k memKey, now int64) bool {
	exp := m.expiry(k)
	return exp != 0 && now <= int64(exp)
}

// expiry returns the expiry second recorded for k, or 0.
func (m *MemoryStore) expiry(k memKey) uint32 {
	k0, k1 := k.parts()
	seq := m.seq.Load()
	exp := (*m.table.Load()).lookup(k0, k1)
	if seq&1 != 0 || m.seq.Load() != seq {
		m.mu.RLock()
		exp = (*m.table.Load()).lookup(k0, k1)
		m.mu.RUnlock()
	}
	return exp
}

// Len reports how many revocations are in force, after dropping expired ones.
func (m *MemoryStore) Len() int {
	now := m.now().Unix()
	m.mu.Lock()
	m.seq.Add(1)
	defer func() {
		m.seq.Add(1)
		m.mu.Unlock()
	}()
	t := *m.table.Load()
	m.sweepAll(t, now)
	if len(t) > memMinSlots && m.count*8 < len(t) {
		m.resize(t, max(memMinSlots, len(t)/4))
	}
	return m.count
}

// lookup returns the expiry stored for the key, or 0. It may run alongside
// a writer, so it reads with atomic loads and gives up after one lap of the
// table; the caller discards its answer if a write overlapped.
func (t memTable) lookup(k0 uint64, k1 uint32) uint32 {
	mask := uint64(len(t) - 1)
	i := k0 & mask
	for range t {
		s := &t[i]
		kx := atomic.LoadUint64(&s.kx)
		if uint32(kx) == 0 {
			return 0
		}
		if uint32(kx>>32) == k1 && atomic.LoadUint64(&s.k0) == k0 {
			return uint32(kx)
		}
		i = (i + 1) & mask
	}
	return 0
}

// find returns the slot holding the key, or -1. m.mu must be held for
// writing, so plain reads see a settled table.
func (t memTable) find(k0 uint64, k1 uint32) int {
	mask := uint64(len(t) - 1)
	for i := k0 & mask; ; i = (i + 1) & mask {
		s := &t[i]
		if s.empty() {
			return -1
		}
		if s.k0 == k0 && uint32(s.kx>>32) == k1 {
			return int(i)
		}
	}
}

func (s *memSlot) empty() bool    { return uint32(s.kx) == 0 }
func (s *memSlot) expiry() uint32 { return uint32(s.kx) }

// set writes slot i of a published table; lookups may be reading it.
func (t memTable) set(i int, s memSlot) {
	atomic.StoreUint64(&t[i].k0, s.k0)
	atomic.StoreUint64(&t[i].kx, s.kx)
}

// put stores a key that is not in the table, which has room.
func (m *MemoryStore) put(t memTable, s memSlot) {
	t.set(t.free(s.k0), s)
	m.count++
}

// free returns the first empty slot from k0's home slot on.
func (t memTable) free(k0 uint64) int {
	mask := uint64(len(t) - 1)
	i := k0 & mask
	for !t[i].empty() {
		i = (i + 1) & mask
	}
	return int(i)
}

// remove empties slot i and shifts later entries of its probe run back, so
// that lookups never need tombstones.
func (m *MemoryStore) remove(t memTable, i int) {
	mask := len(t) - 1
	for {
		t.set(i, memSlot{})
		j := i
		for {
			j = (j + 1) & mask
			if t[j].empty() {
				m.count--
				return
			}
			home := int(t[j].k0 & uint64(mask))
			// The entry at j may stay unless the hole at i lies between its
			// home slot and j (cyclically).
			if (i <= j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
				t.set(i, t[j])
				i = j
				break
			}
		}
	}
}

// sweepSome drops expired entries from the next few slots, spreading the
// cost of expiry over the calls to Revoke.
func (m *MemoryStore) sweepSome(t memTable, now int64) {
	mask := len(t) - 1
	for range memSweepStep {
		i := m.cursor
		if e := t[i].expiry(); e != 0 && int64(e) < now {
			m.remove(t, i)
			continue // slot i may hold a shifted entry now
		}
		m.cursor = (i + 1) & mask
	}
}

func (m *MemoryStore) sweepAll(t memTable, now int64) {
	for i := 0; i < len(t); {
		if e := t[i].expiry(); e != 0 && int64(e) < now {
			m.remove(t, i)
			continue
		}
		i++
	}
}

// resize moves the entries into a new table of n slots and publishes it.
// The new table is filled before lookups can see it, so plain writes do.
func (m *MemoryStore) resize(old memTable, n int) memTable {
	t := make(memTable, n)
	m.count = 0
	m.cursor = 0
	for _, s := range old {
		if !s.empty() {
			t[t.free(s.k0)] = s
			m.count++
		}
	}
	m.table.Store(&t)
	return t
}
