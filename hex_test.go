package authix

import (
	"encoding/hex"
	"testing"
)

func TestDecodeHexPrefix(t *testing.T) {
	for _, s := range []string{
		"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
		"00000000000000000000000000000000000000000000000000000000000000a9",
		"a0b1c2d3e4f5061728394a5b6c7d8e9f0a1b2c3d4e5f60718293a4b5c6d7e8f9",
	} {
		var k memKey
		if !decodeHexPrefix(&k, s) {
			t.Fatalf("%s refused", s)
		}
		want, _ := hex.DecodeString(s[:24])
		if string(k[:12]) != string(want) {
			t.Fatalf("%s: got %x, want %x", s, k[:12], want)
		}
	}
	valid := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for pos := range 24 {
		for c := range 256 {
			if (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') {
				continue
			}
			b := []byte(valid)
			b[pos] = byte(c)
			var k memKey
			if decodeHexPrefix(&k, string(b)) {
				t.Fatalf("byte %#x at %d accepted", c, pos)
			}
		}
	}
}
