package mirror

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"runtime"
	"strconv"
	"testing"
	"time"
	"unsafe"
)

func TestMirrorTokens(t *testing.T) {
	t.Parallel()
	m := New()
	var a, b [32]byte
	b[31] = 1 // differs from a in the last byte only

	m.Revoke(a, 100, 0)
	m.Revoke(a, 50, 0) // keeps the later expiry
	if until, ok := m.Until(a); !ok || until != 100 {
		t.Fatalf("Until(a) = %d, %v; want 100, true", until, ok)
	}
	if _, ok := m.Until(b); ok {
		t.Fatal("Until(b) found a's entry")
	}

	// A full read or a log entry adds and extends, skips what ran out,
	// removes nothing.
	m.Revoke(b, 200, 100)
	m.Revoke(a, 150, 100)
	m.Revoke([32]byte{9}, 99, 100)
	for _, tt := range []struct {
		id    [32]byte
		until int64
	}{{a, 150}, {b, 200}} {
		if until, ok := m.Until(tt.id); !ok || until != tt.until {
			t.Errorf("Until(%x) = %d, %v; want %d, true", tt.id[31], until, ok, tt.until)
		}
	}
	if n, _ := m.Prune(0); n != 2 {
		t.Errorf("%d entries, want 2: one that had run out was recorded", n)
	}

	// An entry expiring at 150 holds at 150 and goes at 151.
	if n, _ := m.Prune(150); n != 2 {
		t.Errorf("Prune(150) left %d entries, want 2", n)
	}
	if n, _ := m.Prune(151); n != 1 {
		t.Errorf("Prune(151) left %d entries, want 1", n)
	}

	// Each mirror has its own seed, so keys cannot be computed in advance.
	if other := New(); other.key(&a) == m.key(&a) {
		t.Error("two mirrors key an id alike")
	}
}

func TestMirrorSubjects(t *testing.T) {
	t.Parallel()
	m := New()
	var a, b [32]byte
	b[31] = 1

	m.CutSubject(a, Cut{At: 10, Until: 100}, 0)
	m.CutSubject(a, Cut{At: 20, Until: 50}, 0) // later cut-off, earlier until
	if c, ok := m.SubjectCut(a); !ok || c != (Cut{20, 100}) {
		t.Fatalf("SubjectCut(a) = %+v, %v; want {20 100}, true: each field keeps the later value", c, ok)
	}
	if _, ok := m.SubjectCut(b); ok {
		t.Fatal("SubjectCut(b) found a's cut-off")
	}
	if _, ok := m.Until(a); ok {
		t.Fatal("a subject cut-off shows as a token revocation")
	}

	m.CutSubject(b, Cut{5, 200}, 100)
	m.CutSubject(a, Cut{15, 150}, 100)
	m.CutSubject([32]byte{9}, Cut{1, 99}, 100) // ran out
	for _, tt := range []struct {
		id   [32]byte
		want Cut
	}{{a, Cut{20, 150}}, {b, Cut{5, 200}}} {
		if c, ok := m.SubjectCut(tt.id); !ok || c != tt.want {
			t.Errorf("SubjectCut(%x) = %+v, %v; want %+v", tt.id[31], c, ok, tt.want)
		}
	}
	if _, n := m.Prune(150); n != 2 {
		t.Errorf("Prune(150) left %d cut-offs, want 2: one until 150 holds at 150", n)
	}
	if tokens, n := m.Prune(151); n != 1 || tokens != 0 {
		t.Errorf("Prune(151) left %d cut-offs and %d tokens, want 1 and 0", n, tokens)
	}
}

// TestFollower: entries that continue from the last one applied keep the
// follower confirming; one that does not is a gap, which stops confirmation
// until a full read restarts it.
func TestFollower(t *testing.T) {
	t.Parallel()
	fresh := NewFreshness(time.Hour)
	f := NewFollower(fresh)
	if !f.Gap() {
		t.Fatal("a new follower needs a full read first")
	}
	f.CaughtUp(fresh.Now())
	if fresh.Fresh() {
		t.Fatal("confirmed before its first full read")
	}

	f.Restart("0-0") // a full read of an empty log
	for _, e := range []struct{ prev, pos string }{{"0-0", "1-0"}, {"1-0", "2-0"}, {"2-0", "2-1"}} {
		if !f.Advance(e.prev, e.pos) {
			t.Fatalf("Advance(%q, %q) after %q: a gap", e.prev, e.pos, f.Pos())
		}
	}
	if f.Pos() != "2-1" || f.Gap() {
		t.Fatalf("Pos = %q, Gap = %v; want 2-1, false", f.Pos(), f.Gap())
	}
	before := time.Now()
	f.CaughtUp(fresh.Now())
	if !fresh.Fresh() || !fresh.ConfirmedSince(before) {
		t.Fatal("caught up without a gap, but not confirmed")
	}
	confirmed := time.Now()

	// Entries 3-0 and 4-0 were trimmed before this follower read them.
	if f.Advance("4-0", "5-0") {
		t.Fatal("an entry that does not follow 2-1 was taken as continuing")
	}
	if !f.Gap() || f.Pos() != "5-0" {
		t.Fatalf("Gap = %v, Pos = %q; want true, 5-0", f.Gap(), f.Pos())
	}
	if !f.Advance("5-0", "6-0") || !f.Gap() {
		t.Fatal("a gap is filled by a full read, not by the entries after it")
	}
	time.Sleep(time.Millisecond) // so that the next instant is after confirmed
	f.CaughtUp(fresh.Now())
	if fresh.ConfirmedSince(confirmed) {
		t.Fatal("confirmed despite the gap")
	}

	f.Restart("9-0") // a full read, begun when the log ended at 9-0
	if f.Gap() || f.Pos() != "9-0" {
		t.Fatalf("after Restart: Gap = %v, Pos = %q", f.Gap(), f.Pos())
	}

	f.Break() // the backend's log now ends before 9-0, say
	if !f.Gap() {
		t.Fatal("Break left no gap")
	}
}

