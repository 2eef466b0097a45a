package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// sid returns the id of a named subject, shaped like the ids authix passes.
func sid(name string) [32]byte { return sha256.Sum256([]byte("subject\x00" + name)) }

// subjectKeyOf returns the Redis key of subject under the default prefix.
func subjectKeyOf(id [32]byte) string {
	return redisstore.DefaultKeyPrefix + "subject:" + hex.EncodeToString(id[:])
}

// requireCutoff checks that s reports want (the zero time: none) for id.
func requireCutoff(tb testing.TB, s *redisstore.Store, id [32]byte, want time.Time) {
	tb.Helper()
	got, err := s.SubjectCutoff(context.Background(), id)
	require.NoError(tb, err)
	require.True(tb, want.Equal(got), "SubjectCutoff(%x) = %v, want %v", id[:4], got, want)
}

// cutoffOn reports whether s reports want for id without error.
func cutoffOn(s *redisstore.Store, id [32]byte, want time.Time) bool {
	got, err := s.SubjectCutoff(context.Background(), id)
	return err == nil && want.Equal(got)
}

// TestRevokeSubject: a cut-off is visible at once on the writing store,
// reaches another store by its announcement and a later store by SCAN, is
// stored as "<cutoff µs> <until ms>", moves the cutoff forward and keeps
// the later until.
func TestRevokeSubject(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	a := newStore(t, client)
	b := newStore(t, client)
	id := sid("alice")

	requireCutoff(t, a, id, time.Time{})
	// Between two microseconds and two milliseconds, so that both the cut
	// to the microsecond and the rounding up to the millisecond show.
	cutoff := time.Now().Truncate(time.Millisecond).Add(1500 * time.Nanosecond)
	until := cutoff.Add(time.Hour)
	require.NoError(t, a.RevokeSubject(ctx, id, cutoff, until))
	wantCut := cutoff.Truncate(time.Microsecond)
	requireCutoff(t, a, id, wantCut) // own cut-off, visible at once
	requireCutoff(t, a, sid("bob"), time.Time{})
	requireRevoked(t, a, id, false) // a subject is not a token
	require.Zero(t, a.Len(), "subject cut-offs are not counted as token revocations")
	require.Equal(t, 1, a.Subjects())

	val, err := client.Get(ctx, subjectKeyOf(id)).Result()
	require.NoError(t, err, "key is the prefix, subject: and the id in lowercase hex")
	require.Equal(t, fmt.Sprint(wantCut.UnixMicro(), " ", until.UnixMilli()+1), val,
		"value is the cutoff in µs and the until in ms, rounded up")
	pttl, err := client.PTTL(ctx, subjectKeyOf(id)).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, time.Hour+redisstore.ClockMargin-10*time.Second, "Redis keeps the key ClockMargin past until")
	require.LessOrEqual(t, pttl, time.Hour+redisstore.ClockMargin+time.Millisecond)

	eventually(t, func() bool { return cutoffOn(b, id, wantCut) }, "b's mirror, from the announcement")
	c := newStore(t, client)
	requireCutoff(t, c, id, wantCut) // filled by SCAN
	require.Equal(t, 1, c.Subjects())
	require.Zero(t, c.Len())

	t.Run("a later cutoff wins, the later until stays", func(t *testing.T) {
		later := wantCut.Add(time.Second)
		require.NoError(t, b.RevokeSubject(ctx, id, later, until.Add(-30*time.Minute)))
		requireCutoff(t, b, id, later)
		for _, s := range []*redisstore.Store{a, c} {
			eventually(t, func() bool { return cutoffOn(s, id, later) })
		}
		val, err := client.Get(ctx, subjectKeyOf(id)).Result()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(later.UnixMicro(), " ", until.UnixMilli()+1), val)
		pttl, err := client.PTTL(ctx, subjectKeyOf(id)).Result()
		require.NoError(t, err)
		require.Greater(t, pttl, time.Hour+redisstore.ClockMargin-10*time.Second, "the key keeps its longer life")
	})

	t.Run("an earlier cutoff moves it a microsecond past the held one", func(t *testing.T) {
		moved := wantCut.Add(time.Second + time.Microsecond) // the held one plus 1µs
		require.NoError(t, a.RevokeSubject(ctx, id, wantCut.Add(-time.Hour), until))
		requireCutoff(t, a, id, moved)
		val, err := client.Get(ctx, subjectKeyOf(id)).Result()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(moved.UnixMicro(), " ", until.UnixMilli()+1), val)
		// Announcements from one store arrive in order: once b has the
		// token revocation written after it, b has seen this call's announcement.
		require.NoError(t, a.Revoke(ctx, tid("marker"), until))
		eventually(t, func() bool { return revokedOn(b, tid("marker")) })
		requireCutoff(t, b, id, moved)
		requireCutoff(t, newStore(t, client), id, moved)
	})

	t.Run("until in the past is a no-op", func(t *testing.T) {
		old := sid("old")
		require.NoError(t, a.RevokeSubject(ctx, old, time.Now(), time.Now().Add(-time.Second)))
		n, err := client.Exists(ctx, subjectKeyOf(old)).Result()
		require.NoError(t, err)
		require.Zero(t, n)
		requireCutoff(t, a, old, time.Time{})
	})

	t.Run("after Close", func(t *testing.T) {
		s := newStore(t, client)
		require.NoError(t, s.Close())
		require.ErrorIs(t, s.RevokeSubject(ctx, id, cutoff, until), redisstore.ErrClosed)
		_, err := s.SubjectCutoff(ctx, id)
		require.ErrorIs(t, err, redisstore.ErrClosed)
	})
}

