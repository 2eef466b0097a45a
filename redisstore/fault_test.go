package redisstore_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// checker calls IsRevoked from several goroutines until stopped, like
// requests in flight, and records any answer that would let a revoked token
// through.
type checker struct {
	stop             chan struct{}
	wg               sync.WaitGroup
	ok, errs, unsafe atomic.Int64
}

func startChecker(stores []*redisstore.Store, revoked [32]byte) *checker {
	c := &checker{stop: make(chan struct{})}
	for i := range 4 {
		s := stores[i%len(stores)]
		c.wg.Go(func() {
			for {
				select {
				case <-c.stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
				got, err := s.IsRevoked(ctx, revoked)
				_, err2 := s.IsRevoked(ctx, tid("never-revoked"))
				cancel()
				switch {
				case err == nil && !got:
					c.unsafe.Add(1) // a revoked token would be accepted
				case err != nil || err2 != nil:
					c.errs.Add(1)
				default:
					c.ok.Add(1)
				}
				time.Sleep(time.Millisecond)
			}
		})
	}
	return c
}

func (c *checker) Stop() {
	close(c.stop)
	c.wg.Wait()
}

func TestOutageFailsClosedAndRecovers(t *testing.T) {
	const bound = 300 * time.Millisecond
	srv := redistest.Start(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)

	ca, cb := srv.Client(t), srv.Client(t)
	a := newStore(t, ca, redisstore.WithStalenessBound(bound))
	b := newStore(t, cb, redisstore.WithStalenessBound(bound))
	// quiet shares the keys but announces and logs elsewhere: a and b learn
	// of its revocations only by a full read.
	quiet := newStore(t, srv.Client(t), redisstore.WithChannel("elsewhere"))

	require.NoError(t, a.Revoke(ctx, tid("before"), exp))
	require.NoError(t, quiet.Revoke(ctx, tid("unannounced"), exp))
	written := time.Now()
	eventually(t, func() bool { return revokedOn(b, tid("before")) && a.ConfirmedSince(written) })
	requireRevoked(t, a, tid("unannounced"), false)

	load := startChecker([]*redisstore.Store{a, b}, tid("before"))

	srv.Kill()

	t.Run("Revoke fails during the outage", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		err := a.Revoke(ctx, tid("during"), exp)
		require.ErrorIs(t, err, redisstore.ErrRevokeFailed)
		t.Logf("Revoke: %v", err)
	})

	t.Run("IsRevoked fails past the staleness bound", func(t *testing.T) {
		for name, s := range map[string]*redisstore.Store{"a": a, "b": b} {
			eventually(t, func() bool { return !s.Fresh() }, "store %s notices the outage", name)
			ctx, cancel := context.WithTimeout(ctx, time.Second)
			ok, err := s.IsRevoked(ctx, tid("never-revoked"))
			cancel()
			require.ErrorIs(t, err, redisstore.ErrUnavailable, "store %s", name)
			require.False(t, ok)
			t.Logf("IsRevoked on %s: %v", name, err)
			// A revocation the mirror holds is still reported: that is safe.
			requireRevoked(t, s, tid("before"), true)
		}
		eventually(t, func() bool { return load.errs.Load() > 0 }, "concurrent checks fail closed too")
	})

	reads := []int64{a.FullReads(), b.FullReads()}
	srv.Start() // same port and data dir; the append-only file restores the keys and the log
	restarted := time.Now()

	t.Run("stores reconnect and catch up from the log by themselves", func(t *testing.T) {
		for name, s := range map[string]*redisstore.Store{"a": a, "b": b} {
			eventually(t, func() bool {
				ok, err := s.IsRevoked(ctx, tid("never-revoked"))
				return err == nil && !ok && s.Fresh()
			}, "store %s", name)
		}
		t.Logf("fresh again %v after restart", time.Since(restarted).Round(time.Millisecond))
		// The mirrors follow the log on a client of their own; the stores'
		// clients may still answer from their last failed dial.
		dialsAgain(t, ca)
		dialsAgain(t, cb)
		requireRevoked(t, a, tid("before"), true)
		requireRevoked(t, b, tid("before"), true)
		requireRevoked(t, a, tid("during"), false) // it failed, so it is not there
		// Redis kept the log, so a reconnect costs what was missed: no full
		// read, which alone could have brought this in (the periodic one is
		// an hour away).
		require.Equal(t, reads, []int64{a.FullReads(), b.FullReads()})
		requireRevoked(t, a, tid("unannounced"), false)
	})

	t.Run("revocations before the restart survived in Redis", func(t *testing.T) {
		c := newStore(t, srv.Client(t))
		require.Equal(t, 2, c.Len())
		requireRevoked(t, c, tid("before"), true)
		requireRevoked(t, c, tid("unannounced"), true)
	})

	t.Run("announcements flow again", func(t *testing.T) {
		require.NoError(t, b.Revoke(ctx, tid("after"), exp))
		eventually(t, func() bool { return revokedOn(a, tid("after")) && a.Fresh() })
	})

	load.Stop()
	t.Logf("concurrent checks: %d answered, %d failed closed, %d unsafe", load.ok.Load(), load.errs.Load(), load.unsafe.Load())
	require.Zero(t, load.unsafe.Load(), "a revoked token was reported as not revoked")
}

func TestFrozenServerFailsClosed(t *testing.T) {
	const bound = 300 * time.Millisecond
	srv := redistest.Start(t)
	ctx := context.Background()
	exp := time.Now().Add(time.Hour)
	a := newStore(t, srv.Client(t), redisstore.WithStalenessBound(bound))
	b := newStore(t, srv.Client(t), redisstore.WithStalenessBound(bound))
	require.NoError(t, a.Revoke(ctx, tid("before"), exp))

	// SIGSTOP keeps the connections open but nothing is answered: only the
	// missing PING replies tell that the mirror is no longer current.
	srv.Pause()
	eventually(t, func() bool { return !a.Fresh() })
	cctx, cancel := context.WithTimeout(ctx, time.Second)
	_, err := a.IsRevoked(cctx, tid("never-revoked"))
	cancel()
	require.ErrorIs(t, err, redisstore.ErrUnavailable)
	requireRevoked(t, a, tid("before"), true)
	eventually(t, func() bool { return a.Dropped() > 0 }, "a gives up the silent read of the log and dials again")

	srv.Resume()
	for _, s := range []*redisstore.Store{a, b} {
		eventually(t, func() bool {
			ok, err := s.IsRevoked(ctx, tid("never-revoked"))
			return err == nil && !ok && s.Fresh()
		})
	}
	require.NoError(t, b.Revoke(ctx, tid("after"), exp))
	eventually(t, func() bool { return revokedOn(a, tid("after")) && a.Fresh() })
}