// TestFreshness: a confirmation makes the mirror fresh, never moves
// backwards, and runs out after the bound, which Watch notices by itself.
func TestFreshness(t *testing.T) {
	t.Parallel()
	f := NewFreshness(20 * time.Millisecond)
	if f.Fresh() {
		t.Fatal("fresh before any confirmation")
	}
	start := time.Now()
	f.Confirm(f.Now())
	if !f.Fresh() || !f.ConfirmedSince(start) {
		t.Fatal("not fresh after Confirm")
	}
	f.Confirm(0) // an older confirmation changes nothing
	if !f.ConfirmedSince(start) {
		t.Fatal("the confirmation moved backwards")
	}

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.Watch(ctx); close(done) }()
	deadline := time.Now().Add(10 * time.Second) // a hang guard, not a bound
	for f.Fresh() {
		if time.Now().After(deadline) {
			t.Fatal("Watch never marked the mirror stale")
		}
		time.Sleep(time.Millisecond)
	}
	if f.Age() <= f.Bound() {
		t.Fatalf("stale at age %v, within the bound %v", f.Age(), f.Bound())
	}
	f.Confirm(f.Now())
	if !f.Fresh() {
		t.Fatal("a new confirmation did not make it fresh again")
	}
	cancel()
	<-done
}

// BenchmarkMirror measures a mirror of a million revocations: lookups that
// hit and miss, and the heap it takes per entry (B/entry).
func BenchmarkMirror(b *testing.B) {
	const n = 1_000_000
	ids := make([][32]byte, 2*n)
	for i := range ids {
		ids[i] = sha256.Sum256([]byte(strconv.Itoa(i)))
	}
	before := heapInUse()
	m := New()
	for _, id := range ids[:n] {
		m.Revoke(id, 1<<62, 0)
	}
	perEntry := float64(heapInUse()-before) / n

	for _, bc := range []struct {
		name string
		ids  [][32]byte
		want bool
	}{{"hit", ids[:n], true}, {"miss", ids[n:], false}} {
		b.Run(bc.name, func(b *testing.B) {
			i := 0
			for b.Loop() {
				if _, ok := m.Until(bc.ids[i%n]); ok != bc.want {
					b.Fatal("wrong answer")
				}
				i++
			}
			b.ReportMetric(perEntry, "B/entry")
		})
	}
	runtime.KeepAlive(m)
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// A shard is one cache line, so that lookups in neighbouring shards do not
// contend for the line their read locks write.
func TestTokenShardIsOneCacheLine(t *testing.T) {
	if size := unsafe.Sizeof(tokenShard{}); size != 64 {
		t.Fatalf("tokenShard is %d bytes, not 64", size)
	}
}

// Revocations that ran out make room for new ones without a Prune: a store
// that revokes forever with few live at a time keeps small tables.
func TestMirrorTokensBoundedWithoutPrune(t *testing.T) {
	m := New()
	var id [32]byte
	for i := range int64(200_000) {
		binary.LittleEndian.PutUint64(id[:], uint64(i))
		m.Revoke(id, i+100, i) // about 100 live at any time
	}
	slots := 0
	for i := range m.tokens {
		slots += len(m.tokens[i].slots)
	}
	if slots > shards*64 {
		t.Fatalf("%d slots for about 100 live revocations", slots)
	}
	if until, ok := m.Until(id); !ok || until != 200_099 {
		t.Fatalf("the last revocation: %d, %v", until, ok)
	}
}

// The backend's cut-off counts only when it is later and still live: a
// record the backend lost or holds older never undoes the mirror's.
func TestLater(t *testing.T) {
	held, older, newer, ran := Cut{At: 20, Until: 100}, Cut{At: 10, Until: 100}, Cut{At: 30, Until: 100}, Cut{At: 30, Until: 49}
	for _, tc := range []struct {
		name   string
		held   Cut
		ok     bool
		read   Cut
		found  bool
		want   Cut
		wantOK bool
	}{
		{"backend lost it", held, true, Cut{}, false, held, true},
		{"backend holds older", held, true, older, true, held, true},
		{"backend holds newer", held, true, newer, true, newer, true},
		{"backend's ran out", held, true, ran, true, held, true},
		{"only the backend has one", Cut{}, false, newer, true, newer, true},
		{"neither", Cut{}, false, Cut{}, false, Cut{}, false},
	} {
		if got, ok := Later(tc.held, tc.ok, tc.read, tc.found, 50); got != tc.want || ok != tc.wantOK {
			t.Errorf("%s: %v, %v; want %v, %v", tc.name, got, ok, tc.want, tc.wantOK)
		}
	}
	if got := CutoffTime(Cut{}, false); !got.IsZero() {
		t.Errorf("no cut-off: %v", got)
	}
	if got := CutoffTime(newer, true); got.UnixMicro() != 30 {
		t.Errorf("cut-off at 30µs: %v", got)
	}
	if got := CeilMilli(time.UnixMilli(5).Add(time.Nanosecond)); got != 6 {
		t.Errorf("CeilMilli rounds up: %d", got)
	}
	if got := CeilMilli(time.UnixMilli(5)); got != 5 {
		t.Errorf("CeilMilli keeps a whole millisecond: %d", got)
	}
}
