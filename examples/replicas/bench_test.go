package main

import (
	"context"
	"crypto/sha256"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// liveRevocations is how many revocations each store holds in the
// benchmarks.
const liveRevocations = 10_000

// benchIDs returns n ids shaped like the ones a Vault passes to its store:
// the SHA-256 of a token's tag.
func benchIDs(prefix string, n int) []authix.TokenID {
	ids := make([]authix.TokenID, n)
	for i := range ids {
		ids[i] = sha256.Sum256([]byte(prefix + strconv.Itoa(i)))
	}
	return ids
}

// lookupStores are the two stores under comparison, holding the same
// revocations.
type lookupStores struct {
	memory, redis    authix.RevocationStore
	server           *redistest.Server
	revoked, unknown []authix.TokenID
}

// newLookupStores fills a MemoryStore and a redisstore.Store on a fresh
// redis-server with the same liveRevocations revocations, an hour from
// expiry, and checks that both answer every lookup right.
func newLookupStores(tb testing.TB) *lookupStores {
	tb.Helper()
	srv := redistest.Start(tb)
	rs, err := redisstore.New(replicaClient(tb, srv))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = rs.Close() })
	ls := &lookupStores{
		memory:  authix.NewMemoryStore(nil),
		redis:   rs,
		server:  srv,
		revoked: benchIDs("revoked", liveRevocations),
		unknown: benchIDs("unknown", liveRevocations),
	}
	exp := time.Now().Add(time.Hour)
	for name, store := range map[string]authix.RevocationStore{"memory": ls.memory, "redis": ls.redis} {
		revokeAll(tb, name, store, ls.revoked, exp)
		ctx := context.Background()
		for i := range ls.revoked {
			if got, err := store.IsRevoked(ctx, ls.revoked[i]); err != nil || !got {
				tb.Fatalf("%s: IsRevoked(revoked id) = %v, %v; want true, nil", name, got, err)
			}
			if got, err := store.IsRevoked(ctx, ls.unknown[i]); err != nil || got {
				tb.Fatalf("%s: IsRevoked(unknown id) = %v, %v; want false, nil", name, got, err)
			}
		}
	}
	if n := rs.Len(); n != liveRevocations {
		tb.Fatalf("redis store mirrors %d revocations, want %d", n, liveRevocations)
	}
	return ls
}

// revokeAll revokes ids in store until exp, with a few concurrent callers
// so that filling Redis takes well under a second.
func revokeAll(tb testing.TB, name string, store authix.RevocationStore, ids []authix.TokenID, exp time.Time) {
	tb.Helper()
	const workers = 8
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for i := w; i < len(ids); i += workers {
				if err := store.Revoke(context.Background(), ids[i], exp); err != nil {
					errs <- err
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("%s: Revoke: %v", name, err)
	}
}

// lookups returns a benchmark of store.IsRevoked that alternates a revoked
// id and an unknown one.
func (ls *lookupStores) lookups(store authix.RevocationStore) func(*testing.B) {
	return func(b *testing.B) {
		ctx := context.Background()
		n := len(ls.revoked)
		i := 0
		for b.Loop() {
			id, want := ls.unknown[(i/2)%n], false
			if i%2 == 0 {
				id, want = ls.revoked[(i/2)%n], true
			}
			if got, err := store.IsRevoked(ctx, id); err != nil || got != want {
				b.Fatalf("IsRevoked = %v, %v; want %v, nil", got, err, want)
			}
			i++
		}
	}
}

// BenchmarkIsRevoked compares IsRevoked of the default in-memory store with
// redisstore's in steady state (Redis up, subscription healthy), both
// holding 10k revocations, hits and misses alternating. The redis case never
// leaves the process: it answers from its local mirror.
func BenchmarkIsRevoked(b *testing.B) {
	ls := newLookupStores(b)
	b.Run("memory", ls.lookups(ls.memory))
	b.Run("redis", ls.lookups(ls.redis))
}

// TestIsRevokedNoRoundTrip checks what BenchmarkIsRevoked shows, without a
// clock: 20,000 lookups through redisstore send Redis no command of their
// own (the store's health check may PING meanwhile, a few times a second).
func TestIsRevokedNoRoundTrip(t *testing.T) {
	ls := newLookupStores(t)
	client := replicaClient(t, ls.server)
	ctx := context.Background()
	before := commandsProcessed(t, client)
	for i := range 10_000 {
		for _, c := range []struct {
			id   authix.TokenID
			want bool
		}{{ls.revoked[i%len(ls.revoked)], true}, {ls.unknown[i%len(ls.unknown)], false}} {
			if got, err := ls.redis.IsRevoked(ctx, c.id); err != nil || got != c.want {
				t.Fatalf("IsRevoked = %v, %v; want %v, nil", got, err, c.want)
			}
		}
	}
	sent := commandsProcessed(t, client) - before - 1 // the INFO that measured
	t.Logf("Redis processed %d commands during 20,000 lookups", sent)
	if sent > 100 {
		t.Errorf("Redis processed %d commands during 20,000 lookups: IsRevoked asks Redis", sent)
	}
}

// commandsProcessed reads Redis's count of the commands it has processed.
func commandsProcessed(t *testing.T, c *redis.Client) int64 {
	t.Helper()
	info, err := c.Info(context.Background(), "stats").Result()
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "total_commands_processed:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatalf("no total_commands_processed in INFO stats:\n%s", info)
	return 0
}
