package bench

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/pgstore/pgtest"
)

// pgPoll is the polling interval of the polling-mode replicas.
const pgPoll = 100 * time.Millisecond

// idleReplicas is how many replicas BenchmarkPgReplicas/Idle runs at once,
// and idleWindow how long each of its iterations lasts.
const (
	idleReplicas = 5
	idleWindow   = 5 * time.Second
)

// BenchmarkPgStore measures pgstore's IsRevoked holding the same million
// live revocations, with the same expiries and the same settable clock, as
// BenchmarkStore/IsRevoked's memory store: loaded into PostgreSQL with
// COPY, read into the Store's mirror by New, and answered from there (the
// Store follows the log by LISTEN meanwhile). Hits and misses as there.
func BenchmarkPgStore(b *testing.B) {
	pgLookup := newPgLookup(b)
	b.Run("IsRevoked", func(b *testing.B) { benchLookups(b, pgLookup) })
}

// newPgLookup starts a PostgreSQL for b, copies BenchmarkStore's
// revocations into it, and opens a Store on them.
func newPgLookup(b *testing.B) *pgstore.Store {
	b.Helper()
	loadLookups(b)
	srv := pgtest.Start(b)
	ctx := context.Background()
	pool := newPgPool(b, srv.URL())
	if err := pgstore.Migrate(ctx, pool); err != nil {
		b.Fatal(err)
	}
	step := time.Hour / time.Duration(len(lookupHits))
	conn, err := pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	_, err = conn.Conn().CopyFrom(ctx, pgx.Identifier{"authix_revoked"}, []string{"id", "until_ms"},
		pgx.CopyFromSlice(len(lookupHits), func(i int) ([]any, error) {
			until := epoch.Add(time.Duration(i+1) * step)
			return []any{lookupHits[i][:], until.Add(time.Millisecond - 1).UnixMilli()}, nil
		}))
	conn.Release()
	if err != nil {
		b.Fatal(err)
	}
	s, err := pgstore.New(pool, pgstore.WithClock(newFakeClock(epoch).now), pgstore.WithSyncTimeout(5*time.Minute))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	if n := s.Len(); n != storeSize {
		b.Fatalf("the Store mirrors %d revocations, want %d", n, storeSize)
	}
	return s
}

// BenchmarkPgReplicas measures pgstore between replicas, each with a
// Store and a pool of its own, on a PostgreSQL of its own: in LISTEN mode
// on the server, and in polling mode (every 100ms) through a PgBouncer in
// transaction pooling mode.
//
// Propagation: one op is one logout, DisableAccessToken on replica A, timed
// until replica B refuses the token (Authenticate, every 20µs); it reports
// the median, p99 and max in ms. In polling mode each logout waits a random
// part of the interval first, so that logouts fall anywhere between polls. Idle: one op is a 5s window in which 5
// replicas wait and no logout happens; it reports the queries each replica
// sent per minute, counted by a tracer on its connections (its LISTEN
// connection included), and the transactions PostgreSQL counted per
// replica per minute (pg_stat_database, whose counts lag by up to about a
// second, so this one is approximate).
func BenchmarkPgReplicas(b *testing.B) {
	srv := pgtest.Start(b)
	bouncer := pgtest.StartBouncer(b, srv)
	modes := []struct {
		name string
		url  func(db string) string
		opts []pgstore.Option
	}{
		{"listen", func(db string) string { return db }, nil},
		{"polling", func(db string) string {
			u, _ := url.Parse(db)
			return bouncer.DatabaseURL(strings.TrimPrefix(u.Path, "/")) + "&default_query_exec_mode=exec"
		}, []pgstore.Option{pgstore.WithPolling(pgPoll)}},
	}
	for _, m := range modes {
		b.Run("Propagation/"+m.name, func(b *testing.B) {
			url := m.url(srv.NewDatabase(b))
			key := authix.GenerateKey()
			a, _ := pgReplica(b, url, key, nil, m.opts)
			c, _ := pgReplica(b, url, key, nil, m.opts)
			var lat []time.Duration
			for b.Loop() {
				if m.name == "polling" {
					// A logout lands anywhere between two polls, not
					// always just after one, as a loop would have it.
					time.Sleep(rand.N(pgPoll))
				}
				lat = append(lat, propagate(b, a, c))
			}
			slices.Sort(lat)
			ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
			b.ReportMetric(ms(lat[len(lat)/2]), "p50-ms")
			b.ReportMetric(ms(lat[(len(lat)*99+99)/100-1]), "p99-ms")
			b.ReportMetric(ms(lat[len(lat)-1]), "max-ms")
		})
	}
	for _, m := range modes {
		b.Run("Idle/"+m.name, func(b *testing.B) {
			db := srv.NewDatabase(b)
			url := m.url(db)
			var queries atomic.Int64
			for range idleReplicas {
				pgReplica(b, url, authix.GenerateKey(), &queryCounter{n: &queries}, m.opts)
			}
			admin := newPgPool(b, db) // straight to the server, for pg_stat_database
			time.Sleep(time.Second)   // past the Stores' starts
			start, q0, x0 := time.Now(), queries.Load(), xacts(b, admin)
			for b.Loop() {
				time.Sleep(idleWindow)
			}
			minutes := time.Since(start).Minutes() * idleReplicas
			b.ReportMetric(float64(queries.Load()-q0)/minutes, "queries/min/replica")
			b.ReportMetric(float64(xacts(b, admin)-x0-1)/minutes, "xacts/min/replica")
		})
	}
}

