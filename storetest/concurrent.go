package storetest

import (
	"fmt"
	"sync"
	"testing"
	"time"
)

// Sizes of the concurrent rules: bounded, so that they end by themselves,
// and enough goroutines that the race detector sees every method against
// every other.
const (
	writers = 4
	readers = 4
	perG    = 32 // operations per goroutine
)

// concurrent runs the rules that call a store from many goroutines at once.
func (s *suite) concurrent(t *testing.T) {
	rules := []rule{
		{"RevokeAndRead", concurrentRevoke},
		{"SameIDLaterExpiryWins", concurrentSameID},
	}
	if s.hasSubjects {
		rules = append(rules, rule{"SubjectMovesForward", concurrentSubject})
	}
	if s.hasDevices {
		rules = append(rules, rule{"DevicesAtMost32", concurrentDevices})
	}
	s.rules(t, rules)
}

// errs collects errors from goroutines, for the rule's goroutine to report.
type errs struct {
	mu    sync.Mutex
	tally tally
}

func (x *errs) add(format string, args ...any) {
	x.mu.Lock()
	x.tally.add(format, args...)
	x.mu.Unlock()
}

// ticking moves the clock forward a microsecond at a time, in a bounded
// number of steps, so that stores read it while it changes. The function it
// returns stops it and waits until it has.
func (e *env) ticking() (stop func()) {
	done, quit := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		for range 10_000 {
			select {
			case <-quit:
				return
			default:
			}
			e.clock.Add(time.Microsecond)
		}
	}()
	return func() { close(quit); <-done }
}

// concurrentRevoke: writers revoke ids while readers ask for them; every
// revocation is found afterwards, and no call fails.
func concurrentRevoke(e *env) {
	st := e.store()
	exp := e.clock.Now().Add(time.Hour)
	id := func(w, i int) [32]byte { return e.id(fmt.Sprint(w, "-", i)) }
	var bad errs
	var wg sync.WaitGroup
	stop := e.ticking()
	for w := range writers {
		wg.Go(func() {
			for i := range perG {
				if err := st.Revoke(e.ctx, id(w, i), exp); err != nil {
					bad.add("Revoke: %v", err)
				}
			}
		})
	}
	for r := range readers {
		wg.Go(func() {
			for i := range perG * writers {
				if _, err := st.IsRevoked(e.ctx, id(i%writers, (i+r)%perG)); err != nil {
					bad.add("IsRevoked: %v", err)
				}
			}
		})
	}
	wg.Wait()
	stop()
	e.report(&bad.tally, "calls failed")
	e.settle(st)
	var missing tally
	for w := range writers {
		for i := range perG {
			if ok, err := st.IsRevoked(e.ctx, id(w, i)); err != nil || !ok {
				missing.add("writer %d id %d: (%v, %v)", w, i, ok, err)
			}
		}
	}
	e.report(&missing, "revocations written concurrently are not revoked")
}

// concurrentSameID: goroutines revoke one id with different expiries at
// once; the latest expiry is kept whatever the order.
func concurrentSameID(e *env) {
	st := e.store()
	id := e.id("token")
	base := e.clock.Now().Add(time.Hour)
	var bad errs
	var wg sync.WaitGroup
	stop := e.ticking()
	for w := range writers {
		wg.Go(func() {
			for i := range perG {
				if err := st.Revoke(e.ctx, id, base.Add(time.Duration(i*writers+w)*time.Second)); err != nil {
					bad.add("Revoke: %v", err)
				}
			}
		})
	}
	wg.Wait()
	stop()
	e.report(&bad.tally, "calls failed")
	e.settle(st)
	last := base.Add(time.Duration(perG*writers-1) * time.Second)
	e.clock.Set(last)
	e.revoked(st, id, true, "after concurrent Revokes of one id the latest expiry is kept")
	e.clock.Set(e.past(last))
	e.revoked(st, id, false, "gone after the latest expiry")
}

// concurrentSubject: goroutines call RevokeSubject with the same cut-off at
// once, while readers ask for it. Each call moves the cut-off forward, so
// n calls leave the cut-off plus n-1 microseconds (a lost update shows as
// less), and no reader ever sees it go back.
func concurrentSubject(e *env) {
	st := e.store()
	ss := e.subjects(st)
	sub, c, until := e.id("subject"), e.cutoffAt(0), e.clock.Now().Add(time.Hour)
	var bad errs
	var wg sync.WaitGroup
	stop := e.ticking()
	for range writers {
		wg.Go(func() {
			for range perG {
				if err := ss.RevokeSubject(e.ctx, sub, c, until); err != nil {
					bad.add("RevokeSubject: %v", err)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			var seen time.Time
			for range perG {
				got, err := ss.SubjectCutoff(e.ctx, sub)
				switch {
				case err != nil:
					bad.add("SubjectCutoff: %v", err)
				case got.Before(seen):
					bad.add("SubjectCutoff went back from %s to %s", e.rel(seen), e.rel(got))
				default:
					seen = got
				}
			}
		})
	}
	wg.Wait()
	stop()
	e.report(&bad.tally, "wrong answers")
	e.settle(st)
	e.cutoff(ss, sub, c.Add((writers*perG-1)*time.Microsecond),
		fmt.Sprintf("%d concurrent RevokeSubject calls with one cut-off move it forward %d times: each is one atomic step", writers*perG, writers*perG-1))
}

// concurrentDevices: goroutines save more sessions than MaxDevices for one
// subject while readers list them; no list is ever longer than MaxDevices,
// and MaxDevices remain.
func concurrentDevices(e *env) {
	st := e.store()
	ds := e.devicesOf(st)
	sub, base := e.id("subject"), e.clock.Now().Add(time.Hour)
	var bad errs
	var wg sync.WaitGroup
	stop := e.ticking()
	const perW = MaxDevices/writers + 4 // past the limit in all
	for w := range writers {
		wg.Go(func() {
			for i := range perW {
				rec := fmt.Sprintf("device %d-%d", w, i)
				if err := ds.SaveDevice(e.ctx, sub, e.id(rec), []byte(rec), base.Add(time.Duration(i)*time.Minute)); err != nil {
					bad.add("SaveDevice: %v", err)
				}
			}
		})
	}
	for range readers {
		wg.Go(func() {
			for range perG {
				got, err := ds.Devices(e.ctx, sub)
				switch {
				case err != nil:
					bad.add("Devices: %v", err)
				case len(got) > MaxDevices:
					bad.add("Devices listed %d records, more than MaxDevices", len(got))
				}
			}
		})
	}
	wg.Wait()
	stop()
	e.report(&bad.tally, "wrong answers")
	e.settle(st)
	if got, err := ds.Devices(e.ctx, sub); err != nil || len(got) != MaxDevices {
		e.t.Errorf("after %d concurrent saves Devices = %d records, %v; want MaxDevices (%d)", writers*perW, len(got), err, MaxDevices)
	}
}
