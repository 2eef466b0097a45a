package authix

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func hexID(i int) string {
	sum := sha256.Sum256([]byte(fmt.Sprint(i)))
	return hex.EncodeToString(sum[:])
}

func TestMemoryStore(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	ctx := context.Background()
	start := clk.now()

	revoked := func(id string) bool {
		ok, err := m.IsRevoked(ctx, id)
		require.NoError(t, err)
		return ok
	}
	require.NoError(t, m.Revoke(ctx, hexID(1), start.Add(time.Minute)))
	require.NoError(t, m.Revoke(ctx, hexID(2), start.Add(time.Hour)))
	require.NoError(t, m.Revoke(ctx, "not a hex id", start.Add(time.Hour)))
	require.NoError(t, m.Revoke(ctx, hexID(3), start.Add(-time.Second)), "past expiry is a no-op")
	assert.True(t, revoked(hexID(1)))
	assert.True(t, revoked(hexID(2)))
	assert.True(t, revoked("not a hex id"))
	assert.False(t, revoked("not a hex id either"))
	assert.False(t, revoked(hexID(3)))
	assert.False(t, revoked(hexID(4)))
	assert.Equal(t, 3, m.Len())

	// Revoking again keeps the later expiry.
	require.NoError(t, m.Revoke(ctx, hexID(1), start.Add(30*time.Second)))
	require.NoError(t, m.Revoke(ctx, hexID(2), start.Add(2*time.Hour)))

	clk.add(time.Minute)
	assert.True(t, revoked(hexID(1)), "revoked up to and including its expiry")
	clk.add(time.Second + time.Nanosecond)
	assert.False(t, revoked(hexID(1)))
	assert.Equal(t, 2, m.Len(), "the expired entry is dropped")
	clk.add(time.Hour)
	assert.True(t, revoked(hexID(2)), "the later expiry was kept")
	assert.Equal(t, 1, m.Len())
	clk.add(time.Hour)
	assert.Equal(t, 0, m.Len())
	assert.Empty(t, m.buckets)
	assert.Empty(t, m.queue)
}

func TestMemoryStoreSweepsOnRevoke(t *testing.T) {
	t.Parallel()
	clk := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	m := NewMemoryStore(clk.now)
	ctx := context.Background()
	for i := range 1000 {
		require.NoError(t, m.Revoke(ctx, hexID(i), clk.now().Add(time.Duration(1+i%60)*time.Second)))
	}
	clk.add(2 * time.Minute)
	require.NoError(t, m.Revoke(ctx, hexID(-1), clk.now().Add(time.Hour)))
	m.mu.RLock()
	defer m.mu.RUnlock()
	assert.Len(t, m.entries, 1, "Revoke dropped every expired entry")
	assert.Len(t, m.buckets, 1)
}

func TestMemoryStoreConcurrent(t *testing.T) {
	t.Parallel()
	m := NewMemoryStore(nil)
	ctx := context.Background()
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				id := hexID(g*1000 + i)
				require.NoError(t, m.Revoke(ctx, id, time.Now().Add(time.Hour)))
				ok, err := m.IsRevoked(ctx, id)
				require.NoError(t, err)
				require.True(t, ok)
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 4000, m.Len())
}
