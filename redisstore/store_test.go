package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// waitLong bounds every wait for an event. It is generous on purpose: it is
// not a performance target, only a way for a test that would hang to fail.
const waitLong = 10 * time.Second

// eventually waits up to waitLong for cond.
func eventually(tb testing.TB, cond func() bool, msgAndArgs ...any) {
	tb.Helper()
	require.Eventually(tb, cond, waitLong, 5*time.Millisecond, msgAndArgs...)
}

// dialsAgain waits until c answers PING after an outage. A go-redis pool
// whose dials kept failing answers with the last dial error, without
// dialing, until its probe, once a second, reaches the server again.
func dialsAgain(tb testing.TB, c *redis.Client) {
	tb.Helper()
	eventually(tb, func() bool { return c.Ping(context.Background()).Err() == nil }, "a client of %s dials again", c.Options().Addr)
}

// newStore returns a Store on client that is closed when the test ends.
func newStore(tb testing.TB, client redis.UniversalClient, opts ...redisstore.Option) *redisstore.Store {
	tb.Helper()
	s, err := redisstore.New(client, opts...)
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = s.Close() })
	return s
}

// fakeClock is a settable clock for WithClock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// tid returns the id of a named token, shaped like the ids authix passes.
func tid(name string) [32]byte { return sha256.Sum256([]byte(name)) }

// keyOf returns the Redis key of id under the default prefix.
func keyOf(id [32]byte) string { return redisstore.DefaultKeyPrefix + hex.EncodeToString(id[:]) }

func requireRevoked(tb testing.TB, s *redisstore.Store, id [32]byte, want bool) {
	tb.Helper()
	got, err := s.IsRevoked(context.Background(), id)
	require.NoError(tb, err)
	require.Equal(tb, want, got, "IsRevoked(%x)", id[:4])
}

// revokedOn reports whether s reports id revoked without error.
func revokedOn(s *redisstore.Store, id [32]byte) bool {
	ok, err := s.IsRevoked(context.Background(), id)
	return err == nil && ok
}

// aclUser creates (or resets) the ACL user name with every permission and
// then rules, and returns a client that logs in as it.
func aclUser(tb testing.TB, srv *redistest.Server, name string, rules ...string) *redis.Client {
	tb.Helper()
	acl(tb, srv, name, append([]string{"reset", "on", ">pw", "~*", "&*", "+@all"}, rules...)...)
	return srv.Client(tb, func(o *redis.Options) { o.Username, o.Password = name, "pw" })
}

