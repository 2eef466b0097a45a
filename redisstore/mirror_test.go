package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"runtime"
	"strconv"
	"testing"
	"time"
)

func TestMirror(t *testing.T) {
	t.Parallel()
	m := newMirror()
	var a, b [32]byte
	b[31] = 1 // differs from a in the last byte only

	m.insert(a, 100)
	m.insert(a, 50) // keeps the later expiry
	if exp, ok := m.lookup(a); !ok || exp != 100 {
		t.Fatalf("lookup(a) = %d, %v; want 100, true", exp, ok)
	}
	if _, ok := m.lookup(b); ok {
		t.Fatal("lookup(b) found a's entry")
	}

	// merge adds and extends, skips what expired before now, removes nothing.
	m.merge([]mirrorEntry{{m.key(&b), 200}, {m.key(&a), 150}, {12345, 99}}, 100)
	for _, tt := range []struct {
		id  [32]byte
		exp int64
	}{{a, 150}, {b, 200}} {
		if exp, ok := m.lookup(tt.id); !ok || exp != tt.exp {
			t.Errorf("after merge: lookup(%x) = %d, %v; want %d, true", tt.id[31], exp, ok, tt.exp)
		}
	}
	if n := m.prune(0); n != 2 {
		t.Errorf("%d entries after merge, want 2: an expired one was merged", n)
	}

	// An entry expiring at 150 holds at 150 and goes at 151.
	if n := m.prune(150); n != 2 {
		t.Errorf("prune(150) left %d entries, want 2", n)
	}
	if n := m.prune(151); n != 1 {
		t.Errorf("prune(151) left %d entries, want 1", n)
	}

	// Each mirror has its own seed, so keys cannot be computed in advance.
	if other := newMirror(); other.key(&a) == m.key(&a) {
		t.Error("two mirrors key an id alike")
	}
}

func TestMirrorSubjects(t *testing.T) {
	t.Parallel()
	m := newMirror()
	var a, b [32]byte
	b[31] = 1

	m.putSubject(a, subjectCut{cutoff: 10, until: 100})
	m.putSubject(a, subjectCut{cutoff: 20, until: 50}) // later cutoff, earlier until
	if c, ok := m.subject(a); !ok || c != (subjectCut{20, 100}) {
		t.Fatalf("subject(a) = %+v, %v; want {20 100}, true: each field keeps the later value", c, ok)
	}
	if _, ok := m.subject(b); ok {
		t.Fatal("subject(b) found a's cut-off")
	}
	if _, ok := m.lookup(a); ok {
		t.Fatal("a subject cut-off shows as a token revocation")
	}

	// mergeSubjects adds and extends, skips what ran out, removes nothing.
	m.mergeSubjects([]subjectEntry{{b, subjectCut{5, 200}}, {a, subjectCut{15, 150}}, {[32]byte{9}, subjectCut{1, 99}}}, 100)
	for _, tt := range []struct {
		id   [32]byte
		want subjectCut
	}{{a, subjectCut{20, 150}}, {b, subjectCut{5, 200}}} {
		if c, ok := m.subject(tt.id); !ok || c != tt.want {
			t.Errorf("after merge: subject(%x) = %+v, %v; want %+v", tt.id[31], c, ok, tt.want)
		}
	}
	if n := m.pruneSubjects(150); n != 2 {
		t.Errorf("pruneSubjects(150) left %d, want 2: one until 150 holds at 150", n)
	}
	if n := m.pruneSubjects(151); n != 1 {
		t.Errorf("pruneSubjects(151) left %d, want 1", n)
	}
	if n := m.prune(0); n != 0 {
		t.Errorf("%d token entries, want 0", n)
	}
}

// TestAnnouncementFormats: a subject announcement reaches the subject
// mirror only, and the token parser, which is how stores of earlier
// versions read every announcement, ignores it as malformed.
func TestAnnouncementFormats(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_000_000)
	id := sha256.Sum256([]byte("x"))
	h := hex.EncodeToString(id[:])
	subject := "subject 999000123 1000500 " + h
	newS := func() *Store { return &Store{mirror: newMirror(), clock: func() time.Time { return now }} }

	old := newS()
	old.applyToken(subject)
	if n := old.mirror.prune(0); n != 0 {
		t.Fatalf("the token parser took %q as %d revocation(s)", subject, n)
	}

	s := newS()
	s.apply(subject)
	if c, ok := s.mirror.subject(id); !ok || c != (subjectCut{999000123, 1000500}) {
		t.Fatalf("subject(id) = %+v, %v; want {999000123 1000500}", c, ok)
	}
	s.apply("1000500 " + h)
	if exp, ok := s.mirror.lookup(id); !ok || exp != 1000500 {
		t.Fatalf("token announcement: lookup = %d, %v", exp, ok)
	}

	for _, bad := range []string{
		"subject",
		"subject " + h,
		"subject 1 " + h,
		"subject x 1000500 " + h,
		"subject 1 1000500 " + h[:62],
		"subject 1 999999 " + h, // ran out before now
	} {
		s := newS()
		s.apply(bad)
		if n := s.mirror.pruneSubjects(0) + s.mirror.prune(0); n != 0 {
			t.Errorf("apply(%q) recorded %d entries, want 0", bad, n)
		}
	}
}

func TestParseID(t *testing.T) {
	t.Parallel()
	want := sha256.Sum256([]byte("x"))
	const h = "2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881"
	for _, tt := range []struct {
		in string
		ok bool
	}{
		{h, true},
		{h[:62], false},
		{h + "00", false},
		{"2D" + h[2:], false}, // Revoke writes lowercase only
		{"zz" + h[2:], false},
		{"", false},
		{subjectInfix + h, false}, // how a full sync of an earlier version skips a subject key
	} {
		id, ok := parseID(tt.in)
		if ok != tt.ok || (ok && id != want) {
			t.Errorf("parseID(%q) = %x, %v; want ok=%v", tt.in, id[:4], ok, tt.ok)
		}
	}
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
	m := newMirror()
	for _, id := range ids[:n] {
		m.insert(id, 1<<62)
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
				if _, ok := m.lookup(bc.ids[i%n]); ok != bc.want {
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
