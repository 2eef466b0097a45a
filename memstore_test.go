package authix_test

import (
	"container/heap"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func storeID(i int) authix.TokenID {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(i))
	return sha256.Sum256(b[:])
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	m := authix.NewMemoryStore(clk.Now)
	ctx := context.Background()
	start := clk.Now()
	revoked := func(id authix.TokenID) bool {
		ok, err := m.IsRevoked(ctx, id)
		require.NoError(t, err)
		return ok
	}
	require.NoError(t, m.Revoke(ctx, storeID(1), start.Add(time.Minute)))
	require.NoError(t, m.Revoke(ctx, storeID(2), start.Add(time.Hour)))
	require.NoError(t, m.Revoke(ctx, storeID(3), start.Add(-time.Nanosecond)), "an expiry before now is a no-op")
	require.NoError(t, m.Revoke(ctx, storeID(4), start), "an expiry at now is recorded: the token is still accepted then")
	assert.True(t, revoked(storeID(1)))
	assert.True(t, revoked(storeID(2)))
	assert.False(t, revoked(storeID(3)))
	assert.True(t, revoked(storeID(4)))
	assert.False(t, revoked(storeID(5)))
	assert.Equal(t, 3, m.Len())

	// Revoking again keeps the later expiry.
	require.NoError(t, m.Revoke(ctx, storeID(1), start.Add(30*time.Second)))
	require.NoError(t, m.Revoke(ctx, storeID(2), start.Add(2*time.Hour)))

	clk.Advance(time.Minute)
	assert.True(t, revoked(storeID(1)), "revoked up to and including its expiry")
	clk.Advance(time.Second)
	assert.False(t, revoked(storeID(1)))
	assert.Equal(t, 1, m.Len(), "the expired entries are dropped")
	clk.Advance(time.Hour)
	assert.True(t, revoked(storeID(2)), "the later expiry was kept")
	clk.Advance(time.Hour + time.Second)
	assert.Equal(t, 0, m.Len())
	assert.Equal(t, 0, m.Held())
}

// checkAt is one expectation of the churn model: at time at, id is
// revoked or not.
type checkAt struct {
	at      time.Time
	id      authix.TokenID
	revoked bool
}

type checkQueue []checkAt

func (q checkQueue) Len() int           { return len(q) }
func (q checkQueue) Less(i, j int) bool { return q[i].at.Before(q[j].at) }
func (q checkQueue) Swap(i, j int)      { q[i], q[j] = q[j], q[i] }
func (q *checkQueue) Push(x any)        { *q = append(*q, x.(checkAt)) }
func (q *checkQueue) Pop() any {
	old := *q
	x := old[len(old)-1]
	*q = old[:len(old)-1]
	return x
}

type expiryHeap []time.Time