// acl changes the ACL user name on srv with rules.
func acl(tb testing.TB, srv *redistest.Server, name string, rules ...string) {
	tb.Helper()
	args := []any{"ACL", "SETUSER", name}
	for _, r := range rules {
		args = append(args, r)
	}
	require.NoError(tb, srv.Client(tb).Do(context.Background(), args...).Err())
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	// No server is needed: options are checked before Redis is contacted.
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:1"})
	t.Cleanup(func() { _ = client.Close() })

	tests := []struct {
		name   string
		client redis.UniversalClient
		opts   []redisstore.Option
		want   string
	}{
		{"nil client", nil, nil, "client is nil"},
		{"empty prefix", client, []redisstore.Option{redisstore.WithKeyPrefix("")}, "WithKeyPrefix"},
		{"empty channel", client, []redisstore.Option{redisstore.WithChannel("")}, "WithChannel"},
		{"zero staleness", client, []redisstore.Option{redisstore.WithStalenessBound(0)}, "WithStalenessBound(0s)"},
		{"tiny staleness", client, []redisstore.Option{redisstore.WithStalenessBound(time.Millisecond)}, "at least 10ms"},
		{"zero sync timeout", client, []redisstore.Option{redisstore.WithSyncTimeout(0)}, "WithSyncTimeout"},
		{"zero resync interval", client, []redisstore.Option{redisstore.WithResyncInterval(0)}, "WithResyncInterval(0s)"},
		{"tiny resync interval", client, []redisstore.Option{redisstore.WithResyncInterval(time.Millisecond)}, "at least 10ms"},
		{"nil clock", client, []redisstore.Option{redisstore.WithClock(nil)}, "WithClock"},
		{"zero log retention", client, []redisstore.Option{redisstore.WithLogRetention(0)}, "WithLogRetention(0s)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := redisstore.New(tt.client, tt.opts...)
			require.Nil(t, s)
			require.ErrorIs(t, err, redisstore.ErrInvalidOption)
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func TestNewFailsWithoutRedis(t *testing.T) {
	t.Parallel()
	client := redis.NewClient(&redis.Options{Addr: fmt.Sprintf("127.0.0.1:%d", redistest.FreePort(t)), DialTimeout: 100 * time.Millisecond, MaxRetries: -1})
	t.Cleanup(func() { _ = client.Close() })
	s, err := redisstore.New(client, redisstore.WithSyncTimeout(300*time.Millisecond))
	require.Nil(t, s)
	require.ErrorIs(t, err, redisstore.ErrUnavailable)
	s, err = redisstore.New(client, redisstore.WithSyncTimeout(300*time.Millisecond), redisstore.WithEvictionAllowed())
	require.Nil(t, s)
	require.ErrorIs(t, err, redisstore.ErrUnavailable)
}

// TestNewChecksEvictionPolicy: an evicting maxmemory-policy can drop
// revocations from Redis, so New refuses it unless told the operator accepts
// that, and refuses to guess when it may not read the policy.
func TestNewChecksEvictionPolicy(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	admin := srv.Client(t)
	ctx := context.Background()

	for _, tt := range []struct {
		policy string
		opts   []redisstore.Option
		ok     bool
	}{
		{"noeviction", nil, true},
		{"allkeys-lru", nil, false},
		{"volatile-lru", nil, false},
		{"allkeys-random", nil, false},
		{"volatile-ttl", nil, false},
		{"allkeys-lru", []redisstore.Option{redisstore.WithEvictionAllowed()}, true},
		{"volatile-lru", []redisstore.Option{redisstore.WithEvictionAllowed()}, true},
	} {
		t.Run(fmt.Sprintf("%s/%d options", tt.policy, len(tt.opts)), func(t *testing.T) {
			require.NoError(t, admin.ConfigSet(ctx, "maxmemory-policy", tt.policy).Err())
			s, err := redisstore.New(admin, tt.opts...)
			if tt.ok {
				require.NoError(t, err)
				require.NoError(t, s.Close())
				return
			}
			require.Nil(t, s)
			require.ErrorIs(t, err, redisstore.ErrInvalidOption)
			require.ErrorContains(t, err, fmt.Sprintf("maxmemory-policy is %q", tt.policy))
			require.ErrorContains(t, err, "set maxmemory-policy noeviction")
			require.ErrorContains(t, err, "WithEvictionAllowed()")
		})
	}

	t.Run("CONFIG GET refused", func(t *testing.T) {
		require.NoError(t, admin.ConfigSet(ctx, "maxmemory-policy", "noeviction").Err())
		client := aclUser(t, srv, "noconfig", "-config")
		s, err := redisstore.New(client)
		require.Nil(t, s)
		require.ErrorIs(t, err, redisstore.ErrInvalidOption)
		require.ErrorContains(t, err, "cannot read maxmemory-policy")
		require.ErrorContains(t, err, "WithEvictionAllowed()")

		s, err = redisstore.New(client, redisstore.WithEvictionAllowed())
		require.NoError(t, err)
		require.NoError(t, s.Close())
	})
}

func TestRevokeAndIsRevoked(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	s := newStore(t, client)
	ctx := context.Background()

	requireRevoked(t, s, tid("never-revoked"), false)

	// Between two milliseconds, so that rounding up is certain to show.
	exp := time.Now().Add(time.Hour).Truncate(time.Millisecond).Add(time.Microsecond)
	require.NoError(t, s.Revoke(ctx, tid("tok-1"), exp))
	requireRevoked(t, s, tid("tok-1"), true) // own revocation, visible at once
	requireRevoked(t, s, tid("tok-2"), false)

	val, err := client.Get(ctx, keyOf(tid("tok-1"))).Result()
	require.NoError(t, err, "key is the default prefix and the id in lowercase hex")
	require.Equal(t, fmt.Sprint(exp.UnixMilli()+1), val, "value is the expiry in ms, rounded up")
	pttl, err := client.PTTL(ctx, keyOf(tid("tok-1"))).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, time.Hour+redisstore.ClockMargin-10*time.Second, "Redis keeps the key ClockMargin past the expiry")
	require.LessOrEqual(t, pttl, time.Hour+redisstore.ClockMargin+time.Millisecond)

	t.Run("expiresAt in the past is a no-op", func(t *testing.T) {
		require.NoError(t, s.Revoke(ctx, tid("old"), time.Now().Add(-time.Second)))
		n, err := client.Exists(ctx, keyOf(tid("old"))).Result()
		require.NoError(t, err)
		require.Zero(t, n)
		requireRevoked(t, s, tid("old"), false)
	})
	t.Run("Len counts the mirror", func(t *testing.T) {
		require.Equal(t, 1, s.Len())
	})
}

// TestBoundary: a revocation holds while now <= expiresAt, that instant
// included, when it is written, in every mirror, and through EXISTS.
func TestBoundary(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
	a := newStore(t, client, redisstore.WithClock(clock.Now))
	b := newStore(t, client, redisstore.WithClock(clock.Now))

	at := tid("expires-now")
	require.NoError(t, a.Revoke(ctx, at, clock.Now()))
	n, err := client.Exists(ctx, keyOf(at)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "Revoke with expiresAt == now records it")
	requireRevoked(t, a, at, true) // own mirror
	eventually(t, func() bool { return revokedOn(b, at) }, "b's mirror, from the announcement")
	c := newStore(t, client, redisstore.WithClock(clock.Now))
	requireRevoked(t, c, at, true) // filled by SCAN

	require.NoError(t, a.Revoke(ctx, tid("expired-1ms-ago"), clock.Now().Add(-time.Millisecond)))
	n, err = client.Exists(ctx, keyOf(tid("expired-1ms-ago"))).Result()
	require.NoError(t, err)
	require.Zero(t, n, "an expiresAt before now records nothing")

	clock.Add(time.Millisecond)
	for _, s := range []*redisstore.Store{a, b, c} {
		requireRevoked(t, s, at, false)
	}

	t.Run("stale mirror, through EXISTS", func(t *testing.T) {
		clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
		r, _ := refusedStore(t, srv, redisstore.WithClock(clock.Now))
		w := newStore(t, client, redisstore.WithClock(clock.Now))
		id := tid("expires-now-stale")
		require.NoError(t, w.Revoke(ctx, id, clock.Now()))
		ok, err := r.IsRevoked(ctx, id)
		require.NoError(t, err)
		require.True(t, ok, "the stale store finds it in Redis at the instant it expires")
		require.False(t, r.Fresh(), "the answer came from Redis")
	})
}

func TestRevocationExpires(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
	a := newStore(t, client, redisstore.WithClock(clock.Now))
	b := newStore(t, client, redisstore.WithClock(clock.Now))
	ctx := context.Background()
	id := tid("short")

	const life = 400 * time.Millisecond
	require.NoError(t, a.Revoke(ctx, id, clock.Now().Add(life)))
	pttl, err := client.PTTL(ctx, keyOf(id)).Result()
	require.NoError(t, err)
	require.LessOrEqual(t, pttl, life+redisstore.ClockMargin)
	require.Greater(t, pttl, life+redisstore.ClockMargin-30*time.Second, "Redis keeps it ClockMargin past the expiry")
	eventually(t, func() bool { return revokedOn(b, id) })

	clock.Add(life)
	requireRevoked(t, a, id, true)
	requireRevoked(t, b, id, true)
	clock.Add(time.Millisecond)
	requireRevoked(t, a, id, false)
	requireRevoked(t, b, id, false)
	require.Zero(t, a.Len(), "expired entries leave the mirror")
	require.Zero(t, b.Len())
	require.Zero(t, newStore(t, client, redisstore.WithClock(clock.Now)).Len(),
		"a new store does not load revocations expired by its clock, although Redis still has the key")
}

// TestSkewedClock: expiries sent to Redis do not depend on Redis's clock.
// The stores' clocks run 30s behind Redis's; the token expires 10s from
// their now, which is 20s in Redis's past.
func TestSkewedClock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	clock := &fakeClock{now: time.Now().Add(-30 * time.Second)}
	w := newStore(t, client, redisstore.WithClock(clock.Now))
	id := tid("skewed")

	require.NoError(t, w.Revoke(ctx, id, clock.Now().Add(10*time.Second)))
	n, err := client.Exists(ctx, keyOf(id)).Result()
	require.NoError(t, err)
	require.EqualValues(t, 1, n, "the key is in Redis")
	pttl, err := client.PTTL(ctx, keyOf(id)).Result()
	require.NoError(t, err)
	require.Greater(t, pttl, 10*time.Second+redisstore.ClockMargin-30*time.Second)

	r := newStore(t, client, redisstore.WithClock(clock.Now)) // New after the write: SCAN
	requireRevoked(t, r, id, true)
	requireRevoked(t, w, id, true)
}

func TestRevokeTwiceKeepsLaterExpiry(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	start := time.Now().Truncate(time.Millisecond).Add(time.Microsecond)
	a := newStore(t, client)
	// b's clock runs 90 minutes ahead: only a revocation that kept the
	// later (2h) expiry is still in force for it.
	clock := &fakeClock{now: start.Add(90 * time.Minute)}
	b := newStore(t, client, redisstore.WithClock(clock.Now))
	ctx := context.Background()
	hour1, hour2 := start.Add(time.Hour), start.Add(2*time.Hour)

	for _, tt := range []struct {
		name  string
		first time.Time
		then  time.Time
	}{
		{"later then earlier", hour2, hour1},
		{"earlier then later", hour1, hour2},
		{"same twice", hour2, hour2},
	} {
		t.Run(tt.name, func(t *testing.T) {
			id := tid("twice-" + tt.name)
			require.NoError(t, a.Revoke(ctx, id, tt.first))
			require.NoError(t, a.Revoke(ctx, id, tt.then))
			pttl, err := client.PTTL(ctx, keyOf(id)).Result()
			require.NoError(t, err)
			require.Greater(t, pttl, 110*time.Minute, "Redis keeps the later expiry")
			eventually(t, func() bool { return revokedOn(b, id) }, "the other store's mirror keeps the later expiry")
		})
	}

	t.Run("concurrent revokes keep the latest", func(t *testing.T) {
		var wg sync.WaitGroup
		for i := range 32 {
			wg.Go(func() {
				assert.NoError(t, a.Revoke(ctx, tid("racy"), start.Add(time.Duration(i+1)*time.Minute)))
			})
		}
		wg.Wait()
		val, err := client.Get(ctx, keyOf(tid("racy"))).Result()
		require.NoError(t, err)
		require.Equal(t, fmt.Sprint(start.Add(32*time.Minute).UnixMilli()+1), val)
	})

	t.Run("a new store loads the later expiry", func(t *testing.T) {
		c := newStore(t, client, redisstore.WithClock(clock.Now))
		for _, name := range []string{"later then earlier", "earlier then later", "same twice"} {
			requireRevoked(t, c, tid("twice-"+name), true)
		}
	})
}

// TestAnyIDs: every [32]byte is an id, and ids that differ in one byte are
// different ids. Keys under the prefix that are not a lowercase hex id are
// ignored; one with a foreign value counts by its TTL.
func TestAnyIDs(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)

	var zero, ones, last, first [32]byte
	for i := range ones {
		ones[i] = 0xff
	}
	last[31], first[0] = 1, 1
	ids := [][32]byte{zero, ones, last, first, tid("a"), tid("b")}

	foreign := tid("foreign value")
	require.NoError(t, client.Set(ctx, keyOf(foreign), "not an expiry", time.Hour).Err())
	for _, k := range []string{"not-hex", "ABCD", hex.EncodeToString(ones[:])[:62], "events"} {
		require.NoError(t, client.Set(ctx, redisstore.DefaultKeyPrefix+k, "1", time.Hour).Err())
	}
	upper := tid("upper")
	require.NoError(t, client.Set(ctx, fmt.Sprintf("%s%X", redisstore.DefaultKeyPrefix, upper[:]), strconv.FormatInt(exp.UnixMilli(), 10), time.Hour).Err())

	a := newStore(t, client)
	b := newStore(t, client)
	require.Equal(t, 1, a.Len(), "only the foreign-valued hex key is loaded")
	for _, id := range ids {
		require.NoError(t, a.Revoke(ctx, id, exp), "Revoke(%x)", id)
	}
	c := newStore(t, client) // filled by SCAN, not by announcements
	require.Equal(t, len(ids)+1, c.Len())
	for _, id := range append(ids, foreign) {
		requireRevoked(t, a, id, true)
		requireRevoked(t, c, id, true)
		eventually(t, func() bool { return revokedOn(b, id) }, "b sees %x", id)
	}
	var two [32]byte
	two[31] = 2
	for _, id := range [][32]byte{two, tid("c"), upper} {
		requireRevoked(t, a, id, false)
		requireRevoked(t, b, id, false)
		requireRevoked(t, c, id, false)
	}
}

