package redisstore_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
	"github.com/authix-go/authix/storetest"
)

// TestConformance runs authix's store conformance suite on Stores, each new
// one on a redis-server of its own, its replicas on the same server. It uses
// only the package's exported API and redistest, so that it stands alone.
func TestConformance(t *testing.T) {
	// hangGuard bounds every wait for an event; it is no performance target,
	// only a way for a test that would hang to fail.
	const hangGuard = 30 * time.Second

	type backend struct {
		srv *redistest.Server
		now func() time.Time
	}
	var (
		mu       sync.Mutex
		backends = map[storetest.RevocationStore]backend{}
		ids      atomic.Int64
	)
	open := func(t *testing.T, b backend) storetest.RevocationStore {
		t.Helper()
		s, err := redisstore.New(b.srv.Client(t), redisstore.WithClock(b.now))
		if err != nil {
			t.Fatalf("redisstore.New: %v", err)
		}
		t.Cleanup(func() { _ = s.Close() })
		mu.Lock()
		backends[s] = b
		mu.Unlock()
		return s
	}
	of := func(s storetest.RevocationStore) backend {
		mu.Lock()
		defer mu.Unlock()
		return backends[s]
	}
	// fresh returns an id no rule uses.
	fresh := func(what string) [32]byte {
		return sha256.Sum256(fmt.Appendf(nil, "conformance %s %d", what, ids.Add(1)))
	}
	// await polls cond until it holds, or fails t after hangGuard.
	await := func(t *testing.T, what string, cond func() bool) {
		t.Helper()
		for deadline := time.Now().Add(hangGuard); !cond(); time.Sleep(2 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: still not after %v", what, hangGuard)
			}
		}
	}

	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, now func() time.Time) storetest.RevocationStore {
			return open(t, backend{redistest.Start(t), now})
		},
		Replica: func(t *testing.T, s storetest.RevocationStore) storetest.RevocationStore {
			return open(t, of(s))
		},
		// A Store puts its own writes in its mirror before they return;
		// another Store learns of them from announcements on the channel,
		// which reach each subscriber in the order Redis ran the writes. So
		// once a marker revoked after the writes is in every store's
		// mirror, so is every write before it.
		Settle: func(t *testing.T, stores ...storetest.RevocationStore) {
			t.Helper()
			marker := fresh("settle")
			if err := stores[0].Revoke(context.Background(), marker, of(stores[0]).now().Add(time.Hour)); err != nil {
				t.Fatalf("settle: revoke a marker: %v", err)
			}
			for _, s := range stores {
				await(t, "settle: the marker reaches every store", func() bool {
					ok, err := s.IsRevoked(context.Background(), marker)
					return err == nil && ok
				})
			}
		},
		// Break kills the server and waits until the Store's mirror is past
		// its staleness bound (the default, 3s), which shows as IsRevoked's
		// first error; restore starts the server again on its data
		// directory (append-only file on) and waits until a Revoke succeeds.
		Break: func(t *testing.T, s storetest.RevocationStore) func() {
			t.Helper()
			b := of(s)
			b.srv.Kill()
			await(t, "IsRevoked fails once Redis is down and the mirror stale", func() bool {
				_, err := s.IsRevoked(context.Background(), fresh("break"))
				return err != nil
			})
			return func() {
				b.srv.Start()
				await(t, "Revoke succeeds once Redis is back", func() bool {
					return s.Revoke(context.Background(), fresh("restore"), b.now().Add(time.Hour)) == nil
				})
			}
		},
		// Expiries and untils are kept in Unix milliseconds, rounded up, and
		// compared with the clock cut to the millisecond.
		Slack: 2 * time.Millisecond,
	})
}