// TestRevokeSubjectMovesForward: each RevokeSubject moves the cut-off
// forward, so a logout written by a store whose clock runs behind still
// refuses every token issued before it. A cutoff at or before the held one
// becomes the held one plus a microsecond, on the writing store at once, in
// Redis and on the others; a later one is recorded as given.
func TestRevokeSubjectMovesForward(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	fast := newStore(t, client)
	slow := newStore(t, client)
	c := time.Now().Truncate(time.Microsecond)
	until := c.Truncate(time.Millisecond).Add(time.Hour)

	for _, tt := range []struct {
		name   string
		second time.Time
		want   time.Time
	}{
		{"an earlier cutoff", c.Add(-10 * time.Second), c.Add(time.Microsecond)},
		{"the same cutoff", c, c.Add(time.Microsecond)},
		{"a later cutoff", c.Add(time.Second), c.Add(time.Second)},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := sid("moves forward: " + tt.name)
			require.NoError(t, fast.RevokeSubject(ctx, id, c, until))
			eventually(t, func() bool { return cutoffOn(slow, id, c) })
			require.NoError(t, slow.RevokeSubject(ctx, id, tt.second, until))
			requireCutoff(t, slow, id, tt.want) // at once, what Redis stored
			val, err := client.Get(ctx, subjectKeyOf(id)).Result()
			require.NoError(t, err)
			require.Equal(t, fmt.Sprint(tt.want.UnixMicro(), " ", until.UnixMilli()), val, "an integer, never exponent form")
			eventually(t, func() bool { return cutoffOn(fast, id, tt.want) }, "fast's mirror, from the announcement")
			requireCutoff(t, newStore(t, client), id, tt.want) // filled by SCAN
		})
	}

	t.Run("the writer's mirror holds what Redis stored", func(t *testing.T) {
		// deaf may publish but not subscribe, so its mirror cannot learn the
		// stored cut-off from its own announcement.
		user := fmt.Sprintf("deaf%d", userSeq.Add(1))
		deaf := newStore(t, aclUser(t, srv, user))
		acl(t, srv, user, "-subscribe")
		require.NoError(t, client.ClientKillByFilter(ctx, "USER", user, "TYPE", "pubsub").Err())
		id := sid("moves forward: deaf")
		require.NoError(t, fast.RevokeSubject(ctx, id, c, until))
		require.NoError(t, deaf.RevokeSubject(ctx, id, c.Add(-10*time.Second), until))
		got, ok := deaf.HeldCutoff(id)
		require.True(t, ok)
		require.True(t, c.Add(time.Microsecond).Equal(got), "deaf's mirror holds %v", got)
	})

	t.Run("twice from one store", func(t *testing.T) {
		id := sid("moves forward: twice")
		require.NoError(t, fast.RevokeSubject(ctx, id, c, until))
		require.NoError(t, fast.RevokeSubject(ctx, id, c, until))
		requireCutoff(t, fast, id, c.Add(time.Microsecond))
		eventually(t, func() bool { return cutoffOn(slow, id, c.Add(time.Microsecond)) })
	})
}

