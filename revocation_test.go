package authix

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func hexID(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	return hex.EncodeToString(sum[:])
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	ctx := context.Background()
	start := clk.now()

	revoked := func(id string) bool {
		ok, err := m.IsRevoked(ctx, id)
		require.NoError(t, err)
		return ok
	}
	require.NoError(t, m.Revoke(ctx, hexID(1), start.Add(time.Minute)))
	require.NoError(t, m.Revoke(ctx, hexID(2), start.Add(time.Hour)))
	require.NoError(t, m.Revoke(ctx, "not a hex id", start.Add(time.Hour)))
	require.NoError(t, m.Revoke(ctx, hexID(3), start.Add(-time.Second)), "past expiry is a no-op")
	assert.True(t, revoked(hexID(1)))
	assert.True(t, revoked(hexID(2)))
	assert.True(t, revoked("not a hex id"))
	assert.False(t, revoked("not a hex id either"))
	assert.False(t, revoked(hexID(3)))
	assert.False(t, revoked(hexID(4)))
	assert.Equal(t, 3, m.Len())

	// Revoking again keeps the later expiry.
	require.NoError(t, m.Revoke(ctx, hexID(1), start.Add(30*time.Second)))
	require.NoError(t, m.Revoke(ctx, hexID(2), start.Add(2*time.Hour)))

	clk.add(time.Minute)
	assert.True(t, revoked(hexID(1)), "revoked up to and including its expiry")
	clk.add(time.Second + time.Nanosecond)
	assert.False(t, revoked(hexID(1)))
	assert.Equal(t, 2, m.Len(), "the expired entry is dropped")
	clk.add(time.Hour)
	assert.True(t, revoked(hexID(2)), "the later expiry was kept")
	assert.Equal(t, 1, m.Len())
	clk.add(time.Hour)
	assert.Equal(t, 0, m.Len())
	assert.Len(t, *m.table.Load(), memMinBuckets, "the table shrinks back")
}

// Ids are opaque strings: alike ones, or a digest in upper case, are other
// ids than the one revoked.
func TestMemoryStoreIDs(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore(nil)
	ctx := context.Background()
	alike := strings.Repeat("0", 63)
	for _, id := range []string{alike + "1", hexID(7), "", "user-7"} {
		require.NoError(t, m.Revoke(ctx, id, time.Now().Add(time.Hour)))
	}
	for id, want := range map[string]bool{
		alike + "1":               true,
		alike + "2":               false,
		"1" + alike:               false,
		hexID(7):                  true,
		strings.ToUpper(hexID(7)): false,
		hexID(7)[:63]:             false,
		"":                        true,
		"user-7":                  true,
		"user-8":                  false,
	} {
		got, err := m.IsRevoked(ctx, id)
		require.NoError(t, err)
		assert.Equal(t, want, got, "IsRevoked(%q)", id)
	}
}

func TestMemoryStoreSweepsOnRevoke(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	ctx := context.Background()
	for i := range 1000 {
		require.NoError(t, m.Revoke(ctx, hexID(i), clk.now().Add(time.Duration(1+i%60)*time.Second)))
	}
	clk.add(2 * time.Minute)
	for i := range 200 {
		require.NoError(t, m.Revoke(ctx, hexID(-1-i), clk.now().Add(time.Hour)))
	}
	m.mu.RLock()
	defer m.mu.RUnlock()
	assert.Equal(t, 200, m.count, "new revocations swept every expired entry")
}

func TestMemoryStoreGrowsAndShrinks(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	ctx := context.Background()
	const n = 20_000
	for i := range n {
		require.NoError(t, m.Revoke(ctx, hexID(i), clk.now().Add(time.Minute)))
	}
	buckets := len(*m.table.Load())
	assert.GreaterOrEqual(t, buckets*memBucketSize*85, n*100, "at most 85% full")
	for i := range n {
		ok, err := m.IsRevoked(ctx, hexID(i))
		require.NoError(t, err)
		require.True(t, ok, "id %d", i)
	}
	assert.Equal(t, n, m.Len())

	clk.add(time.Minute + time.Second)
	for m.Len() != 0 || len(*m.table.Load()) > memMinBuckets {
		now := len(*m.table.Load())
		require.Less(t, now, buckets, "each Len shrinks the table")
		buckets = now
	}
}

// TestMemoryStoreModel runs random operations against the table and a
// plain map, with few buckets so that probes overflow, wrap and collide.
func TestMemoryStoreModel(t *testing.T) {
	t.Parallel()
	t.Run("hex ids", func(t *testing.T) {
		testStoreModel(t, 300, func(m *MemoryStore, i int) uint64 { return m.keyOf(hexID(i)) })
	})
	t.Run("opaque ids", func(t *testing.T) {
		testStoreModel(t, 300, func(m *MemoryStore, i int) uint64 { return m.keyOf(fmt.Sprint("user-", i)) })
	})
	// Keys whose home buckets are the last ones, so probes wrap around.
	t.Run("wrapping", func(t *testing.T) {
		testStoreModel(t, 40, func(_ *MemoryStore, i int) uint64 { return uint64(i)<<32 | 0xf8 | uint64(i%8) })
	})
	// Keys that all share one home bucket, so that every entry but the
	// first few overflows.
	t.Run("one home", func(t *testing.T) {
		testStoreModel(t, 60, func(_ *MemoryStore, i int) uint64 { return uint64(i) << 32 })
	})
}

