package main

// Issue 19 ("Logout that holds, part two") through two replicas on a real
// redis-server: the regression tests of the root package's holds_test.go
// where they involve replicas. Each one failed on fd7fc32.

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// A thief's session renewed on replica B while B is cut off from Redis,
// after a LogoutEverywhere on replica A, is refused on both once B is back;
// a login on A in the same instant as the logout is accepted on both.
func TestLogoutEverywhereHoldsAfterLaggingRenewal(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	opts := []authix.Option{authix.WithKeys(authix.GenerateKey()), authix.WithClock(clk.Now),
		authix.WithSubject(userName), authix.WithSliding(0)}
	a, storeA := newReplica(t, replicaClient(t, srv), []redisstore.Option{redisstore.WithClock(clk.Now)}, opts...)
	link := redistest.NewLink(t, srv.Addr())
	// While cut off, B keeps answering from its mirror: its last
	// confirmation stays trusted for an hour.
	b, storeB := newReplica(t, srv.Client(t, func(o *redis.Options) { *o = redis.Options{Addr: link.Addr()} }), []redisstore.Option{redisstore.WithClock(clk.Now),
		redisstore.WithStalenessBound(time.Hour)}, opts...)
	ctx := context.Background()

	thief := login(t, a, User{Name: "John"}) // a sliding session of John's
	clk.Advance(31 * time.Minute)
	link.Cut() // B cannot learn of what follows
	if err := a.LogoutEverywhere(ctx, "John"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(homeRequest(thief)); !errors.Is(err, authix.ErrRevokedToken) {
		t.Fatalf("the thief's token on A after LogoutEverywhere: %v; want ErrRevokedToken", err)
	}
	again := login(t, a, User{Name: "John"}) // in the same instant as the logout
	if _, err := a.Authenticate(homeRequest(again)); err != nil {
		t.Errorf("a login on A right after the logout, on A: %v", err)
	}

	// The thief's next request reaches B, past its renewal age.
	clk.Advance(time.Second)
	status, renewed := visit(b, thief)
	if status != http.StatusOK || renewed == "" {
		t.Fatalf("B, cut off from Redis: status %d, token cookie %q; want 200 and a renewal", status, renewed)
	}

	link.Restore()
	_, id := onlySubjectKey(t, replicaClient(t, srv))
	want, err := storeA.SubjectCutoff(ctx, id)
	if err != nil || want.IsZero() {
		t.Fatalf("A's cut-off for John: %v, %v", want, err)
	}
	for deadline := time.Now().Add(propagationWait); ; time.Sleep(time.Millisecond) {
		got, err := storeB.SubjectCutoff(ctx, id)
		if err == nil && got.Equal(want) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("B's cut-off for John %v after its link came back: %v, %v", want, got, err)
		}
	}
	for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
		if _, err := v.Authenticate(homeRequest(renewed)); !errors.Is(err, authix.ErrRevokedToken) {
			t.Errorf("the token B renewed while cut off, on %s: %v; want ErrRevokedToken", name, err)
		}
		if _, err := v.Authenticate(homeRequest(again)); err != nil {
			t.Errorf("the login on A right after the logout, on %s: %v", name, err)
		}
	}
}