// TestRevokeSubjectIsAtomicWithAnnouncement: as for Revoke, a refused log
// entry leaves nothing, and a refused announcement or write leaves the
// cut-off logged; either way RevokeSubject fails and may be retried.
func TestRevokeSubjectIsAtomicWithAnnouncement(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	cutoff := time.Now()
	until := cutoff.Add(time.Hour)
	want := cutoff.Truncate(time.Microsecond)
	fast := redisstore.WithStalenessBound(300 * time.Millisecond) // confirmations every 100ms
	for _, mode := range []struct {
		name string
		opts []redisstore.Option
	}{
		{"one script", []redisstore.Option{fast}},
		{"log first", []redisstore.Option{fast, redisstore.WithSplitLog()}},
	} {
		t.Run(mode.name, func(t *testing.T) {
			other := newStore(t, srv.Client(t), fast)
			writer := func(name string, rules ...string) (*redisstore.Store, string) {
				u := fmt.Sprintf("%s%d", name, userSeq.Add(1))
				return newStore(t, aclUser(t, srv, u, rules...), mode.opts...), u
			}

			t.Run("XADD refused", func(t *testing.T) {
				w, u := writer("subjnoxadd", "-xadd")
				id := sid(mode.name + " xadd refused")
				require.ErrorIs(t, w.RevokeSubject(ctx, id, cutoff, until), redisstore.ErrRevokeFailed)
				n, err := srv.Client(t).Exists(ctx, subjectKeyOf(id)).Result()
				require.NoError(t, err)
				require.Zero(t, n, "no key that no other store was told of")
				since := time.Now()
				eventually(t, func() bool { return other.ConfirmedSince(since) && w.ConfirmedSince(since) })
				requireCutoff(t, other, id, time.Time{}) // nor logged
				requireCutoff(t, w, id, time.Time{})

				acl(t, srv, u, "+xadd")
				require.NoError(t, w.RevokeSubject(ctx, id, cutoff, until), "a retry succeeds")
				eventually(t, func() bool { return cutoffOn(other, id, want) })
			})

			t.Run("PUBLISH refused", func(t *testing.T) {
				w, _ := writer("subjnopublish", "-publish")
				id := sid(mode.name + " publish refused")
				require.ErrorIs(t, w.RevokeSubject(ctx, id, cutoff, until), redisstore.ErrRevokeFailed)
				n, err := srv.Client(t).Exists(ctx, subjectKeyOf(id)).Result()
				require.NoError(t, err)
				require.Zero(t, n)
				eventually(t, func() bool { return cutoffOn(other, id, want) }, "logged, so the others fail closed")
			})

			t.Run("SET refused", func(t *testing.T) {
				w, _ := writer("subjnoset", "-set")
				id := sid(mode.name + " set refused")
				require.ErrorIs(t, w.RevokeSubject(ctx, id, cutoff, until), redisstore.ErrRevokeFailed)
				eventually(t, func() bool { return cutoffOn(other, id, want) }, "logged and announced, so the others fail closed")
			})
		})
	}
}

