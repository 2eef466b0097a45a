package storetest

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// device runs the rules of DeviceStore when the store implements it.
func (s *suite) device(t *testing.T) {
	if !s.hasDevices {
		t.Skip("the store does not implement DeviceStore")
	}
	s.rules(t, []rule{
		{"None", deviceNone},
		{"SaveReplaceDelete", deviceSaveReplaceDelete},
		{"AtMost32", deviceAtMost32},
		{"Until", deviceUntil},
		{"Copied", deviceCopied},
	})
}

// devicesOf returns st as a DeviceStore.
func (e *env) devicesOf(st RevocationStore) DeviceStore {
	e.t.Helper()
	ds, ok := st.(DeviceStore)
	if !ok {
		e.t.Fatalf("%T does not implement DeviceStore, though the first store did", st)
	}
	return ds
}

// deviceNone: a subject without records lists none, and deleting a record
// that does not exist is no error.
func deviceNone(e *env) {
	ds := e.devicesOf(e.store())
	e.devices(ds, e.id("nobody"), nil, "a subject with no records lists none")
	if err := ds.DeleteDevice(e.ctx, e.id("nobody"), e.id("no-session")); err != nil {
		e.t.Errorf("DeleteDevice of an unknown record: %v; want nil", err)
	}
}

// deviceSaveReplaceDelete: records are listed per subject; saving a
// session again replaces its record; deleting removes only that session's
// record of that subject.
func deviceSaveReplaceDelete(e *env) {
	st := e.store()
	ds := e.devicesOf(st)
	alice, bob := e.id("alice"), e.id("bob")
	s1, s2 := e.id("session-1"), e.id("session-2")
	until := e.clock.Now().Add(time.Hour)
	e.saveDevice(ds, alice, s1, "alice one", until)
	e.saveDevice(ds, alice, s2, "alice two", until)
	e.saveDevice(ds, bob, s2, "bob two", until)
	e.settle(st)
	e.devices(ds, alice, []string{"alice one", "alice two"}, "each saved record is listed")
	e.devices(ds, bob, []string{"bob two"}, "a subject lists only its own records")

	e.saveDevice(ds, alice, s1, "alice one renewed", until.Add(time.Hour))
	e.settle(st)
	e.devices(ds, alice, []string{"alice one renewed", "alice two"}, "saving a session again replaces its record")

	for range 2 {
		if err := ds.DeleteDevice(e.ctx, alice, s1); err != nil {
			e.t.Fatalf("DeleteDevice: %v", err)
		}
	}
	e.settle(st)
	e.devices(ds, alice, []string{"alice two"}, "a deleted record is no longer listed; deleting it again is no error")
	e.devices(ds, bob, []string{"bob two"}, "deleting a session of one subject leaves another subject's record of it")
}

// deviceAtMost32: a subject keeps MaxDevices records at most; past that the
// record that ends first goes, whatever the order of saving. Saving a
// session again at the limit drops nothing, and records that ran out do not
// count.
func deviceAtMost32(e *env) {
	st := e.store()
	ds := e.devicesOf(st)
	sub, base := e.id("subject"), e.clock.Now()
	// Session i ends (rank[i]+1) minutes from now. They are saved in a
	// shuffled order of ends, where the first saved is not the first to
	// end, so that dropping the oldest save instead shows.
	var rank, byRank [MaxDevices]int
	for i := range rank {
		rank[i] = (i*7 + 3) % MaxDevices // 7 is prime to 32: a permutation
		byRank[rank[i]] = i
	}
	end := func(i int) time.Time { return base.Add(time.Duration(rank[i]+1) * time.Minute) }
	name := func(i int) string { return fmt.Sprintf("device %02d ends %dm", i, rank[i]+1) }
	var want []string
	for i := range MaxDevices {
		e.saveDevice(ds, sub, e.id(fmt.Sprint("session-", i)), name(i), end(i))
		want = append(want, name(i))
	}
	e.settle(st)
	e.devices(ds, sub, want, "MaxDevices records are all kept")

	e.saveDevice(ds, sub, e.id("session-5"), name(5)+" renewed", end(5))
	want[5] = name(5) + " renewed"
	e.settle(st)
	e.devices(ds, sub, want, "saving a session again at the limit replaces its record and drops no other")

	late := base.Add(time.Hour)
	e.saveDevice(ds, sub, e.id("session-new"), "new device", late)
	want = slices.DeleteFunc(want, func(w string) bool { return w == name(byRank[0]) })
	want = append(want, "new device")
	e.settle(st)
	e.devices(ds, sub, want, "past MaxDevices, the record that ends first goes")

	// The records of rank 1 and 2 end at 2 and 3 minutes.
	e.clock.Set(e.past(base.Add(3 * time.Minute)))
	live := slices.DeleteFunc(slices.Clone(want), func(w string) bool {
		return w == name(byRank[1]) || w == name(byRank[2])
	})
	e.devices(ds, sub, live, "records are gone after their until")
	e.saveDevice(ds, sub, e.id("session-new-2"), "second new device", late)
	e.saveDevice(ds, sub, e.id("session-new-3"), "third new device", late)
	e.settle(st)
	e.devices(ds, sub, append(live, "second new device", "third new device"), "records that ran out do not count towards MaxDevices")
}

// deviceUntil: a record is listed through its until instant and gone after
// it (plus Slack); an until before now (and Slack) records nothing.
func deviceUntil(e *env) {
	st := e.store()
	ds := e.devicesOf(st)
	sub, now := e.id("subject"), e.clock.Now()
	until := now.Add(time.Hour) // between seconds and milliseconds
	e.saveDevice(ds, sub, e.id("session"), "device", until)
	if err := ds.SaveDevice(e.ctx, sub, e.id("past"), []byte("past device"), e.gone(now)); err != nil {
		e.t.Errorf("SaveDevice(until before now): %v; an until before now is no error", err)
	}
	e.saveDevice(ds, sub, e.id("at-now"), "device until now", now)
	e.settle(st)
	e.devices(ds, sub, []string{"device", "device until now"}, "an until before now (and Slack) records nothing; one at now is recorded")
	e.clock.Set(until)
	e.devices(ds, sub, []string{"device"}, "a record is listed through its until instant, that instant included")
	e.clock.Set(e.past(until))
	e.devices(ds, sub, nil, "a record is gone after its until (plus Slack)")
}

// deviceCopied: the store keeps its own copy of a record, and hands out
// copies: changing the caller's bytes afterwards changes nothing stored.
func deviceCopied(e *env) {
	st := e.store()
	ds := e.devicesOf(st)
	sub := e.id("subject")
	rec := []byte("original")
	if err := ds.SaveDevice(e.ctx, sub, e.id("session"), rec, e.clock.Now().Add(time.Hour)); err != nil {
		e.t.Fatalf("SaveDevice: %v", err)
	}
	copy(rec, "XXXXXXXX")
	e.settle(st)
	e.devices(ds, sub, []string{"original"}, "changing the saved slice afterwards changes nothing stored")
	got, err := ds.Devices(e.ctx, sub)
	if err != nil || len(got) != 1 {
		e.t.Fatalf("Devices = %q, %v; want one record", got, err)
	}
	copy(got[0], "YYYYYYYY")
	e.devices(ds, sub, []string{"original"}, "changing a listed record changes nothing stored")
}
