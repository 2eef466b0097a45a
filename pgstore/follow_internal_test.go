package pgstore

import "testing"

// TestParseEntry: a notification's payload, as the log statement formats
// it, and malformed ones, which are ignored.
func TestParseEntry(t *testing.T) {
	t.Parallel()
	id := "0102030405060708091011121314151617181920212223242526272829303132"
	e, ok := parseEntry("7 -12 6 99 s 1700000000000001 1700000000123 " + id)
	if !ok || e.at != (place{7, -12}) || e.prev != (place{6, 99}) || !e.subject ||
		e.cutoff != 1700000000000001 || e.until != 1700000000123 || e.id[0] != 1 || e.id[31] != 0x32 {
		t.Fatalf("parseEntry = %+v, %v", e, ok)
	}
	for _, bad := range []string{
		"",
		"7 1 6 1 x 0 1 " + id,            // unknown kind
		"7 1 6 1 t 0 1 " + id[:62],       // short id
		"7 1 6 1 t 0 1 " + id + "zz",     // long id
		"7 1 6 1 t 0 " + id,              // a field missing
		"7 1 6 1 t 0 1 " + id + " 9",     // a field too many
		"7 1 6 one t 0 1 " + id,          // not a number
		"7 1 6 1 t 0 1 " + id[:63] + "g", // not hex
	} {
		if _, ok := parseEntry(bad); ok {
			t.Errorf("parseEntry(%q) accepted", bad)
		}
	}
}
