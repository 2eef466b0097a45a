package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/pgstore/pgtest"
)

// newStore migrates the database at url and returns a Store on it with
// opts, through a pool of its own, closed when t ends.
func newStore(t testing.TB, url string, opts ...pgstore.Option) *pgstore.Store {
	t.Helper()
	pool := newPool(t, url)
	if err := pgstore.Migrate(context.Background(), pool, opts...); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	s, err := pgstore.New(pool, opts...)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// connectTo returns a connection to the database at url, closed when t
// ends.
func connectTo(t testing.TB, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { _ = conn.Close(context.Background()) })
	return conn
}

// mustExec runs sql on conn, failing t on an error.
func mustExec(t testing.TB, conn *pgx.Conn, sql string, args ...any) {
	t.Helper()
	if _, err := conn.Exec(context.Background(), sql, args...); err != nil {
		t.Fatalf("%s: %v", sql, err)
	}
}

// countRows returns how many rows table holds.
func countRows(t testing.TB, conn *pgx.Conn, table string) int {
	t.Helper()
	var n int
	if err := conn.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		t.Fatalf("count %s: %v", table, err)
	}
	return n
}

// TestNewRejectsBadOptions: New and Migrate refuse a nil pool and each bad
// option, naming it, before they touch the database.
func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	// Nothing listens there: a pool dials lazily, and options are checked
	// first.
	pool, err := pgxpool.New(context.Background(), "postgres://nobody@127.0.0.1:1/none?connect_timeout=1")
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	long := strings.Repeat("s", 30)
	for _, tt := range []struct {
		name string
		pool *pgxpool.Pool
		opts []pgstore.Option
		want string
	}{
		{"nil pool", nil, nil, "pool is nil"},
		{"empty schema", pool, []pgstore.Option{pgstore.WithSchema("")}, `WithSchema("")`},
		{"uppercase schema", pool, []pgstore.Option{pgstore.WithSchema("Auth")}, `WithSchema("Auth")`},
		{"quote in prefix", pool, []pgstore.Option{pgstore.WithTablePrefix(`a"b`)}, "WithTablePrefix"},
		{"digit first", pool, []pgstore.Option{pgstore.WithTablePrefix("1_")}, "WithTablePrefix"},
		{"long prefix", pool, []pgstore.Option{pgstore.WithTablePrefix(strings.Repeat("p", 41))}, "at most 40 bytes"},
		{"long channel", pool, []pgstore.Option{pgstore.WithSchema(long), pgstore.WithTablePrefix(long)}, "63 bytes"},
		{"tiny staleness bound", pool, []pgstore.Option{pgstore.WithStalenessBound(time.Millisecond)}, "at least 10ms"},
		{"tiny polling interval", pool, []pgstore.Option{pgstore.WithPolling(time.Millisecond)}, "at least 10ms"},
		{"polling past half the bound", pool, []pgstore.Option{pgstore.WithPolling(2 * time.Second)}, "at most half the bound"},
		{"zero sync timeout", pool, []pgstore.Option{pgstore.WithSyncTimeout(0)}, "WithSyncTimeout(0s)"},
		{"zero log retention", pool, []pgstore.Option{pgstore.WithLogRetention(0)}, "WithLogRetention(0s)"},
		{"tiny cleanup interval", pool, []pgstore.Option{pgstore.WithCleanupInterval(time.Millisecond)}, "at least 10ms"},
		{"nil clock", pool, []pgstore.Option{pgstore.WithClock(nil)}, "WithClock"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			s, err := pgstore.New(tt.pool, tt.opts...)
			if !errors.Is(err, pgstore.ErrInvalidOption) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New: %v, %v; want ErrInvalidOption naming %q", s, err, tt.want)
			}
			if err := pgstore.Migrate(context.Background(), tt.pool, tt.opts...); !errors.Is(err, pgstore.ErrInvalidOption) {
				t.Errorf("Migrate: %v; want ErrInvalidOption", err)
			}
		})
	}
	// A long polling interval is fine with a bound twice as long, whatever
	// the order of the options.
	_, err = pgstore.New(pool, pgstore.WithPolling(2*time.Second), pgstore.WithStalenessBound(4*time.Second))
	if !errors.Is(err, pgstore.ErrUnavailable) {
		t.Errorf("New with a valid configuration and no database: %v; want ErrUnavailable", err)
	}
}

// TestNewNeedsTables: New on a database without the tables fails with
// ErrInvalidOption and says to run Migrate; after Migrate it works, and
// Migrate again changes nothing.
func TestNewNeedsTables(t *testing.T) {
	srv := pgtest.Start(t)
	pool := newPool(t, srv.URL())
	_, err := pgstore.New(pool)
	if !errors.Is(err, pgstore.ErrInvalidOption) || !strings.Contains(err.Error(), "pgstore.Migrate") {
		t.Fatalf("New without tables: %v; want ErrInvalidOption and a hint to run Migrate", err)
	}
	for range 2 {
		if err := pgstore.Migrate(context.Background(), pool); err != nil {
			t.Fatalf("Migrate: %v", err)
		}
	}
	s, err := pgstore.New(pool)
	if err != nil {
		t.Fatalf("New after Migrate: %v", err)
	}
	s.Close()
}

// TestMigrateConcurrently: replicas starting together each run Migrate,
// into a schema that does not exist yet; all succeed.
func TestMigrateConcurrently(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for range 4 {
		pool := newPool(t, url)
		wg.Go(func() { errs <- pgstore.Migrate(context.Background(), pool, pgstore.WithSchema("auth")) })
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Migrate: %v", err)
		}
	}
	db := connectTo(t, url)
	for _, table := range []string{"auth.authix_revoked", "auth.authix_subjects", "auth.authix_log", "auth.authix_devices"} {
		if n := countRows(t, db, table); n != 0 {
			t.Errorf("%s holds %d rows, want 0", table, n)
		}
	}
	if n := countRows(t, db, "auth.authix_log_head"); n != 1 {
		t.Errorf("the log head holds %d rows, want 1", n)
	}
}

