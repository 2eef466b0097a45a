package pgstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/pgstore/pgtest"
	"github.com/authix-go/authix/storetest"
)

// hangGuard bounds every wait for an event; it is no performance target,
// only a way for a test that would hang to fail.
const hangGuard = 30 * time.Second

// TestConformance runs authix's store conformance suite on Stores in LISTEN
// mode on PostgreSQL, and in polling mode through a PgBouncer in
// transaction pooling mode. Each new Store gets tables of its own (a
// schema), its replicas the same; each Store has a pool of its own, as a
// replica would.
func TestConformance(t *testing.T) {
	srv := pgtest.Start(t)
	t.Run("listen", func(t *testing.T) {
		conformance(t, "listen", srv.URL(), nil, srv.Stop, srv.Start)
	})
	t.Run("polling", func(t *testing.T) {
		b := pgtest.StartBouncer(t, srv)
		conformance(t, "polling", b.URL()+"&default_query_exec_mode=exec", []pgstore.Option{pgstore.WithPolling(50 * time.Millisecond)}, b.Kill, b.Start)
	})
}

// conformance runs the suite on Stores that reach PostgreSQL at url, made
// with opts, in schemas named after mode; breakDB makes every Store's
// database unreachable, and restore reachable again with what it held.
func conformance(t *testing.T, mode, url string, opts []pgstore.Option, breakDB, restore func()) {
	type backend struct {
		schema string
		now    func() time.Time
		// settler writes Settle's markers: a Store of its own, so that
		// the stores under test learn of them from the log alone.
		settler **pgstore.Store
	}
	var (
		mu       sync.Mutex
		backends = map[storetest.RevocationStore]backend{}
		ids      atomic.Int64
	)
	open := func(t *testing.T, b backend) storetest.RevocationStore {
		t.Helper()
		pool := newPool(t, url)
		all := append([]pgstore.Option{pgstore.WithSchema(b.schema), pgstore.WithClock(b.now),
			pgstore.WithStalenessBound(300 * time.Millisecond)}, opts...)
		if err := pgstore.Migrate(context.Background(), pool, all...); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
		s, err := pgstore.New(pool, all...)
		if err != nil {
			t.Fatalf("pgstore.New: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() }) // before the pool: cleanups run last in, first out
		mu.Lock()
		backends[s] = b
		mu.Unlock()
		return s
	}
	of := func(s storetest.RevocationStore) backend {
		mu.Lock()
		defer mu.Unlock()
		return backends[s]
	}
	// fresh returns an id no rule uses.
	fresh := func(what string) [32]byte {
		return sha256.Sum256(fmt.Appendf(nil, "conformance %s %d", what, ids.Add(1)))
	}

	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, now func() time.Time) storetest.RevocationStore {
			return open(t, backend{fmt.Sprintf("%s_%d", mode, ids.Add(1)), now, new(*pgstore.Store)})
		},
		Replica: func(t *testing.T, s storetest.RevocationStore) storetest.RevocationStore {
			return open(t, of(s))
		},
		// A Store applies the log in order. So once a marker revoked after
		// the writes, through another Store, is in every Store's mirror,
		// so is every write before it. (IsRevoked could answer from the
		// table instead, past the staleness bound, while the mirror lags.)
		// The marker is retried: the settler's pool may hold connections
		// from before a restart of the database.
		Settle: func(t *testing.T, stores ...storetest.RevocationStore) {
			t.Helper()
			b := of(stores[0])
			mu.Lock()
			settler := *b.settler
			mu.Unlock()
			if settler == nil {
				settler = open(t, b).(*pgstore.Store)
				mu.Lock()
				*b.settler = settler
				mu.Unlock()
			}
			marker := fresh("settle")
			await(t, "settle: revoke a marker", func() bool {
				return settler.Revoke(context.Background(), marker, b.now().Add(time.Hour)) == nil
			})
			for _, s := range stores {
				await(t, "settle: the marker reaches every store's mirror", func() bool {
					return s.(*pgstore.Store).Mirrors(marker)
				})
			}
		},
		// Break makes the database unreachable and waits until the Store's
		// mirror is past its staleness bound, which shows as IsRevoked's
		// first error; restore makes it reachable and waits until a Revoke
		// succeeds.
		Break: func(t *testing.T, s storetest.RevocationStore) func() {
			t.Helper()
			b := of(s)
			breakDB()
			await(t, "IsRevoked fails once PostgreSQL is unreachable and the mirror stale", func() bool {
				_, err := s.IsRevoked(context.Background(), fresh("break"))
				return err != nil
			})
			return func() {
				restore()
				await(t, "Revoke succeeds once PostgreSQL is back", func() bool {
					return s.Revoke(context.Background(), fresh("restore"), b.now().Add(time.Hour)) == nil
				})
			}
		},
		// Expiries and untils are kept in Unix milliseconds, rounded up,
		// and compared with the clock cut to the millisecond.
		Slack: 2 * time.Millisecond,
	})
}

// newPool returns a pool for url, closed when t ends.
func newPool(tb testing.TB, url string) *pgxpool.Pool {
	tb.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		tb.Fatalf("pgxpool.New: %v", err)
	}
	tb.Cleanup(pool.Close)
	return pool
}

// await polls cond until it holds, or fails t after hangGuard.
func await(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(hangGuard); !cond(); time.Sleep(2 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: still not after %v", what, hangGuard)
		}
	}
}
