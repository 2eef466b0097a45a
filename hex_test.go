package authix

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"
)

func TestDecodeHexSum(t *testing.T) {
	for _, s := range []string{
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"00000000000000000000000000000000000000000000000000000000000000a9",
		"a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	} {
		var sum [sha256.Size]byte
		if !decodeHexSum(&sum, s) {
			t.Fatalf("%s refused", s)
		}
		if got := hex.EncodeToString(sum[:]); got != s {
			t.Fatalf("%s decoded to %s", s, got)
		}
	}
	valid := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	var sum [sha256.Size]byte
	for _, s := range []string{"", valid[:63], valid + "0", strings.ToUpper(valid)} {
		if decodeHexSum(&sum, s) {
			t.Fatalf("%q accepted", s)
		}
	}
	for pos := range len(valid) {
		for c := range 256 {
			if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') {
				continue
			}
			b := []byte(valid)
			b[pos] = byte(c)
			if decodeHexSum(&sum, string(b)) {
				t.Fatalf("byte %#x at %d accepted", c, pos)
			}
		}
	}
}