// TestSubjectBoundary: a cut-off holds while now <= until, that instant
// included, when it is written, in every mirror, and through GET.
func TestSubjectBoundary(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
	a := newStore(t, client, redisstore.WithClock(clock.Now))
	b := newStore(t, client, redisstore.WithClock(clock.Now))
	cutoff := clock.Now().Add(-time.Minute)

	id := sid("runs-out-now")
	require.NoError(t, a.RevokeSubject(ctx, id, cutoff, clock.Now()))
	n, err := client.Exists(ctx, subjectKeyOf(id)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "RevokeSubject with until == now records it")
	requireCutoff(t, a, id, cutoff) // own mirror
	eventually(t, func() bool { return cutoffOn(b, id, cutoff) }, "b's mirror, from the announcement")
	c := newStore(t, client, redisstore.WithClock(clock.Now))
	requireCutoff(t, c, id, cutoff) // filled by SCAN

	require.NoError(t, a.RevokeSubject(ctx, sid("ran-out-1ms-ago"), cutoff, clock.Now().Add(-time.Millisecond)))
	n, err = client.Exists(ctx, subjectKeyOf(sid("ran-out-1ms-ago"))).Result()
	require.NoError(t, err)
	require.Zero(t, n, "an until before now records nothing")

	clock.Add(time.Millisecond)
	for _, s := range []*redisstore.Store{a, b, c} {
		requireCutoff(t, s, id, time.Time{})
		require.Zero(t, s.Subjects(), "a cut-off that ran out leaves the mirror")
	}
	require.Zero(t, newStore(t, client, redisstore.WithClock(clock.Now)).Subjects(),
		"a new store does not load a cut-off run out by its clock, although Redis still has the key")

	t.Run("stale mirror, through GET", func(t *testing.T) {
		clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
		r, _ := refusedStore(t, srv, redisstore.WithClock(clock.Now))
		w := newStore(t, client, redisstore.WithClock(clock.Now))
		id := sid("runs-out-now-stale")
		require.NoError(t, w.RevokeSubject(ctx, id, cutoff, clock.Now()))
		requireCutoff(t, r, id, cutoff)
		require.False(t, r.Fresh(), "the answer came from Redis")
		require.Zero(t, r.Subjects(), "and not from r's mirror")
		requireCutoff(t, r, sid("never"), time.Time{}) // from Redis
		clock.Add(time.Millisecond)
		requireCutoff(t, r, id, time.Time{}) // Redis still has the key; its until has passed
	})
}

// TestStaleSubjectCutoffAsksRedis: past its bound, a store whose
// subscription Redis refuses while it answers other commands asks Redis even
// for a subject whose older cut-off it holds, answers the later of the two,
// and fails closed when it cannot ask (issue 19).
func TestStaleSubjectCutoffAsksRedis(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	w := newStore(t, admin)
	id := sid("logged out twice")
	older := time.Now().Truncate(time.Microsecond)
	newer := older.Add(time.Second)
	until := older.Add(time.Hour)

	require.NoError(t, w.RevokeSubject(ctx, id, older, until))
	r, user := refusedStore(t, srv) // holds older, filled by SCAN, and is now past its bound
	require.Equal(t, 1, r.Subjects())
	require.NoError(t, w.RevokeSubject(ctx, id, newer, until))
	requireCutoff(t, r, id, newer) // from Redis, not the older one r holds

	t.Run("Redis holds an older one", func(t *testing.T) {
		require.NoError(t, admin.Set(ctx, subjectKeyOf(id),
			fmt.Sprint(older.Add(-time.Second).UnixMicro(), " ", until.UnixMilli()), 0).Err())
		requireCutoff(t, r, id, older) // a read never undoes a revocation
		require.NoError(t, admin.Del(ctx, subjectKeyOf(id)).Err())
		requireCutoff(t, r, id, older) // nor does a key Redis lost
	})

	t.Run("GET refused", func(t *testing.T) {
		acl(t, srv, user, "-get")
		_, err := r.SubjectCutoff(ctx, id)
		require.ErrorIs(t, err, redisstore.ErrUnavailable, "what r holds may be older than Redis")
	})
}