func TestFilledOnStart(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	a := newStore(t, client)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	const n = 2500 // more than one SCAN batch
	for i := range n {
		require.NoError(t, a.Revoke(ctx, tid(fmt.Sprint("start-", i)), exp))
	}
	require.NoError(t, a.Close())

	b := newStore(t, client)
	require.Equal(t, n, b.Len(), "New fills the mirror before it returns")
	for i := range n {
		requireRevoked(t, b, tid(fmt.Sprint("start-", i)), true)
	}
}

func TestKeyPrefixIsolation(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	fast := redisstore.WithStalenessBound(300 * time.Millisecond)

	a := newStore(t, client, redisstore.WithKeyPrefix("svcA:"), fast)
	b := newStore(t, client, redisstore.WithKeyPrefix("svcB:"), fast)
	glob := newStore(t, client, redisstore.WithKeyPrefix("svc*:"), fast) // must not match svcA: as a pattern
	same, onlyB, onlyGlob := tid("same"), tid("only-b"), tid("only-glob")

	require.NoError(t, a.Revoke(ctx, same, exp))
	require.NoError(t, b.Revoke(ctx, onlyB, exp))
	require.NoError(t, glob.Revoke(ctx, onlyGlob, exp))
	written := time.Now()

	n, err := client.Exists(ctx, "svcA:"+hex.EncodeToString(same[:]), "svcB:"+hex.EncodeToString(onlyB[:]),
		"svc*:"+hex.EncodeToString(onlyGlob[:])).Result()
	require.NoError(t, err)
	require.EqualValues(t, 3, n)

	// A PING sent after the writes has come back to each store, so any stray
	// announcement would have arrived before it.
	for _, s := range []*redisstore.Store{a, b, glob} {
		eventually(t, func() bool { return s.ConfirmedSince(written) })
	}
	requireRevoked(t, a, same, true)
	requireRevoked(t, a, onlyB, false)
	requireRevoked(t, b, same, false)
	requireRevoked(t, glob, same, false)
	requireRevoked(t, glob, onlyB, false)
	require.Equal(t, 1, a.Len())
	require.Equal(t, 1, b.Len())
	require.Equal(t, 1, glob.Len())

	for _, prefix := range []string{"svcA:", "svcB:", "svc*:"} {
		require.Equal(t, 1, newStore(t, client, redisstore.WithKeyPrefix(prefix)).Len(), "new store with prefix %q", prefix)
	}
}

