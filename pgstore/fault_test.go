package pgstore_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/pgstore/pgtest"
)

// TestPostgresDown: PostgreSQL stopped cleanly, then killed as in a crash.
// Within the staleness bound a Store answers from its mirror; past it,
// lookups it cannot answer fail closed and writes fail, while a revocation
// it holds still reports revoked. Once PostgreSQL is back the Store writes
// and confirms again, catching up from the log, and every revocation
// holds, on it and on a Store started afterwards.
func TestPostgresDown(t *testing.T) {
	srv := pgtest.Start(t)
	s := newStore(t, srv.URL(), pgstore.WithStalenessBound(200*time.Millisecond))
	ctx := context.Background()
	until := time.Now().Add(time.Hour)
	for i, down := range []struct {
		name string
		stop func()
	}{{"stopped", srv.Stop}, {"killed", srv.Kill}} {
		t.Run(down.name, func(t *testing.T) {
			tok, sub, unknown := [32]byte{1, byte(i)}, [32]byte{2, byte(i)}, [32]byte{3, byte(i)}
			if err := s.Revoke(ctx, tok, until); err != nil {
				t.Fatal(err)
			}
			if err := s.RevokeSubject(ctx, sub, time.Now(), until); err != nil {
				t.Fatal(err)
			}
			reads := s.FullReads()
			down.stop()

			await(t, "IsRevoked of an unknown id fails once the mirror is stale", func() bool {
				_, err := s.IsRevoked(ctx, unknown)
				return errors.Is(err, pgstore.ErrUnavailable)
			})
			if s.Fresh() {
				t.Error("the mirror is fresh while PostgreSQL is down")
			}
			if ok, err := s.IsRevoked(ctx, tok); err != nil || !ok {
				t.Errorf("IsRevoked(a revocation the mirror holds) = %v, %v; want true, nil", ok, err)
			}
			if _, err := s.SubjectCutoff(ctx, sub); !errors.Is(err, pgstore.ErrUnavailable) {
				t.Errorf("SubjectCutoff: %v; want ErrUnavailable: a newer cut-off may be in force", err)
			}
			if err := s.Revoke(ctx, unknown, until); !errors.Is(err, pgstore.ErrRevokeFailed) {
				t.Errorf("Revoke: %v; want ErrRevokeFailed", err)
			}
			if err := s.RevokeSubject(ctx, sub, time.Now(), until); !errors.Is(err, pgstore.ErrRevokeFailed) {
				t.Errorf("RevokeSubject: %v; want ErrRevokeFailed", err)
			}
			if _, err := s.Devices(ctx, sub); !errors.Is(err, pgstore.ErrUnavailable) {
				t.Errorf("Devices: %v; want ErrUnavailable", err)
			}

			srv.Start()
			// The pool may hand out a connection that died with the server
			// once: a logout then fails, and the caller retries it.
			await(t, "Revoke succeeds once PostgreSQL is back", func() bool { return s.Revoke(ctx, unknown, until) == nil })
			await(t, "the mirror is confirmed again", s.Fresh)
			for _, id := range [][32]byte{tok, unknown} {
				if ok, err := s.IsRevoked(ctx, id); err != nil || !ok {
					t.Errorf("IsRevoked after the restart = %v, %v; want true, nil", ok, err)
				}
			}
			if n := s.FullReads(); n != reads {
				t.Errorf("%d full reads, want %d: the Store catches up from the log after a restart", n, reads)
			}
			late := newStore(t, srv.URL())
			for _, id := range [][32]byte{tok, unknown} {
				if ok, err := late.IsRevoked(ctx, id); err != nil || !ok {
					t.Errorf("IsRevoked on a Store started after the restart = %v, %v; want true, nil", ok, err)
				}
			}
			if c, err := late.SubjectCutoff(ctx, sub); err != nil || c.IsZero() {
				t.Errorf("SubjectCutoff on a Store started after the restart = %v, %v; want the cut-off", c, err)
			}
		})
	}
}

// statements counts the statements sent through a pool that start with
// one of its prefixes.
type statements struct {
	prefixes []string
	mu       sync.Mutex
	n        map[string]int
}

