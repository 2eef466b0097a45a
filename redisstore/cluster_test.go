package redisstore_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// TestCluster runs the store on a three-master Redis Cluster: revocation
// and subject keys spread over the masters, a full sync must scan every one
// of them, and announcements must reach a subscriber on any node.
func TestCluster(t *testing.T) {
	addrs := redistest.StartCluster(t, 3)
	newClient := func() redis.UniversalClient {
		c := redis.NewUniversalClient(&redis.UniversalOptions{Addrs: addrs, DialTimeout: 250 * time.Millisecond})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}
	client := newClient()
	require.IsType(t, &redis.ClusterClient{}, client)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)

	a := newStore(t, client)
	b := newStore(t, newClient())
	const n = 300
	for i := range n {
		require.NoError(t, a.Revoke(ctx, tid(fmt.Sprint("cluster-", i)), exp))
	}
	require.NoError(t, client.(*redis.ClusterClient).ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		size, err := node.DBSize(ctx).Result()
		if err == nil && size == 0 {
			err = fmt.Errorf("master %s holds no keys", node.Options().Addr)
		}
		return err
	}))
	eventually(t, func() bool { return b.Len() == n }, "b receives every announcement")

	// Subject cut-offs: the script is routed by its key, and its PUBLISH
	// reaches subscribers on every node.
	cutoff := time.Now().Truncate(time.Microsecond)
	subjects := make([][32]byte, 20)
	for i := range subjects {
		subjects[i] = sid(fmt.Sprint("cluster-subject-", i))
		require.NoError(t, a.RevokeSubject(ctx, subjects[i], cutoff, exp))
	}
	eventually(t, func() bool { return b.Subjects() == len(subjects) }, "b receives every subject announcement")
	for _, id := range subjects {
		requireCutoff(t, b, id, cutoff)
	}

	c := newStore(t, newClient())
	require.Equal(t, n, c.Len(), "a full sync scans every master")
	for i := range n {
		requireRevoked(t, c, tid(fmt.Sprint("cluster-", i)), true)
	}
	requireRevoked(t, c, tid("cluster-unknown"), false)
	require.Equal(t, len(subjects), c.Subjects(), "and finds the subject keys on every master")
	for _, id := range subjects {
		requireCutoff(t, c, id, cutoff)
	}
	requireCutoff(t, c, sid("cluster-unknown"), time.Time{})

	t.Run("New checks every master's maxmemory-policy", func(t *testing.T) {
		last := redis.NewClient(&redis.Options{Addr: addrs[len(addrs)-1]})
		t.Cleanup(func() { _ = last.Close() })
		require.NoError(t, last.ConfigSet(ctx, "maxmemory-policy", "allkeys-lru").Err())
		s, err := redisstore.New(newClient())
		require.Nil(t, s)
		require.ErrorIs(t, err, redisstore.ErrInvalidOption)
		require.ErrorContains(t, err, addrs[len(addrs)-1])
		newStore(t, newClient(), redisstore.WithEvictionAllowed())
	})
}
