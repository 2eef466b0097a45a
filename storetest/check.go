package storetest

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// at names the clock's time for failure messages, as an offset from the
// clock's start ("start+1h0m0.1s").
func (e *env) at() string { return e.rel(e.clock.Now()) }

// revoked checks that IsRevoked answers (want, nil) for id at the clock's
// time; why says which rule wants it.
func (e *env) revoked(s RevocationStore, id [32]byte, want bool, why string) {
	e.t.Helper()
	got, err := s.IsRevoked(e.ctx, id)
	switch {
	case err != nil:
		e.t.Errorf("IsRevoked at %s: %v; want (%v, nil): %s", e.at(), err, want, why)
	case got != want:
		e.t.Errorf("IsRevoked at %s = %v, want %v: %s", e.at(), got, want, why)
	}
}

// revoke calls Revoke and fails the rule on an error.
func (e *env) revoke(s RevocationStore, id [32]byte, exp time.Time) {
	e.t.Helper()
	if err := s.Revoke(e.ctx, id, exp); err != nil {
		e.t.Fatalf("Revoke(expiry %s) at %s: %v", e.rel(exp), e.at(), err)
	}
}

// rel names t as an offset from the clock's start.
func (e *env) rel(t time.Time) string {
	if d := t.Sub(start); d < 0 {
		return "start" + d.String()
	}
	return "start+" + t.Sub(start).String()
}

// cutoff checks that SubjectCutoff answers (want, nil) at the clock's time;
// a zero want means no cut-off.
func (e *env) cutoff(s SubjectStore, subject [32]byte, want time.Time, why string) {
	e.t.Helper()
	got, err := s.SubjectCutoff(e.ctx, subject)
	switch {
	case err != nil:
		e.t.Errorf("SubjectCutoff at %s: %v; want %s: %s", e.at(), err, e.cut(want), why)
	case !got.Equal(want):
		e.t.Errorf("SubjectCutoff at %s = %s, want %s: %s", e.at(), e.cut(got), e.cut(want), why)
	}
}

// cut names a cut-off for failure messages.
func (e *env) cut(t time.Time) string {
	if t.IsZero() {
		return "none (the zero time)"
	}
	return e.rel(t)
}

// revokeSubject calls RevokeSubject and fails the rule on an error.
func (e *env) revokeSubject(s SubjectStore, subject [32]byte, cutoff, until time.Time) {
	e.t.Helper()
	if err := s.RevokeSubject(e.ctx, subject, cutoff, until); err != nil {
		e.t.Fatalf("RevokeSubject(cutoff %s, until %s) at %s: %v", e.rel(cutoff), e.rel(until), e.at(), err)
	}
}

// saveDevice calls SaveDevice and fails the rule on an error.
func (e *env) saveDevice(s DeviceStore, subject, session [32]byte, record string, until time.Time) {
	e.t.Helper()
	if err := s.SaveDevice(e.ctx, subject, session, []byte(record), until); err != nil {
		e.t.Fatalf("SaveDevice(%q, until %s) at %s: %v", record, e.rel(until), e.at(), err)
	}
}

// devices checks that Devices answers exactly the records want, in any
// order.
func (e *env) devices(s DeviceStore, subject [32]byte, want []string, why string) {
	e.t.Helper()
	recs, err := s.Devices(e.ctx, subject)
	if err != nil {
		e.t.Errorf("Devices at %s: %v: %s", e.at(), err, why)
		return
	}
	got := make([]string, len(recs))
	for i, r := range recs {
		got[i] = string(r)
	}
	want = slices.Clone(want)
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		e.t.Errorf("Devices at %s = %s, want %s (missing %q, not wanted %q): %s",
			e.at(), list(got), list(want), minus(want, got), minus(got, want), why)
	}
}

// minus returns the records of a that b lacks; both are sorted.
func minus(a, b []string) []string {
	var out []string
	for _, r := range a {
		if _, found := slices.BinarySearch(b, r); !found {
			out = append(out, r)
		}
	}
	return out
}

// list prints records, shortened when long.
func list(recs []string) string {
	if len(recs) > 8 {
		return fmt.Sprintf("%d records [%s …]", len(recs), strings.Join(recs[:8], " "))
	}
	return fmt.Sprintf("%d records %q", len(recs), recs)
}

// tally collects the mismatches of a rule that checks many ids, so that a
// failure reports how many went wrong and the first few, not thousands of
// lines.
type tally struct {
	n     int
	first []string
}

func (t *tally) add(format string, args ...any) {
	t.n++
	if len(t.first) < 3 {
		t.first = append(t.first, fmt.Sprintf(format, args...))
	}
}

func (e *env) report(t *tally, what string) {
	e.t.Helper()
	if t.n > 0 {
		e.t.Errorf("%d %s, first: %s", t.n, what, strings.Join(t.first, "; "))
	}
}
