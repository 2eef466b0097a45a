package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// Errors returned by a Store. Every other error it returns wraps one of them,
// so errors.Is works; the Redis error that caused it is wrapped too.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("redisstore: store is closed")
	// ErrInvalidOption is returned by New for a nil client, a bad option, or
	// a Redis whose maxmemory-policy evicts keys (see WithEvictionAllowed).
	ErrInvalidOption = errors.New("redisstore: invalid option")
	// ErrRevokeFailed is returned by Revoke and RevokeSubject when Redis did
	// not run the whole script that stores the revocation and announces it to
	// other stores. Calling them again with the same arguments is safe.
	ErrRevokeFailed = errors.New("redisstore: revoke failed")
	// ErrUnavailable is returned by New when it cannot reach Redis to check
	// maxmemory-policy, subscribe or fill the local mirror, and by IsRevoked
	// and SubjectCutoff when the local mirror is stale and Redis cannot be
	// asked either.
	ErrUnavailable = errors.New("redisstore: redis unavailable")
)

// revokeScript announces a revocation and stores it, keeping the later
// expiry when the id is already revoked. The value is the expiry in Unix
// milliseconds by the writing store's clock; the key is kept for a duration
// (PX) computed from that clock, so Redis's clock plays no part.
//
// PUBLISH comes first. Redis does not undo a script's earlier writes when a
// later call fails, so with this order a failure leaves either nothing, or
// an announcement without the key: the other stores then hold the revocation
// until its expiry (fail closed), and the script's error makes Revoke fail so
// the caller retries. The reverse order could leave a key no store was told
// about.
//
// KEYS[1] is the revocation key. ARGV[1] is the expiry in Unix milliseconds,
// ARGV[2] how long Redis must keep the key in milliseconds, ARGV[3] the
// channel and ARGV[4] the announcement.
var revokeScript = redis.NewScript(`
local want = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local have = tonumber(redis.call('GET', KEYS[1]) or '')
redis.call('PUBLISH', ARGV[3], ARGV[4])
if have == nil or have < want then
	redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
else
	local left = redis.call('PTTL', KEYS[1])
	if left >= 0 and left < keep then
		redis.call('PEXPIRE', KEYS[1], ARGV[2])
	end
end
return 1
`)

// Store is a revocation store backed by Redis with a local in-memory mirror.
// It satisfies authix's RevocationStore interface, and its optional
// SubjectStore interface (RevokeSubject, SubjectCutoff), using only standard
// types.
// All methods are safe for concurrent use, including with Close.
type Store struct {
	client    redis.UniversalClient
	prefix    string
	channel   string
	staleness time.Duration
	syncTO    time.Duration
	resync    time.Duration
	clock     func() time.Time

	mirror *mirror

	// epoch is the monotonic origin of confirmed.
	epoch time.Time
	// confirmed is when the mirror was last known to hold every revocation
	// made in Redis, in nanoseconds since epoch.
	confirmed atomic.Int64
	// stale is set by the watch goroutine once confirmed is older than the
	// staleness bound, and cleared by confirm. It keeps the clock off the
	// IsRevoked path for ids that are not revoked.
	stale atomic.Bool

	// resyncs counts the periodic full syncs that succeeded, and replaced the
	// subscriptions given up as dead; both are for tests.
	resyncs, replaced atomic.Int64

	closed atomic.Bool
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	psMu sync.Mutex
	ps   *redis.PubSub // nil once closed
}

// New returns a Store that keeps revocations in client, which may be a
// single-node, Sentinel (failover) or Cluster client. Close the Store before
// the client; Close does not close the client.
//
// New checks the options, checks that Redis does not evict keys (see
// WithEvictionAllowed), subscribes to the revocation channel and fills the
// local mirror from Redis before it returns, each step within the sync
// timeout (WithSyncTimeout, default 5s). It returns an error wrapping
// ErrInvalidOption for a bad option or an evicting maxmemory-policy, and one
// wrapping ErrUnavailable when Redis cannot be reached, so a service fails at
// start rather than at its first request. The Store runs three goroutines
// until Close: one reads the subscription, one marks the mirror stale when
// its confirmation runs out, one re-reads Redis every resync interval
// (WithResyncInterval, default 1m). New is safe for concurrent use, and
// several Stores may share one client.
func New(client redis.UniversalClient, opts ...Option) (*Store, error) {
	if client == nil {
		return nil, fmt.Errorf("%w: New: client is nil", ErrInvalidOption)
	}
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	if cfg.channel == "" {
		cfg.channel = cfg.prefix + channelSuffix
	}

	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		client:    client,
		prefix:    cfg.prefix,
		channel:   cfg.channel,
		staleness: cfg.staleness,
		syncTO:    cfg.syncTimeout,
		resync:    cfg.resync,
		clock:     cfg.clock,
		mirror:    newMirror(),
		epoch:     time.Now(),
		ctx:       ctx,
		cancel:    cancel,
	}
	s.stale.Store(true) // until the first sync confirms the mirror in time

	if !cfg.evictionOK {
		if err := s.checkEviction(); err != nil {
			cancel()
			return nil, err
		}
	}
	ps := client.Subscribe(ctx, s.channel)
	if err := awaitSubscription(ctx, ps, s.channel, s.syncTO); err != nil {
		_ = ps.Close()
		cancel()
		return nil, fmt.Errorf("%w: subscribe to channel %q: %w", ErrUnavailable, s.channel, err)
	}
	if err := s.fullSync(true); err != nil {
		_ = ps.Close()
		cancel()
		return nil, fmt.Errorf("%w: fill local mirror from keys %q*: %w", ErrUnavailable, s.prefix, err)
	}
	s.ps = ps
	s.wg.Add(3)
	go s.run(ps)
	go s.watch()
	go s.resyncLoop()
	return s, nil
}