func testStoreModel(t *testing.T, keys int, keyOf func(*MemoryStore, int) uint64) {
	rng := rand.New(rand.NewPCG(1, 2))
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	model := map[int]int64{}
	for step := range 200_000 {
		i := rng.IntN(keys)
		k := keyOf(m, i)
		switch op := rng.IntN(10); {
		case op < 5:
			exp := clk.now().Add(time.Duration(rng.IntN(120)-10) * time.Second)
			m.revoke(k, exp)
			if exp.After(clk.now()) && exp.Unix() > model[i] {
				model[i] = exp.Unix()
			}
		case op < 9:
			want := clk.now().Unix() <= model[i]
			require.Equal(t, want, m.isRevoked(k), "step %d key %d", step, i)
		case op == 9:
			clk.add(time.Duration(rng.IntN(3)) * time.Second)
		}
		if step%5000 == 0 {
			checkPassed(t, m)
			live := 0
			for _, e := range model {
				if clk.now().Unix() <= e {
					live++
				}
			}
			require.Equal(t, live, m.Len(), "step %d", step)
		}
	}
}

// checkPassed checks every bucket's count of entries that live past it.
func checkPassed(t *testing.T, m *MemoryStore) {
	t.Helper()
	m.mu.Lock()
	defer m.mu.Unlock()
	tab := *m.table.Load()
	want := make([]uint32, len(tab))
	for b := range tab {
		for e, exp := range tab[b].exps {
			if exp == 0 {
				continue
			}
			for i := int(tab[b].keys[e]) & (len(tab) - 1); i != b; i = (i + 1) & (len(tab) - 1) {
				want[i]++
			}
		}
	}
	for b := range tab {
		require.Equal(t, want[b], tab[b].passed, "bucket %d of %d", b, len(tab))
	}
}

func TestMemoryStoreConcurrent(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore(nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := hexID(g*1000 + i)
				require.NoError(t, m.Revoke(ctx, id, time.Now().Add(time.Hour)))
				ok, err := m.IsRevoked(ctx, id)
				require.NoError(t, err)
				require.True(t, ok)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 4000, m.Len())
}

// TestMemoryStoreLookupsDuringWrites checks lookups that run alongside
// writes. Every key has the same home bucket, so the table is one probe
// chain: lasting revocations sit among short ones, and as the short ones
// expire, sweeps free their entries and new ones reuse them, with readers
// looking up both kinds all along.
func TestMemoryStoreLookupsDuringWrites(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	const lasting, absent, short = 400, 50, 2000
	ids := make([]uint64, lasting+absent+short)
	for i := range ids {
		ids[i] = uint64(i) << 32
	}
	shortID := func(n int) uint64 { return ids[lasting+absent+n%short] }
	var (
		published atomic.Int64 // ids[:published] are revoked for a day
		expired   atomic.Int64 // shortID(n) for n < expired has expired
		written   atomic.Int64 // the writer's step
	)
	// The readers check the latest expired ones: shortID comes round again.
	const window = 1000

	done := make(chan struct{})
	var wg sync.WaitGroup
	var rounds [2]atomic.Int64
	for r := range rounds {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(r), 5))
			check := func(k uint64, want bool, kind string) bool {
				if got := m.isRevoked(k); got != want {
					t.Errorf("%s key %#x: revoked = %v", kind, k, got)
					return false
				}
				return true
			}
			for {
				select {
				case <-done:
					return
				default:
				}
				if n := published.Load(); n > 0 && !check(ids[rng.Int64N(n)], true, "lasting") {
					return
				}
				if n := expired.Load(); n > window {
					i := int(n - 1 - rng.Int64N(window))
					// A reader held up for short steps may see the id
					// revoked again, rightly.
					if m.isRevoked(shortID(i)) && written.Load() < int64(i+short) {
						t.Errorf("expired key %#x: revoked", shortID(i))
						return
					}
				}
				if !check(ids[lasting+rng.IntN(absent)], false, "absent") {
					return
				}
				rounds[r].Add(1)
				runtime.Gosched() // two cores, three goroutines: let the writer on
			}
		})
	}

	// Write until every lasting id is in and each reader has looked up
	// often enough, whatever the scheduler does. Short revocations last 2 s
	// and the clock moves 1 s every 20 of them, so each has expired 60
	// revocations later.
	least := func() int64 { return min(rounds[0].Load(), rounds[1].Load()) }
	for n := 0; n < 10_000 || least() < 2000; n++ {
		written.Store(int64(n))
		m.revoke(shortID(n), clk.now().Add(2*time.Second))
		if n%3 == 0 && n/3 < lasting {
			m.revoke(ids[n/3], clk.now().Add(24*time.Hour))
			published.Store(int64(n/3 + 1))
		}
		if n%20 == 19 {
			clk.add(time.Second)
		}
		expired.Store(int64(max(0, n-60)))
		if n%500 == 499 {
			m.Len()
		}
		if t.Failed() {
			break
		}
	}
	close(done)
	wg.Wait()
	assert.GreaterOrEqual(t, least(), int64(2000), "readers made too few rounds")
	clk.add(time.Minute)
	assert.Equal(t, lasting, m.Len())
}

// A bucket must fill one cache line: tables are power-of-two sized, so
// their allocations, and with them the buckets, are 64-byte aligned.
func TestMemBucketIsOneCacheLine(t *testing.T) {
	assert.Equal(t, uintptr(64), unsafe.Sizeof(memBucket{}))
}
