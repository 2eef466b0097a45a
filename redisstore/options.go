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
	// DefaultResyncInterval is how often a Store re-reads every revocation
	// from Redis, which bounds how long a lost announcement goes unnoticed.
	DefaultResyncInterval = time.Minute

	// channelSuffix follows the key prefix in the default channel name.
	channelSuffix = "events"
	// minStalenessBound keeps the health-check period (a third of the bound)
	// at a few milliseconds or more.
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
	evictionOK  bool
	clock       func() time.Time
}

func defaultConfig() config {
	return config{
		prefix:      DefaultKeyPrefix,
		staleness:   DefaultStalenessBound,
		syncTimeout: DefaultSyncTimeout,
		resync:      DefaultResyncInterval,
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
// to each other. All stores sharing a key prefix must use the same channel.
// The default is the key prefix followed by "events", so
// "authix:revoked:events" with the default prefix. The name must not be empty.
func WithChannel(name string) Option {
	return func(c *config) error {
		if name == "" {
			return fmt.Errorf("%w: WithChannel: channel name is empty; omit the option to derive it from the key prefix", ErrInvalidOption)
		}
		c.channel = name
		return nil
	}
}

// WithStalenessBound sets how long IsRevoked trusts the local mirror without
// a fresh confirmation from Redis. The store pings its subscription every
// third of the bound; a reply confirms the mirror only while Redis has
// confirmed the subscription on the current connection and not refused it
// since. Once the last confirmation is older than the bound (subscription
// down or refused, Redis unreachable), IsRevoked asks Redis directly for ids
// the mirror does not hold and returns an error if that fails. When nothing
// at all arrives on the subscription for twice the bound, the store replaces
// it, in case the connection is half-open. A revocation announced through
// another store is therefore missed for at most about this long. The default
// is DefaultStalenessBound, 3s; the minimum is 10ms.
func WithStalenessBound(d time.Duration) Option {
	return func(c *config) error {
		if d < minStalenessBound {
			return fmt.Errorf("%w: WithStalenessBound(%v): must be at least %v", ErrInvalidOption, d, minStalenessBound)
		}
		c.staleness = d
		return nil
	}
}

// WithSyncTimeout bounds each full sync of the local mirror from Redis: the
// one New makes before it returns, each one after the subscription
// reconnects and each periodic one (WithResyncInterval). It also bounds New's
// check of maxmemory-policy. Raise it for very large revocation sets. The
// default is DefaultSyncTimeout, 5s; it must be positive.
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
// local mirror. Announcements are the fast path; this bounds how long one
// that never arrived (pub/sub delivers at most once; a writer announcing on
// another channel) leaves this Store unaware: about one interval plus the
// time a sync takes. Each resync reads every key, so on a
// large revocation set weigh the load on Redis against that bound. A resync
// only adds to the mirror; it never removes a revocation. The default is
// DefaultResyncInterval, 1m; the minimum is 10ms.
func WithResyncInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < minResyncInterval {
			return fmt.Errorf("%w: WithResyncInterval(%v): must be at least %v", ErrInvalidOption, d, minResyncInterval)
		}
		c.resync = d
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
// monotonic clock. The default is time.Now; the clock must not be nil and
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