// Revoke records id as revoked until expiresAt, keeping the later expiry if
// id is already revoked. The revocation holds while the clock's now is not
// after expiresAt, that instant included. The key is prefix followed by the
// id in lowercase hex; its value is expiresAt in Unix milliseconds (rounded
// up), and Redis keeps it until ClockMargin (60s) after expiresAt, measured
// as a duration from the clock's now. When expiresAt is before the clock's
// now, Revoke does nothing and returns nil.
//
// The write and its announcement to the other stores are one Lua script, so
// neither happens without the other being attempted in the same step. ctx
// bounds that one call. Revoke returns nil only when Redis ran the whole
// script; the revocation is then visible to IsRevoked on this Store at once.
// Otherwise it returns an error wrapping ErrRevokeFailed, and calling it
// again is safe. Revoke is safe for concurrent use.
func (s *Store) Revoke(ctx context.Context, id [32]byte, expiresAt time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if expiresAt.Before(now) {
		return nil
	}
	expMs := ceilMilli(expiresAt)
	keepMs := expMs - now.UnixMilli() + ClockMargin.Milliseconds()
	hexID := hex.EncodeToString(id[:])
	key := s.prefix + hexID
	ms := strconv.FormatInt(expMs, 10)
	err := revokeScript.Run(ctx, s.client, []string{key}, ms, keepMs, s.channel, ms+" "+hexID).Err()
	if err != nil {
		return fmt.Errorf("%w: write %q and announce it on channel %q: %w", ErrRevokeFailed, key, s.channel, err)
	}
	s.mirror.insert(id, expMs)
	return nil
}

// IsRevoked reports whether id is revoked now, that is, whether the clock's
// now is not after the expiry it was revoked until. It answers from the
// local mirror while the mirror is confirmed current within the staleness
// bound (WithStalenessBound, default 3s). Past the bound, for an id the
// mirror does not hold, it asks Redis (EXISTS, honouring ctx), and when that
// fails too it returns an error wrapping ErrUnavailable, so the caller can
// fail closed. An id the mirror holds is reported revoked even while Redis is
// down. An id that was never revoked, or whose expiry has passed, is
// (false, nil); only through EXISTS is a revocation still seen after its
// expiry, until Redis drops the key up to ClockMargin later (the token has
// expired by then anyway). IsRevoked is safe for concurrent use.
func (s *Store) IsRevoked(ctx context.Context, id [32]byte) (bool, error) {
	if s.closed.Load() {
		return false, ErrClosed
	}
	if exp, ok := s.mirror.lookup(id); ok && s.clock().UnixMilli() <= exp {
		return true, nil
	}
	if !s.stale.Load() {
		return false, nil
	}
	n, err := s.client.Exists(ctx, s.prefix+hex.EncodeToString(id[:])).Result()
	if err != nil {
		return false, fmt.Errorf("%w: local mirror unconfirmed for %v (bound %v) and EXISTS failed: %w",
			ErrUnavailable, s.age().Round(time.Millisecond), s.staleness, err)
	}
	return n > 0, nil
}

// Len drops expired entries from the local mirror and returns how many
// token revocations it holds (subject cut-offs are not counted), including
// any that Redis has since lost. It is meant
// for tests and metrics and is safe for concurrent use; it works after Close
// too.
func (s *Store) Len() int {
	return s.mirror.prune(s.clock().UnixMilli())
}

// Close stops the Store's goroutines and subscription and waits for them to
// finish, which can take as long as a dial already under way (the client's
// DialTimeout). It does not close the client. Calls to Revoke, IsRevoked,
// RevokeSubject and SubjectCutoff after Close return ErrClosed; closing again returns nil. Close is safe for
// concurrent use.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.cancel()
	s.psMu.Lock()
	ps := s.ps
	s.ps = nil
	s.psMu.Unlock()
	if ps != nil {
		_ = ps.Close()
	}
	s.wg.Wait()
	return nil
}

// age is how long ago the mirror was last confirmed current.
func (s *Store) age() time.Duration {
	return time.Since(s.epoch) - time.Duration(s.confirmed.Load())
}

// confirm records that the mirror held every revocation made up to at
// (nanoseconds since epoch). Confirmation never moves backwards.
func (s *Store) confirm(at int64) {
	for {
		cur := s.confirmed.Load()
		if at <= cur || s.confirmed.CompareAndSwap(cur, at) {
			break
		}
	}
	// Cleared after confirmed moved: see watch for why that order matters.
	if s.age() <= s.staleness {
		s.stale.Store(false)
	}
}

// watch sets stale when the confirmation gets older than the staleness
// bound. It wakes when the current confirmation would run out, so a stale
// mirror is noticed within timer latency, even while run is busy in a long
// sync or a slow dial.
func (s *Store) watch() {
	defer s.wg.Done()
	t := time.NewTimer(s.staleness)
	defer t.Stop()
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-t.C:
		}
		left := s.staleness - s.age()
		if left <= 0 {
			s.stale.Store(true)
			// confirm stores false after it moves confirmed. Re-reading the
			// age after storing true means that either this check sees the
			// new confirmation, or confirm's store comes after ours.
			if s.age() <= s.staleness {
				s.stale.Store(false)
			}
			left = s.staleness / 3
		}
		t.Reset(left + time.Millisecond)
	}
}
