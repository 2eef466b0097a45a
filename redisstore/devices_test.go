package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

func deviceNames(t *testing.T, s *redisstore.Store, subject [32]byte) []string {
	t.Helper()
	recs, err := s.Devices(context.Background(), subject)
	require.NoError(t, err)
	var out []string
	for _, r := range recs {
		out = append(out, string(r))
	}
	slices.Sort(out)
	return out
}

// Session records are shared by every Store of a Redis, replaced per
// session, bounded per subject keeping those that end last, and gone once
// their until has passed.
func TestDevices(t *testing.T) {
	srv := redistest.Start(t)
	clk := &fakeClock{now: time.Now()}
	a := newStore(t, srv.Client(t), redisstore.WithClock(clk.Now))
	b := newStore(t, srv.Client(t), redisstore.WithClock(clk.Now))
	ctx := context.Background()
	john, jane := sid("john"), sid("jane")
	end := clk.Now().Add(time.Hour)

	require.NoError(t, a.SaveDevice(ctx, john, tid("laptop"), []byte("laptop 1"), end))
	require.NoError(t, a.SaveDevice(ctx, john, tid("phone"), []byte("phone"), end))
	require.NoError(t, a.SaveDevice(ctx, john, tid("laptop"), []byte("laptop 2"), end))
	require.NoError(t, a.SaveDevice(ctx, jane, tid("tablet"), []byte("tablet"), end))
	assert.Equal(t, []string{"laptop 2", "phone"}, deviceNames(t, b, john), "replaced per session, seen by another Store")
	assert.Equal(t, []string{"tablet"}, deviceNames(t, b, jane))

	require.NoError(t, b.DeleteDevice(ctx, john, tid("laptop")))
	require.NoError(t, b.DeleteDevice(ctx, john, tid("never saved")))
	assert.Equal(t, []string{"phone"}, deviceNames(t, a, john))

	require.NoError(t, a.SaveDevice(ctx, john, tid("past"), []byte("past"), clk.Now().Add(-time.Second)))
	assert.Equal(t, []string{"phone"}, deviceNames(t, a, john), "an until already past records nothing")

	for i := range 40 {
		require.NoError(t, a.SaveDevice(ctx, jane, tid(fmt.Sprint("s", i)), []byte(fmt.Sprint("s", i)), end.Add(time.Duration(i)*time.Minute)))
	}
	names := deviceNames(t, b, jane)
	assert.Len(t, names, 32, "bounded per subject")
	assert.NotContains(t, names, "tablet", "the ones that end first go")
	assert.NotContains(t, names, "s7")
	assert.Contains(t, names, "s8")

	clk.Add(time.Hour + time.Second)
	assert.Empty(t, deviceNames(t, a, john), "gone after until")
	assert.Len(t, deviceNames(t, a, jane), 32, "those that end later still run")
}