func TestClock(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	clock := &fakeClock{now: time.Now().Truncate(time.Millisecond)}
	s := newStore(t, srv.Client(t), redisstore.WithClock(clock.Now))
	ctx := context.Background()

	require.NoError(t, s.Revoke(ctx, tid("tok"), clock.Now().Add(time.Hour)))
	requireRevoked(t, s, tid("tok"), true)
	clock.Add(time.Hour)
	requireRevoked(t, s, tid("tok"), true) // at the instant it expires
	clock.Add(time.Millisecond)
	requireRevoked(t, s, tid("tok"), false) // expired by the store's clock
	require.NoError(t, s.Revoke(ctx, tid("late"), time.Now().Add(30*time.Minute)))
	requireRevoked(t, s, tid("late"), false) // already past by the store's clock: a no-op
}

// TestLostAnnouncementFoundByResync: a revocation whose announcement never
// reaches a store (here: written by a store that announces on another
// channel) is in that store's mirror after its next periodic full resync,
// though nothing else happened to trigger a sync.
func TestLostAnnouncementFoundByResync(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	a := newStore(t, client, redisstore.WithResyncInterval(50*time.Millisecond))
	quiet := newStore(t, client, redisstore.WithChannel("elsewhere"))
	id := tid("unannounced")

	require.NoError(t, quiet.Revoke(ctx, id, time.Now().Add(time.Hour)))
	// The first resync to finish from here may have started before the
	// write; the one after it cannot have.
	done := a.Resyncs()
	eventually(t, func() bool { return a.Resyncs() >= done+2 }, "a resyncs periodically")
	require.Equal(t, 1, a.Len(), "the resync put it in a's mirror")
	requireRevoked(t, a, id, true)
}

