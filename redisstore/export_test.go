package redisstore

import "time"

// Fresh reports whether IsRevoked currently answers misses from the local
// mirror without asking Redis.
func (s *Store) Fresh() bool { return !s.stale.Load() }

// ConfirmedSince reports whether the mirror has been confirmed current as of
// a moment after t (t must carry a monotonic reading, as time.Now does).
func (s *Store) ConfirmedSince(t time.Time) bool {
	return s.confirmed.Load() > int64(t.Sub(s.epoch))
}

// Resyncs returns how many periodic full syncs have succeeded.
func (s *Store) Resyncs() int64 { return s.resyncs.Load() }

// Replaced returns how many times the subscription was given up as dead and
// replaced.
func (s *Store) Replaced() int64 { return s.replaced.Load() }

// Subjects drops subject cut-offs that have run out from the local mirror
// and returns how many it holds.
func (s *Store) Subjects() int { return s.mirror.pruneSubjects(s.clock().UnixMilli()) }

// HeldCutoff returns the cut-off the local mirror holds for subject, if any,
// without asking Redis.
func (s *Store) HeldCutoff(subject [32]byte) (time.Time, bool) {
	c, ok := s.mirror.subject(subject)
	return time.UnixMicro(c.cutoff), ok
}
