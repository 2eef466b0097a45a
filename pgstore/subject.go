package pgstore

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authix-go/authix/redisstore/mirror"
)

// RevokeSubject records that every token of subject issued at or before
// cutoff is revoked, and keeps that record while the clock's now is not
// after until, that instant included. When the subject already has a
// cut-off at or after cutoff, it records that one plus one microsecond
// instead, so that every call moves the cut-off forward whatever the
// caller's clock; the later until stays. When until is before the clock's
// now, RevokeSubject does nothing and returns nil. It satisfies authix's
// SubjectStore interface (authix.SubjectID is an alias of [32]byte).
//
// The row holds the cutoff in Unix microseconds (cut to the microsecond,
// the precision at which tokens carry their issue time) and the until in
// Unix milliseconds (rounded up). As with Revoke, the row, its log entry
// and the notification are one transaction, bounded by ctx, and the
// cut-off stored is then visible to SubjectCutoff on this Store at once;
// otherwise RevokeSubject returns an error wrapping ErrRevokeFailed, and
// calling it again is safe.
func (s *Store) RevokeSubject(ctx context.Context, subject [32]byte, cutoff, until time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if until.Before(now) {
		return nil
	}
	var stored mirror.Cut
	b := &pgx.Batch{}
	b.Queue(s.q.lockHead, newTag())
	b.Queue(s.q.upsertSubject, subject[:], cutoff.UnixMicro(), mirror.CeilMilli(until))
	b.Queue(s.q.logSubject, s.n.channel, subject[:]).QueryRow(func(row pgx.Row) error {
		return row.Scan(&stored.At, &stored.Until, nil)
	})
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%w: write subject %x to %s, log it and notify %s: %w", ErrRevokeFailed, subject[:4], s.n.subjects, s.n.channel, err)
	}
	s.mirror.CutSubject(subject, stored, now.UnixMilli())
	return nil
}

// SubjectCutoff returns the cutoff recorded for subject, or the zero time
// when there is none or its until has passed by the clock's now. While the
// local mirror is confirmed current within the staleness bound
// (WithStalenessBound, default 3s) it answers from the mirror alone, at
// the cost of a map lookup. Past the bound it asks PostgreSQL for every
// subject, since a cut-off the mirror holds may have been superseded, and
// returns the later of the two; when that fails it returns an error
// wrapping ErrUnavailable, so the caller can fail closed.
func (s *Store) SubjectCutoff(ctx context.Context, subject [32]byte) (time.Time, error) {
	if s.closed.Load() {
		return time.Time{}, ErrClosed
	}
	c, ok := s.mirror.SubjectCut(subject)
	ok = ok && s.clock().UnixMilli() <= c.Until
	if s.fresh.Fresh() {
		return mirror.CutoffTime(c, ok), nil
	}
	return s.lookupSubject(ctx, subject, c, ok)
}

// lookupSubject asks PostgreSQL for subject's cut-off and returns the later
// of it and c (when ok). It is apart from SubjectCutoff so that subject,
// which escapes into the query's arguments, is copied to the heap only on
// this path.
func (s *Store) lookupSubject(ctx context.Context, subject [32]byte, c mirror.Cut, ok bool) (time.Time, error) {
	ctx, cancel := context.WithTimeout(ctx, s.syncTO)
	defer cancel()
	var r mirror.Cut
	err := s.pool.QueryRow(ctx, s.q.subject, subject[:]).Scan(&r.At, &r.Until)
	found := err == nil
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, fmt.Errorf("%w: local mirror unconfirmed for %v (bound %v) and the lookup failed: %w",
			ErrUnavailable, s.fresh.Age().Round(time.Millisecond), s.staleness, err)
	}
	return mirror.CutoffTime(mirror.Later(c, ok, r, found, s.clock().UnixMilli())), nil
}