// TestRevokeIsAtomicWithAnnouncement: Revoke logs, announces and writes in
// one script (on Cluster, logs by a script of its own first), so when Redis
// refuses the log entry nothing is written, and when it refuses a later
// step the log holds the revocation and every store holds it too. Either
// way Revoke fails and may be retried.
func TestRevokeIsAtomicWithAnnouncement(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
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
			user := func(name string, rules ...string) string {
				u := fmt.Sprintf("%s%d", name, userSeq.Add(1))
				aclUser(t, srv, u, rules...)
				return u
			}
			writer := func(u string) *redisstore.Store {
				return newStore(t, srv.Client(t, func(o *redis.Options) { o.Username, o.Password = u, "pw" }), mode.opts...)
			}

			t.Run("XADD refused", func(t *testing.T) {
				u := user("noxadd", "-xadd")
				w := writer(u)
				id := tid(mode.name + " xadd refused")
				require.ErrorIs(t, w.Revoke(ctx, id, exp), redisstore.ErrRevokeFailed)
				n, err := srv.Client(t).Exists(ctx, keyOf(id)).Result()
				require.NoError(t, err)
				require.Zero(t, n, "no key that no other store was told of")
				since := time.Now()
				eventually(t, func() bool { return other.ConfirmedSince(since) && w.ConfirmedSince(since) })
				requireRevoked(t, other, id, false) // nor logged
				requireRevoked(t, w, id, false)

				acl(t, srv, u, "+xadd")
				require.NoError(t, w.Revoke(ctx, id, exp), "a retry succeeds")
				eventually(t, func() bool { return revokedOn(other, id) })
			})

			t.Run("PUBLISH refused", func(t *testing.T) {
				w := writer(user("nopublish", "-publish"))
				id := tid(mode.name + " publish refused")
				require.ErrorIs(t, w.Revoke(ctx, id, exp), redisstore.ErrRevokeFailed)
				n, err := srv.Client(t).Exists(ctx, keyOf(id)).Result()
				require.NoError(t, err)
				require.Zero(t, n)
				eventually(t, func() bool { return revokedOn(other, id) }, "logged, so the others fail closed")
			})

			t.Run("SET refused", func(t *testing.T) {
				w := writer(user("noset", "-set"))
				id := tid(mode.name + " set refused")
				require.ErrorIs(t, w.Revoke(ctx, id, exp), redisstore.ErrRevokeFailed)
				eventually(t, func() bool { return revokedOn(other, id) }, "logged and announced, so the others fail closed")
			})
		})
	}
}

