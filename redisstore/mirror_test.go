package redisstore

import "testing"

// TestTableFirstHashCollision covers ids whose first hashes collide, which
// real ids do about once in 2^64 pairs, with crafted keys.
func TestTableFirstHashCollision(t *testing.T) {
	tb := newTable(0)
	a, b, c := mirrorKey{7, 1}, mirrorKey{7, 2}, mirrorKey{7, 3}
	tb.put(a, 100)
	tb.put(b, 200)
	tb.put(b, 150) // keeps the later expiry in overflow too
	second := func(k mirrorKey) func() uint64 { return func() uint64 { return k[1] } }

	for _, tt := range []struct {
		name string
		k    mirrorKey
		exp  int64
		ok   bool
	}{
		{"main", a, 100, true},
		{"overflow", b, 200, true},
		{"same first hash, not stored", c, 0, false},
		{"other first hash", mirrorKey{8, 1}, 0, false},
	} {
		exp, ok := tb.get(tt.k[0], second(tt.k))
		if exp != tt.exp || ok != tt.ok {
			t.Errorf("%s: get = %d, %v; want %d, %v", tt.name, exp, ok, tt.exp, tt.ok)
		}
	}

	// a expires: b moves into the main slot and is still found. An entry
	// holds at its expiry and goes after it.
	if n := tb.prune(100); n != 2 {
		t.Fatalf("prune at a's expiry left %d entries, want 2", n)
	}
	if n := tb.prune(101); n != 1 {
		t.Fatalf("prune left %d entries, want 1", n)
	}
	if exp, ok := tb.get(b[0], second(b)); exp != 200 || !ok {
		t.Errorf("after prune: get(b) = %d, %v; want 200, true", exp, ok)
	}
	if exp, ok := tb.get(a[0], second(a)); ok {
		t.Errorf("after prune: get(a) = %d, true; want not found", exp)
	}
	if n := tb.prune(201); n != 0 {
		t.Errorf("prune left %d entries, want 0", n)
	}
}