// TestLogoutEverywhereHoldsUnderClockSkew: replica A's clock runs 30 s
// ahead of B's. A logs John out everywhere; John logs in on B, whose clock
// is behind that cut-off; B then logs him out everywhere again, at a time
// of its own before A's cut-off. Redis moves the cut-off forward instead of
// keeping the older one, so the second logout holds on both replicas.
func TestLogoutEverywhereHoldsUnderClockSkew(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	fast := func() time.Time { return clk.Now().Add(30 * time.Second) }
	keys := authix.GenerateKey()
	replica := func(now func() time.Time) *authix.Vault[User] {
		v, _ := newReplica(t, replicaClient(t, srv), []redisstore.Option{redisstore.WithClock(now)},
			authix.WithKeys(keys), authix.WithClock(now), authix.WithSubject(userName), authix.WithSliding(0))
		return v
	}
	a, b := replica(fast), replica(clk.Now)
	ctx := context.Background()

	if err := a.LogoutEverywhere(ctx, "John"); err != nil {
		t.Fatal(err)
	}
	awaitCaughtUp(t, a, b)
	clk.Advance(5 * time.Second)
	tok := login(t, b, User{Name: "John"})
	if _, err := b.Authenticate(homeRequest(tok)); err != nil {
		t.Fatalf("a login on B after A's logout: %v", err)
	}
	clk.Advance(5 * time.Second)
	if err := b.LogoutEverywhere(ctx, "John"); err != nil {
		t.Fatal(err)
	}
	awaitCaughtUp(t, b, a)
	for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
		if _, err := v.Authenticate(homeRequest(tok)); !errors.Is(err, authix.ErrRevokedToken) {
			t.Errorf("John's token on %s after B's logout: %v; want ErrRevokedToken", name, err)
		}
	}
}