// TestFlushedSubjectsStayInMirrors: full syncs, after a reconnect and
// periodic, never drop a cut-off that Redis lost; it holds until its until.
func TestFlushedSubjectsStayInMirrors(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
	opts := []redisstore.Option{
		redisstore.WithResyncInterval(50 * time.Millisecond),
		redisstore.WithStalenessBound(300 * time.Millisecond),
		redisstore.WithClock(clock.Now),
	}
	a := newStore(t, client, opts...)
	b := newStore(t, client, opts...)
	id := sid("flushed")
	cutoff := clock.Now()

	require.NoError(t, a.RevokeSubject(ctx, id, cutoff, clock.Now().Add(time.Hour)))
	eventually(t, func() bool { return cutoffOn(b, id, cutoff) })
	loseRedisAndResync(t, client, []*redisstore.Store{a, b}, func(s *redisstore.Store) {
		requireCutoff(t, s, id, cutoff)
		require.Equal(t, 1, s.Subjects())
	})
	requireCutoff(t, newStore(t, client, opts...), id, time.Time{})

	clock.Add(time.Hour)
	requireCutoff(t, a, id, cutoff) // at its until
	requireCutoff(t, b, id, cutoff)
	clock.Add(time.Millisecond)
	requireCutoff(t, a, id, time.Time{})
	requireCutoff(t, b, id, time.Time{})
}

// TestSubjectOutageFailsClosed: with Redis down and the mirror unconfirmed
// past the bound, every subject is an error wrapping ErrUnavailable, one
// whose cut-off the mirror holds too: Redis may hold a newer one.
func TestSubjectOutageFailsClosed(t *testing.T) {
	const bound = 300 * time.Millisecond
	srv := redistest.Start(t)
	ctx := context.Background()
	a := newStore(t, srv.Client(t), redisstore.WithStalenessBound(bound))
	w := newStore(t, srv.Client(t))
	held := sid("held")
	cutoff := time.Now().Truncate(time.Microsecond)
	until := cutoff.Add(time.Hour)

	require.NoError(t, w.RevokeSubject(ctx, held, cutoff, until))
	written := time.Now()
	eventually(t, func() bool { return cutoffOn(a, held, cutoff) && a.ConfirmedSince(written) })

	srv.Kill()
	eventually(t, func() bool { return !a.Fresh() }, "a notices the outage")

	cctx, cancel := context.WithTimeout(ctx, time.Second)
	got, err := a.SubjectCutoff(cctx, sid("unknown"))
	cancel()
	require.ErrorIs(t, err, redisstore.ErrUnavailable)
	require.True(t, got.IsZero())
	t.Logf("SubjectCutoff: %v", err)
	cctx, cancel = context.WithTimeout(ctx, time.Second)
	got, err = a.SubjectCutoff(cctx, held)
	cancel()
	require.ErrorIs(t, err, redisstore.ErrUnavailable, "what a holds may be older than Redis")
	require.True(t, got.IsZero())

	cctx, cancel = context.WithTimeout(ctx, time.Second)
	err = w.RevokeSubject(cctx, sid("during"), cutoff, until)
	cancel()
	require.ErrorIs(t, err, redisstore.ErrRevokeFailed)

	srv.Start()
	eventually(t, func() bool { return a.Fresh() && cutoffOn(a, sid("unknown"), time.Time{}) },
		"a reconnects, resyncs and answers from its mirror again")
	requireCutoff(t, a, held, cutoff)
	requireCutoff(t, a, sid("during"), time.Time{}) // it failed, so it is not there
}

// BenchmarkSubjectCutoff measures SubjectCutoff in steady state, which the
// vault calls on every authenticated request: a healthy subscription and a
// mirror of a thousand cut-offs, so no call goes to Redis. Compare with
// BenchmarkIsRevoked.
func BenchmarkSubjectCutoff(b *testing.B) {
	srv := redistest.Start(b)
	s := newStore(b, srv.Client(b))
	ctx := context.Background()
	revoked, unknown := benchIDs("subject", 1000), benchIDs("unknown", benchEntries)
	now := time.Now()
	for _, id := range revoked {
		require.NoError(b, s.RevokeSubject(ctx, id, now, now.Add(time.Hour)))
	}
	eventually(b, s.Fresh)
	runLookups(b, revoked, unknown, func(ctx context.Context, id [32]byte) (bool, error) {
		c, err := s.SubjectCutoff(ctx, id)
		return !c.IsZero(), err
	})
}
