package authix_test

// Helpers shared by the security tests (csrf, adversarial, concurrency,
// secrets, fuzz). Every name starts with "sec" so that these black-box tests
// never collide with other test files of package authix_test.

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

// Fixed keys, so that fuzz corpus entries stay meaningful between runs.
const (
	// secKeyA seals; generated once with authix.GenerateKey.
	secKeyA = "oklN262Zx1qHZ7zGNEz_tivm6fWnVpTdekTmpMFtYBg="
	// secKeySpec is the Fernet specification's test secret; it opens the
	// spec vectors in testdata/fernet-spec.
	secKeySpec = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	// secKeyOther is a key no vault under test holds.
	secKeyOther = "YNpyiaUm-si1lW6HHj1HPt2NYB1YyzDEC5dQX6V9z8c="
)

// secEpoch is the time the fixed clocks start at.
var secEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// secUser is the struct payload of the tests.
type secUser struct {
	ID    int    `json:"id"`
	Name  string `json:"name"`
	Admin bool   `json:"is_admin"`
}

// secClock is a fake clock that many goroutines may read and move.
type secClock struct{ ns atomic.Int64 }

func newSecClock(t time.Time) *secClock {
	c := new(secClock)
	c.ns.Store(t.UnixNano())
	return c
}

func (c *secClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *secClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *secClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// secCountingStore wraps a RevocationStore, counts its calls and remembers
// the ids it was given.
type secCountingStore struct {
	inner   authix.RevocationStore
	revokes atomic.Int64
	checks  atomic.Int64

	mu  sync.Mutex
	ids []string
}

func (s *secCountingStore) Revoke(ctx context.Context, id authix.TokenID, exp time.Time) error {
	s.revokes.Add(1)
	s.mu.Lock()
	s.ids = append(s.ids, hex.EncodeToString(id[:]))
	s.mu.Unlock()
	return s.inner.Revoke(ctx, id, exp)
}

func (s *secCountingStore) IsRevoked(ctx context.Context, id authix.TokenID) (bool, error) {
	s.checks.Add(1)
	s.mu.Lock()
	s.ids = append(s.ids, hex.EncodeToString(id[:]))
	s.mu.Unlock()
	return s.inner.IsRevoked(ctx, id)
}

func (s *secCountingStore) seenIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// secIsOneOf reports whether err wraps one of allowed.
func secIsOneOf(err error, allowed ...error) bool {
	for _, a := range allowed {
		if errors.Is(err, a) {
			return true
		}
	}
	return false
}

// secAllErrors is every exported error value.
var secAllErrors = []error{
	authix.ErrMissingToken, authix.ErrInvalidToken, authix.ErrExpiredToken,
	authix.ErrRevokedToken, authix.ErrRevocationStore, authix.ErrUnsupportedPayload,
	authix.ErrPayloadType, authix.ErrTokenTooLarge, authix.ErrCrossOrigin,
	authix.ErrInvalidOption,
}

// secKeyBytes decodes a Fernet key into its signing and encryption halves.
func secKeyBytes(tb testing.TB, key string) (sign, enc []byte) {
	tb.Helper()
	k, err := base64.URLEncoding.DecodeString(key)
	if err != nil || len(k) != 32 {
		tb.Fatalf("bad test key %q: %v", key, err)
	}
	return k[:16], k[16:]
}

// secSealRaw builds an authentic Fernet token under key, issued at ts, whose
// ciphertext is body encrypted as is: no padding is added, so tests can
// build tokens with a bad padding or an empty body. len(body) must be a
// multiple of 16.
func secSealRaw(tb testing.TB, key string, ts time.Time, body []byte) string {
	tb.Helper()
	if len(body)%aes.BlockSize != 0 {
		tb.Fatalf("body of %d bytes is not whole blocks", len(body))
	}
	sign, enc := secKeyBytes(tb, key)
	raw := make([]byte, 25, 25+len(body)+sha256.Size)
	raw[0] = 0x80
	binary.BigEndian.PutUint64(raw[1:], uint64(ts.Unix()))
	for i := range aes.BlockSize {
		raw[9+i] = byte(i * 7)
	}
	block, err := aes.NewCipher(enc)
	if err != nil {
		tb.Fatal(err)
	}
	ct := make([]byte, len(body))
	cipher.NewCBCEncrypter(block, raw[9:25]).CryptBlocks(ct, body)
	raw = append(raw, ct...)
	raw = append(raw, make([]byte, sha256.Size)...) // the tag, filled in next
	return base64.URLEncoding.EncodeToString(secResign(raw, sign))
}

// secResign replaces the last 32 bytes of raw (the tag) with the HMAC of
// the rest under sign, in place, and returns raw. raw must be at least 32
// bytes long.
func secResign(raw, sign []byte) []byte {
	body := len(raw) - sha256.Size
	mac := hmac.New(sha256.New, sign)
	mac.Write(raw[:body])
	mac.Sum(raw[body:body])
	return raw
}

// secPad applies PKCS#7 padding to msg.
func secPad(msg []byte) []byte {
	n := aes.BlockSize - len(msg)%aes.BlockSize
	out := append([]byte(nil), msg...)
	for range n {
		out = append(out, byte(n))
	}
	return out
}