// Replica B started after John's first LogoutEverywhere and holds its
// cut-off; then Redis refuses B's subscription and its reads of the log (an
// ACL change) while it answers B's other commands. Past its staleness bound
// B asks Redis, so a token John got between that logout and a second one, on
// A, is refused by B rather than accepted under the older cut-off B holds.
func TestStaleReplicaAsksForNewerCutoff(t *testing.T) {
	srv := redistest.Start(t)
	admin := replicaClient(t, srv)
	ctx := context.Background()
	clk := newFakeClock()
	opts := []authix.Option{authix.WithKeys(authix.GenerateKey()), authix.WithClock(clk.Now), authix.WithSubject(userName)}
	a, _ := newReplica(t, replicaClient(t, srv), []redisstore.Option{redisstore.WithClock(clk.Now)}, opts...)
	if err := a.LogoutEverywhere(ctx, "John"); err != nil {
		t.Fatal(err)
	}

	const user = "replica-b"
	setACL(t, admin, user, "reset", "on", ">pw", "~*", "&*", "+@all")
	clientB := srv.Client(t, func(o *redis.Options) { *o = redis.Options{Addr: o.Addr, Username: user, Password: "pw"} })
	// A short bound, so that B soon stops trusting its mirror; no periodic
	// resync, which would bring the newer cut-off into it.
	b, _ := newReplica(t, clientB, []redisstore.Option{redisstore.WithClock(clk.Now),
		redisstore.WithStalenessBound(50 * time.Millisecond), redisstore.WithResyncInterval(time.Hour)}, opts...)
	clk.Advance(time.Second)
	between := login(t, b, User{Name: "John"})
	if _, err := b.Authenticate(homeRequest(between)); err != nil {
		t.Fatalf("a login on B after the first logout: %v", err)
	}
	clk.Advance(time.Second)

	// Redis drops B's subscription and refuses it from now on, and refuses
	// B's reads of the log. Once it has refused one, no read of B's is left
	// to confirm B's mirror or bring it the second logout: B can learn of
	// that only by asking Redis, which it does past its bound.
	setACL(t, admin, user, "resetchannels", "-@stream")
	awaitDenied(t, admin, user)
	if err := a.LogoutEverywhere(ctx, "John"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Authenticate(homeRequest(between)); !errors.Is(err, authix.ErrRevokedToken) {
		t.Fatalf("John's token on A after the second logout: %v; want ErrRevokedToken", err)
	}
	// Within its bound B may still accept the token from its mirror.
	awaitRevoked(t, b, between, time.Now().Add(propagationWait), "John's token on B, stale, after the second logout")
}

// awaitDenied waits until Redis has refused a command of user's, as its ACL
// LOG shows.
func awaitDenied(t *testing.T, admin *redis.Client, user string) {
	t.Helper()
	deadline := time.Now().Add(propagationWait)
	for {
		entries, err := admin.ACLLog(context.Background(), 128).Result()
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if e.Username == user {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("Redis has refused no command of %s's", user)
		}
		time.Sleep(time.Millisecond)
	}
}

// During a rolling deploy that raises the TTL from 1 h to 2 h, a session
// logged out on an old replica stays out although a new one renewed it.
func TestLogoutOutlastsLongerLifetimes(t *testing.T) {
	srv := redistest.Start(t)
	clk := newFakeClock()
	keys := authix.GenerateKey()
	// The stores answer from their mirrors, judged by the test's clock: a
	// stale store would ask Redis, whose keys expire by the wall clock.
	storeOpts := []redisstore.Option{redisstore.WithClock(clk.Now), redisstore.WithStalenessBound(time.Hour)}
	replica := func(opts ...authix.Option) *authix.Vault[User] {
		v, _ := newReplica(t, replicaClient(t, srv), storeOpts,
			append([]authix.Option{authix.WithKeys(keys), authix.WithClock(clk.Now), authix.WithSliding(0)}, opts...)...)
		return v
	}
	old, newer := replica(), replica(authix.WithTTL(2*time.Hour))

	user := login(t, old, User{Name: "John"})
	clk.Advance(31 * time.Minute)
	status, thief := visit(newer, user)
	if status != http.StatusOK || thief == "" {
		t.Fatalf("the thief on the new replica: status %d, token cookie %q; want 200 and a renewal", status, thief)
	}
	if err := old.Logout(httptest.NewRecorder(), homeRequest(user)); err != nil {
		t.Fatal(err)
	}
	awaitRevoked(t, newer, thief, time.Now().Add(propagationWait), "the renewed token on the new replica after the logout")

	clk.Advance(65 * time.Minute)
	if _, err := newer.Authenticate(homeRequest(thief)); !errors.Is(err, authix.ErrRevokedToken) {
		t.Errorf("the renewed token on the new replica 65 minutes after the logout: %v; want ErrRevokedToken", err)
	}
	_, err := old.Authenticate(homeRequest(thief))
	if !errors.Is(err, authix.ErrRevokedToken) && !errors.Is(err, authix.ErrExpiredToken) {
		t.Errorf("the renewed token on the old replica: %v; want ErrRevokedToken or ErrExpiredToken", err)
	}
}

// A client that calls RenewAccessToken in a loop writes nothing to Redis
// while its token is young, and one revocation once it is past its renewal
// age; the other replica refuses the token it exchanged.
func TestRenewalFloodIsBounded(t *testing.T) {
	srv := redistest.Start(t)
	admin := replicaClient(t, srv)
	ctx := context.Background()
	clk := newFakeClock()
	keys := authix.GenerateKey()
	storeOpts := []redisstore.Option{redisstore.WithClock(clk.Now)}
	opts := []authix.Option{authix.WithKeys(keys), authix.WithClock(clk.Now), authix.WithSliding(0)}
	a, _ := newReplica(t, replicaClient(t, srv), storeOpts, opts...)
	b, _ := newReplica(t, replicaClient(t, srv), storeOpts, opts...)
	tok, _, err := a.IssueAccessToken(User{Name: "John"}, authix.RememberMe(true))
	if err != nil {
		t.Fatal(err)
	}

	flood := func() string {
		t.Helper()
		cur := tok
		for i := range 2000 {
			next, _, err := a.RenewAccessToken(ctx, cur)
			if err != nil {
				t.Fatalf("renewal %d: %v", i+1, err)
			}
			cur = next
		}
		return cur
	}
	inRedis := func() int {
		t.Helper()
		found, err := admin.Keys(ctx, redisstore.DefaultKeyPrefix+"*").Result()
		if err != nil {
			t.Fatal(err)
		}
		return len(found)
	}
	if flood() != tok {
		t.Error("a young token was exchanged")
	}
	if n := inRedis(); n != 0 {
		t.Errorf("%d revocations in Redis after 2000 renewals of a young token; want none", n)
	}

	clk.Advance(authix.DefaultRememberMe/2 + time.Second)
	renewed := flood()
	if renewed == tok {
		t.Fatal("a token past its renewal age was not exchanged")
	}
	if n := inRedis(); n != 1 {
		t.Errorf("%d revocations in Redis after 2000 renewals past the renewal age; want one", n)
	}
	awaitRevoked(t, b, tok, time.Now().Add(propagationWait), "the exchanged token on B")
	if _, err := b.Authenticate(homeRequest(renewed)); err != nil {
		t.Errorf("the renewed token on B: %v", err)
	}
}

// Logout on replica A with an authentic token that the cipher already
// refuses as too old ends the session, so the session a thief renewed on
// replica B meanwhile is refused there.
func TestLogoutWithTokenPastCipherLifetime(t *testing.T) {
	srv := redistest.Start(t)
	key := authix.GenerateKey()
	for _, tc := range []struct {
		name string
		opts func(t *testing.T) []authix.Option
	}{
		{"WithCipher", func(t *testing.T) []authix.Option {
			f, err := authix.NewFernet(time.Hour, key)
			if err != nil {
				t.Fatal(err)
			}
			return []authix.Option{authix.WithCipher(f)}
		}},
		{"WithRememberMe of the TTL", func(*testing.T) []authix.Option {
			return []authix.Option{authix.WithKeys(key), authix.WithRememberMe(time.Hour)}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			clk := newFakeClock()
			replica := func() *authix.Vault[User] {
				v, _ := newReplica(t, replicaClient(t, srv), []redisstore.Option{redisstore.WithClock(clk.Now)},
					append(tc.opts(t), authix.WithClock(clk.Now), authix.WithSliding(0))...)
				return v
			}
			a, b := replica(), replica()
			user := login(t, a, User{Name: "John"})

			clk.Advance(31 * time.Minute)
			status, thief := visit(b, user)
			if status != http.StatusOK || thief == "" {
				t.Fatalf("the thief on B: status %d, token cookie %q; want 200 and a renewal", status, thief)
			}
			clk.Advance(39 * time.Minute)
			if _, err := a.Authenticate(homeRequest(user)); !errors.Is(err, authix.ErrExpiredToken) {
				t.Fatalf("the user's 70-minute-old token: %v; want ErrExpiredToken", err)
			}
			if err := a.Logout(httptest.NewRecorder(), homeRequest(user)); err != nil {
				t.Fatal(err)
			}
			awaitCaughtUp(t, a, b)
			for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
				if _, err := v.Authenticate(homeRequest(thief)); !errors.Is(err, authix.ErrRevokedToken) {
					t.Errorf("the session the thief renewed, on %s: %v; want ErrRevokedToken", name, err)
				}
			}
		})
	}
}

// awaitCaughtUp waits until b knows of every revocation a has made so far:
// it disables a new token on a and waits until b refuses it. Redis delivers
// a's announcements to b in the order a made them, and a b that no longer
// trusts its mirror asks Redis, where a wrote them in that order too.
func awaitCaughtUp(t *testing.T, a, b *authix.Vault[User]) {
	t.Helper()
	probe, err := a.CreateAccessToken(User{Name: "probe"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DisableAccessToken(context.Background(), probe); err != nil {
		t.Fatal(err)
	}
	awaitRevoked(t, b, probe, time.Now().Add(propagationWait), "a token disabled on A, on B")
}

// setACL changes the ACL user name with rules, through client.
func setACL(t *testing.T, client *redis.Client, name string, rules ...string) {
	t.Helper()
	args := []any{"ACL", "SETUSER", name}
	for _, r := range rules {
		args = append(args, r)
	}
	if err := client.Do(context.Background(), args...).Err(); err != nil {
		t.Fatal(err)
	}
}
