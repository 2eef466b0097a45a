package bench

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

// storeSize is how many live revocations the store benchmarks hold.
const storeSize = 1_000_000

// missPool is how many never-revoked ids BenchmarkStore/IsRevoked/miss
// cycles through: as many as there are entries, so that misses, like hits,
// land all over the table instead of on a part that stays in cache.
const missPool = storeSize

// fakeClock is a settable clock for authix.NewMemoryStore.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := new(fakeClock)
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) advance(d time.Duration) { c.ns.Add(int64(d)) }

// revocationIDs returns n ids shaped like the Vault's: the SHA-256 of a
// counter, starting at from.
func revocationIDs(from, n int) []authix.TokenID {
	ids := make([]authix.TokenID, n)
	var ctr [8]byte
	for i := range ids {
		binary.BigEndian.PutUint64(ctr[:], uint64(from+i))
		ids[i] = sha256.Sum256(ctr[:])
	}
	return ids
}

// epoch is where every fake clock starts.
var epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// fill revokes ids[i] until epoch + (i+1)·hour/len(ids): expiries spread
// evenly over the next hour, so that one id expires every step.
func fill(tb testing.TB, s *authix.MemoryStore, ids []authix.TokenID) (step time.Duration) {
	tb.Helper()
	step = time.Hour / time.Duration(len(ids))
	ctx := context.Background()
	for i, id := range ids {
		if err := s.Revoke(ctx, id, epoch.Add(time.Duration(i+1)*step)); err != nil {
			tb.Fatal(err)
		}
	}
	return step
}

// churn is a store in steady state: every Revoke advances the clock by one
// step, so one old entry expires for each new one and the store keeps n live
// entries while sweeping. ids holds 2n ids; an id comes round again only
// after its previous revocation has expired.
type churn struct {
	store  *authix.MemoryStore
	clock  *fakeClock
	ids    []authix.TokenID
	step   time.Duration
	cursor int
}

func newChurn(tb testing.TB, n int) *churn {
	tb.Helper()
	c := &churn{clock: newFakeClock(epoch), ids: revocationIDs(0, 2*n)}
	c.store = authix.NewMemoryStore(c.clock.now)
	c.step = fill(tb, c.store, c.ids[:n])
	return c
}

// revoke does one steady-state revocation.
func (c *churn) revoke(ctx context.Context) error {
	c.clock.advance(c.step)
	id := c.ids[(len(c.ids)/2+c.cursor)%len(c.ids)]
	c.cursor++
	return c.store.Revoke(ctx, id, c.clock.now().Add(time.Hour))
}

var (
	lookupOnce  sync.Once
	lookupStore *authix.MemoryStore
	lookupHits  []authix.TokenID
	lookupMiss  []authix.TokenID

	churnOnce sync.Once
	churnAt   *churn
)

// loadLookups makes the revoked and never-revoked ids of the lookup
// benchmarks, and a memory store holding the revoked ones, once.
func loadLookups(b *testing.B) {
	lookupOnce.Do(func() {
		lookupHits = revocationIDs(0, storeSize)
		lookupMiss = revocationIDs(storeSize, missPool)
		lookupStore = authix.NewMemoryStore(newFakeClock(epoch).now)
		fill(b, lookupStore, lookupHits)
	})
}

// benchLookups runs store.IsRevoked, through the interface as the vault
// calls it, on the revoked ids (hit) and on ids never revoked (miss).
func benchLookups(b *testing.B, store authix.RevocationStore) {
	ctx := context.Background()
	for _, c := range []struct {
		name string
		ids  []authix.TokenID
		want bool
	}{{"hit", lookupHits, true}, {"miss", lookupMiss, false}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				got, err := store.IsRevoked(ctx, c.ids[i%len(c.ids)])
				if err != nil || got != c.want {
					b.Fatal(got, err)
				}
				i++
			}
		})
	}
}

