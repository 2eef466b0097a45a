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

	"github.com/authix-go/authix/redisstore/mirror"
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
	// not run to the end the script that logs the revocation, announces it
	// to other stores and stores it. Calling them again with the same
	// arguments is safe.
	ErrRevokeFailed = errors.New("redisstore: revoke failed")
	// ErrUnavailable is returned by New when it cannot reach Redis to check
	// maxmemory-policy, fill the local mirror or read the log, and by IsRevoked
	// and SubjectCutoff when the local mirror is stale and Redis cannot be
	// asked either.
	ErrUnavailable = errors.New("redisstore: redis unavailable")
)

// revokeScript logs, announces and stores a revocation, keeping the later
// expiry when the id is already revoked. The value is the expiry in Unix
// milliseconds by the writing store's clock; the key is kept for a duration
// (PX) computed from that clock, so Redis's clock plays no part.
//
// The log entry comes first, then the announcement, then the key. Redis does
// not undo a script's earlier writes when a later call fails, so with this
// order a failure leaves nothing, or a log entry (and perhaps an
// announcement) without the key: every Store then holds the revocation until
// its expiry (fail closed), and the script's error makes Revoke fail so the
// caller retries. The reverse order could leave a key no Store was told of.
//
// KEYS[1] is the revocation key and KEYS[2], when given, the log (see
// logAppend; on Cluster the log is written by its own script first, since
// one script cannot reach two slots). ARGV[1] is the expiry in Unix
// milliseconds, ARGV[2] how long Redis must keep the key in milliseconds,
// ARGV[3] the channel, ARGV[4] the announcement, which is also the log
// entry, and ARGV[5] the log's retention in milliseconds.
var revokeScript = redis.NewScript(logAppend + `
local want = tonumber(ARGV[1])
local keep = tonumber(ARGV[2])
local have = tonumber(redis.call('GET', KEYS[1]) or '')
if KEYS[2] then append(KEYS[2], ARGV[4], ARGV[5]) end
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
	log       string // the log's key
	staleness time.Duration
	syncTO    time.Duration
	resync    time.Duration
	retention time.Duration
	clock     func() time.Time
	// split: the log lives in another slot or shard than the keys, so it is
	// written by a script of its own (Cluster, Ring).
	split bool

	mirror   *mirror.Mirror
	fresh    *mirror.Freshness
	follower *mirror.Follower // New's, then the follow goroutine's alone
	reader   logReader

	// Counters for tests: full reads of Redis (at New and after a gap),
	// periodic safety-net reads, reads of the log that failed, and those of
	// them given up as silent.
	fullReads, resyncs, failed, dropped atomic.Int64

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
// WithEvictionAllowed), fills the local mirror with a full read of Redis and
// then reads the log from where it stood when that read began, each step
// within the sync timeout (WithSyncTimeout, default 5s), before it returns.
// It returns an error wrapping ErrInvalidOption for a bad option or an
// evicting maxmemory-policy, and one wrapping ErrUnavailable when Redis
// cannot be reached, so a service fails at start rather than at its first
// request. The Store runs four goroutines until Close: one follows the log,
// one applies announcements from Stores of earlier versions, one marks the
// mirror stale when its confirmation runs out, and one re-reads Redis as a
// safety net (WithResyncInterval, default 1h). New is safe for concurrent
// use, and several Stores may share one client.
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
		log:       logKey(cfg.channel),
		staleness: cfg.staleness,
		syncTO:    cfg.syncTimeout,
		resync:    cfg.resync,
		retention: cfg.retention,
		clock:     cfg.clock,
		split:     cfg.split || isSharded(client),
		mirror:    mirror.New(),
		fresh:     mirror.NewFreshness(cfg.staleness),
		ctx:       ctx,
		cancel:    cancel,
	}
	s.follower = mirror.NewFollower(s.fresh)

	if !cfg.evictionOK {
		if err := s.checkEviction(); err != nil {
			cancel()
			return nil, err
		}
	}
	if err := s.start(); err != nil {
		s.reader.close()
		cancel()
		return nil, err
	}
	// Announcements only speed up what the log brings, and carry the
	// revocations of Stores of earlier versions: a refused subscription is
	// retried in the background and does not stop the Store.
	s.ps = client.Subscribe(ctx, s.channel)
	s.wg.Add(4)
	go s.follow()
	go s.hear(s.ps)
	go func() { defer s.wg.Done(); s.fresh.Watch(ctx) }()
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
// The log entry, the announcement and the key are written by one Lua script
// (on Cluster, the log entry by a script of its own just before), so that
// none is written unless the ones before it were. ctx bounds those calls.
// Revoke returns nil only when Redis ran them to the end; the revocation is
// then visible to IsRevoked on this Store at once. Otherwise it returns an
// error wrapping ErrRevokeFailed, and calling it again is safe. Revoke is
// safe for concurrent use.
func (s *Store) Revoke(ctx context.Context, id [32]byte, expiresAt time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if expiresAt.Before(now) {
		return nil
	}
	expMs := mirror.CeilMilli(expiresAt)
	keepMs := expMs - now.UnixMilli() + ClockMargin.Milliseconds()
	hexID := hex.EncodeToString(id[:])
	key := s.prefix + hexID
	ms := strconv.FormatInt(expMs, 10)
	entry := ms + " " + hexID
	keys, err := s.logFirst(ctx, key, entry)
	if err == nil {
		err = revokeScript.Run(ctx, s.client, keys, ms, keepMs, s.channel, entry, s.retention.Milliseconds()).Err()
	}
	if err != nil {
		return fmt.Errorf("%w: write %q, log it in %q and announce it on channel %q: %w", ErrRevokeFailed, key, s.log, s.channel, err)
	}
	s.mirror.Revoke(id, expMs, now.UnixMilli())
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
	if until, ok := s.mirror.Until(id); ok && s.clock().UnixMilli() <= until {
		return true, nil
	}
	if s.fresh.Fresh() {
		return false, nil
	}
	n, err := s.client.Exists(ctx, s.prefix+hex.EncodeToString(id[:])).Result()
	if err != nil {
		return false, fmt.Errorf("%w: local mirror unconfirmed for %v (bound %v) and EXISTS failed: %w",
			ErrUnavailable, s.fresh.Age().Round(time.Millisecond), s.staleness, err)
	}
	return n > 0, nil
}

// Len drops expired entries from the local mirror and returns how many
// token revocations it holds (subject cut-offs are not counted), including
// any that Redis has since lost. It is meant for tests and metrics and is
// safe for concurrent use; it works after Close too.
func (s *Store) Len() int {
	n, _ := s.mirror.Prune(s.clock().UnixMilli())
	return n
}

// Close stops the Store's goroutines, its subscription and its reads of the
// log, and waits for them to finish, which can take as long as a dial
// already under way (the client's DialTimeout). It does not close the
// client. Calls to Revoke, IsRevoked, RevokeSubject and SubjectCutoff after
// Close return ErrClosed; closing again returns nil. Close is safe for
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
	s.reader.close() // ends a blocking read of the log under way
	s.wg.Wait()
	return nil
}