// pgReplica returns a vault whose revocations live in pgstore at url,
// through a pool of its own (traced by tracer when it is not nil), and the
// Store. Both are closed when b ends.
func pgReplica(b *testing.B, url, key string, tracer pgx.QueryTracer, opts []pgstore.Option) (*authix.Vault[User], *pgstore.Store) {
	b.Helper()
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.Tracer = tracer
	pool, err := pgxpool.NewWithConfig(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	if err := pgstore.Migrate(context.Background(), pool, opts...); err != nil {
		b.Fatal(err)
	}
	s, err := pgstore.New(pool, opts...)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = s.Close() })
	v, err := authix.New[User](authix.WithKeys(key), authix.WithRevocationStore(s))
	if err != nil {
		b.Fatal(err)
	}
	return v, s
}

// propagate logs a fresh token out on a and returns how long c kept
// accepting it after DisableAccessToken was called.
func propagate(b *testing.B, a, c *authix.Vault[User]) time.Duration {
	b.Helper()
	ctx := context.Background()
	token, err := a.CreateAccessToken(user)
	if err != nil {
		b.Fatal(err)
	}
	req := httptest.NewRequest(http.MethodGet, "/", nil)
	req.AddCookie(&http.Cookie{Name: cookieName, Value: token})
	if _, err := c.Authenticate(req); err != nil {
		b.Fatalf("replica B refuses a live token: %v", err)
	}
	start := time.Now()
	if err := a.DisableAccessToken(ctx, token); err != nil {
		b.Fatal(err)
	}
	for deadline := start.Add(30 * time.Second); ; time.Sleep(20 * time.Microsecond) {
		_, err := c.Authenticate(req)
		if errors.Is(err, authix.ErrRevokedToken) {
			return time.Since(start)
		}
		if err != nil || time.Now().After(deadline) {
			b.Fatalf("replica B after the logout: %v", err)
		}
	}
}

// queryCounter counts the statements sent on the connections it traces.
type queryCounter struct{ n *atomic.Int64 }

func (q *queryCounter) TraceQueryStart(ctx context.Context, _ *pgx.Conn, _ pgx.TraceQueryStartData) context.Context {
	q.n.Add(1)
	return ctx
}

func (*queryCounter) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// xacts returns the transactions PostgreSQL has counted in pool's
// database, committed or rolled back.
func xacts(b *testing.B, pool *pgxpool.Pool) int64 {
	b.Helper()
	var n int64
	err := pool.QueryRow(context.Background(),
		`SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
	if err != nil {
		b.Fatal(err)
	}
	return n
}

// newPgPool returns a pool for url, closed when b ends.
func newPgPool(b *testing.B, url string) *pgxpool.Pool {
	b.Helper()
	pool, err := pgxpool.New(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(pool.Close)
	return pool
}