// TestFlushedRevocationsStayInMirrors: a full sync merges what Redis holds
// into the mirror; it never drops a revocation that Redis lost. Both kinds of
// full sync are checked: the one after a reconnect and the periodic one.
func TestFlushedRevocationsStayInMirrors(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	opts := []redisstore.Option{redisstore.WithResyncInterval(50 * time.Millisecond), redisstore.WithStalenessBound(300 * time.Millisecond)}
	a := newStore(t, client, opts...)
	b := newStore(t, client, opts...)
	id := tid("flushed")

	require.NoError(t, a.Revoke(ctx, id, time.Now().Add(time.Hour)))
	eventually(t, func() bool { return revokedOn(b, id) })
	loseRedisAndResync(t, client, []*redisstore.Store{a, b}, func(s *redisstore.Store) {
		requireRevoked(t, s, id, true)
		require.Equal(t, 1, s.Len())
	})
	// What no running store knew is gone: the reason New insists on
	// maxmemory-policy noeviction.
	requireRevoked(t, newStore(t, client), id, false)
}

// refusedStore returns a Store, and its Redis user, once that user may no
// longer read the log nor use any channel and the Store has noticed: Redis
// refuses its reads of the log and its subscription, and the Store no
// longer trusts its mirror.
func refusedStore(t *testing.T, srv *redistest.Server, opts ...redisstore.Option) (*redisstore.Store, string) {
	t.Helper()
	user := fmt.Sprintf("replica%d", userSeq.Add(1))
	s := newStore(t, aclUser(t, srv, user), append([]redisstore.Option{redisstore.WithStalenessBound(300 * time.Millisecond)}, opts...)...)
	eventually(t, s.Fresh)
	failed := s.FailedReads()
	acl(t, srv, user, "-xread", "resetchannels") // Redis refuses XREAD and drops the subscription
	// Once a read has failed, none sent before the change can still confirm.
	eventually(t, func() bool { return !s.Fresh() && s.FailedReads() > failed }, "the store stops trusting its mirror")
	return s, user
}

var userSeq atomic.Int64

