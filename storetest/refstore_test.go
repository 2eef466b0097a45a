package storetest_test

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix/storetest"
)

// refBackend is a reference store's data: exact to the nanosecond, shared
// by every refStore made over it (replicas), and breakable. A flaw, when
// set, breaks one rule on purpose, so that the suite can be shown to catch
// it.
type refBackend struct {
	flaw   string
	broken atomic.Bool

	mu       sync.Mutex
	tokens   map[[32]byte]time.Time
	subjects map[[32]byte]refCut
	devices  map[[32]byte][]refDevice
}

type refCut struct{ cutoff, until time.Time }

type refDevice struct {
	session [32]byte
	record  []byte
	until   time.Time
}

// The flaws a reference store can have, each named after what it gets
// wrong, with the rule that must catch it.
var flaws = map[string]string{
	"drops-boundary-instant":  "Revocation/Boundary",        // revoked only before the expiry, not at it
	"earlier-expiry-wins":     "Revocation/LaterExpiryWins", // a second Revoke replaces the expiry
	"past-expiry-error":       "Revocation/PastExpiry",      // an expiry before now is an error
	"keeps-earlier-cutoff":    "Subject/MovesForward",       // an earlier cut-off keeps the held one, not held+1µs
	"until-shortens":          "Subject/LaterUntilKept",     // a second RevokeSubject replaces the until
	"drops-oldest-device":     "Device/AtMost32",            // past MaxDevices the first saved goes
	"aliases-device-record":   "Device/Copied",              // keeps the caller's slice
	"not-revoked-when-broken": "Broken/FailsClosed",         // (false, nil) when the backend fails
	"no-cutoff-when-broken":   "Broken/FailsClosed",         // (zero, nil) when the backend fails
	"forgets-when-broken":     "Broken/Restored",            // loses what it held when the backend fails
	"replica-not-shared":      "Replica/Revoke",             // a replica gets a backend of its own
	"reads-wall-clock":        "Revocation/Boundary",        // time.Now, not the clock it was given
}

func newRefBackend(flaw string) *refBackend {
	return &refBackend{
		flaw:     flaw,
		tokens:   make(map[[32]byte]time.Time),
		subjects: make(map[[32]byte]refCut),
		devices:  make(map[[32]byte][]refDevice),
	}
}

var errBroken = errors.New("refstore: backend down")

var (
	_ storetest.SubjectStore = (*refStore)(nil)
	_ storetest.DeviceStore  = (*refStore)(nil)
)

// refStore is one store over a refBackend, reading its own clock.
type refStore struct {
	b   *refBackend
	now func() time.Time
}

// refHarness runs the suite on reference stores with flaw (none when
// empty).
func refHarness(flaw string) storetest.Harness {
	return storetest.Harness{
		New: func(t *testing.T, now func() time.Time) storetest.RevocationStore {
			if flaw == "reads-wall-clock" {
				now = time.Now
			}
			return &refStore{b: newRefBackend(flaw), now: now}
		},
		Replica: func(t *testing.T, s storetest.RevocationStore) storetest.RevocationStore {
			r := s.(*refStore)
			if flaw == "replica-not-shared" {
				return &refStore{b: newRefBackend(flaw), now: r.now}
			}
			return &refStore{b: r.b, now: r.now}
		},
		Break: func(t *testing.T, s storetest.RevocationStore) func() {
			b := s.(*refStore).b
			b.broken.Store(true)
			if flaw == "forgets-when-broken" {
				b.mu.Lock()
				clear(b.tokens)
				b.mu.Unlock()
			}
			return func() { b.broken.Store(false) }
		},
	}
}

func (s *refStore) Revoke(_ context.Context, id [32]byte, exp time.Time) error {
	if s.b.broken.Load() {
		return errBroken
	}
	now := s.now()
	if exp.Before(now) {
		if s.b.flaw == "past-expiry-error" {
			return errors.New("refstore: expiry in the past")
		}
		return nil
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if held, ok := s.b.tokens[id]; ok && held.After(exp) && s.b.flaw != "earlier-expiry-wins" {
		return nil
	}
	s.b.tokens[id] = exp
	return nil
}

func (s *refStore) IsRevoked(_ context.Context, id [32]byte) (bool, error) {
	if s.b.broken.Load() {
		if s.b.flaw == "not-revoked-when-broken" {
			return false, nil
		}
		return false, errBroken
	}
	now := s.now()
	s.b.mu.Lock()
	exp, ok := s.b.tokens[id]
	s.b.mu.Unlock()
	if s.b.flaw == "drops-boundary-instant" {
		return ok && now.Before(exp), nil
	}
	return ok && !now.After(exp), nil
}

func (s *refStore) RevokeSubject(_ context.Context, subject [32]byte, cutoff, until time.Time) error {
	if s.b.broken.Load() {
		return errBroken
	}
	now := s.now()
	if until.Before(now) {
		return nil
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	c := refCut{cutoff.Truncate(time.Microsecond), until}
	if held, ok := s.b.subjects[subject]; ok {
		if !held.cutoff.Before(c.cutoff) {
			c.cutoff = held.cutoff.Add(time.Microsecond)
			if s.b.flaw == "keeps-earlier-cutoff" {
				c.cutoff = held.cutoff
			}
		}
		if held.until.After(c.until) && s.b.flaw != "until-shortens" {
			c.until = held.until
		}
	}
	s.b.subjects[subject] = c
	return nil
}

func (s *refStore) SubjectCutoff(_ context.Context, subject [32]byte) (time.Time, error) {
	if s.b.broken.Load() {
		if s.b.flaw == "no-cutoff-when-broken" {
			return time.Time{}, nil
		}
		return time.Time{}, errBroken
	}
	now := s.now()
	s.b.mu.Lock()
	c, ok := s.b.subjects[subject]
	s.b.mu.Unlock()
	if !ok || now.After(c.until) {
		return time.Time{}, nil
	}
	return c.cutoff, nil
}

func (s *refStore) SaveDevice(_ context.Context, subject, session [32]byte, record []byte, until time.Time) error {
	if s.b.broken.Load() {
		return errBroken
	}
	now := s.now()
	if until.Before(now) {
		return nil
	}
	if s.b.flaw != "aliases-device-record" {
		record = bytes.Clone(record)
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	list := slices.DeleteFunc(s.b.devices[subject], func(d refDevice) bool {
		return d.session == session || now.After(d.until)
	})
	if len(list) == storetest.MaxDevices {
		first := 0
		if s.b.flaw != "drops-oldest-device" {
			for i, d := range list {
				if d.until.Before(list[first].until) {
					first = i
				}
			}
		}
		list = slices.Delete(list, first, first+1)
	}
	s.b.devices[subject] = append(list, refDevice{session, record, until})
	return nil
}

func (s *refStore) Devices(_ context.Context, subject [32]byte) ([][]byte, error) {
	if s.b.broken.Load() {
		return nil, errBroken
	}
	now := s.now()
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	var out [][]byte
	for _, d := range s.b.devices[subject] {
		if !now.After(d.until) {
			rec := d.record
			if s.b.flaw != "aliases-device-record" {
				rec = bytes.Clone(rec)
			}
			out = append(out, rec)
		}
	}
	return out, nil
}

func (s *refStore) DeleteDevice(_ context.Context, subject, session [32]byte) error {
	if s.b.broken.Load() {
		return errBroken
	}
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.b.devices[subject] = slices.DeleteFunc(s.b.devices[subject], func(d refDevice) bool { return d.session == session })
	return nil
}
