package authix_test

// The fixtures the black-box tests of package authix_test share: one set of
// keys, one epoch, one fake clock, one payload type, one way to build a
// request, and the stores and raw-token builders several files use.

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
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/require"
)

// Fixed keys, so that fuzz corpus entries stay meaningful between runs
// (testdata/fuzz/FuzzFernetOpen holds a token sealed under keyA).
const (
	// keyA is the key the test vaults seal with; generated once with
	// authix.GenerateKey.
	keyA = "oklN262Zx1qHZ7zGNEz_tivm6fWnVpTdekTmpMFtYBg="
	// keySpec is the Fernet specification's test secret; it opens the
	// spec vectors in testdata/fernet-spec, and is the second key of the
	// vaults that hold two.
	keySpec = "cw_0x689RpI-jtRR7oE8h_eQsKImvJapLeSbXpwF4e4="
	// keyOther is a key no vault under test holds.
	keyOther = "YNpyiaUm-si1lW6HHj1HPt2NYB1YyzDEC5dQX6V9z8c="
)

// testEpoch is the time the fake clocks start at.
var testEpoch = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// User is the struct payload of the tests. Its JSON is
// {"id":…,"name":…,"is_admin":…}, the shape the fuzz seeds and the Python
// interop tests use. It is comparable: tests compare payloads with == and
// key maps by them.
type User struct {
	ID      int    `json:"id"`
	Name    string `json:"name"`
	IsAdmin bool   `json:"is_admin"`
}

// fakeClock is a clock that many goroutines may read and move; a vault
// and its memory store take its Now method.
type fakeClock struct{ ns atomic.Int64 }

func newFakeClock(t time.Time) *fakeClock {
	c := new(fakeClock)
	c.ns.Store(t.UnixNano())
	return c
}

func (c *fakeClock) Now() time.Time          { return time.Unix(0, c.ns.Load()).UTC() }
func (c *fakeClock) Set(t time.Time)         { c.ns.Store(t.UnixNano()) }
func (c *fakeClock) Advance(d time.Duration) { c.ns.Add(int64(d)) }

// serverGET is a GET request as a server receives it (Host, RemoteAddr,
// RequestURI set); cookieRequest clones it, which costs a fifth of parsing
// a new one in the concurrency test's hot loop.
var serverGET = httptest.NewRequest(http.MethodGet, "/", nil)

// cookieRequest is a GET request as a server receives it, with tok as is
// (http.Request.AddCookie would quote or drop some values) in the vault's
// default cookie.
func cookieRequest(tok string) *http.Request {
	r := serverGET.Clone(context.Background())
	r.Header.Set("Cookie", authix.DefaultCookieName+"="+tok)
	return r
}

func mustFernet(t testing.TB, ttl time.Duration, keys ...string) *authix.Fernet {
	t.Helper()
	f, err := authix.NewFernet(ttl, keys...)
	require.NoError(t, err)
	return f
}

// rejectBody is what DefaultErrorHandler answers to every refused token.
const rejectBody = `{"detail":"Not authenticated"}` + "\n"

// countingStore wraps a RevocationStore, counts its calls and remembers
// the ids it was given.
type countingStore struct {
	inner   authix.RevocationStore
	revokes atomic.Int64
	checks  atomic.Int64

	mu  sync.Mutex
	ids []string
}

func (s *countingStore) Revoke(ctx context.Context, id authix.TokenID, exp time.Time) error {
	s.revokes.Add(1)
	s.mu.Lock()
	s.ids = append(s.ids, hex.EncodeToString(id[:]))
	s.mu.Unlock()
	return s.inner.Revoke(ctx, id, exp)
}

func (s *countingStore) IsRevoked(ctx context.Context, id authix.TokenID) (bool, error) {
	s.checks.Add(1)
	s.mu.Lock()
	s.ids = append(s.ids, hex.EncodeToString(id[:]))
	s.mu.Unlock()
	return s.inner.IsRevoked(ctx, id)
}

func (s *countingStore) seenIDs() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.ids...)
}

// failingStore fails every call, as an unreachable database would.
type failingStore struct{}

var errStoreDown = errors.New("store down")

func (failingStore) Revoke(context.Context, authix.TokenID, time.Time) error { return errStoreDown }
func (failingStore) IsRevoked(context.Context, authix.TokenID) (bool, error) {
	return false, errStoreDown
}

// isOneOf reports whether err wraps one of allowed.
func isOneOf(err error, allowed ...error) bool {
	for _, a := range allowed {
		if errors.Is(err, a) {
			return true
		}
	}
	return false
}

