package authix

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/hex"
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
// Each entry takes a 16-byte key derived from the id and its expiry second.
// Expired entries are dropped on the next Revoke or Len, so memory is bounded
// by the revocations still in force, without a background goroutine.
// A MemoryStore is safe for concurrent use.
type MemoryStore struct {
	now func() time.Time

	mu      sync.RWMutex
	entries map[memKey]uint32 // expiry, unix seconds
	buckets map[uint32][]memKey
	queue   secondHeap // expiry seconds that have a bucket
}

type memKey [16]byte

// NewMemoryStore returns an empty MemoryStore that reads the time from now,
// or from time.Now when now is nil.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	return &MemoryStore{
		now:     now,
		entries: make(map[memKey]uint32),
		buckets: make(map[uint32][]memKey),
	}
}

// keyOf maps an id to its entry key. The Vault's ids are hex digests, whose
// leading half serves directly; any other id is hashed first.
func keyOf(id string) memKey {
	var k memKey
	if len(id) == 2*sha256.Size && isLowerHex(id) {
		hex.Decode(k[:], []byte(id[:2*len(k)]))
		return k
	}
	sum := sha256.Sum256([]byte(id))
	copy(k[:], sum[:])
	return k
}

func isLowerHex(s string) bool {
	for i := range len(s) {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func keyOfSum(sum *[sha256.Size]byte) memKey {
	return memKey(sum[:16])
}

// expirySecond rounds up, so an entry lasts at least until expiresAt.
func expirySecond(t time.Time) uint32 {
	s := t.Unix()
	if t.Nanosecond() > 0 {
		s++
	}
	switch {
	case s < 0:
		return 0
	case s > 1<<32-1:
		return 1<<32 - 1
	}
	return uint32(s)
}

// Revoke records id as revoked until expiresAt, and drops entries that
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
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now.Unix())
	if old, ok := m.entries[k]; ok && old >= exp {
		return
	}
	m.entries[k] = exp
	b, ok := m.buckets[exp]
	if !ok {
		heap.Push(&m.queue, exp)
	}
	m.buckets[exp] = append(b, k)
}

// IsRevoked reports whether id is revoked now. It never fails.
func (m *MemoryStore) IsRevoked(_ context.Context, id string) (bool, error) {
	return m.isRevoked(keyOf(id)), nil
}

func (m *MemoryStore) isRevoked(k memKey) bool {
	m.mu.RLock()
	exp, ok := m.entries[k]
	m.mu.RUnlock()
	return ok && m.now().Unix() <= int64(exp)
}

// Len reports how many revocations are in force, after dropping expired ones.
func (m *MemoryStore) Len() int {
	now := m.now().Unix()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.sweep(now)
	return len(m.entries)
}

// sweep drops every entry whose expiry second is before now. Each entry is
// visited once, so the cost is amortised over the Revoke calls that added
// them. m.mu must be held for writing.
func (m *MemoryStore) sweep(now int64) {
	for len(m.queue) > 0 && int64(m.queue[0]) < now {
		exp := heap.Pop(&m.queue).(uint32)
		for _, k := range m.buckets[exp] {
			if m.entries[k] == exp {
				delete(m.entries, k)
			}
		}
		delete(m.buckets, exp)
	}
}

// secondHeap is a min-heap of expiry seconds.
type secondHeap []uint32

func (h secondHeap) Len() int           { return len(h) }
func (h secondHeap) Less(i, j int) bool { return h[i] < h[j] }
func (h secondHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *secondHeap) Push(x any)        { *h = append(*h, x.(uint32)) }
func (h *secondHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
