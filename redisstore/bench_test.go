package redisstore_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

const benchEntries = 10_000

// benchIDs returns n ids shaped like the ones authix passes: SHA-256 sums.
func benchIDs(prefix string, n int) [][32]byte {
	ids := make([][32]byte, n)
	for i := range ids {
		ids[i] = sha256.Sum256([]byte(prefix + strconv.Itoa(i)))
	}
	return ids
}

// runLookups runs the hit and miss cases, serial and parallel, against
// isRevoked.
func runLookups(b *testing.B, revoked, unknown [][32]byte, isRevoked func(context.Context, [32]byte) (bool, error)) {
	ctx := context.Background()
	for _, bc := range []struct {
		name string
		ids  [][32]byte
		want bool
	}{
		{"miss", unknown, false},
		{"hit", revoked, true},
	} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if got, err := isRevoked(ctx, bc.ids[i%len(bc.ids)]); err != nil || got != bc.want {
					b.Fatalf("IsRevoked = %v, %v; want %v", got, err, bc.want)
				}
				i++
			}
		})
		b.Run(bc.name+"/parallel", func(b *testing.B) {
			b.RunParallel(func(pb *testing.PB) {
				i := 0
				for pb.Next() {
					if got, err := isRevoked(ctx, bc.ids[i%len(bc.ids)]); err != nil || got != bc.want {
						b.Errorf("IsRevoked = %v, %v; want %v", got, err, bc.want)
						return
					}
					i++
				}
			})
		})
	}
}

// BenchmarkIsRevoked measures IsRevoked in steady state: a healthy
// subscription and a mirror of 10k revocations, so no call goes to Redis.
// Compare with BenchmarkMapWithMutex.
func BenchmarkIsRevoked(b *testing.B) {
	srv := redistest.Start(b)
	client := srv.Client(b)
	ctx := context.Background()
	revoked, unknown := benchIDs("revoked", benchEntries), benchIDs("unknown", benchEntries)

	exp := strconv.FormatInt(time.Now().Add(time.Hour).UnixMilli(), 10)
	_, err := client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, id := range revoked {
			p.Do(ctx, "SET", redisstore.DefaultKeyPrefix+hex.EncodeToString(id[:]), exp, "PX", time.Hour.Milliseconds())
		}
		return nil
	})
	require.NoError(b, err)
	s := newStore(b, client)
	require.Equal(b, benchEntries, s.Len())

	runLookups(b, revoked, unknown, s.IsRevoked)
	require.True(b, s.Fresh(), "the mirror stayed current: no call went to Redis")
}

// mapStore is the baseline: a map from id to expiry behind a mutex, the
// shape of an in-memory revocation store.
type mapStore struct {
	mu sync.RWMutex
	m  map[[32]byte]time.Time
}

func (s *mapStore) IsRevoked(_ context.Context, id [32]byte) (bool, error) {
	s.mu.RLock()
	exp, ok := s.m[id]
	s.mu.RUnlock()
	return ok && !time.Now().After(exp), nil
}

// BenchmarkMapWithMutex is the baseline for BenchmarkIsRevoked: the same
// lookups on a map[[32]byte]time.Time behind a sync.RWMutex.
func BenchmarkMapWithMutex(b *testing.B) {
	revoked, unknown := benchIDs("revoked", benchEntries), benchIDs("unknown", benchEntries)
	s := &mapStore{m: make(map[[32]byte]time.Time, len(revoked))}
	for _, id := range revoked {
		s.m[id] = time.Now().Add(time.Hour)
	}
	runLookups(b, revoked, unknown, s.IsRevoked)
}

// BenchmarkPropagation measures how long a revocation made on one store
// takes to be reported by another, and reports the median and 99th
// percentile over b.N revocations: as deployed (the announcement and the
// log race each other), and through the log alone (the reader's Redis user
// may not subscribe).
func BenchmarkPropagation(b *testing.B) {
	srv := redistest.Start(b)
	a := newStore(b, srv.Client(b))
	for _, bc := range []struct {
		name   string
		reader func() *redisstore.Store
	}{
		{"deployed", func() *redisstore.Store { return newStore(b, srv.Client(b)) }},
		{"log", func() *redisstore.Store {
			acl(b, srv, "logonly", "reset", "on", ">pw", "~*", "resetchannels", "+@all")
			return newStore(b, srv.Client(b, func(o *redis.Options) { o.Username, o.Password = "logonly", "pw" }))
		}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			r := bc.reader()
			ctx := context.Background()
			exp := time.Now().Add(time.Hour)
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				id := sha256.Sum256(fmt.Appendf(nil, "latency-%s-%d", bc.name, i))
				i++
				start := time.Now()
				require.NoError(b, a.Revoke(ctx, id, exp))
				for deadline := start.Add(waitLong); ; runtime.Gosched() {
					ok, err := r.IsRevoked(ctx, id)
					require.NoError(b, err)
					if ok {
						break
					}
					if time.Now().After(deadline) {
						b.Fatalf("revocation %d not seen by the other store after %v", i, waitLong)
					}
				}
				lat = append(lat, time.Since(start))
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
