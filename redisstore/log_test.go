package redisstore_test

import (
	"context"
	"encoding/hex"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// The log's gaps: each is found, answered with a full read of Redis, and
// loses nothing the Store knew. A Store that reads the log only (its
// subscription refused, so that announcements cannot stand in for the log)
// is what each test watches.

// followerOnly returns a Store on srv through client options opt whose
// Redis user may not use any channel, so that it learns only from the log
// and full reads.
func followerOnly(t *testing.T, srv *redistest.Server, opt func(*redis.Options), opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	return followerAs(t, srv, fmt.Sprintf("follower%d", userSeq.Add(1)), opt, opts...)
}

// followerAs is followerOnly for the Redis user name, which it creates.
func followerAs(t *testing.T, srv *redistest.Server, user string, opt func(*redis.Options), opts ...redisstore.Option) *redisstore.Store {
	t.Helper()
	followerACL(t, srv, user)
	client := srv.Client(t, func(o *redis.Options) {
		o.Username, o.Password = user, "pw"
		if opt != nil {
			opt(o)
		}
	})
	return newStore(t, client, append([]redisstore.Option{redisstore.WithStalenessBound(300 * time.Millisecond)}, opts...)...)
}

// followerACL creates or resets user with every permission but channels.
func followerACL(t *testing.T, srv *redistest.Server, user string) {
	t.Helper()
	acl(t, srv, user, "reset", "on", ">pw", "~*", "resetchannels", "+@all")
}

// TestLogTrimmedPastPlace: a Store away while the log was trimmed past its
// place finds out from the first entry it reads, reads Redis in full, and
// keeps a revocation Redis has since lost.
func TestLogTrimmedPastPlace(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	link := redistest.NewLink(t, srv.Addr())
	a := followerOnly(t, srv, func(o *redis.Options) { o.Addr = link.Addr() })
	// w keeps a millisecond of log, so that its writes trim what a has not
	// read yet.
	w := newStore(t, admin, redisstore.WithLogRetention(time.Millisecond))

	require.NoError(t, w.Revoke(ctx, tid("known"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("known")) })
	require.NoError(t, admin.Del(ctx, keyOf(tid("known"))).Err()) // Redis loses it
	reads := a.FullReads()

	link.Cut()
	const n = 300
	for i := range n {
		require.NoError(t, w.Revoke(ctx, tid(fmt.Sprint("trimmed ", i)), exp))
	}
	left, err := admin.XLen(ctx, a.LogKey()).Result()
	require.NoError(t, err)
	require.Less(t, left, int64(n), "the writes trimmed the log")

	restored := time.Now()
	link.Restore()
	eventually(t, func() bool { return a.FullReads() > reads && a.ConfirmedSince(restored) }, "a finds the gap and reads Redis in full")
	require.Equal(t, n+1, a.Len())
	requireRevoked(t, a, tid("known"), true)
	for i := range n {
		requireRevoked(t, a, tid(fmt.Sprint("trimmed ", i)), true)
	}
}

// TestFlushAllFound: after a FLUSHALL, a connected Store's next read of
// the log finds it gone, and the Store reads Redis in full, keeps what it
// knew and follows the new log.
func TestFlushAllFound(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	a := followerOnly(t, srv, nil)
	w := newStore(t, admin)

	require.NoError(t, w.Revoke(ctx, tid("known"), exp))
	require.NoError(t, w.RevokeSubject(ctx, sid("known"), time.Now(), exp))
	eventually(t, func() bool { return revokedOn(a, tid("known")) && a.Subjects() == 1 })
	reads := a.FullReads()

	require.NoError(t, admin.FlushAll(ctx).Err())
	flushed := time.Now()
	// A confirmation sent after the flush comes after the gap is filled.
	eventually(t, func() bool { return a.FullReads() > reads && a.ConfirmedSince(flushed) },
		"a finds the log gone and reads Redis in full")
	requireRevoked(t, a, tid("known"), true)
	require.Equal(t, 1, a.Subjects(), "a keeps the cut-off Redis lost")
	require.NoError(t, w.Revoke(ctx, tid("after the flush"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("after the flush")) }, "and follows the new log")
}

// TestRecreatedLogWithRepeatedIDs: a log recreated after a FLUSHALL may
// give its first entry the very id a Store last read (ids are Redis's time
// in milliseconds), which XREAD from that id never returns; the log's
// generation tells the Store that the log's last entry is not the one it
// read.
func TestRecreatedLogWithRepeatedIDs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	a := followerOnly(t, srv, nil)
	w := newStore(t, admin)
	require.NoError(t, w.Revoke(ctx, tid("known"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("known")) })
	last, err := admin.XRevRangeN(ctx, a.LogKey(), "+", "-", 1).Result()
	require.NoError(t, err)
	require.Len(t, last, 1)
	reads := a.FullReads()

	// In one transaction, so that a cannot read the log while it is gone: a
	// FLUSHALL, then what w's script would write in the same millisecond as
	// "known".
	id := tid("hidden")
	_, err = admin.TxPipelined(ctx, func(p redis.Pipeliner) error {
		p.FlushAll(ctx)
		p.Set(ctx, keyOf(id), exp.UnixMilli(), time.Hour)
		p.XAdd(ctx, &redis.XAddArgs{Stream: a.LogKey(), ID: last[0].ID,
			Values: []any{"e", fmt.Sprint(exp.UnixMilli(), " ", hex.EncodeToString(id[:])), "p", "0-0", "g", "0123456789abcdef"}})
		return nil
	})
	require.NoError(t, err)

	written := time.Now()
	eventually(t, func() bool { return a.FullReads() > reads && a.ConfirmedSince(written) },
		"a finds the log replaced and reads Redis in full")
	requireRevoked(t, a, id, true) // by the full read: XREAD from its id never returns the entry
	requireRevoked(t, a, tid("known"), true)
}

