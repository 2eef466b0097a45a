package storetest

import (
	"context"
	"crypto/sha256"
	"sync/atomic"
	"testing"
	"time"
)

// RevocationStore is authix's RevocationStore written with standard types:
// authix.TokenID is an alias of [32]byte, so every authix store satisfies it.
type RevocationStore interface {
	Revoke(ctx context.Context, id [32]byte, expiresAt time.Time) error
	IsRevoked(ctx context.Context, id [32]byte) (bool, error)
}

// SubjectStore is authix's optional SubjectStore (authix.SubjectID is an
// alias of [32]byte). The suite runs its subject rules on a store that
// implements it.
type SubjectStore interface {
	RevokeSubject(ctx context.Context, subject [32]byte, cutoff, until time.Time) error
	SubjectCutoff(ctx context.Context, subject [32]byte) (time.Time, error)
}

// DeviceStore is authix's optional DeviceStore. The suite runs its device
// rules on a store that implements it.
type DeviceStore interface {
	SaveDevice(ctx context.Context, subject, session [32]byte, record []byte, until time.Time) error
	Devices(ctx context.Context, subject [32]byte) ([][]byte, error)
	DeleteDevice(ctx context.Context, subject, session [32]byte) error
}

// MaxDevices is how many records a DeviceStore keeps per subject at most,
// as authix.MaxDevices.
const MaxDevices = 32

// Harness tells the suite how to make, settle and break the store under
// test. Only New is required.
type Harness struct {
	// New returns a new, empty store that reads the time from now and from
	// nothing else; the suite moves that clock. The harness closes the
	// store when t ends (t.Cleanup).
	New func(t *testing.T, now func() time.Time) RevocationStore

	// Replica returns another store over the same backend as s, reading
	// the same clock: a second replica of the service. When it is nil the
	// replica rules are skipped.
	Replica func(t *testing.T, s RevocationStore) RevocationStore

	// Settle returns once every write that returned before it was called,
	// through any store of the backend, is visible through each of stores.
	// It is for stores that learn of writes asynchronously, such as a local
	// mirror that follows a log in the backend. The suite calls it before
	// reading what it wrote; nil means writes are visible at once.
	Settle func(t *testing.T, stores ...RevocationStore)

	// Break makes the backend of s fail, and returns once s can no longer
	// answer from anything but that backend: a store with a local mirror
	// must also be past its staleness bound. The restore function it
	// returns makes the backend work again, with what it held before, and
	// returns once s can write again. When Break is nil the failure rules
	// are skipped.
	Break func(t *testing.T, s RevocationStore) (restore func())

	// Slack is how long past an expiry (or a subject's or device's until)
	// the store may still report the record: the unit it rounds expiries
	// up to, and any rounding of its clock. A record must hold through its
	// instant and be gone at every instant more than Slack after it. The
	// default, zero, means exact: gone one nanosecond after. It must be
	// under a minute.
	Slack time.Duration
}

// Run runs the conformance rules on the store that h makes, each as a
// subtest named after its rule: Revocation/…, Subject/…, Device/…,
// Concurrent/…, Replica/… and Broken/…. Rules for optional interfaces the
// store does not implement, and for harness hooks that are nil, are skipped.
func Run(t *testing.T, h Harness) {
	t.Helper()
	if h.New == nil {
		t.Fatal("storetest: Harness.New is nil")
	}
	if h.Slack < 0 || h.Slack >= time.Minute {
		t.Fatalf("storetest: Harness.Slack is %v; it must be at least zero and under a minute", h.Slack)
	}
	s := &suite{h: h}
	probe := s.env(t, newClock()).store()
	_, s.hasSubjects = probe.(SubjectStore)
	_, s.hasDevices = probe.(DeviceStore)
	t.Run("Revocation", s.revocation)
	t.Run("Subject", s.subject)
	t.Run("Device", s.device)
	t.Run("Concurrent", s.concurrent)
	t.Run("Replica", s.replica)
	t.Run("Broken", s.broken)
}

// suite runs the rules for one harness, on a store that implements the
// optional interfaces its first store did.
type suite struct {
	h                       Harness
	hasSubjects, hasDevices bool
}

// rules runs each rule as a subtest, with a clock of its own.
func (s *suite) rules(t *testing.T, rules []rule) {
	t.Helper()
	for _, r := range rules {
		t.Run(r.name, func(t *testing.T) {
			c := newClock()
			r.run(s.env(t, c))
		})
	}
}

// rule is one subtest; it makes its stores with env.store.
type rule struct {
	name string
	run  func(e *env)
}

// env is what a rule works with: its clock and the harness.
type env struct {
	t     *testing.T
	h     Harness
	clock *clock
	ctx   context.Context
}

func (s *suite) env(t *testing.T, c *clock) *env {
	return &env{t: t, h: s.h, clock: c, ctx: t.Context()}
}

// store makes a new store on the rule's clock.
func (e *env) store() RevocationStore {
	e.t.Helper()
	st := e.h.New(e.t, e.clock.Now)
	if st == nil {
		e.t.Fatal("storetest: Harness.New returned nil")
	}
	return st
}

// settle waits, through the harness, until earlier writes are visible
// through each of stores.
func (e *env) settle(stores ...RevocationStore) {
	e.t.Helper()
	if e.h.Settle != nil {
		e.h.Settle(e.t, stores...)
	}
}

// past returns the first instant at which a record that lasts until at must
// be gone: one nanosecond past the harness's Slack.
func (e *env) past(at time.Time) time.Time { return at.Add(e.h.Slack + time.Nanosecond) }

// gone returns the latest expiry of a record that must be gone at now: one
// nanosecond before now, less the harness's Slack.
func (e *env) gone(now time.Time) time.Time { return now.Add(-e.h.Slack - time.Nanosecond) }

// id names a token or subject id after the test and name, so that no two
// rules share one.
func (e *env) id(name string) [32]byte {
	return sha256.Sum256([]byte(e.t.Name() + "\x00" + name))
}

// clock is the fake clock the suite owns. Its start has nanoseconds that
// no whole second, millisecond or microsecond rounds to, so that rounding
// in the wrong direction shows.
type clock struct{ ns atomic.Int64 }

// start is the clock's first reading: 2031-03-14 15:09:26.535897932 UTC.
var start = time.Date(2031, 3, 14, 15, 9, 26, 535897932, time.UTC)

func newClock() *clock {
	c := &clock{}
	c.ns.Store(start.UnixNano())
	return c
}

// Now is the store's clock; it is safe for concurrent use.
func (c *clock) Now() time.Time { return time.Unix(0, c.ns.Load()).UTC() }

// Set moves the clock to t, forward or back.
func (c *clock) Set(t time.Time) { c.ns.Store(t.UnixNano()) }

// Add moves the clock by d.
func (c *clock) Add(d time.Duration) { c.ns.Add(int64(d)) }
