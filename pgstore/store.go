package pgstore

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/authix-go/authix/redisstore/mirror"
)

// Errors returned by a Store. Every other error it returns wraps one of
// them, so errors.Is works; the PostgreSQL error that caused it is wrapped
// too.
var (
	// ErrClosed is returned by every method called after Close.
	ErrClosed = errors.New("pgstore: store is closed")
	// ErrInvalidOption is returned by New and Migrate for a nil pool or a
	// bad option, and by New when the tables are missing (run Migrate).
	ErrInvalidOption = errors.New("pgstore: invalid option")
	// ErrRevokeFailed is returned by Revoke, RevokeSubject, SaveDevice and
	// DeleteDevice when the transaction that stores and logs the write did
	// not commit, or its outcome is unknown. Calling them again with the
	// same arguments is safe.
	ErrRevokeFailed = errors.New("pgstore: revoke failed")
	// ErrUnavailable is returned by New and Migrate when PostgreSQL cannot
	// be reached, and by IsRevoked, SubjectCutoff and Devices when the
	// local mirror is stale (or, for Devices, always) and PostgreSQL cannot
	// be asked either.
	ErrUnavailable = errors.New("pgstore: postgres unavailable")
)

// Store is a revocation store in PostgreSQL with a local in-memory mirror
// that follows the log in the database. It satisfies authix's
// RevocationStore interface and its optional SubjectStore and DeviceStore
// interfaces, with standard types only. All methods are safe for
// concurrent use, including with Close.
type Store struct {
	pool      *pgxpool.Pool
	n         names
	q         queries
	staleness time.Duration
	poll      time.Duration // zero: LISTEN
	syncTO    time.Duration
	retention time.Duration
	cleanup   time.Duration
	clock     func() time.Time

	mirror   *mirror.Mirror
	fresh    *mirror.Freshness
	follower *mirror.Follower // New's, then the follow goroutine's alone
	at       place            // the follower's place as numbers; same owner

	// Counters for tests: full reads (at New and after a gap), reads of the
	// log that failed, notifications applied, and rows cleaned.
	fullReads, failed, notified, cleaned atomic.Int64
	// listenerPID is the backend process id of the LISTEN connection.
	listenerPID atomic.Uint32

	closed atomic.Bool
	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// New returns a Store that keeps revocations in the tables Migrate made,
// through pool, which it does not close. In LISTEN mode (the default) the
// Store also opens one connection of its own, from pool's configuration,
// on which it listens for notifications; with WithPolling it uses pool
// alone, and pool may then reach PostgreSQL through PgBouncer in
// transaction pooling mode (with a QueryExecMode that prepares no
// statement by name, such as QueryExecModeExec).
//
// New checks the options and fills the local mirror with a full read of
// the tables, within the sync timeout (WithSyncTimeout, default 5s), before
// it returns. It returns an error wrapping ErrInvalidOption for a bad
// option or missing tables, and one wrapping ErrUnavailable when
// PostgreSQL cannot be reached, so a service fails at start rather than at
// its first request. The Store runs three goroutines until Close: one
// follows the log, one marks the mirror stale when its confirmation runs
// out, and one cleans expired rows (WithCleanupInterval, default 10m).
func New(pool *pgxpool.Pool, opts ...Option) (*Store, error) {
	if pool == nil {
		return nil, fmt.Errorf("%w: New: pool is nil", ErrInvalidOption)
	}
	cfg, err := apply(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Store{
		pool:      pool,
		n:         cfg.names(),
		staleness: cfg.staleness,
		poll:      cfg.poll,
		syncTO:    cfg.syncTimeout,
		retention: cfg.retention,
		cleanup:   cfg.cleanup,
		clock:     cfg.clock,
		mirror:    mirror.New(),
		fresh:     mirror.NewFreshness(cfg.staleness),
		ctx:       ctx,
		cancel:    cancel,
	}
	s.q = s.n.queries()
	s.follower = mirror.NewFollower(s.fresh)
	if err := s.fill(pool); err != nil {
		cancel()
		return nil, err
	}
	s.wg.Add(3)
	go s.follow()
	go func() { defer s.wg.Done(); s.fresh.Watch(ctx) }()
	go s.cleanLoop()
	return s, nil
}

// Revoke records id as revoked until expiresAt, keeping the later expiry
// if id is already revoked. The revocation holds while the clock's now is
// not after expiresAt, that instant included. The row's until_ms is
// expiresAt in Unix milliseconds, rounded up; cleanup deletes it
// ClockMargin (60s) after that, by the cleaning Store's clock. When
// expiresAt is before the clock's now, Revoke does nothing and returns nil.
//
// The row, its log entry and the notification are written in one
// transaction, so that none is written without the others; ctx bounds it.
// Revoke returns nil only once it has committed; the revocation is then
// visible to IsRevoked on this Store at once. Otherwise it returns an
// error wrapping ErrRevokeFailed, and calling it again is safe.
func (s *Store) Revoke(ctx context.Context, id [32]byte, expiresAt time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if expiresAt.Before(now) {
		return nil
	}
	expMs := mirror.CeilMilli(expiresAt)
	b := &pgx.Batch{}
	b.Queue(s.q.lockHead, newTag())
	b.Queue(s.q.upsertToken, id[:], expMs)
	b.Queue(s.q.logToken, s.n.channel, id[:])
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%w: write %x to %s, log it and notify %s: %w", ErrRevokeFailed, id[:4], s.n.revoked, s.n.channel, err)
	}
	s.mirror.Revoke(id, expMs, now.UnixMilli())
	return nil
}

// IsRevoked reports whether id is revoked now, that is, whether the
// clock's now is not after the expiry it was revoked until. It answers
// from the local mirror while the mirror is confirmed current within the
// staleness bound (WithStalenessBound, default 3s). Past the bound, for an
// id the mirror does not hold, it asks PostgreSQL (one indexed SELECT,
// within ctx and the sync timeout), and when that fails too it returns an
// error wrapping ErrUnavailable, so the caller can fail closed. An id the
// mirror holds is reported revoked even while PostgreSQL is down.
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
	return s.lookup(ctx, id)
}