// TestRestartWithoutPersistenceFound: a Redis restarted without its data
// has a log that ends before a Store's place, which the Store checks after
// its connection failed; it reads Redis in full and keeps what it knew.
func TestRestartWithoutPersistenceFound(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	user := fmt.Sprintf("follower%d", userSeq.Add(1))
	a := followerAs(t, srv, user, nil)
	wc := srv.Client(t)
	w := newStore(t, wc)
	require.NoError(t, w.Revoke(ctx, tid("known"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("known")) })
	reads := a.FullReads()

	srv.Kill()
	eventually(t, func() bool { return !a.Fresh() })
	srv.StartEmpty()
	followerACL(t, srv, user) // the user went with the data
	require.EqualValues(t, 0, srv.Client(t).DBSize(ctx).Val(), "Redis came back empty")

	restarted := time.Now()
	eventually(t, func() bool { return a.FullReads() > reads && a.ConfirmedSince(restarted) }, "a finds the log gone and reads Redis in full")
	requireRevoked(t, a, tid("known"), true)
	dialsAgain(t, wc)
	require.NoError(t, w.Revoke(ctx, tid("after the restart"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("after the restart")) }, "and follows the new log")
}

// TestLogEntries: the log holds one entry per write, carrying the
// announcement and the id of the entry before it, in the order of the
// writes; on Cluster-like splitting, a subject cut-off moved forward by the
// script is logged again with the stored value.
func TestLogEntries(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond)
	cut := time.Now().Truncate(time.Microsecond)
	for _, mode := range []struct {
		name string
		opts []redisstore.Option
		// entries the second RevokeSubject logs
		subjectEntries int
	}{{"one script", nil, 1}, {"log first", []redisstore.Option{redisstore.WithSplitLog()}, 2}} {
		t.Run(mode.name, func(t *testing.T) {
			prefix := fmt.Sprintf("entries%d:", userSeq.Add(1))
			s := newStore(t, admin, append(mode.opts, redisstore.WithKeyPrefix(prefix))...)
			id, subject := tid("entry"), sid("entry")
			require.NoError(t, s.Revoke(ctx, id, exp))
			require.NoError(t, s.RevokeSubject(ctx, subject, cut, exp))
			require.NoError(t, s.RevokeSubject(ctx, subject, cut, exp)) // moved a microsecond forward

			entries, err := admin.XRange(ctx, s.LogKey(), "-", "+").Result()
			require.NoError(t, err)
			require.Len(t, entries, 2+mode.subjectEntries)
			h := hex.EncodeToString(id[:])
			sh := hex.EncodeToString(subject[:])
			until := strconv.FormatInt(exp.UnixMilli(), 10)
			require.Equal(t, until+" "+h, entries[0].Values["e"])
			require.Equal(t, "subject "+fmt.Sprint(cut.UnixMicro())+" "+until+" "+sh, entries[1].Values["e"])
			last := entries[len(entries)-1]
			require.Equal(t, "subject "+fmt.Sprint(cut.UnixMicro()+1)+" "+until+" "+sh, last.Values["e"], "the stored value comes last")
			prev := "0-0"
			for _, e := range entries {
				require.Equal(t, prev, e.Values["p"], "entry %s names the one before it", e.ID)
				require.Len(t, e.Values["g"], 16, "entry %s carries the log's generation", e.ID)
				require.Equal(t, entries[0].Values["g"], e.Values["g"], "one generation for the whole log")
				prev = e.ID
			}
			require.Equal(t, "{"+prefix+"events}:log", s.LogKey(), "the log's key is outside the prefix")
		})
	}
}

