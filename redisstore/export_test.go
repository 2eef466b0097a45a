package redisstore

import "time"

// Fresh reports whether IsRevoked currently answers misses from the local
// mirror without asking Redis.
func (s *Store) Fresh() bool { return s.fresh.Fresh() }

// ConfirmedSince reports whether the mirror has been confirmed current as of
// a moment after t (t must carry a monotonic reading, as time.Now does).
func (s *Store) ConfirmedSince(t time.Time) bool { return s.fresh.ConfirmedSince(t) }

// FullReads returns how many full reads of Redis filled the mirror: the one
// New makes and one for each gap in the log.
func (s *Store) FullReads() int64 { return s.fullReads.Load() }

// Resyncs returns how many periodic safety-net reads have succeeded.
func (s *Store) Resyncs() int64 { return s.resyncs.Load() }

// FailedReads returns how many reads of the log failed. Reads are made one
// after another, so once it has grown since a change, no read sent before
// the change is still under way.
func (s *Store) FailedReads() int64 { return s.failed.Load() }

// Dropped returns how many reads of the log were given up as silent.
func (s *Store) Dropped() int64 { return s.dropped.Load() }

// LogKey returns the key of the Store's log.
func (s *Store) LogKey() string { return s.log }

// Subjects drops subject cut-offs that have run out from the local mirror
// and returns how many it holds.
func (s *Store) Subjects() int {
	_, n := s.mirror.Prune(s.clock().UnixMilli())
	return n
}

// HeldCutoff returns the cut-off the local mirror holds for subject, if any,
// without asking Redis.
func (s *Store) HeldCutoff(subject [32]byte) (time.Time, bool) {
	c, ok := s.mirror.SubjectCut(subject)
	return time.UnixMicro(c.At), ok
}

// WithSplitLog makes the Store log each write by a script of its own before
// the script that writes the key, as it does on Cluster, on one node.
func WithSplitLog() Option {
	return func(c *config) error {
		c.split = true
		return nil
	}
}
