package pgstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/pgstore/pgtest"
)

// ids returns n ids named after prefix.
func ids(prefix string, n int) [][32]byte {
	out := make([][32]byte, n)
	for i := range out {
		out[i] = sha256.Sum256(fmt.Appendf(nil, "%s %d", prefix, i))
	}
	return out
}

// revokeAll revokes each id through s for an hour.
func revokeAll(t testing.TB, s *pgstore.Store, ids [][32]byte) {
	t.Helper()
	for _, id := range ids {
		if err := s.Revoke(context.Background(), id, time.Now().Add(time.Hour)); err != nil {
			t.Fatalf("Revoke: %v", err)
		}
	}
}

// awaitMirrored waits until s's mirror holds every id.
func awaitMirrored(t testing.TB, s *pgstore.Store, ids [][32]byte, what string) {
	t.Helper()
	await(t, what, func() bool {
		for _, id := range ids {
			if !s.Mirrors(id) {
				return false
			}
		}
		return true
	})
}

// modes are the two ways a Store follows the log, on a server reached at
// url: LISTEN, and polling.
var modes = []struct {
	name string
	opts []pgstore.Option
}{
	{"listen", nil},
	{"polling", []pgstore.Option{pgstore.WithPolling(20 * time.Millisecond)}},
}

// TestConcurrentWritersNoGap: writers on three Stores at once; a follower
// in each mode applies every write from the log (or its notifications),
// and finds no gap: positions are drawn in commit order, so a read never
// sees an entry before an earlier one commits.
func TestConcurrentWritersNoGap(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.URL()
	var followers []*pgstore.Store
	for _, m := range modes {
		followers = append(followers, newStore(t, url, m.opts...))
	}
	var (
		all [][32]byte
		wg  sync.WaitGroup
	)
	for w := range 3 {
		writer := newStore(t, url)
		for g := range 4 {
			batch := ids(fmt.Sprintf("writer %d goroutine %d", w, g), 50)
			all = append(all, batch...)
			wg.Go(func() { revokeAll(t, writer, batch) })
		}
	}
	wg.Wait()
	for i, f := range followers {
		awaitMirrored(t, f, all, modes[i].name+" follower mirrors every write")
		if n := f.FullReads(); n != 1 {
			t.Errorf("%s follower: %d full reads, want 1 (New's): it found a gap where there was none", modes[i].name, n)
		}
	}
	if followers[0].Notified() == 0 {
		t.Error("the LISTEN follower received no notification")
	}
	if followers[1].Notified() != 0 {
		t.Error("the polling follower received notifications")
	}
}

// TestDroppedListenConnection: the backend of a Store's LISTEN connection
// is terminated while another Store writes; the Store listens again and
// catches up from the log, losing nothing, without a full read.
func TestDroppedListenConnection(t *testing.T) {
	srv := pgtest.Start(t)
	f := newStore(t, srv.URL())
	w := newStore(t, srv.URL())
	admin := srv.Connect(t)
	ctx := context.Background()

	first := ids("before", 10)
	revokeAll(t, w, first)
	awaitMirrored(t, f, first, "the follower mirrors the first writes")
	pid := f.ListenerPID()
	var ok bool
	if err := admin.QueryRow(ctx, "SELECT pg_terminate_backend($1)", int32(pid)).Scan(&ok); err != nil || !ok {
		t.Fatalf("pg_terminate_backend(%d) = %v, %v", pid, ok, err)
	}
	during := ids("during", 50)
	revokeAll(t, w, during)
	awaitMirrored(t, f, during, "the follower mirrors what was written while it listened again")
	if f.ListenerPID() == pid {
		t.Error("the follower never listened again")
	}
	if n := f.FullReads(); n != 1 {
		t.Errorf("%d full reads, want 1: the follower caught up from the log", n)
	}
}

