package pgstore

import (
	"context"
	"encoding/binary"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/authix-go/authix/redisstore/mirror"
)

// maxDevices is how many session records a subject keeps, as authix's
// MaxDevices says.
const maxDevices = 32

// SaveDevice records a session's record for subject until until, replacing
// its earlier one, and keeps at most 32 records per subject, dropping
// those of other sessions that end first, and those that ran out; it
// satisfies authix's optional DeviceStore interface. Records are rows of
// the devices table, written in one transaction that holds an advisory
// lock on the subject; they are read from PostgreSQL, not mirrored, since
// only a "your devices" page asks for them. An until before the clock's
// now records nothing. It returns an error wrapping ErrRevokeFailed when
// the transaction did not commit.
func (s *Store) SaveDevice(ctx context.Context, subject, session [32]byte, record []byte, until time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if until.Before(now) {
		return nil
	}
	if record == nil {
		record = []byte{}
	}
	b := &pgx.Batch{}
	b.Queue(s.q.lockSubject, s.deviceLock(subject))
	b.Queue(s.q.saveDevice, subject[:], session[:], mirror.CeilMilli(until), record)
	b.Queue(s.q.trimDevices, subject[:], session[:], now.UnixMilli(), maxDevices-1)
	if err := s.pool.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("%w: save a device of subject %x in %s: %w", ErrRevokeFailed, subject[:4], s.n.devices, err)
	}
	return nil
}

// Devices returns the records of subject whose until has not passed by the
// clock's now, or an error wrapping ErrUnavailable.
func (s *Store) Devices(ctx context.Context, subject [32]byte) ([][]byte, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	rows, err := s.pool.Query(ctx, s.q.devices, subject[:], s.clock().UnixMilli())
	if err != nil {
		return nil, fmt.Errorf("%w: read the devices of subject %x: %w", ErrUnavailable, subject[:4], err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[[]byte])
	if err != nil {
		return nil, fmt.Errorf("%w: read the devices of subject %x: %w", ErrUnavailable, subject[:4], err)
	}
	return out, nil
}

// DeleteDevice removes a session's record; an unknown one is no error.
func (s *Store) DeleteDevice(ctx context.Context, subject, session [32]byte) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if _, err := s.pool.Exec(ctx, s.q.deleteDevice, subject[:], session[:]); err != nil {
		return fmt.Errorf("%w: delete a device of subject %x: %w", ErrRevokeFailed, subject[:4], err)
	}
	return nil
}

// deviceLock returns the advisory lock key of subject's devices: the
// subject id is a SHA-256, so its first 8 bytes spread evenly, mixed with
// the table's name so that two stores' tables do not share keys.
func (s *Store) deviceLock(subject [32]byte) int64 {
	return int64(binary.BigEndian.Uint64(subject[:8])) ^ lockKey(s.n.devices)
}
