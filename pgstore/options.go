package pgstore

import (
	"fmt"
	"time"
)

// Defaults used by New and Migrate when the matching option is not given.
const (
	// DefaultTablePrefix starts the name of every table, index and sequence
	// the store uses.
	DefaultTablePrefix = "authix_"
	// DefaultStalenessBound is how long the local mirror may go without
	// confirmation from PostgreSQL before IsRevoked asks PostgreSQL
	// directly.
	DefaultStalenessBound = 3 * time.Second
	// DefaultSyncTimeout bounds each full read of the mirror and each
	// query the Store makes for itself.
	DefaultSyncTimeout = 5 * time.Second
	// DefaultLogRetention is how long the log keeps an entry.
	DefaultLogRetention = time.Hour
	// DefaultCleanupInterval is how often, give or take a random half, a
	// Store deletes expired rows and old log entries.
	DefaultCleanupInterval = 10 * time.Minute

	// minStalenessBound keeps reads of the log (every third of the bound)
	// a few milliseconds apart or more.
	minStalenessBound = 10 * time.Millisecond
	// minInterval is the shortest polling or cleanup interval.
	minInterval = 10 * time.Millisecond
	// maxPrefix keeps the longest name, prefix+"subjects_until", within
	// PostgreSQL's 63 bytes.
	maxPrefix = 40
)

// ClockMargin is how long past a revocation's expiry (or a subject's or a
// device's until) its row is kept, by the clock of the Store that cleans,
// so that Stores whose clocks differ by less than this still find it while
// it holds for them. It matches the clock skew Fernet tolerates, as
// redisstore's, and is not configurable.
const ClockMargin = 60 * time.Second

// Option configures a Store, or the tables Migrate makes. Options are
// checked by New and Migrate, which report the first invalid one; when an
// option is given twice the last one wins. An Option holds no state and may
// be reused.
type Option func(*config) error

type config struct {
	schema      string // empty: the connection's search_path
	prefix      string
	staleness   time.Duration
	poll        time.Duration // zero: LISTEN
	syncTimeout time.Duration
	retention   time.Duration
	cleanup     time.Duration
	clock       func() time.Time
}

func defaultConfig() config {
	return config{
		prefix:      DefaultTablePrefix,
		staleness:   DefaultStalenessBound,
		syncTimeout: DefaultSyncTimeout,
		retention:   DefaultLogRetention,
		cleanup:     DefaultCleanupInterval,
		clock:       time.Now,
	}
}

// apply applies opts to the defaults and checks what they set together.
func apply(opts []Option) (config, error) {
	cfg := defaultConfig()
	for _, opt := range opts {
		if opt == nil {
			continue
		}
		if err := opt(&cfg); err != nil {
			return cfg, err
		}
	}
	if cfg.poll > cfg.staleness/2 {
		return cfg, fmt.Errorf("%w: WithPolling(%v) with a staleness bound of %v: the interval must be at most half the bound, "+
			"so that a poll confirms the mirror before the bound runs out; shorten the interval or raise WithStalenessBound",
			ErrInvalidOption, cfg.poll, cfg.staleness)
	}
	if ch := cfg.names().channel; len(ch) > 63 {
		return cfg, fmt.Errorf("%w: the notification channel %q (schema, prefix and \"log\") is longer than PostgreSQL's 63 bytes: "+
			"use a shorter WithSchema or WithTablePrefix", ErrInvalidOption, ch)
	}
	return cfg, nil
}

// WithSchema puts the tables in schema, which Migrate creates when it does
// not exist. The default is none: names are left unqualified, so the
// tables live in the first schema of the connection's search_path
// (normally public). The name must be a lowercase SQL identifier: letters,
// digits and underscores, not starting with a digit, at most 63 bytes.
func WithSchema(schema string) Option {
	return func(c *config) error {
		if !identifier(schema, 63) {
			return fmt.Errorf("%w: WithSchema(%q): want a lowercase identifier of at most 63 bytes ([a-z_][a-z0-9_]*)", ErrInvalidOption, schema)
		}
		c.schema = schema
		return nil
	}
}

// WithTablePrefix sets the prefix of the tables' names: prefix+"revoked",
// "subjects", "log", "log_head" and "devices". Several services can share
// one database by using different prefixes (or schemas). The default is
// DefaultTablePrefix, "authix_". The prefix must be a lowercase SQL
// identifier of at most 40 bytes.
func WithTablePrefix(prefix string) Option {
	return func(c *config) error {
		if !identifier(prefix, maxPrefix) {
			return fmt.Errorf("%w: WithTablePrefix(%q): want a lowercase identifier of at most %d bytes ([a-z_][a-z0-9_]*), such as %q",
				ErrInvalidOption, prefix, maxPrefix, DefaultTablePrefix)
		}
		c.prefix = prefix
		return nil
	}
}