// allErrors is every exported error value.
var allErrors = []error{
	authix.ErrMissingToken, authix.ErrInvalidToken, authix.ErrExpiredToken,
	authix.ErrRevokedToken, authix.ErrRevocationStore, authix.ErrUnsupportedPayload,
	authix.ErrPayloadType, authix.ErrTokenTooLarge, authix.ErrCrossOrigin,
	authix.ErrInvalidOption,
}

// keyHalves decodes a Fernet key into its signing and encryption halves.
func keyHalves(tb testing.TB, key string) (sign, enc []byte) {
	tb.Helper()
	k, err := base64.URLEncoding.DecodeString(key)
	if err != nil || len(k) != 32 {
		tb.Fatalf("bad test key %q: %v", key, err)
	}
	return k[:16], k[16:]
}

// sealRaw builds an authentic Fernet token under key, issued at ts, whose
// ciphertext is body encrypted as is: no padding is added, so tests can
// build tokens with a bad padding or an empty body. len(body) must be a
// multiple of 16. The IV is fixed, so the token is too.
func sealRaw(tb testing.TB, key string, ts time.Time, body []byte) string {
	tb.Helper()
	if len(body)%aes.BlockSize != 0 {
		tb.Fatalf("body of %d bytes is not whole blocks", len(body))
	}
	sign, enc := keyHalves(tb, key)
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
	return base64.URLEncoding.EncodeToString(resignTag(raw, sign))
}

// resignTag replaces the last 32 bytes of raw (the tag) with the HMAC of the
// rest under sign, in place, and returns raw. raw must be at least 32
// bytes long.
func resignTag(raw, sign []byte) []byte {
	body := len(raw) - sha256.Size
	mac := hmac.New(sha256.New, sign)
	mac.Write(raw[:body])
	mac.Sum(raw[body:body])
	return raw
}

// pkcs7Pad applies PKCS#7 padding to msg.
func pkcs7Pad(msg []byte) []byte {
	n := aes.BlockSize - len(msg)%aes.BlockSize
	out := append([]byte(nil), msg...)
	for range n {
		out = append(out, byte(n))
	}
	return out
}

// encodingAlias returns another encoding of tok that decodes to the same
// bytes: the unused low bits of the last character before the padding are
// set.
func encodingAlias(t *testing.T, tok string) string {
	t.Helper()
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	trimmed := strings.TrimRight(tok, "=")
	pad := len(tok) - len(trimmed)
	require.NotZero(t, pad, "the token has no padding, so no unused bits")
	unused := map[int]int{1: 0x03, 2: 0x0f}[pad]
	last := strings.IndexByte(alphabet, trimmed[len(trimmed)-1])
	alias := trimmed[:len(trimmed)-1] + string(alphabet[last|unused]) + tok[len(trimmed):]
	require.NotEqual(t, tok, alias)
	a, err := base64.URLEncoding.DecodeString(tok)
	require.NoError(t, err)
	b, err := base64.URLEncoding.DecodeString(alias)
	require.NoError(t, err)
	require.Equal(t, a, b, "the alias must decode to the same bytes")
	return alias
}

// recordingJar is a cookie jar that remembers the last URL it stored
// cookies for, so a test can read them back.
type recordingJar struct {
	*cookiejar.Jar
	mu   sync.Mutex
	last *url.URL
}

func newJar() *recordingJar {
	j, _ := cookiejar.New(nil)
	return &recordingJar{Jar: j}
}

func (j *recordingJar) SetCookies(u *url.URL, cookies []*http.Cookie) {
	j.mu.Lock()
	j.last = u
	j.mu.Unlock()
	j.Jar.SetCookies(u, cookies)
}

func (j *recordingJar) value(name string) string {
	j.mu.Lock()
	u := j.last
	j.mu.Unlock()
	if u == nil {
		return ""
	}
	for _, c := range j.Cookies(u) {
		if c.Name == name {
			return c.Value
		}
	}
	return ""
}

// lifeCycleTokens seals under v, at clk's time (where clk is left), a valid
// token, one revoked through v, and one that expired an hour ago.
func lifeCycleTokens(t *testing.T, v *authix.Vault[User], clk *fakeClock) (valid, revoked, expired string) {
	t.Helper()
	var err error
	valid, err = v.CreateAccessToken(User{ID: 1})
	require.NoError(t, err)
	revoked, err = v.CreateAccessToken(User{ID: 2})
	require.NoError(t, err)
	require.NoError(t, v.DisableAccessToken(context.Background(), revoked))
	clk.Advance(-2 * time.Hour)
	defer clk.Advance(2 * time.Hour)
	expired, err = v.CreateAccessToken(User{ID: 3})
	require.NoError(t, err)
	return valid, revoked, expired
}
