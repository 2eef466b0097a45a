// Package storetest is the conformance suite of authix's revocation
// stores: every store in this repository runs it, and so can yours. It
// imports only the standard library, and names the store interfaces with
// standard types ([32]byte for authix.TokenID and authix.SubjectID, which
// are aliases of it), so a store in a module of its own runs it without
// depending on authix.
//
// A store's test gives Run a Harness that makes stores reading the suite's
// clock:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, storetest.Harness{
//			New: func(t *testing.T, now func() time.Time) storetest.RevocationStore {
//				s, err := mystore.New(testDSN(t), mystore.WithClock(now))
//				if err != nil {
//					t.Fatal(err)
//				}
//				t.Cleanup(func() { s.Close() })
//				return s
//			},
//			Slack: time.Millisecond, // expiries kept in milliseconds, rounded up
//		})
//	}
//
// # Rules
//
// Each rule is a subtest named after it, so a failure names the rule
// broken. Revocation: a revocation holds through its expiry instant and is
// gone after it (Boundary); revoking again keeps the later expiry
// (LaterExpiryWins); an id never revoked is (false, nil) (Unknown); an
// expiry before now records nothing and is no error (PastExpiry); an id is
// revoked anew after its revocation ran out (AgainAfterExpiry); a thousand
// ids (ManyIDs). Subject, when the store is a SubjectStore: no cut-off is
// the zero time; a cut-off is recorded as given, a later one too; one at or
// before the held one records the held one plus 1µs; the later until is
// kept; the record is gone after its until; subject and token records are
// apart. Device, when the store is a DeviceStore: save, replace, delete; at
// most MaxDevices per subject, the record that ends first going; records
// gone after their until; records copied in and out. Concurrent: writers
// and readers at once, each RevokeSubject one atomic step (n calls with one
// cut-off leave it n-1 µs later). Replica, when Harness.Replica is given:
// the same across two stores of one backend. Broken, when Harness.Break is
// given: failures fail closed, and the store comes back.
//
// "Gone after" allows Harness.Slack: a store that rounds expiries up to
// the second, as authix.MemoryStore does, reports a record up to about two
// seconds past it, and says so there. A record never ends early.
//
// # Time
//
// The suite owns a fake clock, which starts at 2031-03-14 15:09:26.535897932
// UTC and moves only when a rule moves it; the store must read the time
// from the now function it was made with and from nothing else, or rules
// about expiry fail. Cut-offs are whole microseconds, the precision of a
// token's issue time. The suite never waits on the wall clock; a harness
// that must wait for its backend should wait for an event it can observe,
// with a generous timeout only as a guard against hanging.
//
// # Visibility
//
// The suite reads what it wrote, and calls Harness.Settle first when it is
// set. A store whose own writes are visible through it as soon as they
// return (the memory store; a store that puts its own writes in its local
// mirror) needs Settle only for replicas: a store that follows a log learns
// of another store's writes asynchronously, and its Settle returns once it
// has. authix assumes a store's own writes are visible at once, so that a
// logout holds on the replica that made it when Logout returns; a Settle
// that waits for a store's own writes hides a window in which it does not.
//
// # Failure
//
// Harness.Break makes the backend fail and returns once the store must
// answer from the backend alone. A store with a local mirror may answer
// from it within its staleness bound, so its Break also waits until the
// mirror is past that bound (it may wait for the store's first error; a
// shorter bound makes that wait shorter). While broken, the suite expects Revoke and RevokeSubject to
// return an error, IsRevoked of an unknown id and SubjectCutoff to return
// an error, and IsRevoked of a revoked id to return true or an error: never
// (false, nil). DeviceStore's methods are not checked while broken: authix
// fails Devices on an error and tolerates a lost device record. After the
// function Break returns is called, the records held before must hold
// again.
package storetest
