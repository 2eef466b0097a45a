package redisstore

import (
	"fmt"
	"time"
)

// Defaults used by New when the matching option is not given.
const (
	// DefaultKeyPrefix is the prefix of every revocation key.
	DefaultKeyPrefix = "authix:revoked:"
	// DefaultStalenessBound is how long the local mirror may go without
	// confirmation from Redis before IsRevoked asks Redis directly.
	DefaultStalenessBound = 3 * time.Second
	// DefaultSyncTimeout bounds each full sync of the local mirror.
	DefaultSyncTimeout = 5 * time.Second
	// DefaultResyncInterval is how often, give or take a random half, a
	// Store re-reads every revocation from Redis as a safety net for keys
	// written without a log entry.
	DefaultResyncInterval = time.Hour
	// DefaultLogRetention is how long the log keeps an entry.
	DefaultLogRetention = time.Hour

	// channelSuffix follows the key prefix in the default channel name.
	channelSuffix = "events"
	// minStalenessBound keeps the blocking read of the log (two thirds of
	// the bound) at a few milliseconds or more.
	minStalenessBound = 10 * time.Millisecond
	// minResyncInterval keeps periodic full syncs from running back to back.
	minResyncInterval = 10 * time.Millisecond
)

// ClockMargin is how long past a revocation's expiry Redis keeps its key,
// counted from the revoking store's clock, so that stores whose clocks differ
// by less than this still find the key while the revocation holds for them.
// It matches the clock skew Fernet tolerates and is not configurable.
const ClockMargin = 60 * time.Second

// Option configures a Store. Options are checked by New, which reports the
// first invalid one; when an option is given twice the last one wins. An
// Option holds no state and may be reused for several Stores.
type Option func(*config) error

type config struct {
	prefix      string
	channel     string // empty: prefix + channelSuffix
	staleness   time.Duration
	syncTimeout time.Duration
	resync      time.Duration
	retention   time.Duration
	evictionOK  bool
	clock       func() time.Time
	split       bool // log by a script of its own even on one node (tests)
}

func defaultConfig() config {
	return config{
		prefix:      DefaultKeyPrefix,
		staleness:   DefaultStalenessBound,
		syncTimeout: DefaultSyncTimeout,
		resync:      DefaultResyncInterval,
		retention:   DefaultLogRetention,
		clock:       time.Now,
	}
}

// WithKeyPrefix sets the prefix of the Redis keys: id is stored under the
// prefix followed by the id in lowercase hex. Several services can share one Redis by using different
// prefixes; no prefix should be the start of another, since a store reads
// every key that begins with its prefix. The default is DefaultKeyPrefix,
// "authix:revoked:". The prefix must not be empty.
func WithKeyPrefix(prefix string) Option {
	return func(c *config) error {
		if prefix == "" {
			return fmt.Errorf("%w: WithKeyPrefix: prefix is empty; use a short unique string such as %q", ErrInvalidOption, DefaultKeyPrefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithChannel sets the pub/sub channel on which stores announce revocations
// to each other, and so the log they follow, whose key is the channel's name
// in braces followed by ":log". All stores sharing a key prefix must use the
// same channel. The default is the key prefix followed by "events", so
// "authix:revoked:events" (and the log "{authix:revoked:events}:log") with
// the default prefix. The name must not be empty.
func WithChannel(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: WithChannel: channel name is empty; omit the option to derive it from the key prefix", ErrInvalidOption)
		}
		c.channel = name
		return nil
	}
}

// WithStalenessBound sets how long IsRevoked and SubjectCutoff trust the
// local mirror without a fresh confirmation from Redis. The store reads the
// log with a blocking read of two thirds of the bound; each read that
// returns on a live connection confirms the mirror as of its sending (as of
// the end of its wait when nothing came), unless the store has found a gap
// it has not yet filled. Once the last confirmation is older than the bound
// (Redis unreachable or frozen, the read refused, a gap being filled),
// IsRevoked asks Redis directly for ids the mirror does not hold and
// returns an error if that fails. A read with no reply for the bound past
// its block is given up and its connection dialled again, in case it is
// half-open. A revocation made through another store is therefore missed
// for at most about this long. The default is DefaultStalenessBound, 3s;
// the minimum is 10ms.
func WithStalenessBound(d time.Duration) Option {
	return func(c *config) error {
		if d < minStalenessBound {
			return fmt.Errorf("%w: WithStalenessBound(%v): must be at least %v", ErrInvalidOption, d, minStalenessBound)
		}
		c.staleness = d
		return nil
	}
}

// WithSyncTimeout bounds each full read of Redis into the local mirror: the
// one New makes before it returns, with the read of the log that follows it,
// each one after a gap in the log and each periodic one
// (WithResyncInterval). It also bounds New's check of maxmemory-policy.
// Raise it for very large revocation sets. The default is
// DefaultSyncTimeout, 5s; it must be positive.
func WithSyncTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithSyncTimeout(%v): must be positive", ErrInvalidOption, d)
		}
		c.syncTimeout = d
		return nil
	}
}

