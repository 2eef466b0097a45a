package redisstore

import (
	"crypto/sha256"
	"runtime"
	"strconv"
	"testing"
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