// TestRefusedLogReadFailsClosed: Redis keeps answering other commands on
// connections whose reads of the log it refuses; nothing else may keep the
// mirror fresh, and once the reads are allowed again the Store catches up
// from the log, without a full read.
func TestRefusedLogReadFailsClosed(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	w := newStore(t, srv.Client(t))
	user := "replica"
	r := newStore(t, aclUser(t, srv, user), redisstore.WithStalenessBound(300*time.Millisecond))
	require.NoError(t, w.Revoke(ctx, tid("before"), exp))
	eventually(t, func() bool { return revokedOn(r, tid("before")) })

	t.Run("a refused subscription changes nothing", func(t *testing.T) {
		acl(t, srv, user, "resetchannels")
		since := time.Now()
		require.NoError(t, w.Revoke(ctx, tid("unannounced"), exp))
		eventually(t, func() bool { return r.ConfirmedSince(since) && revokedOn(r, tid("unannounced")) },
			"the log brings it, and reads of the log keep the mirror fresh")
	})

	failed := r.FailedReads()
	acl(t, srv, user, "-xread")
	// Once a read has failed, none sent before the change can still confirm.
	eventually(t, func() bool { return !r.Fresh() && r.FailedReads() > failed }, "the store stops reporting itself fresh")

	require.NoError(t, w.Revoke(ctx, tid("after"), exp))
	requireRevoked(t, r, tid("after"), true)  // from Redis
	requireRevoked(t, r, tid("never"), false) // from Redis
	requireRevoked(t, r, tid("before"), true) // from the mirror

	acl(t, srv, user, "-exists")
	_, err := r.IsRevoked(ctx, tid("never"))
	require.ErrorIs(t, err, redisstore.ErrUnavailable, "neither mirror nor Redis can answer")
	_, err = r.IsRevoked(ctx, tid("after"))
	require.ErrorIs(t, err, redisstore.ErrUnavailable)
	requireRevoked(t, r, tid("before"), true)

	reads := r.FullReads()
	acl(t, srv, user, "+xread", "allchannels", "+exists")
	eventually(t, func() bool { return r.Fresh() && revokedOn(r, tid("after")) },
		"the store reads the log again by itself, catches up and is fresh")
	require.Equal(t, reads, r.FullReads(), "from the log alone")
	require.NoError(t, w.Revoke(ctx, tid("later"), exp))
	eventually(t, func() bool { return revokedOn(r, tid("later")) && r.Fresh() }, "the log flows again")
}

// TestReconnectCatchesUpFromLog: a Store cut off from Redis while ten
// logouts happen elsewhere learns all ten once it is back, from the log,
// without a full read; dropped subscriptions cost nothing either.
func TestReconnectCatchesUpFromLog(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	link := redistest.NewLink(t, srv.Addr())
	behind := srv.Client(t, func(o *redis.Options) { o.Addr = link.Addr() })
	a := newStore(t, behind, redisstore.WithStalenessBound(300*time.Millisecond))
	w := newStore(t, client)
	require.NoError(t, w.Revoke(ctx, tid("before the cut"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("before the cut")) })
	reads := a.FullReads()

	link.Cut()
	for i := range 10 {
		require.NoError(t, w.Revoke(ctx, tid(fmt.Sprint("while cut off ", i)), exp))
	}
	eventually(t, func() bool { return !a.Fresh() }, "a notices it is cut off")
	for i := range 10 {
		ok, _ := a.IsRevoked(ctx, tid(fmt.Sprint("while cut off ", i)))
		require.False(t, ok, "a could not have learned of logout %d yet", i)
	}

	link.Restore()
	eventually(t, func() bool { return a.Fresh() && a.Len() == 11 }, "a reconnects and catches up")
	for i := range 10 {
		requireRevoked(t, a, tid(fmt.Sprint("while cut off ", i)), true)
	}
	require.Equal(t, reads, a.FullReads(), "from the log alone: no full read")

	t.Run("dropped subscriptions", func(t *testing.T) {
		killed, err := client.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
		require.NoError(t, err)
		require.Positive(t, killed)
		require.NoError(t, w.Revoke(ctx, tid("announced"), exp))
		eventually(t, func() bool { return revokedOn(a, tid("announced")) && a.Fresh() })
		require.Equal(t, reads, a.FullReads())
	})
}

// TestConcurrentUse revokes and checks from many goroutines while the
// subscriptions are dropped and resynced, for the race detector and to check
// that a store always sees its own revocations at once.
func TestConcurrentUse(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	client := srv.Client(t)
	opts := []redisstore.Option{redisstore.WithStalenessBound(300 * time.Millisecond), redisstore.WithResyncInterval(100 * time.Millisecond)}
	a := newStore(t, client, opts...)
	b := newStore(t, client, opts...)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)

	stop := make(chan struct{})
	var kills sync.WaitGroup
	var killed atomic.Int64
	kills.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
				n, _ := client.ClientKillByFilter(ctx, "TYPE", "pubsub").Result()
				killed.Add(n)
			}
		}
	})

	var wg sync.WaitGroup
	const workers, each = 4, 500
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				id := tid(fmt.Sprintf("w%d-%d", w, i))
				store := a
				if i%2 == 1 {
					store = b
				}
				if err := store.Revoke(ctx, id, exp); err != nil {
					t.Errorf("Revoke(%x): %v", id[:4], err)
					return
				}
				if ok, err := store.IsRevoked(ctx, id); err != nil || !ok {
					t.Errorf("own revocation %x: IsRevoked = %v, %v", id[:4], ok, err)
					return
				}
				_, _ = a.IsRevoked(ctx, tid("other"))
				_ = b.Len()
			}
		})
	}
	wg.Wait()
	close(stop)
	kills.Wait()
	require.Positive(t, killed.Load(), "subscriptions were dropped while in use")
	t.Logf("%d subscriptions dropped during %d revocations", killed.Load(), workers*each)

	for _, s := range []*redisstore.Store{a, b} {
		eventually(t, func() bool { return s.Len() == workers*each && s.Fresh() })
	}
}