func (st *statements) TraceQueryStart(ctx context.Context, _ *pgx.Conn, data pgx.TraceQueryStartData) context.Context {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, p := range st.prefixes {
		if strings.HasPrefix(data.SQL, p) {
			st.n[p]++
		}
	}
	return ctx
}

func (*statements) TraceQueryEnd(context.Context, *pgx.Conn, pgx.TraceQueryEndData) {}

// TestCleanupBatches: expired rows are deleted in statements of at most
// 1000 rows each, ClockMargin after their until; live rows and recent log
// entries stay.
func TestCleanupBatches(t *testing.T) {
	srv := pgtest.Start(t)
	ctx := context.Background()
	db := srv.Connect(t)
	now := time.Now()
	st := &statements{n: map[string]int{}, prefixes: []string{
		"DELETE FROM authix_revoked", "DELETE FROM authix_subjects", "DELETE FROM authix_devices", "DELETE FROM authix_log",
	}}
	cfg, err := pgxpool.ParseConfig(srv.URL())
	if err != nil {
		t.Fatal(err)
	}
	cfg.ConnConfig.Tracer = st
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgstore.Migrate(ctx, pool); err != nil {
		t.Fatal(err)
	}
	s, err := pgstore.New(pool, pgstore.WithClock(func() time.Time { return now }))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()

	past := now.Add(-pgstore.ClockMargin).UnixMilli() - 1 // cleaned
	kept := now.Add(-pgstore.ClockMargin).UnixMilli()     // within the margin
	mustExec(t, db, `INSERT INTO authix_revoked SELECT sha256(i::text::bytea), $1::bigint FROM generate_series(1, 2500) i`, past)
	mustExec(t, db, `INSERT INTO authix_revoked SELECT sha256(('kept' || i)::bytea), $1::bigint FROM generate_series(1, 10) i`, kept)
	mustExec(t, db, `INSERT INTO authix_subjects SELECT sha256(i::text::bytea), 0, $1::bigint FROM generate_series(1, 20) i`, past)
	mustExec(t, db, `INSERT INTO authix_devices SELECT sha256(i::text::bytea), sha256(i::text::bytea), $1::bigint, '' FROM generate_series(1, 30) i`, past)
	if err := s.Revoke(ctx, [32]byte{1}, now.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}

	if err := s.Clean(); err != nil {
		t.Fatal(err)
	}
	if got := s.Cleaned(); got != 2500+20+30 {
		t.Errorf("cleaned %d rows, want %d", got, 2500+20+30)
	}
	for table, want := range map[string]int{"authix_revoked": 11, "authix_subjects": 0, "authix_devices": 0, "authix_log": 1} {
		if n := countRows(t, db, table); n != want {
			t.Errorf("%s holds %d rows after cleanup, want %d", table, n, want)
		}
	}
	for p, want := range map[string]int{"DELETE FROM authix_revoked": 3, "DELETE FROM authix_subjects": 1,
		"DELETE FROM authix_devices": 1, "DELETE FROM authix_log": 1} {
		if st.n[p] != want {
			t.Errorf("%d statements %q…, want %d: batches of at most 1000 rows", st.n[p], p, want)
		}
	}
}

// TestCleanupPrunesMirror: a cleanup also drops from the Store's memory the
// revocations and cut-offs that ran out, which nothing else removes.
func TestCleanupPrunesMirror(t *testing.T) {
	srv := pgtest.Start(t)
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	s := newStore(t, srv.URL(), pgstore.WithClock(now))
	ctx := context.Background()
	id, sub := [32]byte{1}, [32]byte{2}
	if err := s.Revoke(ctx, id, now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if err := s.RevokeSubject(ctx, sub, now(), now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.HeldCutoff(sub); !ok || !s.Mirrors(id) {
		t.Fatal("the mirror lacks what was just revoked")
	}
	clock.Add(int64(2*time.Minute + pgstore.ClockMargin))
	if err := s.Clean(); err != nil {
		t.Fatal(err)
	}
	if _, ok := s.HeldCutoff(sub); ok {
		t.Error("an expired cut-off is still held after a cleanup")
	}
	if s.Mirrors(id) {
		t.Error("an expired revocation is still held after a cleanup")
	}
}