func (h expiryHeap) Len() int           { return len(h) }
func (h expiryHeap) Less(i, j int) bool { return h[i].Before(h[j]) }
func (h expiryHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *expiryHeap) Push(x any)        { *h = append(*h, x.(time.Time)) }
func (h *expiryHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// TestMemoryStoreChurn runs days of simulated time through the store's API
// at several TTLs, logout rates and token ages. After every step: each
// Revoke returned, the id just revoked is revoked, a never-revoked id is
// not, and the entries held stay bounded by the revocations in force. Each
// revocation is also checked at the last second of its token's life
// (revoked) and the second after (not). Every 1000 steps Len must equal the
// number of revocations in force.
func TestMemoryStoreChurn(t *testing.T) {
	t.Parallel()
	ttls := []time.Duration{62 * time.Second, 10 * time.Minute, time.Hour, 24 * time.Hour}
	rates := []time.Duration{time.Second, 7 * time.Second, time.Minute, 2 * time.Minute}
	for _, ttl := range ttls {
		for _, every := range rates {
			for _, randomAge := range []bool{false, true} {
				name := fmt.Sprintf("ttl %v, a logout every %v, random age %v", ttl, every, randomAge)
				t.Run(name, func(t *testing.T) {
					t.Parallel()
					testStoreChurn(t, ttl, every, randomAge)
				})
			}
		}
	}
}

func testStoreChurn(t *testing.T, ttl, every time.Duration, randomAge bool) {
	days := max(24*time.Hour, 2*ttl)
	steps := int(days / every)
	if authix.RaceEnabled {
		// One goroutine: the detector has nothing to find and makes the
		// full run take a minute. .ci/after.d/20-churn.sh runs it whole.
		steps = min(steps, 20_000)
	}
	clk := newFakeClock(testEpoch)
	m := authix.NewMemoryStore(clk.Now)
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(uint64(ttl), uint64(every)))
	var (
		checks checkQueue
		exps   expiryHeap // expiries of the revocations that may be in force
		peak   int
	)
	start := clk.Now()
	for step := range steps {
		now := start.Add(time.Duration(step) * every)
		for len(checks) > 0 && !checks[0].at.After(now) {
			c := heap.Pop(&checks).(checkAt)
			clk.Set(c.at)
			got, err := m.IsRevoked(ctx, c.id)
			require.NoError(t, err)
			require.Equal(t, c.revoked, got, "step %d, at %v", step, c.at.Sub(start))
		}
		clk.Set(now)

		age := time.Duration(0)
		if randomAge {
			age = time.Duration(rng.Int64N(int64(ttl)))
		}
		exp := now.Add(-age).Truncate(time.Second).Add(ttl)
		id := storeID(step)
		require.NoError(t, m.Revoke(ctx, id, exp), "step %d", step)
		heap.Push(&exps, exp)
		heap.Push(&checks, checkAt{at: exp, id: id, revoked: true})
		heap.Push(&checks, checkAt{at: exp.Add(time.Second), id: id, revoked: false})

		got, err := m.IsRevoked(ctx, id)
		require.NoError(t, err)
		require.True(t, got, "step %d: the id just revoked", step)
		got, err = m.IsRevoked(ctx, storeID(-step-1))
		require.NoError(t, err)
		require.False(t, got, "step %d: an id never revoked", step)

		for len(exps) > 0 && exps[0].Before(now) {
			heap.Pop(&exps)
		}
		live := len(exps)
		peak = max(peak, live)
		// At most a sweep lap of expired entries waits per shard, and a
		// shard's smallest table holds 12.
		require.LessOrEqual(t, m.Held(), 2*live+64*12, "step %d: %d held, %d in force", step, m.Held(), live)
		if step%1000 == 999 {
			require.Equal(t, live, m.Len(), "step %d", step)
		}
	}
	t.Logf("%d logouts, at most %d in force at once", steps, peak)
}

// Revocations from several goroutines, read meanwhile by others, while the
// clock moves so that entries expire and are swept: every revocation is
// seen until it expires.
func TestMemoryStoreConcurrent(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	m := authix.NewMemoryStore(clk.Now)
	ctx := context.Background()
	const writers, perWriter = 4, 3000
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				id := storeID(w*perWriter + i)
				exp := clk.Now().Add(time.Hour)
				if err := m.Revoke(ctx, id, exp); err != nil {
					t.Error(err)
					return
				}
				// The other writers move the clock too: false is right only
				// once it has passed exp.
				if ok, err := m.IsRevoked(ctx, id); err != nil || (!ok && !clk.Now().After(exp)) {
					t.Errorf("writer %d: id %d not revoked right after Revoke: %v, %v", w, i, ok, err)
					return
				}
				if i%100 == 0 {
					clk.Advance(time.Minute)
				}
			}
		})
	}
	wg.Go(func() {
		for range 200 {
			m.Len()
		}
	})
	wg.Wait()
	clk.Advance(2 * time.Hour)
	assert.Equal(t, 0, m.Len())
}
