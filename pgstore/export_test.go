package pgstore

import "time"

// Fresh reports whether IsRevoked currently answers misses from the local
// mirror without asking PostgreSQL.
func (s *Store) Fresh() bool { return s.fresh.Fresh() }

// ConfirmedSince reports whether the mirror has been confirmed current as
// of a moment after t (t must carry a monotonic reading, as time.Now does).
func (s *Store) ConfirmedSince(t time.Time) bool { return s.fresh.ConfirmedSince(t) }

// Mirrors reports whether the local mirror holds a revocation of id, live
// or not, without asking PostgreSQL. The log is applied in order, so once
// it holds an id revoked through another Store, it holds every write
// logged before it.
func (s *Store) Mirrors(id [32]byte) bool {
	_, ok := s.mirror.Until(id)
	return ok
}

// HeldCutoff returns the cut-off the local mirror holds for subject, if
// any, without asking PostgreSQL.
func (s *Store) HeldCutoff(subject [32]byte) (time.Time, bool) {
	c, ok := s.mirror.SubjectCut(subject)
	return time.UnixMicro(c.At), ok
}

// FullReads returns how many full reads filled the mirror: the one New
// makes and one for each gap in the log.
func (s *Store) FullReads() int64 { return s.fullReads.Load() }

// FailedReads returns how many reads of the log (and LISTEN connections)
// failed.
func (s *Store) FailedReads() int64 { return s.failed.Load() }

// Notified returns how many notifications the Store has received.
func (s *Store) Notified() int64 { return s.notified.Load() }

// Cleaned returns how many rows the Store's cleanups have deleted.
func (s *Store) Cleaned() int64 { return s.cleaned.Load() }

// Clean runs one cleanup now.
func (s *Store) Clean() error { return s.clean() }

// ListenerPID returns the backend process id of the Store's LISTEN
// connection, zero before the first.
func (s *Store) ListenerPID() uint32 { return s.listenerPID.Load() }

// Names returns the Store's log table and channel.
func (s *Store) Names() (log, channel string) { return s.n.log, s.n.channel }