// TestEarlierVersions: during a rolling upgrade, Stores of earlier versions
// read announcements and write keys with announcements but no log entry.
// They still hear every revocation a Store of this version writes, in the
// form they parse, and a Store of this version applies theirs as they are
// announced, and finds one whose announcement it missed by its periodic
// full read.
func TestEarlierVersions(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	newer := newStore(t, srv.Client(t)) // its safety net is an hour away

	t.Run("an earlier Store hears this version's writes", func(t *testing.T) {
		ps := admin.Subscribe(ctx, redisstore.DefaultKeyPrefix+"events")
		defer ps.Close()
		_, err := ps.Receive(ctx) // the subscription's confirmation
		require.NoError(t, err)
		id := tid("for an earlier reader")
		require.NoError(t, newer.Revoke(ctx, id, exp))
		msg, err := ps.ReceiveMessage(ctx)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(exp.UnixMilli()+1, " ", hex.EncodeToString(id[:])), msg.Payload, "the form earlier Stores parse")
	})

	t.Run("this version applies an earlier Store's announcement", func(t *testing.T) {
		id := tid("from an earlier writer")
		announceUnlogged(t, admin, id, exp)
		eventually(t, func() bool { return revokedOn(newer, id) })
		require.Zero(t, newer.Resyncs(), "from the announcement")
	})

	t.Run("and finds one whose announcement it missed", func(t *testing.T) {
		s := newStore(t, srv.Client(t), redisstore.WithResyncInterval(50*time.Millisecond))
		id := tid("missed")
		writeUnlogged(t, admin, id, exp) // no announcement at all
		done := s.Resyncs()
		eventually(t, func() bool { return s.Resyncs() >= done+2 }, "it resyncs periodically")
		requireRevoked(t, s, id, true)
	})
}

// writeUnlogged stores a revocation key as earlier versions do, without a
// log entry or an announcement.
func writeUnlogged(t *testing.T, client *redis.Client, id [32]byte, exp time.Time) {
	t.Helper()
	require.NoError(t, client.Set(context.Background(), keyOf(id), exp.UnixMilli(), time.Until(exp)+redisstore.ClockMargin).Err())
}

// announceUnlogged writes and announces a revocation as Stores of earlier
// versions do: a key and a message on the channel, no log entry.
func announceUnlogged(t *testing.T, client *redis.Client, id [32]byte, exp time.Time) {
	t.Helper()
	writeUnlogged(t, client, id, exp)
	require.NoError(t, client.Publish(context.Background(), redisstore.DefaultKeyPrefix+"events",
		fmt.Sprint(exp.UnixMilli(), " ", hex.EncodeToString(id[:]))).Err())
}
