package storetest

import (
	"sync"
	"testing"
	"time"
)

// replica runs the rules for two stores over one backend, when the harness
// can make a replica.
func (s *suite) replica(t *testing.T) {
	if s.h.Replica == nil {
		t.Skip("Harness.Replica is nil")
	}
	rules := []rule{
		{"Revoke", replicaRevoke},
		{"StartedLater", replicaStartedLater},
	}
	if s.hasSubjects {
		rules = append(rules, rule{"SubjectMovesForward", replicaSubject}, rule{"SubjectConcurrent", replicaSubjectConcurrent})
	}
	if s.hasDevices {
		rules = append(rules, rule{"Devices", replicaDevices})
	}
	s.rules(t, rules)
}

// pair returns a store and a replica of it.
func (e *env) pair() (a, b RevocationStore) {
	e.t.Helper()
	a = e.store()
	b = e.h.Replica(e.t, a)
	if b == nil {
		e.t.Fatal("storetest: Harness.Replica returned nil")
	}
	return a, b
}

// replicaRevoke: a revocation made through one store holds through the
// other, and the later expiry wins whichever store wrote it.
func replicaRevoke(e *env) {
	a, b := e.pair()
	now := e.clock.Now()
	early, late := now.Add(time.Hour), now.Add(2*time.Hour+2*e.h.Slack)
	extended, shortened := e.id("extended"), e.id("shortened")
	e.revoke(a, extended, early)
	e.revoke(a, shortened, late)
	e.settle(a, b)
	e.revoked(b, extended, true, "a revocation made through another store holds")
	e.revoke(b, extended, late)
	e.revoke(b, shortened, early)
	e.settle(a, b)
	e.clock.Set(e.past(early))
	for _, st := range []RevocationStore{a, b} {
		e.revoked(st, extended, true, "a later expiry written through another store extends the revocation")
		e.revoked(st, shortened, true, "an earlier expiry written through another store never shortens it")
	}
	e.clock.Set(e.past(late))
	for _, st := range []RevocationStore{a, b} {
		e.revoked(st, extended, false, "gone after the later expiry")
		e.revoked(st, shortened, false, "gone after the later expiry")
	}
}

// replicaStartedLater: a store started after writes through another one
// knows them.
func replicaStartedLater(e *env) {
	a := e.store()
	tok, sub := e.id("token"), e.id("subject")
	e.revoke(a, tok, e.clock.Now().Add(time.Hour))
	c := e.cutoffAt(0)
	if e.hasSubjects(a) {
		e.revokeSubject(e.subjects(a), sub, c, e.clock.Now().Add(time.Hour))
	}
	b := e.h.Replica(e.t, a)
	e.settle(b)
	e.revoked(b, tok, true, "a store started later knows the revocations made before it")
	if e.hasSubjects(a) {
		e.cutoff(e.subjects(b), sub, c, "a store started later knows the cut-offs recorded before it")
	}
}

func (e *env) hasSubjects(st RevocationStore) bool { _, ok := st.(SubjectStore); return ok }

// replicaSubject: a cut-off recorded through one store is the one another
// store holds, and moving it forward through that store starts from it.
func replicaSubject(e *env) {
	a, b := e.pair()
	sa, sb := e.subjects(a), e.subjects(b)
	sub, c, until := e.id("subject"), e.cutoffAt(0), e.clock.Now().Add(time.Hour)
	e.revokeSubject(sa, sub, c, until)
	e.settle(a, b)
	e.cutoff(sb, sub, c, "a cut-off recorded through another store holds")
	e.revokeSubject(sb, sub, c.Add(-time.Hour), until) // a replica whose clock runs behind
	e.settle(a, b)
	e.cutoff(sa, sub, c.Add(time.Microsecond), "an earlier cut-off through another store moves the held one forward 1µs")
	e.cutoff(sb, sub, c.Add(time.Microsecond), "an earlier cut-off through another store moves the held one forward 1µs")
}

// replicaSubjectConcurrent: RevokeSubject calls through two stores at once
// are each one atomic step: n calls move one cut-off forward n-1 times.
func replicaSubjectConcurrent(e *env) {
	a, b := e.pair()
	sub, c, until := e.id("subject"), e.cutoffAt(0), e.clock.Now().Add(time.Hour)
	var bad errs
	var wg sync.WaitGroup
	for i := range writers {
		ss := e.subjects([]RevocationStore{a, b}[i%2])
		wg.Go(func() {
			for range perG {
				if err := ss.RevokeSubject(e.ctx, sub, c, until); err != nil {
					bad.add("RevokeSubject: %v", err)
				}
			}
		})
	}
	wg.Wait()
	e.report(&bad.tally, "calls failed")
	e.settle(a, b)
	want := c.Add((writers*perG - 1) * time.Microsecond)
	e.cutoff(e.subjects(a), sub, want, "concurrent RevokeSubject calls through two stores each move the cut-off forward once")
	e.cutoff(e.subjects(b), sub, want, "concurrent RevokeSubject calls through two stores each move the cut-off forward once")
}

// replicaDevices: a record saved through one store is listed through the
// other, and deleting it there removes it everywhere.
func replicaDevices(e *env) {
	a, b := e.pair()
	da, db := e.devicesOf(a), e.devicesOf(b)
	sub, session := e.id("subject"), e.id("session")
	e.saveDevice(da, sub, session, "device", e.clock.Now().Add(time.Hour))
	e.settle(a, b)
	e.devices(db, sub, []string{"device"}, "a record saved through another store is listed")
	if err := db.DeleteDevice(e.ctx, sub, session); err != nil {
		e.t.Fatalf("DeleteDevice: %v", err)
	}
	e.settle(a, b)
	e.devices(da, sub, nil, "a record deleted through another store is gone")
}
