package authix

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"sync"
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
// without a background goroutine. A MemoryStore is safe for concurrent use.
type MemoryStore struct {
	now func() time.Time

	mu     sync.RWMutex
	slots  []memSlot // length is a power of two
	count  int       // occupied slots, expired or not
	cursor int       // where the incremental sweep resumes
}

// memSlot is empty when exp is zero; an expiry is never zero, since
// expiries in the past are not recorded.
type memSlot struct {
	k0  uint64
	k1  uint32
	exp uint32 // unix seconds; revoked while now <= exp
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
	return &MemoryStore{now: now, slots: make([]memSlot, memMinSlots)}
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
	defer m.mu.Unlock()
	m.sweepSome(nowSec)
	if i := m.find(k0, k1); i >= 0 {
		m.slots[i].exp = max(m.slots[i].exp, exp)
		return
	}
	if (m.count+1)*4 > len(m.slots)*3 {
		m.sweepAll(nowSec)
		if (m.count+1)*2 > len(m.slots) {
			m.resize(len(m.slots) * 2)
		}
	}
	m.put(memSlot{k0: k0, k1: k1, exp: exp})
}

// IsRevoked reports whether id is revoked now. It never fails.
func (m *MemoryStore) IsRevoked(_ context.Context, id string) (bool, error) {
	return m.isRevoked(keyOf(id)), nil
}

func (m *MemoryStore) isRevoked(k memKey) bool {
	k0, k1 := k.parts()
	m.mu.RLock()
	var exp uint32
	if i := m.find(k0, k1); i >= 0 {
		exp = m.slots[i].exp
	}
	m.mu.RUnlock()
	return exp != 0 && m.now().Unix() <= int64(exp)
}

// Len reports how many revocations are in force, after dropping expired ones.
func (m *MemoryStore) Len() int {
	now := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweepAll(now)
	if len(m.slots) > memMinSlots && m.count*8 < len(m.slots) {
		m.resize(max(memMinSlots, len(m.slots)/4))
	}
	return m.count
}

// find returns the slot holding the key, or -1. m.mu must be held.
func (m *MemoryStore) find(k0 uint64, k1 uint32) int {
	mask := uint64(len(m.slots) - 1)
	for i := k0 & mask; ; i = (i + 1) & mask {
		s := &m.slots[i]
		if s.exp == 0 {
			return -1
		}
		if s.k0 == k0 && s.k1 == k1 {
			return int(i)
		}
	}
}

// put stores a key that is not in the table, which has room.
func (m *MemoryStore) put(s memSlot) {
	mask := uint64(len(m.slots) - 1)
	i := s.k0 & mask
	for m.slots[i].exp != 0 {
		i = (i + 1) & mask
	}
	m.slots[i] = s
	m.count++
}

// remove empties slot i and shifts later entries of its probe run back, so
// that lookups never need tombstones.
func (m *MemoryStore) remove(i int) {
	mask := len(m.slots) - 1
	for {
		m.slots[i] = memSlot{}
		j := i
		for {
			j = (j + 1) & mask
			if m.slots[j].exp == 0 {
				m.count--
				return
			}
			home := int(m.slots[j].k0 & uint64(mask))
			// The entry at j may stay unless the hole at i lies between its
			// home slot and j (cyclically).
			if (i <= j && (home <= i || home > j)) || (i > j && home <= i && home > j) {
				m.slots[i] = m.slots[j]
				i = j
				break
			}
		}
	}
}

// sweepSome drops expired entries from the next few slots, spreading the
// cost of expiry over the calls to Revoke.
func (m *MemoryStore) sweepSome(now int64) {
	mask := len(m.slots) - 1
	for range memSweepStep {
		i := m.cursor
		if e := m.slots[i].exp; e != 0 && int64(e) < now {
			m.remove(i)
			continue // slot i may hold a shifted entry now
		}
		m.cursor = (i + 1) & mask
	}
}

func (m *MemoryStore) sweepAll(now int64) {
	for i := 0; i < len(m.slots); {
		if e := m.slots[i].exp; e != 0 && int64(e) < now {
			m.remove(i)
			continue
		}
		i++
	}
}

func (m *MemoryStore) resize(n int) {
	old := m.slots
	m.slots = make([]memSlot, n)
	m.count = 0
	m.cursor = 0
	for _, s := range old {
		if s.exp != 0 {
			m.put(s)
		}
	}
}
