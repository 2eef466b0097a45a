package authix

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"testing"
	"time"

	"github.com/fernet/fernet-go"
)

// FuzzFernetDifferential checks the Fernet implementation against
// fernet-go, the reference, in both directions, for arbitrary keys,
// payloads, issue times and clock offsets.
func FuzzFernetDifferential(f *testing.F) {
	f.Add([]byte("seed"), []byte(`{"id":1,"is_admin":true,"name":"John"}`), int64(1_800_000_000), int64(30), uint16(3600))
	f.Add([]byte{}, []byte{}, int64(0), int64(0), uint16(1))
	f.Add([]byte("k"), bytes.Repeat([]byte{16}, 16), int64(499162800), int64(-61), uint16(60))
	f.Add([]byte("k2"), []byte("x"), int64(1<<40), int64(3601), uint16(3600))
	f.Fuzz(func(t *testing.T, keySeed, msg []byte, ts, delta int64, ttlSec uint16) {
		if len(msg) > 2048 || ttlSec == 0 {
			t.Skip()
		}
		// Keep times where time.Unix and fernet's uint64 stamp agree.
		ts &= 1<<40 - 1
		delta %= 1 << 20
		ttl := time.Duration(ttlSec) * time.Second
		key := fernet.Key(sha256.Sum256(keySeed))
		other := fernet.Key(sha256.Sum256(append(keySeed, 'x')))
		ours := newFernet(ttl, []*fernet.Key{&other, &key})
		issued := time.Unix(ts, 0)
		now := issued.Add(time.Duration(delta) * time.Second)

		// fernet-go seals; authix opens at now, under the second key.
		tok, err := fernet.EncryptAndSignAtTime(msg, &key, issued)
		if err != nil {
			t.Fatal(err)
		}
		plain, info, err := ours.Open(nil, string(tok), now)
		switch {
		case now.Before(issued.Add(-fernetMaxSkew)):
			// Issued more than the allowed skew in the future.
			if !errors.Is(err, ErrInvalidToken) {
				t.Fatalf("future token: err %v", err)
			}
		case now.After(issued.Add(ttl)):
			if !errors.Is(err, ErrExpiredToken) {
				t.Fatalf("expired token: err %v", err)
			}
			if !info.ExpiresAt.Equal(issued.Add(ttl)) {
				t.Fatalf("expired token reports expiry %v", info.ExpiresAt)
			}
		default:
			if err != nil {
				t.Fatalf("valid fernet-go token refused: %v", err)
			}
			if !bytes.Equal(plain, msg) || info.KeyIndex != 1 || !info.IssuedAt.Equal(issued) {
				t.Fatalf("got %q key %d issued %v", plain, info.KeyIndex, info.IssuedAt)
			}
		}

		// authix seals; fernet-go verifies without a TTL (it reads the
		// wall clock otherwise) and must find the same message.
		sealed, _, err := ours.Seal(nil, msg, issued)
		if err != nil {
			t.Fatal(err)
		}
		if got := fernet.VerifyAndDecrypt(sealed, 0, []*fernet.Key{&key, &other}); !bytes.Equal(got, msg) {
			t.Fatalf("fernet-go read %q, want %q", got, msg)
		}
		if got := fernet.VerifyAndDecrypt(sealed, 0, []*fernet.Key{&key}); got != nil {
			t.Fatal("sealed with the first key, but the second opened it")
		}
		// Same token bytes, same ID.
		_, a, errA := ours.Open(nil, string(sealed), issued)
		_, b, errB := ours.Open(nil, string(sealed), issued)
		if errA != nil || errB != nil || a.ID != b.ID {
			t.Fatalf("reopen: %v %v", errA, errB)
		}
	})
}
