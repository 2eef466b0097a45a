package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// propagationWait bounds how long a test waits for a logout on one replica
// to reach another. It only stops a broken test from hanging: the tests
// pass on the event, however long it took; BenchmarkPropagation measures.
const propagationWait = 30 * time.Second

// newReplicaVault returns a vault with the given keys and options whose
// revocations live in the Redis at srv, through a redisstore.Store and
// client of its own, as one replica process would have, and that store.
func newReplicaVault(t testing.TB, srv *redistest.Server, keys string, opts ...authix.Option) (*authix.Vault[User], *redisstore.Store) {
	t.Helper()
	return newReplica(t, replicaClient(t, srv), nil, append([]authix.Option{authix.WithKeys(keys)}, opts...)...)
}

// newReplica returns a vault with opts whose revocations live in Redis
// through client and a redisstore.Store of its own with storeOpts, and that
// store. The store is closed when t ends, before client.
func newReplica(t testing.TB, client *redis.Client, storeOpts []redisstore.Option, opts ...authix.Option) (*authix.Vault[User], *redisstore.Store) {
	t.Helper()
	store, err := redisstore.New(client, storeOpts...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	vault, err := authix.New[User](append([]authix.Option{authix.WithRevocationStore(store)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return vault, store
}

// fakeClock is a clock that moves only when told, safe for concurrent use;
// the vaults and stores of one test share it.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock() *fakeClock {
	c := &fakeClock{}
	c.ns.Store(time.Now().UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// login logs u in on v as a browser's login request would, and returns the
// token cookie it set.
func login(t testing.TB, v *authix.Vault[User], u User, opts ...authix.LoginOption) string {
	t.Helper()
	rec := httptest.NewRecorder()
	if err := v.SetAccessToken(rec, u, opts...); err != nil {
		t.Fatal(err)
	}
	tok := tokenCookie(rec)
	if tok == "" {
		t.Fatal("the login set no token cookie")
	}
	return tok
}

// visit serves homeRequest(tok) through v.RequireData and returns the
// status and the token cookie the response set, if any: a renewal.
func visit(v *authix.Vault[User], tok string) (status int, renewed string) {
	rec := httptest.NewRecorder()
	v.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, homeRequest(tok))
	return rec.Code, tokenCookie(rec)
}

// tokenCookie returns the token cookie rec sets, or "" when it sets none.
func tokenCookie(rec *httptest.ResponseRecorder) string {
	for _, c := range rec.Result().Cookies() {
		if c.Name == authix.DefaultCookieName && c.MaxAge >= 0 {
			return c.Value
		}
	}
	return ""
}

// homeRequest is a browser's GET /home with tok as its cookie.
func homeRequest(tok string) *http.Request {
	req := httptest.NewRequest(http.MethodGet, "/home", nil)
	req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
	return req
}

// awaitRevoked waits until v refuses tok as revoked, failing the test with
// what once deadline has passed.
func awaitRevoked(t testing.TB, v *authix.Vault[User], tok string, deadline time.Time, what string) {
	t.Helper()
	for {
		_, err := v.Authenticate(homeRequest(tok))
		if errors.Is(err, authix.ErrRevokedToken) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %v; want ErrRevokedToken", what, err)
		}
		time.Sleep(time.Millisecond)
	}
}

// replicaClient returns a new client for srv with go-redis's default
// options rather than redistest's short timeouts, closed when tb ends. Each
// client has its own connections, as a separate replica would.
func replicaClient(tb testing.TB, srv *redistest.Server) *redis.Client {
	tb.Helper()
	return srv.Client(tb, func(o *redis.Options) { *o = redis.Options{Addr: o.Addr} })
}

// TestRevocationReachesOtherReplica disables 200 tokens through replica A,
// one after the other; replica B must refuse each one, and A at once.
func TestRevocationReachesOtherReplica(t *testing.T) {
	srv := redistest.Start(t)
	keys := authix.GenerateKey()
	a, _ := newReplicaVault(t, srv, keys)
	b, _ := newReplicaVault(t, srv, keys)
	lat := propagate(t, a, b, 200)
	t.Logf("logout on A refused by B, over %d logouts: %s", len(lat), percentiles(lat))
}

// BenchmarkPropagation measures how long after DisableAccessToken on one
// replica the other keeps accepting the token.
func BenchmarkPropagation(b *testing.B) {
	srv := redistest.Start(b)
	keys := authix.GenerateKey()
	a, _ := newReplicaVault(b, srv, keys)
	c, _ := newReplicaVault(b, srv, keys)
	lat := propagate(b, a, c, b.N)
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(lat[(len(lat)*99+99)/100-1].Nanoseconds()), "p99-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
}

// propagate logs out n tokens on a and returns, for each, how long b kept
// accepting it after DisableAccessToken was called.
func propagate(tb testing.TB, a, b *authix.Vault[User], n int) []time.Duration {
	tb.Helper()
	ctx := context.Background()
	latencies := make([]time.Duration, 0, n)
	for i := range n {
		token, err := a.CreateAccessToken(User{Name: fmt.Sprintf("user%d", i)})
		if err != nil {
			tb.Fatal(err)
		}
		req := homeRequest(token)
		if _, err := b.Authenticate(req); err != nil {
			tb.Fatalf("round %d: replica B refuses a live token sealed by A: %v", i, err)
		}

		start := time.Now()
		if err := a.DisableAccessToken(ctx, token); err != nil {
			tb.Fatalf("round %d: DisableAccessToken on A: %v", i, err)
		}
		if off, err := a.IsTokenDisabled(ctx, token); err != nil || !off {
			tb.Fatalf("round %d: A after its own logout: IsTokenDisabled = %v, %v; want true, nil", i, off, err)
		}
		for {
			_, err := b.Authenticate(req)
			if errors.Is(err, authix.ErrRevokedToken) {
				break
			}
			if err != nil {
				tb.Fatalf("round %d: replica B: %v; want ErrRevokedToken", i, err)
			}
			if time.Since(start) > propagationWait {
				tb.Fatalf("round %d: replica B still accepts the token %v after the logout on A", i, propagationWait)
			}
			time.Sleep(20 * time.Microsecond)
		}
		latencies = append(latencies, time.Since(start))
	}
	return latencies
}

func percentiles(lat []time.Duration) string {
	s := slices.Clone(lat)
	slices.Sort(s)
	pct := func(p int) time.Duration { return s[(len(s)*p+99)/100-1] } // nearest rank
	return fmt.Sprintf("p50 %v, p99 %v, max %v", pct(50), pct(99), s[len(s)-1])
}

// TestLogoutEndsSessionOnEveryReplica: a sliding session renewed three
// times, then logged out through replica A; replica B refuses every token
// the session ever held, once A's announcement has arrived.
func TestLogoutEndsSessionOnEveryReplica(t *testing.T) {
	srv := redistest.Start(t)
	keys := authix.GenerateKey()
	clk := newFakeClock()
	a, _ := newReplicaVault(t, srv, keys, authix.WithClock(clk.Now), authix.WithSliding(15*time.Minute))
	b, _ := newReplicaVault(t, srv, keys, authix.WithClock(clk.Now), authix.WithSliding(15*time.Minute))

	tokens := []string{login(t, a, User{Name: "John"})}
	for i := range 3 {
		clk.Advance(16 * time.Minute)
		status, renewed := visit(a, tokens[len(tokens)-1])
		if status != http.StatusOK || renewed == "" {
			t.Fatalf("renewal %d: status %d, token cookie %q; want 200 and a new token", i+1, status, renewed)
		}
		tokens = append(tokens, renewed)
	}
	for i, tok := range tokens {
		if _, err := b.Authenticate(homeRequest(tok)); err != nil {
			t.Fatalf("token %d before the logout, on B: %v", i, err)
		}
	}

	if err := a.Logout(httptest.NewRecorder(), homeRequest(tokens[len(tokens)-1])); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(propagationWait)
	for i, tok := range tokens {
		awaitRevoked(t, b, tok, deadline, fmt.Sprintf("token %d on B after the logout on A", i))
	}
}

// TestLogoutEverywhereAcrossReplicas: LogoutEverywhere on replica A refuses
// on replica B every earlier token of the subject, leaves other subjects
// alone, lets the user log in again at once, and the record leaves Redis
// and the mirrors once no token it covers can be accepted (a 2-second
// lifetime here).
func TestLogoutEverywhereAcrossReplicas(t *testing.T) {
	srv := redistest.Start(t)
	keys := authix.GenerateKey()
	replica := func() (*authix.Vault[User], *redisstore.Store) {
		return newReplicaVault(t, srv, keys, authix.WithTTL(2*time.Second), authix.WithRememberMe(2*time.Second),
			authix.WithSubject(userName))
	}
	a, _ := replica()
	b, storeB := replica()
	johnA, err := a.CreateAccessToken(User{Name: "John"})
	if err != nil {
		t.Fatal(err)
	}
	johnB, err := b.CreateAccessToken(User{Name: "John"})
	if err != nil {
		t.Fatal(err)
	}
	jane, err := b.CreateAccessToken(User{Name: "Jane"})
	if err != nil {
		t.Fatal(err)
	}

	if err := a.LogoutEverywhere(context.Background(), "John"); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(propagationWait)
	for _, tok := range []string{johnA, johnB} {
		awaitRevoked(t, b, tok, deadline, "John's token on B after LogoutEverywhere on A")
	}
	if _, err := b.Authenticate(homeRequest(jane)); err != nil {
		t.Errorf("Jane on B: %v; another subject is untouched", err)
	}
	again, err := b.CreateAccessToken(User{Name: "John"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(homeRequest(again)); err != nil {
		t.Errorf("John logging in again at once: %v", err)
	}

	// The record lasts as long as a token it covers could: Redis keeps the
	// key that long (plus the clock margin), and the mirrors drop it then.
	client := replicaClient(t, srv)
	ctx := context.Background()
	key, id := onlySubjectKey(t, client)
	if pttl := client.PTTL(ctx, key).Val(); pttl <= 0 || pttl > 2*time.Second+redisstore.ClockMargin {
		t.Errorf("the subject key lives %v, want at most the token lifetime plus %v", pttl, redisstore.ClockMargin)
	}
	for {
		cut, err := storeB.SubjectCutoff(ctx, id)
		if err == nil && cut.IsZero() {
			break
		}
		if time.Now().After(deadline.Add(propagationWait)) {
			t.Fatalf("B still holds the cut-off %v (%v) long after every token it covers expired", cut, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// onlySubjectKey returns the one subject key in the Redis of client, and
// the SubjectID it names, failing t unless there is exactly one.
func onlySubjectKey(t testing.TB, client *redis.Client) (string, authix.SubjectID) {
	t.Helper()
	const prefix = redisstore.DefaultKeyPrefix + "subject:"
	found, err := client.Keys(context.Background(), prefix+"*").Result()
	if err != nil || len(found) != 1 {
		t.Fatalf("subject keys in Redis: %v, %v; want one", found, err)
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(found[0], prefix))
	if err != nil || len(raw) != 32 {
		t.Fatalf("subject key %q: %v", found[0], err)
	}
	return found[0], authix.SubjectID(raw)
}
