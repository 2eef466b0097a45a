package redisstore

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
	"time"

	"github.com/authix-go/authix/redisstore/mirror"
)

// TestAnnouncementFormats: a subject announcement (or log entry) reaches
// the subject mirror only, and the token parser, which is how stores of
// earlier versions read every announcement, ignores it as malformed.
func TestAnnouncementFormats(t *testing.T) {
	t.Parallel()
	now := time.UnixMilli(1_000_000)
	id := sha256.Sum256([]byte("x"))
	h := hex.EncodeToString(id[:])
	subject := "subject 999000123 1000500 " + h
	newS := func() *Store { return &Store{mirror: mirror.New(), clock: func() time.Time { return now }} }

	old := newS()
	old.applyToken(subject)
	if n, _ := old.mirror.Prune(0); n != 0 {
		t.Fatalf("the token parser took %q as %d revocation(s)", subject, n)
	}

	s := newS()
	s.apply(subject)
	if c, ok := s.mirror.SubjectCut(id); !ok || c != (mirror.Cut{At: 999000123, Until: 1000500}) {
		t.Fatalf("subject(id) = %+v, %v; want {999000123 1000500}", c, ok)
	}
	s.apply("1000500 " + h)
	if exp, ok := s.mirror.Until(id); !ok || exp != 1000500 {
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
		if tokens, subjects := s.mirror.Prune(0); tokens+subjects != 0 {
			n := tokens + subjects
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

func TestStreamIDLess(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		a, b string
		less bool
	}{
		{"0-0", "1-0", true},
		{"1-0", "0-0", false},
		{"5-1", "5-2", true},
		{"5-2", "5-2", false},
		{"9-9", "10-0", true}, // numerically, not as strings
		{"1700000000000-3", "1700000000001-0", true},
	} {
		if got := streamIDLess(tt.a, tt.b); got != tt.less {
			t.Errorf("streamIDLess(%q, %q) = %v, want %v", tt.a, tt.b, got, tt.less)
		}
	}
}
