package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// propagationBound is how soon a logout on one replica must be refused by
// another.
const propagationBound = 100 * time.Millisecond

// newReplicaVault returns a vault with the given keys whose revocations live
// in the Redis at srv, through a redisstore.Store and client of its own, as
// one replica process would have.
func newReplicaVault(t *testing.T, srv *redistest.Server, keys string) *authix.Vault[User] {
	t.Helper()
	store, err := redisstore.New(replicaClient(t, srv)) // the client's cleanup runs after the store's
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = store.Close() })
	vault, err := authix.New[User](authix.WithKeys(keys), authix.WithRevocationStore(store))
	if err != nil {
		t.Fatal(err)
	}
	return vault
}

// replicaClient returns a new client for srv with go-redis's default
// options rather than redistest's short timeouts, closed when tb ends. Each
// client has its own connections, as a separate replica would.
func replicaClient(tb testing.TB, srv *redistest.Server) *redis.Client {
	tb.Helper()
	return srv.Client(tb, func(o *redis.Options) { *o = redis.Options{Addr: o.Addr} })
}

// TestRevocationReachesOtherReplica disables 1000 tokens through replica A,
// one after the other, and measures for each how long replica B keeps
// accepting it: from the call to DisableAccessToken on A until
// Authenticate on B returns ErrRevokedToken. Every one must be refused
// within propagationBound.
func TestRevocationReachesOtherReplica(t *testing.T) {
	srv := redistest.Start(t)
	keys := authix.GenerateKey()
	a, b := newReplicaVault(t, srv, keys), newReplicaVault(t, srv, keys)
	ctx := context.Background()

	const rounds = 1000
	latencies := make([]time.Duration, 0, rounds)
	for i := range rounds {
		token, err := a.CreateAccessToken(User{Name: fmt.Sprintf("user%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		req := httptest.NewRequest(http.MethodGet, "/home", nil)
		req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
		if _, err := b.Authenticate(req); err != nil {
			t.Fatalf("round %d: replica B refuses a live token sealed by A: %v", i, err)
		}

		start := time.Now()
		if err := a.DisableAccessToken(ctx, token); err != nil {
			t.Fatalf("round %d: DisableAccessToken on A: %v", i, err)
		}
		if off, err := a.IsTokenDisabled(ctx, token); err != nil || !off {
			t.Fatalf("round %d: A after its own logout: IsTokenDisabled = %v, %v; want true, nil", i, off, err)
		}
		for {
			_, err := b.Authenticate(req)
			if errors.Is(err, authix.ErrRevokedToken) {
				break
			}
			if err != nil {
				t.Fatalf("round %d: replica B: %v; want ErrRevokedToken", i, err)
			}
			if time.Since(start) > 5*time.Second {
				t.Fatalf("round %d: replica B still accepts the token 5s after the logout on A", i)
			}
			time.Sleep(20 * time.Microsecond)
		}
		latencies = append(latencies, time.Since(start))
	}

	slices.Sort(latencies)
	pct := func(p int) time.Duration { return latencies[(len(latencies)*p+99)/100-1] } // nearest rank
	worst := latencies[len(latencies)-1]
	t.Logf("logout on A refused by B, over %d logouts: p50 %v, p99 %v, max %v",
		len(latencies), pct(50), pct(99), worst)
	if worst > propagationBound {
		over := len(latencies) - slices.IndexFunc(latencies, func(d time.Duration) bool { return d > propagationBound })
		t.Errorf("%d of %d logouts took longer than %v to reach the other replica (max %v)",
			over, len(latencies), propagationBound, worst)
	}
}
