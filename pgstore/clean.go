package pgstore

import (
	"context"
	"math/rand/v2"
)

// cleanBatch is how many rows one cleanup statement deletes at most.
const cleanBatch = 1000

// cleanLoop deletes expired rows and old log entries every cleanup
// interval plus a random part of up to half of it, until Close.
func (s *Store) cleanLoop() {
	defer s.wg.Done()
	for s.sleep(s.cleanup + rand.N(s.cleanup/2+1)) {
		_ = s.clean()
	}
}

// clean drops from the mirror what ran out, then deletes, in statements of
// at most cleanBatch rows each, the revocations, cut-offs and device
// records whose until passed more than ClockMargin ago by the Store's
// clock, and the log entries older than the log's retention by the
// database's. A batch that deletes fewer rows than it may ends its table's
// turn.
func (s *Store) clean() error {
	now := s.clock().UnixMilli()
	s.mirror.Prune(now)
	cut := now - ClockMargin.Milliseconds()
	for _, c := range []struct {
		sql string
		arg int64
	}{
		{s.q.cleanRevoked, cut},
		{s.q.cleanSubjects, cut},
		{s.q.cleanDevices, cut},
		{s.q.cleanLog, s.retention.Milliseconds()},
	} {
		for {
			ctx, cancel := context.WithTimeout(s.ctx, s.syncTO)
			tag, err := s.pool.Exec(ctx, c.sql, c.arg, cleanBatch)
			cancel()
			if err != nil {
				return err
			}
			s.cleaned.Add(tag.RowsAffected())
			if tag.RowsAffected() < cleanBatch {
				break
			}
		}
	}
	return nil
}
