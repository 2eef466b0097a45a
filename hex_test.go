package authix

import (
	"crypto/sha256"
	"encoding/hex"
	"testing"
)

func TestDecodeHexKey(t *testing.T) {
	for _, s := range []string{
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"00000000000000000000000000000000000000000000000000000000000000a9",
		"a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	} {
		k, ok := decodeHexKey(s)
		if !ok {
			t.Fatalf("%s refused", s)
		}
		var sum [sha256.Size]byte
		hex.Decode(sum[:], []byte(s))
		if want := keyOfSum(&sum); k != want {
			t.Fatalf("%s: got %#x, want %#x, the key of the same hash", s, k, want)
		}
	}
	valid := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for pos := range 16 {
		for c := range 256 {
			if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') {
				continue
			}
			b := []byte(valid)
			b[pos] = byte(c)
			if _, ok := decodeHexKey(string(b)); ok {
				t.Fatalf("byte %#x at %d accepted", c, pos)
			}
		}
	}
}
