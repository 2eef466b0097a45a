package storetest

import (
	"sync"
	"testing"
	"time"
)

// broken runs the rules for a store whose backend fails, when the harness
// can break it.
func (s *suite) broken(t *testing.T) {
	if s.h.Break == nil {
		t.Skip("Harness.Break is nil")
	}
	s.rules(t, []rule{
		{"FailsClosed", brokenFailsClosed},
		{"Restored", brokenRestored},
	})
}

// brokenStore returns a store holding a revocation and, when it is a
// SubjectStore, a cut-off, with its backend broken; restore is also called
// when the test ends.
func (e *env) brokenStore() (st RevocationStore, tok, sub [32]byte, c time.Time, restore func()) {
	e.t.Helper()
	st = e.store()
	tok, sub, c = e.id("token"), e.id("subject"), e.cutoffAt(0)
	e.revoke(st, tok, e.clock.Now().Add(time.Hour))
	if e.hasSubjects(st) {
		e.revokeSubject(e.subjects(st), sub, c, e.clock.Now().Add(time.Hour))
	}
	e.settle(st)
	r := e.h.Break(e.t, st)
	if r == nil {
		e.t.Fatal("storetest: Harness.Break returned a nil restore function")
	}
	restore = sync.OnceFunc(r)
	e.t.Cleanup(restore)
	return st, tok, sub, c, restore
}

// brokenFailsClosed: while the backend fails, a write returns an error (a
// logout is never lost silently), and a read that the store cannot answer
// returns an error, never "not revoked" or "no cut-off". A revocation the
// store still holds may be reported revoked.
func brokenFailsClosed(e *env) {
	st, tok, sub, _, _ := e.brokenStore()
	later := e.clock.Now().Add(time.Hour)
	if err := st.Revoke(e.ctx, e.id("during"), later); err == nil {
		e.t.Error("Revoke on a broken backend returned nil: a logout would be lost silently; want an error")
	}
	if ok, err := st.IsRevoked(e.ctx, e.id("never")); err == nil {
		e.t.Errorf("IsRevoked of an unknown id on a broken backend = (%v, nil); want an error (fail closed)", ok)
	}
	if ok, err := st.IsRevoked(e.ctx, tok); err == nil && !ok {
		e.t.Error("IsRevoked of a revoked id on a broken backend = (false, nil); want true or an error (fail closed)")
	}
	if !e.hasSubjects(st) {
		return
	}
	ss := e.subjects(st)
	if err := ss.RevokeSubject(e.ctx, e.id("during"), e.cutoffAt(0), later); err == nil {
		e.t.Error("RevokeSubject on a broken backend returned nil: a logout everywhere would be lost silently; want an error")
	}
	for _, c := range []struct {
		name    string
		subject [32]byte
	}{{"a subject with a cut-off", sub}, {"a subject without one", e.id("nobody")}} {
		if got, err := ss.SubjectCutoff(e.ctx, c.subject); err == nil {
			e.t.Errorf("SubjectCutoff of %s on a broken backend = (%s, nil); want an error: the cut-off in force may be newer", c.name, e.cut(got))
		}
	}
}

// brokenRestored: once the backend works again, what the store held before
// holds, and it reads and writes as before.
func brokenRestored(e *env) {
	st, tok, sub, c, restore := e.brokenStore()
	restore()
	e.settle(st)
	e.revoked(st, tok, true, "a revocation made before the backend failed holds after it is back")
	e.revoked(st, e.id("never"), false, "an unknown id is (false, nil) once the backend is back")
	after := e.id("after")
	e.revoke(st, after, e.clock.Now().Add(time.Hour))
	e.settle(st)
	e.revoked(st, after, true, "a revocation made after the backend is back holds")
	if e.hasSubjects(st) {
		e.cutoff(e.subjects(st), sub, c, "a cut-off recorded before the backend failed holds after it is back")
	}
}
