package mirror

import (
	"context"
	"sync/atomic"
	"time"
)

// Freshness records when a mirror was last confirmed current, that is, known
// to hold every record the backend had at that moment, and tells whether
// that is within a staleness bound. Past the bound a store must not answer
// a miss from its mirror alone. Times are read from the monotonic clock, so
// wall-clock steps play no part. It is safe for concurrent use.
//
// Fresh is one atomic load: a flag that Confirm clears and Watch sets once
// the confirmation runs out, so that the request path does not read the
// clock.
type Freshness struct {
	bound time.Duration
	epoch time.Time
	// confirmed is when the mirror was last confirmed current, in
	// nanoseconds since epoch.
	confirmed atomic.Int64
	stale     atomic.Bool
}

// Instant is a moment on a Freshness's monotonic clock, from Now.
type Instant int64

// NewFreshness returns a Freshness with the given staleness bound, stale
// until the first Confirm.
func NewFreshness(bound time.Duration) *Freshness {
	f := &Freshness{bound: bound, epoch: time.Now()}
	f.stale.Store(true)
	return f
}

// Now returns the current instant, to be passed to Confirm once the mirror
// is known to have been current at it (say, when a read of the log was
// sent).
func (f *Freshness) Now() Instant { return Instant(time.Since(f.epoch)) }

// Bound returns the staleness bound.
func (f *Freshness) Bound() time.Duration { return f.bound }

// Fresh reports whether the last confirmation is within the bound.
func (f *Freshness) Fresh() bool { return !f.stale.Load() }

// Age returns how long ago the mirror was last confirmed current.
func (f *Freshness) Age() time.Duration {
	return time.Since(f.epoch) - time.Duration(f.confirmed.Load())
}

// ConfirmedSince reports whether the mirror has been confirmed current as of
// a moment after t, which must carry a monotonic reading (as time.Now's
// does).
func (f *Freshness) ConfirmedSince(t time.Time) bool {
	return f.confirmed.Load() > int64(t.Sub(f.epoch))
}

// Confirm records that the mirror held every record the backend had at at.
// A confirmation never moves backwards.
func (f *Freshness) Confirm(at Instant) {
	for {
		cur := f.confirmed.Load()
		if int64(at) <= cur || f.confirmed.CompareAndSwap(cur, int64(at)) {
			break
		}
	}
	// Cleared after confirmed moved: see Watch for why that order matters.
	if f.Age() <= f.bound {
		f.stale.Store(false)
	}
}

// Watch marks the mirror stale when its confirmation gets older than the
// bound, until ctx is done. It wakes when the current confirmation would run
// out, so a stale mirror is noticed within timer latency whatever the
// goroutine that confirms is doing. Run it in one goroutine per Freshness.
func (f *Freshness) Watch(ctx context.Context) {
	t := time.NewTimer(f.bound)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		left := f.bound - f.Age()
		if left <= 0 {
			f.stale.Store(true)
			// Confirm stores false after it moves confirmed. Re-reading the
			// age after storing true means that either this check sees the
			// new confirmation, or Confirm's store comes after ours.
			if f.Age() <= f.bound {
				f.stale.Store(false)
			}
			left = f.bound / 3
		}
		t.Reset(left + time.Millisecond)
	}
}
