package storetest

import (
	"fmt"
	"testing"
	"time"
)

// revocation runs the rules of RevocationStore.
func (s *suite) revocation(t *testing.T) {
	s.rules(t, []rule{
		{"Boundary", boundary},
		{"LaterExpiryWins", laterExpiryWins},
		{"Unknown", unknown},
		{"PastExpiry", pastExpiry},
		{"AgainAfterExpiry", againAfterExpiry},
		{"ManyIDs", manyIDs},
	})
}

// boundary: a revocation holds through its expiry instant, that instant
// included, and is gone after it (plus Slack). The expiries fall between
// seconds, between milliseconds, and on a whole second, so that rounding
// down anywhere shows.
func boundary(e *env) {
	st := e.store()
	now := e.clock.Now()
	gap := time.Hour + 2*e.h.Slack // each expiry's checks end before the next one's begin
	exps := []time.Time{
		now.Add(gap),                           // …:26.535897932: between seconds, milliseconds, microseconds
		now.Add(2 * gap).Truncate(time.Second), // a whole second
		now.Add(3 * gap).Truncate(time.Millisecond).Add(time.Microsecond), // just past a millisecond
	}
	ids := make([][32]byte, len(exps))
	for i, exp := range exps {
		ids[i] = e.id(fmt.Sprint("token-", i))
		e.revoke(st, ids[i], exp)
	}
	e.settle(st)
	for i, exp := range exps {
		e.clock.Set(exp.Add(-time.Nanosecond))
		e.revoked(st, ids[i], true, "a revocation holds before its expiry")
		e.clock.Set(exp)
		e.revoked(st, ids[i], true, "a revocation holds through its expiry instant, that instant included")
		e.clock.Set(e.past(exp))
		e.revoked(st, ids[i], false, fmt.Sprintf("a revocation is gone after its expiry %s (Slack %v)", e.rel(exp), e.h.Slack))
	}
}

// laterExpiryWins: revoking an id again keeps the later expiry; an earlier
// one never shortens a revocation.
func laterExpiryWins(e *env) {
	st := e.store()
	now := e.clock.Now()
	early, late := now.Add(time.Hour), now.Add(2*time.Hour+2*e.h.Slack)
	shortened, extended := e.id("later-first"), e.id("earlier-first")
	e.revoke(st, shortened, late)
	e.revoke(st, shortened, early)
	e.revoke(st, extended, early)
	e.revoke(st, extended, late)
	e.settle(st)

	e.clock.Set(e.past(early))
	e.revoked(st, shortened, true, "revoking again with an earlier expiry never shortens a revocation")
	e.revoked(st, extended, true, "revoking again with a later expiry extends the revocation")
	e.clock.Set(late)
	e.revoked(st, shortened, true, "the later expiry is kept, its instant included")
	e.revoked(st, extended, true, "the later expiry is kept, its instant included")
	e.clock.Set(e.past(late))
	e.revoked(st, shortened, false, "gone after the later expiry")
	e.revoked(st, extended, false, "gone after the later expiry")
}

// unknown: an id that was never revoked is (false, nil), on an empty store
// and beside revoked ids.
func unknown(e *env) {
	st := e.store()
	ff := [32]byte{}
	for i := range ff {
		ff[i] = 0xff
	}
	e.revoked(st, e.id("never"), false, "an id never revoked is (false, nil) on an empty store")
	e.revoked(st, [32]byte{}, false, "the all-zero id, never revoked, is (false, nil)")
	e.revoke(st, e.id("revoked"), e.clock.Now().Add(time.Hour))
	e.settle(st)
	e.revoked(st, e.id("never"), false, "an id never revoked is (false, nil) beside a revoked one")
	e.revoked(st, [32]byte{}, false, "the all-zero id, never revoked, is (false, nil)")
	e.revoked(st, ff, false, "the all-0xff id, never revoked, is (false, nil)")
}

// pastExpiry: an expiry before the store's now records nothing and is no
// error (one within Slack of now may be reported until it is past Slack);
// an expiry at now is recorded; a past expiry never removes a revocation in
// force.
func pastExpiry(e *env) {
	st := e.store()
	now := e.clock.Now()
	for _, c := range []struct {
		name string
		exp  time.Time
	}{{"just-gone", e.gone(now)}, {"1h-ago", now.Add(-time.Hour)}} {
		if err := st.Revoke(e.ctx, e.id(c.name), c.exp); err != nil {
			e.t.Errorf("Revoke(expiry %s) at %s: %v; an expiry before now is no error", e.rel(c.exp), e.at(), err)
		}
	}
	atNow := e.id("at-now")
	e.revoke(st, atNow, now)
	e.revoke(st, atNow, now.Add(-time.Hour))
	e.settle(st)
	e.revoked(st, e.id("just-gone"), false, "an expiry before now (and Slack) records nothing")
	e.revoked(st, e.id("1h-ago"), false, "an expiry before now records nothing")
	e.revoked(st, atNow, true, "an expiry at now is recorded, and a later past expiry does not remove it")
}

// againAfterExpiry: an id revoked again after its revocation ran out is
// revoked anew until its new expiry.
func againAfterExpiry(e *env) {
	st := e.store()
	id := e.id("token")
	first := e.clock.Now().Add(time.Minute)
	e.revoke(st, id, first)
	e.settle(st)
	e.clock.Set(e.past(first))
	e.revoked(st, id, false, "gone after its first expiry")
	second := e.clock.Now().Add(time.Hour)
	e.revoke(st, id, second)
	e.settle(st)
	e.revoked(st, id, true, "revoked again after it ran out, it is revoked anew")
	e.clock.Set(second)
	e.revoked(st, id, true, "the new revocation holds through its expiry")
	e.clock.Set(e.past(second))
	e.revoked(st, id, false, "gone after the new expiry")
}

// manyIDs: a thousand revocations with their own expiries each hold
// through their expiry and go after it, beside a thousand ids never
// revoked; a second thousand written after the first half ran out hold too.
func manyIDs(e *env) {
	const n = 1000
	st := e.store()
	base := e.clock.Now()
	type rec struct {
		id  [32]byte
		exp time.Time
	}
	var recs []rec
	write := func(batch int, from time.Time) {
		for i := range n {
			r := rec{e.id(fmt.Sprint(batch, "-", i)), from.Add(time.Duration(i+1)*time.Minute + time.Duration(i))}
			e.revoke(st, r.id, r.exp)
			recs = append(recs, r)
		}
		e.settle(st)
	}
	check := func(when string) {
		e.t.Helper()
		now := e.clock.Now()
		var bad tally
		for i, r := range recs {
			want := !now.After(r.exp)
			if !want && now.Before(e.past(r.exp)) {
				continue // within Slack: either answer
			}
			got, err := st.IsRevoked(e.ctx, r.id)
			if err != nil || got != want {
				bad.add("id %d expiring at %s: (%v, %v), want (%v, nil)", i, e.rel(r.exp), got, err, want)
			}
		}
		for i := range n {
			got, err := st.IsRevoked(e.ctx, e.id(fmt.Sprint("never-", i)))
			if err != nil || got {
				bad.add("id never revoked %d: (%v, %v), want (false, nil)", i, got, err)
			}
		}
		e.report(&bad, "wrong answers "+when+" at "+e.at())
	}
	write(0, base)
	check("with every revocation in force")
	e.clock.Set(base.Add(n / 2 * time.Minute))
	check("with the first half run out")
	write(1, e.clock.Now())
	check("after a second thousand")
}