// TestCutAndCaughtUp: a Store cut off from PostgreSQL while another one
// writes reads what it missed from the log once it is back, in each mode.
func TestCutAndCaughtUp(t *testing.T) {
	srv := pgtest.Start(t)
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			url := srv.NewDatabase(t)
			l := newLink(t, srv.Addr())
			f := newStore(t, l.url(url), append(m.opts, pgstore.WithStalenessBound(time.Hour))...)
			w := newStore(t, url)
			l.cut()
			missed := ids("missed", 30)
			revokeAll(t, w, missed)
			l.restore()
			awaitMirrored(t, f, missed, "the follower mirrors what it missed")
			if n := f.FullReads(); n != 1 {
				t.Errorf("%d full reads, want 1: the follower caught up from the log", n)
			}
		})
	}
}

// TestGapLogCleaned: a Store cut off while the log is cleaned past its
// place finds the gap when it is back and reads the tables in full, losing
// nothing: whether the log is empty then (the head is not where it left
// off), or holds later entries (the first does not follow its place).
func TestGapLogCleaned(t *testing.T) {
	srv := pgtest.Start(t)
	for _, later := range []int{0, 3} {
		t.Run(fmt.Sprintf("%d later entries", later), func(t *testing.T) {
			url := srv.NewDatabase(t)
			l := newLink(t, srv.Addr())
			f := newStore(t, l.url(url), pgstore.WithStalenessBound(time.Hour))
			w := newStore(t, url)
			cleaner := newStore(t, url, pgstore.WithLogRetention(time.Nanosecond))
			l.cut()
			missed := ids("missed", 20)
			revokeAll(t, w, missed)
			if err := cleaner.Clean(); err != nil {
				t.Fatal(err)
			}
			if n := countRows(t, connectTo(t, url), "authix_log"); n != 0 {
				t.Fatalf("the log holds %d entries after cleaning, want 0", n)
			}
			after := ids("after", later)
			revokeAll(t, w, after)
			l.restore()
			awaitMirrored(t, f, append(missed, after...), "the follower mirrors what it missed")
			if n := f.FullReads(); n != 2 {
				t.Errorf("%d full reads, want 2: New's and one for the gap", n)
			}
		})
	}
}

// TestGapRestoredBackup: the database is restored from a backup taken
// before a Store's place, and written to again up to past that place; the
// entries at the positions it already applied are others now (their tags
// differ), which the Store finds, and reads the tables in full. What the
// Store held from before the restore stays in its mirror.
func TestGapRestoredBackup(t *testing.T) {
	srv := pgtest.Start(t)
	url := srv.NewDatabase(t)
	l := newLink(t, srv.Addr())
	f := newStore(t, l.url(url), pgstore.WithStalenessBound(time.Hour))
	w := newStore(t, url)
	db := connectTo(t, url)
	ctx := context.Background()
	tables := []string{"authix_revoked", "authix_subjects", "authix_log", "authix_log_head"}

	backedUp := ids("backed up", 2)
	revokeAll(t, w, backedUp)
	for _, tb := range tables {
		mustExec(t, db, fmt.Sprintf("CREATE TABLE backup_%s AS TABLE %s", tb, tb))
	}
	var seq int64
	if err := db.QueryRow(ctx, "SELECT last_value FROM authix_log_pos_seq").Scan(&seq); err != nil {
		t.Fatal(err)
	}
	lost := ids("lost in the restore", 2)
	revokeAll(t, w, lost)
	awaitMirrored(t, f, append(backedUp, lost...), "the follower mirrors the writes before the restore")

	l.cut()
	restore := "BEGIN;"
	for _, tb := range tables {
		restore += fmt.Sprintf("DELETE FROM %s; INSERT INTO %s SELECT * FROM backup_%s;", tb, tb, tb)
	}
	restore += fmt.Sprintf("SELECT setval('authix_log_pos_seq', %d); COMMIT;", seq)
	mustExec(t, db, restore)
	after := ids("after the restore", 3) // at the positions of the lost ones and one more
	revokeAll(t, w, after)
	l.restore()

	awaitMirrored(t, f, after, "the follower mirrors the writes after the restore")
	if n := f.FullReads(); n != 2 {
		t.Errorf("%d full reads, want 2: New's and one for the gap", n)
	}
	for _, id := range lost {
		if ok, err := f.IsRevoked(ctx, id); err != nil || !ok {
			t.Errorf("IsRevoked(lost in the restore) = %v, %v; want true: a mirror is never undone", ok, err)
		}
	}
}