// BenchmarkStore measures authix's MemoryStore holding a million live
// revocations: lookups that hit and miss, a Revoke amortised over the
// sweeping of expired entries, and the heap each live entry takes.
func BenchmarkStore(b *testing.B) {
	ctx := context.Background()
	b.Run("IsRevoked", func(b *testing.B) {
		loadLookups(b)
		benchLookups(b, lookupStore)
	})
	b.Run("Revoke", func(b *testing.B) {
		churnOnce.Do(func() { churnAt = newChurn(b, storeSize) })
		b.ReportAllocs()
		for b.Loop() {
			if err := churnAt.revoke(ctx); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("LockHold", func(b *testing.B) {
		// The longest lock hold is Len's pass over one shard: every other
		// locked section does a fixed amount of work, or rehashes one
		// shard. Timed as Len over its 64 shards, the fastest of b.N runs,
		// since this machine's scheduler can stop any thread for
		// milliseconds; a reader meanwhile records how long its lookups
		// waited.
		churnOnce.Do(func() { churnAt = newChurn(b, storeSize) })
		fastest := time.Duration(1<<63 - 1)
		stall := measureStalls(b, churnAt, func() {
			for b.Loop() {
				for range 1000 {
					if err := churnAt.revoke(ctx); err != nil {
						b.Fatal(err)
					}
				}
				t0 := time.Now()
				churnAt.store.Len()
				fastest = min(fastest, time.Since(t0))
			}
		})
		b.ReportMetric(float64(fastest.Nanoseconds())/64, "shard-hold-ns")
		b.ReportMetric(float64(stall.p9999.Nanoseconds()), "p99.99-stall-ns")
	})
	b.Run("Memory", func(b *testing.B) {
		ids := revocationIDs(0, storeSize)
		b.ReportAllocs()
		var perEntry float64
		for b.Loop() {
			perEntry = heapPerEntry(b, ids)
		}
		b.ReportMetric(perEntry, "B/entry")
		if perEntry > 64 {
			b.Errorf("%.1f bytes of heap per live revocation, want at most 64", perEntry)
		}
	})
}

// heapPerEntry fills a new store with ids and returns the live heap it
// holds, per entry, measured after a full collection on either side.
func heapPerEntry(tb testing.TB, ids []authix.TokenID) float64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	s := authix.NewMemoryStore(newFakeClock(epoch).now)
	fill(tb, s, ids)
	runtime.GC()
	runtime.ReadMemStats(&after)
	if n := s.Len(); n != len(ids) {
		tb.Fatalf("store holds %d entries, want %d", n, len(ids))
	}
	runtime.KeepAlive(s)
	return (float64(after.HeapAlloc) - float64(before.HeapAlloc)) / float64(len(ids))
}

type stalls struct{ max, p9999 time.Duration }

// measureStalls runs write while a reader looks ids up without pause, and
// reports the longest lookups the reader saw. A lookup waits while a writer
// holds its shard, and while the scheduler or the collector stops it.
func measureStalls(b *testing.B, c *churn, write func()) stalls {
	var (
		stop  atomic.Bool
		wg    sync.WaitGroup
		hist  [10_001]int // microseconds; the last counts everything longer
		most  time.Duration
		total int
	)
	ctx := context.Background()
	wg.Go(func() {
		for i := 0; !stop.Load(); i++ {
			t0 := time.Now()
			if _, err := c.store.IsRevoked(ctx, c.ids[i%len(c.ids)]); err != nil {
				b.Error(err)
				return
			}
			d := time.Since(t0)
			most = max(most, d)
			hist[min(int(d/time.Microsecond), len(hist)-1)]++
			total++
		}
	})
	write()
	stop.Store(true)
	wg.Wait()
	st := stalls{max: most}
	for us, seen := 0, 0; us < len(hist); us++ {
		if seen += hist[us]; seen*10000 >= total*9999 {
			st.p9999 = time.Duration(us+1) * time.Microsecond
			break
		}
	}
	return st
}
