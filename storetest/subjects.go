package storetest

import (
	"testing"
	"time"
)

// subject runs the rules of SubjectStore when the store implements it.
func (s *suite) subject(t *testing.T) {
	if !s.hasSubjects {
		t.Skip("the store does not implement SubjectStore")
	}
	s.rules(t, []rule{
		{"None", subjectNone},
		{"Recorded", subjectRecorded},
		{"MovesForward", subjectMovesForward},
		{"LaterUntilKept", subjectLaterUntilKept},
		{"Boundary", subjectBoundary},
		{"PastUntil", subjectPastUntil},
		{"ApartFromTokens", subjectApartFromTokens},
	})
}

// subjects returns st as a SubjectStore.
func (e *env) subjects(st RevocationStore) SubjectStore {
	e.t.Helper()
	ss, ok := st.(SubjectStore)
	if !ok {
		e.t.Fatalf("%T does not implement SubjectStore, though the first store did", st)
	}
	return ss
}

// cutoffAt returns a cut-off d from the clock's now, to the microsecond:
// tokens carry their issue time to the microsecond, and stores keep
// cut-offs so.
func (e *env) cutoffAt(d time.Duration) time.Time {
	return e.clock.Now().Add(d).Truncate(time.Microsecond)
}

// subjectNone: a subject without a cut-off has the zero time, and no error.
func subjectNone(e *env) {
	ss := e.subjects(e.store())
	e.cutoff(ss, e.id("nobody"), time.Time{}, "a subject never revoked has no cut-off")
}

// subjectRecorded: a cut-off is recorded as given, and a later one
// replaces it as given; other subjects keep none.
func subjectRecorded(e *env) {
	st := e.store()
	ss := e.subjects(st)
	sub, until := e.id("subject"), e.clock.Now().Add(time.Hour)
	c1 := e.cutoffAt(-10 * time.Second)
	e.revokeSubject(ss, sub, c1, until)
	e.settle(st)
	e.cutoff(ss, sub, c1, "the cut-off is recorded as given")
	e.cutoff(ss, e.id("other"), time.Time{}, "another subject has no cut-off")
	c2 := c1.Add(time.Second)
	e.revokeSubject(ss, sub, c2, until)
	e.settle(st)
	e.cutoff(ss, sub, c2, "a later cut-off is recorded as given")
}

// subjectMovesForward: a cut-off at or before the one held records the held
// one plus one microsecond, so every call moves it forward.
func subjectMovesForward(e *env) {
	st := e.store()
	ss := e.subjects(st)
	sub, until := e.id("subject"), e.clock.Now().Add(time.Hour)
	c := e.cutoffAt(0)
	e.revokeSubject(ss, sub, c, until)
	e.revokeSubject(ss, sub, c, until)
	e.settle(st)
	e.cutoff(ss, sub, c.Add(time.Microsecond), "a cut-off equal to the held one records the held one plus 1µs")
	e.revokeSubject(ss, sub, c.Add(-time.Hour), until)
	e.settle(st)
	e.cutoff(ss, sub, c.Add(2*time.Microsecond), "a cut-off before the held one records the held one plus 1µs")
	e.revokeSubject(ss, sub, c.Add(2*time.Microsecond), until)
	e.settle(st)
	e.cutoff(ss, sub, c.Add(3*time.Microsecond), "a cut-off equal to the held one, moved forward before, records it plus 1µs")
	e.revokeSubject(ss, sub, c.Add(time.Second), until)
	e.settle(st)
	e.cutoff(ss, sub, c.Add(time.Second), "a cut-off after the held one is recorded as given")
}

// subjectLaterUntilKept: the record lasts until the later until of the
// calls, whichever came first.
func subjectLaterUntilKept(e *env) {
	st := e.store()
	ss := e.subjects(st)
	now := e.clock.Now()
	early, late := now.Add(time.Hour), now.Add(2*time.Hour+2*e.h.Slack)
	shortened, extended := e.id("later-first"), e.id("earlier-first")
	c := e.cutoffAt(-time.Minute)
	e.revokeSubject(ss, shortened, c, late)
	e.revokeSubject(ss, shortened, c.Add(time.Second), early)
	e.revokeSubject(ss, extended, c, early)
	e.revokeSubject(ss, extended, c.Add(time.Second), late)
	e.settle(st)

	want := c.Add(time.Second)
	e.clock.Set(e.past(early))
	e.cutoff(ss, shortened, want, "an earlier until never shortens the record")
	e.cutoff(ss, extended, want, "a later until extends the record")
	e.clock.Set(late)
	e.cutoff(ss, shortened, want, "the later until is kept, its instant included")
	e.cutoff(ss, extended, want, "the later until is kept, its instant included")
	e.clock.Set(e.past(late))
	e.cutoff(ss, shortened, time.Time{}, "the record is gone after the later until")
	e.cutoff(ss, extended, time.Time{}, "the record is gone after the later until")
}

// subjectBoundary: the record holds through its until instant and is gone
// after it (plus Slack).
func subjectBoundary(e *env) {
	st := e.store()
	ss := e.subjects(st)
	sub, c := e.id("subject"), e.cutoffAt(0)
	until := e.clock.Now().Add(time.Hour) // between seconds and milliseconds
	e.revokeSubject(ss, sub, c, until)
	e.settle(st)
	e.clock.Set(until.Add(-time.Nanosecond))
	e.cutoff(ss, sub, c, "the record holds before its until")
	e.clock.Set(until)
	e.cutoff(ss, sub, c, "the record holds through its until instant, that instant included")
	e.clock.Set(e.past(until))
	e.cutoff(ss, sub, time.Time{}, "the record is gone after its until (plus Slack)")
}

// subjectPastUntil: an until before the store's now (and Slack) records
// nothing and is no error; an until at now is recorded.
func subjectPastUntil(e *env) {
	st := e.store()
	ss := e.subjects(st)
	now, c := e.clock.Now(), e.cutoffAt(-time.Minute)
	if err := ss.RevokeSubject(e.ctx, e.id("just-gone"), c, e.gone(now)); err != nil {
		e.t.Errorf("RevokeSubject(until before now): %v; an until before now is no error", err)
	}
	e.revokeSubject(ss, e.id("at-now"), c, now)
	e.settle(st)
	e.cutoff(ss, e.id("just-gone"), time.Time{}, "an until before now (and Slack) records nothing")
	e.cutoff(ss, e.id("at-now"), c, "an until at now is recorded")
}

// subjectApartFromTokens: a subject id and a token id are different
// records, even when their bytes are equal.
func subjectApartFromTokens(e *env) {
	st := e.store()
	ss := e.subjects(st)
	sub, tok := e.id("subject"), e.id("token")
	e.revokeSubject(ss, sub, e.cutoffAt(0), e.clock.Now().Add(time.Hour))
	e.revoke(st, tok, e.clock.Now().Add(time.Hour))
	e.settle(st)
	e.revoked(st, sub, false, "revoking a subject revokes no token of the same id")
	e.cutoff(ss, tok, time.Time{}, "revoking a token records no cut-off for a subject of the same id")
}