// WithStalenessBound sets how long IsRevoked and SubjectCutoff trust the
// local mirror without a fresh confirmation from PostgreSQL. Each read of
// the log that reaches its end confirms the mirror as of the read's
// sending, unless the Store has found a gap it has not yet filled; in
// LISTEN mode the Store reads every third of the bound while no
// notification comes. Past the bound, IsRevoked asks PostgreSQL directly
// for ids the mirror does not hold and returns an error if that fails. The
// default is DefaultStalenessBound, 3s; the minimum is 10ms.
func WithStalenessBound(d time.Duration) Option {
	return func(c *config) error {
		if d < minStalenessBound {
			return fmt.Errorf("%w: WithStalenessBound(%v): must be at least %v", ErrInvalidOption, d, minStalenessBound)
		}
		c.staleness = d
		return nil
	}
}

// WithPolling makes the Store read the log every interval instead of
// listening for notifications: for PgBouncer in transaction pooling mode,
// through which LISTEN does not work, and for any pooler or proxy that
// does not keep a session. A logout then reaches this Store within about
// the interval. The default is LISTEN, on a connection of its own. The
// interval must be at least 10ms and at most half the staleness bound.
func WithPolling(interval time.Duration) Option {
	return func(c *config) error {
		if interval < minInterval {
			return fmt.Errorf("%w: WithPolling(%v): must be at least %v", ErrInvalidOption, interval, minInterval)
		}
		c.poll = interval
		return nil
	}
}

// WithSyncTimeout bounds each full read of PostgreSQL into the local
// mirror (the one New makes, and one after each gap in the log), and each
// query the Store makes without a caller's context: reads of the log and
// cleanup batches. IsRevoked and SubjectCutoff bound their queries by it
// too, within the caller's context. Raise it for very large revocation
// sets. The default is DefaultSyncTimeout, 5s; it must be positive.
func WithSyncTimeout(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithSyncTimeout(%v): must be positive", ErrInvalidOption, d)
		}
		c.syncTimeout = d
		return nil
	}
}

// WithLogRetention sets how long the log keeps an entry, by the database's
// clock: cleanup deletes older entries. A Store that comes back after
// losing PostgreSQL for less than this catches up from the log alone; one
// away longer reads the tables in full, as New does. It decides neither
// what is revoked nor for how long. The default is DefaultLogRetention, 1h;
// it must be positive.
func WithLogRetention(d time.Duration) Option {
	return func(c *config) error {
		if d <= 0 {
			return fmt.Errorf("%w: WithLogRetention(%v): must be positive", ErrInvalidOption, d)
		}
		c.retention = d
		return nil
	}
}

// WithCleanupInterval sets how often the Store deletes rows whose until
// passed more than ClockMargin ago and log entries older than the log's
// retention, in batches of 1000 rows, each its own statement. Each wait is
// the interval plus a random part of up to half of it, so that replicas
// started together do not clean together. The default is
// DefaultCleanupInterval, 10m; the minimum is 10ms.
func WithCleanupInterval(d time.Duration) Option {
	return func(c *config) error {
		if d < minInterval {
			return fmt.Errorf("%w: WithCleanupInterval(%v): must be at least %v", ErrInvalidOption, d, minInterval)
		}
		c.cleanup = d
		return nil
	}
}

// WithClock sets the clock that decides whether an expiry has passed: in
// Revoke, in lookups, for the rows a full read skips and for those cleanup
// deletes. It is meant for tests. Expiries are stored as Unix times by this
// clock, so the database's clock plays no part in them; the staleness
// bound and the intervals are measured with the monotonic clock, and the
// log's retention with the database's. The default is time.Now; the clock
// must not be nil and must be safe for concurrent use.
func WithClock(now func() time.Time) Option {
	return func(c *config) error {
		if now == nil {
			return fmt.Errorf("%w: WithClock: clock is nil; omit the option to use time.Now", ErrInvalidOption)
		}
		c.clock = now
		return nil
	}
}

// identifier reports whether s is a lowercase SQL identifier of at most max
// bytes, which needs no quoting and cannot be mistaken for another case.
func identifier(s string, max int) bool {
	if s == "" || len(s) > max || ('0' <= s[0] && s[0] <= '9') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