// TestPrivileges: a role with only the privileges the package
// documentation lists runs a Store (writes, reads, devices, cleanup) and
// Migrate once the tables exist; making them needs more.
func TestPrivileges(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	owner := newPool(t, url)
	ctx := context.Background()
	appURL := strings.Replace(url, "postgres@", "app@", 1)
	db := connectTo(t, url)
	mustExec(t, db, "CREATE ROLE app LOGIN")

	if err := pgstore.Migrate(ctx, newPool(t, appURL), pgstore.WithSchema("auth")); !errors.Is(err, pgstore.ErrUnavailable) {
		t.Fatalf("Migrate by a role that may not create: %v; want ErrUnavailable", err)
	}
	if err := pgstore.Migrate(ctx, owner, pgstore.WithSchema("auth")); err != nil {
		t.Fatal(err)
	}
	// The grants the package documentation lists, word for word.
	mustExec(t, db, `GRANT USAGE ON SCHEMA auth TO app;
GRANT SELECT, INSERT, UPDATE, DELETE ON auth.authix_revoked, auth.authix_subjects, auth.authix_devices TO app;
GRANT SELECT, INSERT, DELETE ON auth.authix_log TO app;
GRANT SELECT, UPDATE ON auth.authix_log_head TO app;
GRANT USAGE ON SEQUENCE auth.authix_log_pos_seq TO app;`)

	app := newPool(t, appURL)
	if err := pgstore.Migrate(ctx, app, pgstore.WithSchema("auth")); err != nil {
		t.Fatalf("Migrate by the app role once the tables exist: %v", err)
	}
	s, err := pgstore.New(app, pgstore.WithSchema("auth"))
	if err != nil {
		t.Fatalf("New as the app role: %v", err)
	}
	defer s.Close()
	id, sub := [32]byte{1}, [32]byte{2}
	until := time.Now().Add(time.Hour)
	if err := s.Revoke(ctx, id, until); err != nil {
		t.Errorf("Revoke: %v", err)
	}
	if err := s.RevokeSubject(ctx, sub, time.Now(), until); err != nil {
		t.Errorf("RevokeSubject: %v", err)
	}
	if err := s.RevokeSubject(ctx, sub, time.Now().Add(-time.Hour), until); err != nil {
		t.Errorf("RevokeSubject that moves the cut-off forward: %v", err)
	}
	if err := s.SaveDevice(ctx, sub, id, []byte("device"), until); err != nil {
		t.Errorf("SaveDevice: %v", err)
	}
	if recs, err := s.Devices(ctx, sub); err != nil || len(recs) != 1 {
		t.Errorf("Devices = %q, %v", recs, err)
	}
	if err := s.DeleteDevice(ctx, sub, id); err != nil {
		t.Errorf("DeleteDevice: %v", err)
	}
	if err := s.Clean(); err != nil {
		t.Errorf("cleanup: %v", err)
	}
	other, err := pgstore.New(app, pgstore.WithSchema("auth"))
	if err != nil {
		t.Fatalf("a second Store as the app role: %v", err)
	}
	defer other.Close()
	await(t, "the second Store mirrors the revocation", func() bool { return other.Mirrors(id) })
}

// TestApart: Stores with different prefixes, or schemas, on one database
// keep apart: neither sees the other's revocations.
func TestApart(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.URL()
	stores := []*pgstore.Store{
		newStore(t, url),
		newStore(t, url, pgstore.WithTablePrefix("other_")),
		newStore(t, url, pgstore.WithSchema("elsewhere")),
	}
	ctx := context.Background()
	for i, s := range stores {
		if err := s.Revoke(ctx, [32]byte{byte(i)}, time.Now().Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	// A Store of the first kind learns only the first revocation.
	late := newStore(t, url)
	for i := range stores {
		if got := late.Mirrors([32]byte{byte(i)}); got != (i == 0) {
			t.Errorf("a Store on the default tables mirrors revocation %d: %v", i, got)
		}
	}
}

// TestWriteIsOneTransaction: when the log cannot take the entry (here the
// head row is gone), Revoke and RevokeSubject fail and store nothing: a
// row no entry announces would reach the other Stores only at their next
// full read.
func TestWriteIsOneTransaction(t *testing.T) {
	srv := pgtest.Start(t)
	s := newStore(t, srv.URL())
	db := srv.Connect(t)
	mustExec(t, db, "DELETE FROM authix_log_head")
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	if err := s.Revoke(ctx, [32]byte{1}, until); !errors.Is(err, pgstore.ErrRevokeFailed) {
		t.Errorf("Revoke without a log head: %v; want ErrRevokeFailed", err)
	}
	if err := s.RevokeSubject(ctx, [32]byte{2}, time.Now(), until); !errors.Is(err, pgstore.ErrRevokeFailed) {
		t.Errorf("RevokeSubject without a log head: %v; want ErrRevokeFailed", err)
	}
	for _, table := range []string{"authix_revoked", "authix_subjects", "authix_log"} {
		if n := countRows(t, db, table); n != 0 {
			t.Errorf("%s holds %d rows after the failed writes, want 0", table, n)
		}
	}
	if _, err := pgstore.New(newPool(t, srv.URL())); !errors.Is(err, pgstore.ErrInvalidOption) || !strings.Contains(err.Error(), "Migrate") {
		t.Errorf("New without a log head: %v; want ErrInvalidOption naming Migrate", err)
	}
}
