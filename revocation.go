package authix

import (
	"context"
	"crypto/sha256"
	"hash/maphash"
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
// Entries live in one hash table of 64-byte buckets, each a cache line
// holding five entries of a 64-bit hash of the id and the expiry second:
// a lookup reads one line, rarely two, and a million revocations take
// about 17 bytes each. Each Revoke sweeps a few entries for expired ones
// and Len sweeps them all, so memory stays bounded by the revocations still
// in force without a background goroutine. A MemoryStore is safe for
// concurrent use; lookups take no lock unless they overlap a write.
type MemoryStore struct {
	now  func() time.Time
	seed maphash.Seed

	// Lookups read the table optimistically, seqlock style: writers make
	// seq odd while they change the table, and a lookup that saw seq odd
	// or moved reads again under mu. An optimistic lookup issues no locked
	// instruction, so lookups in a row overlap their cache misses: at a
	// million entries the bucket is in main memory.
	seq   atomic.Uint64
	table atomic.Pointer[memTable]

	mu     sync.RWMutex // held by writers, and by lookups that raced one
	count  int          // entries held, expired or not
	cursor int          // the bucket where the incremental sweep resumes
}

// memTable's length is a power of two. An entry lives in its home bucket
// (the key's low bits) or, when that is full, in one of the next ones.
// Once published, a table is written with atomic stores under mu and read
// with atomic loads.
type memTable []memBucket

const memBucketSize = 5

// memBucket is one cache line. An entry is empty when its expiry is zero;
// an expiry is never zero, since expiries in the past are not recorded.
type memBucket struct {
	keys [memBucketSize]uint64
	exps [memBucketSize]uint32 // unix seconds; revoked while now <= exp
	// passed counts the entries that live past this bucket although their
	// probe started at or before it; a lookup stops at a bucket whose count
	// is zero, so removing an entry never needs tombstones or shifting.
	passed uint32
}

const (
	memMinBuckets = 16
	memSweepStep  = 4 // buckets swept per Revoke
)

// NewMemoryStore returns an empty MemoryStore that reads the time from now,
// or from time.Now when now is nil.
func NewMemoryStore(now func() time.Time) *MemoryStore {
	if now == nil {
		now = time.Now
	}
	m := &MemoryStore{now: now, seed: maphash.MakeSeed()}
	t := make(memTable, memMinBuckets)
	m.table.Store(&t)
	return m
}

// keyOf maps an id to its entry key. The Vault's ids are lowercase hex
// digests, which are decoded; any other id is hashed with SHA-256 first,
// so that it cannot take the key of a digest.
func (m *MemoryStore) keyOf(id string) uint64 {
	var sum [sha256.Size]byte
	if !decodeHexSum(&sum, id) {
		sum = sha256.Sum256([]byte(id))
	}
	return m.keyOfSum(&sum)
}

// decodeHexSum decodes s into sum when s is exactly 64 lowercase hex
// digits. Uppercase is refused: ids are compared as strings. One check at
// the end keeps the loop free of branches.
func decodeHexSum(sum *[sha256.Size]byte, s string) bool {
	if len(s) != 2*sha256.Size {
		return false
	}
	var bad byte
	for i := range sum {
		hi, lo := hexVal[s[2*i]], hexVal[s[2*i+1]]
		bad |= hi | lo
		sum[i] = hi<<4 | lo
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

// keyOfSum is the key of a digest: 64 bits of a hash of all of it, seeded
// per store, so that ids alike in some of their digits still spread over
// the table and differ in their keys. A lookup compares a handful of
// entries, so a false match has odds of the order of 2^-60.
func (m *MemoryStore) keyOfSum(sum *[sha256.Size]byte) uint64 {
	return maphash.Bytes(m.seed, sum[:])
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
	m.revoke(m.keyOf(id), expiresAt)
	return nil
}

func (m *MemoryStore) revoke(k uint64, expiresAt time.Time) {
	now := m.now()
	if !expiresAt.After(now) {
		return
	}
	exp := expirySecond(expiresAt)
	nowSec := now.Unix()
	t := m.beginWrite()
	defer m.endWrite()
	m.sweepSome(t, nowSec)
	if b, e := t.find(k); b >= 0 {
		if exp > t[b].exps[e] {
			atomic.StoreUint32(&t[b].exps[e], exp)
		}
		return
	}
	// Full past 85%, the table is swept, and doubles if more than 78% is
	// still in force: most lookups read only their home bucket, a million
	// entries fit in 16 MiB, and a full sweep comes at most once per 7% of
	// the capacity in new entries.
	if capacity := len(t) * memBucketSize; (m.count+1)*100 > capacity*85 {
		m.sweepAll(t, nowSec)
		if (m.count+1)*100 > capacity*78 {
			t = m.resize(t, len(t)*2)
		}
	}
	m.put(t, k, exp)
}

// beginWrite locks m for a change to its table, which it returns, and
// makes seq odd so that optimistic lookups meanwhile read again.
func (m *MemoryStore) beginWrite() memTable {
	m.mu.Lock()
	m.seq.Add(1)
	return *m.table.Load()
}

func (m *MemoryStore) endWrite() {
	m.seq.Add(1)
	m.mu.Unlock()
}

// IsRevoked reports whether id is revoked now. It never fails.
func (m *MemoryStore) IsRevoked(_ context.Context, id string) (bool, error) {
	return m.isRevoked(m.keyOf(id)), nil
}

func (m *MemoryStore) isRevoked(k uint64) bool {
	exp := m.expiry(k)
	return exp != 0 && m.now().Unix() <= int64(exp)
}

// revokedAt is isRevoked for a caller that has read m's clock already.
func (m *MemoryStore) revokedAt(k uint64, now int64) bool {
	exp := m.expiry(k)
	return exp != 0 && now <= int64(exp)
}

// expiry returns the expiry second recorded for k, or 0.
func (m *MemoryStore) expiry(k uint64) uint32 {
	seq := m.seq.Load()
	exp := (*m.table.Load()).lookup(k)
	if seq&1 != 0 || m.seq.Load() != seq {
		m.mu.RLock()
		exp = (*m.table.Load()).lookup(k)
		m.mu.RUnlock()
	}
	return exp
}

// Len reports how many revocations are in force, after dropping expired ones.
func (m *MemoryStore) Len() int {
	now := m.now().Unix()
	t := m.beginWrite()
	defer m.endWrite()
	m.sweepAll(t, now)
	if len(t) > memMinBuckets && m.count*8 < len(t)*memBucketSize {
		m.resize(t, max(memMinBuckets, len(t)/4))
	}
	return m.count
}

// lookup returns the expiry stored for k, or 0. It may run alongside a
// writer, so it reads with atomic loads and gives up after one lap of the
// table; the caller discards its answer if a write overlapped.
func (t memTable) lookup(k uint64) uint32 {
	mask := uint64(len(t) - 1)
	b := k & mask
	for range t {
		bk := &t[b]
		for e := range memBucketSize {
			if atomic.LoadUint64(&bk.keys[e]) == k {
				if exp := atomic.LoadUint32(&bk.exps[e]); exp != 0 {
					return exp
				}
			}
		}
		if atomic.LoadUint32(&bk.passed) == 0 {
			return 0
		}
		b = (b + 1) & mask
	}
	return 0
}

// find returns the bucket and entry holding k, or -1. m.mu must be held
// for writing, so plain reads see a settled table.
func (t memTable) find(k uint64) (bucket, entry int) {
	mask := uint64(len(t) - 1)
	b := k & mask
	for {
		bk := &t[b]
		for e := range memBucketSize {
			if bk.keys[e] == k && bk.exps[e] != 0 {
				return int(b), e
			}
		}
		if bk.passed == 0 {
			return -1, -1
		}
		b = (b + 1) & mask
	}
}

// put stores a key that is not in the table, which has room, in the first
// bucket from its home on with an empty entry.
func (m *MemoryStore) put(t memTable, k uint64, exp uint32) {
	mask := uint64(len(t) - 1)
	for b := k & mask; ; b = (b + 1) & mask {
		bk := &t[b]
		for e := range memBucketSize {
			if bk.exps[e] == 0 {
				atomic.StoreUint64(&bk.keys[e], k)
				atomic.StoreUint32(&bk.exps[e], exp)
				m.count++
				return
			}
		}
		atomic.StoreUint32(&bk.passed, bk.passed+1)
	}
}

// remove empties entry e of bucket b, and takes the entry off the counts
// of the buckets its probe passed.
func (m *MemoryStore) remove(t memTable, b, e int) {
	mask := len(t) - 1
	bk := &t[b]
	atomic.StoreUint32(&bk.exps[e], 0)
	for i := int(bk.keys[e]) & mask; i != b; i = (i + 1) & mask {
		atomic.StoreUint32(&t[i].passed, t[i].passed-1)
	}
	m.count--
}

// sweepSome drops expired entries from the next few buckets, spreading the
// cost of expiry over the calls to Revoke.
func (m *MemoryStore) sweepSome(t memTable, now int64) {
	for range memSweepStep {
		m.sweepBucket(t, m.cursor, now)
		m.cursor = (m.cursor + 1) & (len(t) - 1)
	}
}

func (m *MemoryStore) sweepAll(t memTable, now int64) {
	for b := range t {
		m.sweepBucket(t, b, now)
	}
}

func (m *MemoryStore) sweepBucket(t memTable, b int, now int64) {
	for e, exp := range t[b].exps {
		if exp != 0 && int64(exp) < now {
			m.remove(t, b, e)
		}
	}
}

// resize moves the entries into a new table of n buckets and publishes it.
func (m *MemoryStore) resize(old memTable, n int) memTable {
	t := make(memTable, n)
	m.count = 0
	m.cursor = 0
	for b := range old {
		for e, exp := range old[b].exps {
			if exp != 0 {
				m.put(t, old[b].keys[e], exp)
			}
		}
	}
	m.table.Store(&t)
	return t
}