// lookup asks PostgreSQL whether id is revoked now. It is apart from
// IsRevoked so that id, which escapes into the query's arguments, is copied
// to the heap only on this path.
func (s *Store) lookup(ctx context.Context, id [32]byte) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.syncTO)
	defer cancel()
	var until int64
	err := s.pool.QueryRow(ctx, s.q.token, id[:]).Scan(&until)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("%w: local mirror unconfirmed for %v (bound %v) and the lookup failed: %w",
			ErrUnavailable, s.fresh.Age().Round(time.Millisecond), s.staleness, err)
	}
	return s.clock().UnixMilli() <= until, nil
}

// Len drops expired entries from the local mirror and returns how many
// token revocations it holds (subject cut-offs are not counted). It is
// meant for tests and metrics and is safe for concurrent use; it works
// after Close too.
func (s *Store) Len() int {
	n, _ := s.mirror.Prune(s.clock().UnixMilli())
	return n
}

// Close stops the Store's goroutines, closes its LISTEN connection and
// waits for them to finish. It does not close the pool. Calls to the
// Store's other methods after Close return ErrClosed; closing again
// returns nil.
func (s *Store) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	s.cancel()
	s.wg.Wait()
	return nil
}

// newTag returns a random tag for a log entry: with its position, it names
// the entry, so that an entry at a position reused after a restore from a
// backup is told apart from the one a Store applied.
func newTag() int64 { return rand.Int64() }

// sleep waits for d or until Close; it reports whether the Store is open.
func (s *Store) sleep(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-s.ctx.Done():
		return false
	}
}