func TestClose(t *testing.T) {
	srv := redistest.Start(t)
	client := srv.Client(t)
	ctx := context.Background()
	require.NoError(t, client.Ping(ctx).Err())
	before := runtime.NumGoroutine()

	for range 5 {
		created := time.Now()
		s, err := redisstore.New(client, redisstore.WithStalenessBound(100*time.Millisecond), redisstore.WithResyncInterval(10*time.Millisecond))
		require.NoError(t, err)
		require.NoError(t, s.Revoke(ctx, tid("x"), time.Now().Add(time.Minute)))
		eventually(t, func() bool { return s.ConfirmedSince(created) && s.Resyncs() > 0 }, "it pinged, received and resynced")
		require.NoError(t, s.Close())
		require.NoError(t, s.Close(), "closing twice is fine")

		require.ErrorIs(t, s.Revoke(ctx, tid("y"), time.Now().Add(time.Minute)), redisstore.ErrClosed)
		_, err = s.IsRevoked(ctx, tid("x"))
		require.ErrorIs(t, err, redisstore.ErrClosed)
	}
	settled(t, before)
	require.NoError(t, client.Ping(ctx).Err(), "Close leaves the client open")

	t.Run("while redis is down", func(t *testing.T) {
		s, err := redisstore.New(client, redisstore.WithStalenessBound(100*time.Millisecond), redisstore.WithResyncInterval(10*time.Millisecond))
		require.NoError(t, err)
		srv.Kill()
		eventually(t, func() bool { return !s.Fresh() }, "reconnect attempts under way")
		closed := make(chan error, 1)
		go func() { closed <- s.Close() }()
		select {
		case err := <-closed:
			require.NoError(t, err)
		case <-time.After(waitLong):
			t.Fatal("Close did not return while Redis is down")
		}
		settled(t, before)
	})
}

// settled waits until the number of goroutines is back to at most want.
func settled(t *testing.T, want int) {
	t.Helper()
	deadline := time.Now().Add(waitLong)
	for {
		n := runtime.NumGoroutine()
		if n <= want {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, want at most %d:\n%s", n, want, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestLogReadsKeepMirrorFresh checks, for both protocol versions (their
// replies to XREAD differ), that blocking reads of the log confirm the
// mirror again and again while nothing is logged, and bring what is.
func TestLogReadsKeepMirrorFresh(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	for _, proto := range []int{2, 3} {
		t.Run(fmt.Sprintf("RESP%d", proto), func(t *testing.T) {
			client := srv.Client(t, func(o *redis.Options) { o.Protocol = proto })
			s := newStore(t, client, redisstore.WithStalenessBound(300*time.Millisecond))
			other := newStore(t, client)
			for range 3 {
				since := time.Now()
				eventually(t, func() bool { return s.ConfirmedSince(since) }, "a read of the log confirmed the mirror")
			}
			require.NoError(t, other.Revoke(context.Background(), tid("x"), time.Now().Add(time.Hour)))
			eventually(t, func() bool { return revokedOn(s, tid("x")) })
		})
	}
}

// loseRedisAndResync empties Redis (FLUSHALL, as a restart without
// persistence would), drops every connection, and runs check on each store
// once it has noticed the log it followed is gone and read Redis in full,
// then again after two periodic resyncs: what a store knew must survive
// both.
func loseRedisAndResync(t *testing.T, client *redis.Client, stores []*redisstore.Store, check func(*redisstore.Store)) {
	t.Helper()
	ctx := context.Background()
	reads := make([]int64, len(stores))
	for i, s := range stores {
		reads[i] = s.FullReads()
	}
	require.NoError(t, client.FlushAll(ctx).Err())
	killed := time.Now()
	_, err := client.ClientKillByFilter(ctx, "SKIPME", "yes").Result()
	require.NoError(t, err)
	for i, s := range stores {
		eventually(t, func() bool { return s.FullReads() > reads[i] && s.ConfirmedSince(killed) },
			"a full read after the reconnect found the log gone")
		check(s)
		done := s.Resyncs()
		eventually(t, func() bool { return s.Resyncs() >= done+2 }, "resynced periodically")
		check(s)
	}
}