// WithResyncInterval sets how often the Store re-reads every revocation of
// its prefix from Redis (SCAN and GET, as New does) and merges them into the
// local mirror, as a safety net: each wait is the interval plus a random
// part of up to half of it, so that Stores started together do not read
// together. The log brings every revocation that Stores of this version
// write; this finds those written without a log entry, which Stores of
// earlier versions announce on the channel only (at most once), within
// about one and a half intervals. Each re-read reads every key, so on a
// large revocation set weigh its load on Redis, about that of a Store's
// start, against that bound; a fleet in the middle of an upgrade may want
// it shorter. A resync only adds to the mirror; it never removes a
// revocation. The default is DefaultResyncInterval, 1h; the minimum is
// 10ms.
func WithResyncInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < minResyncInterval {
			return fmt.Errorf("%w: WithResyncInterval(%v): must be at least %v", ErrInvalidOption, d, minResyncInterval)
		}
		c.resync = d
		return nil
	}
}

// WithLogRetention sets how long the log keeps an entry, by Redis's clock:
// each write trims the entries older than this (in whole nodes of about 100
// entries, so a few more may stay). A Store that comes back after losing
// its connection for less than this catches up from the log alone; one that
// was away longer finds that the log no longer reaches back to its place and
// reads Redis in full, as New does. It decides neither what is revoked nor
// for how long: only how long a Store may be away and still catch up
// cheaply, against the log's memory in Redis (about 150 bytes an entry).
// The default is DefaultLogRetention, 1h; it must be positive.
func WithLogRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithLogRetention(%v): must be positive", ErrInvalidOption, d)
		}
		c.retention = d
		return nil
	}
}

// WithEvictionAllowed makes New skip its check of Redis's maxmemory-policy.
// By default New reads the policy with CONFIG GET (on Cluster, from every
// master) and fails with ErrInvalidOption unless it is noeviction, because
// an evicted revocation is gone for every Store started afterwards, and the
// logged-out token works again there. Give this option when you accept that
// risk, or when CONFIG GET is not allowed (managed Redis) and you have
// checked the policy yourself. The default is to check.
func WithEvictionAllowed() Option {
	return func(c *config) error {
		c.evictionOK = true
		return nil
	}
}

// WithClock sets the clock that decides whether expiresAt has passed in
// Revoke and whether an entry in the local mirror has expired. It is meant
// for tests. The time a key is kept in Redis is sent as a duration computed
// from this clock (plus ClockMargin), so Redis's own clock does not matter;
// the staleness bound and the resync interval are always measured with the
// monotonic clock, and the log's retention with Redis's. The default is time.Now; the clock must not be nil and
// must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock: clock is nil; omit the option to use time.Now", ErrInvalidOption)
		}
		c.clock = now
		return nil
	}
}
