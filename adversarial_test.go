package authix_test

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// advCase is one hostile (or valid) request. Either set builds the
// request for the HTTP client, or raw is written to a TCP connection as is,
// for bytes the Go client refuses to send.
type advCase struct {
	name string
	set  func(r *http.Request)
	raw  string
	// want is the payload the handler must see; nil means the request must
	// get the default rejection and the handler must not run.
	want *User
	// wantErr, when set, is the error the error handler must receive.
	wantErr error
	// serverRefuses: the HTTP server itself may answer a 4xx before the
	// request reaches the vault (malformed HTTP).
	serverRefuses bool
}

// advServer is a vault behind a real server, with counters on each layer.
type advServer struct {
	srv     *httptest.Server
	vault   *authix.Vault[User]
	clock   *fakeClock
	store   *countingStore
	reached atomic.Int64 // requests that got to RequireData
	runs    atomic.Int64 // requests that got to the handler
	errs    atomic.Int64 // error handler calls

	mu      sync.Mutex
	lastErr error
}

func newAdvServer(t *testing.T, maxHeaderBytes int) *advServer {
	t.Helper()
	s := &advServer{clock: newFakeClock(testEpoch)}
	s.store = &countingStore{inner: authix.NewMemoryStore(s.clock.Now)}
	var err error
	s.vault, err = authix.New[User](
		authix.WithKeys(keyA, keySpec),
		authix.WithHeader("X-API-Key"),
		authix.WithBearer(),
		authix.WithClock(s.clock.Now),
		authix.WithRevocationStore(s.store),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			s.errs.Add(1)
			s.mu.Lock()
			s.lastErr = err
			s.mu.Unlock()
			authix.DefaultErrorHandler(w, r, err)
		}),
	)
	require.NoError(t, err)
	inner := s.vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.runs.Add(1)
		u, ok := s.vault.Data(r.Context())
		if !ok {
			http.Error(w, "no payload", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(u)
	}))
	s.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.reached.Add(1)
		inner.ServeHTTP(w, r)
	}))
	if maxHeaderBytes > 0 {
		s.srv.Config.MaxHeaderBytes = maxHeaderBytes
	}
	s.srv.Start()
	t.Cleanup(s.srv.Close)
	return s
}

func (s *advServer) takeErr() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.lastErr
	s.lastErr = nil
	return err
}

// do sends c and returns the status and body.
func (s *advServer) do(t *testing.T, c advCase) (int, string, http.Header) {
	t.Helper()
	if c.raw != "" {
		return rawRequest(t, s.srv.Listener.Addr().String(), c.raw)
	}
	req, err := http.NewRequest("GET", s.srv.URL+"/me", nil)
	require.NoError(t, err)
	c.set(req)
	resp, err := s.srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

// rawRequest writes raw (with Host filled in for %s) to addr and reads
// one response.
func rawRequest(t *testing.T, addr, raw string) (int, string, http.Header) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer conn.Close()
	require.NoError(t, conn.SetDeadline(time.Now().Add(10*time.Second)))
	_, err = io.WriteString(conn, fmt.Sprintf(raw, addr))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body), resp.Header
}

func setCookie(v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set("Cookie", v) }
}

func setHeader(k, v string) func(*http.Request) {
	return func(r *http.Request) { r.Header.Set(k, v) }
}

// corrupted returns tok with one bit of its ciphertext flipped: a token that
// always differs from tok and whose MAC never verifies. Replacing a
// character instead leaves tok unchanged when the character was already
// the replacement, once in 64 random IVs.
func corrupted(t *testing.T, tok string) string {
	t.Helper()
	return tamper(t, tok, func(raw []byte) []byte { raw[len(raw)-33] ^= 1; return raw })
}

// tamper decodes tok, lets f change the raw bytes, and encodes it again.
func tamper(t *testing.T, tok string, f func(raw []byte) []byte) string {
	t.Helper()
	raw, err := base64.URLEncoding.DecodeString(tok)
	require.NoError(t, err)
	return base64.URLEncoding.EncodeToString(f(raw))
}

func TestAdversarialRequests(t *testing.T) {
	s := newAdvServer(t, 4<<20) // room for the 1 MiB cases to reach the vault
	now := s.clock.Now()
	ttl := authix.DefaultTTL
	cn := authix.DefaultCookieName + "="

	// 14-byte name: 49 bytes of JSON, 4 blocks, so the token ends in "==".
	john := User{ID: 7, Name: "John Q. Public"}
	var good string
	for range 200 {
		tok, err := s.vault.CreateAccessToken(john)
		require.NoError(t, err)
		if strings.ContainsAny(tok, "-_") {
			good = tok
			break
		}
	}
	require.NotEmpty(t, good, "no token with - or _ in 200 tries")
	require.True(t, strings.HasSuffix(good, "="), "the test needs a padded token: %s", good)

	fA, err := authix.NewFernet(ttl, keyA)
	require.NoError(t, err)
	fSpec, err := authix.NewFernet(ttl, keySpec)
	require.NoError(t, err)
	fOther, err := authix.NewFernet(ttl, keyOther)
	require.NoError(t, err)
	seal := func(f *authix.Fernet, plain string, at time.Time) string {
		tok, _, err := f.Seal(nil, []byte(plain), at)
		require.NoError(t, err)
		return string(tok)
	}
	johnJSON, err := json.Marshal(john)
	require.NoError(t, err)

	revoked, err := s.vault.CreateAccessToken(User{ID: 8, Name: "Revoked Person"}) // padded, like john
	require.NoError(t, err)
	require.NoError(t, s.vault.DisableAccessToken(t.Context(), revoked))
	// A revoked token encoded differently (other unused bits in the last
	// base64 character before the padding) is the same token.
	revokedAlias := encodingAlias(t, revoked)

	signA, _ := keyHalves(t, keyA)
	mib := strings.Repeat("A", 1<<20)
	w := &john

	cases := []advCase{
		{name: "valid cookie", set: setCookie(cn + good), want: w},
		{name: "valid X-API-Key header", set: setHeader("X-API-Key", good), want: w},
		{name: "valid Bearer", set: setHeader("Authorization", "Bearer "+good), want: w},
		{name: "lower-case bearer scheme", set: setHeader("Authorization", "bearer "+good), want: w},
		{name: "no token at all", set: func(*http.Request) {}, wantErr: authix.ErrMissingToken},
		{name: "empty cookie", set: setCookie(cn), wantErr: authix.ErrMissingToken},
		{name: "cookie of spaces (trailing space is not part of a header value)", set: setCookie(cn + "    "), wantErr: authix.ErrMissingToken},
		{name: "cookie value with a leading space", set: setCookie(cn + " " + good), wantErr: authix.ErrInvalidToken},
		{name: "cookie value with trailing spaces", set: setCookie(cn + good + "   "), want: w},
		{name: "cookie value with a tab inside", set: setCookie(cn + good[:20] + "\t" + good[20:]), wantErr: authix.ErrInvalidToken},
		{name: "quoted cookie value", set: setCookie(cn + `"` + good + `"`), want: w},
		{name: "unbalanced quote", set: setCookie(cn + `"` + good), wantErr: authix.ErrInvalidToken},
		{name: "empty quotes", set: setCookie(cn + `""`), wantErr: authix.ErrMissingToken},
		{name: "semicolon ends the value", set: setCookie(cn + good + ";garbage"), want: w},
		{name: "semicolon inside the token", set: setCookie(cn + good[:30] + ";" + good[30:]), wantErr: authix.ErrInvalidToken},
		{name: "comma after the token", set: setCookie(cn + good + ",other=1"), wantErr: authix.ErrInvalidToken},
		{name: "comma inside the token", set: setCookie(cn + good[:30] + "," + good[30:]), wantErr: authix.ErrInvalidToken},
		{name: "duplicate cookie, valid first", set: setCookie(cn + good + "; " + cn + "garbage"), want: w},
		{name: "duplicate cookie, invalid first", set: setCookie(cn + "garbage; " + cn + good), wantErr: authix.ErrInvalidToken},
		{name: "duplicate Cookie lines, valid first", set: func(r *http.Request) {
			r.Header.Add("Cookie", cn+good)
			r.Header.Add("Cookie", cn+"garbage")
		}, want: w},
		{name: "duplicate Cookie lines, invalid first", set: func(r *http.Request) {
			r.Header.Add("Cookie", cn+"garbage")
			r.Header.Add("Cookie", cn+good)
		}, wantErr: authix.ErrInvalidToken},
		{name: "other cookies around it", set: setCookie("a=1; b=\"x;y\"; " + cn + good + "; c=3"), want: w},
		{name: "cookie name in another case", set: setCookie("Access-Token=" + good), wantErr: authix.ErrMissingToken},
		{name: "cookie name with a prefix", set: setCookie("x" + cn + good), wantErr: authix.ErrMissingToken},
		{name: "cookie wins over a valid header", set: func(r *http.Request) {
			r.Header.Set("Cookie", cn+"garbage")
			r.Header.Set("X-API-Key", good)
		}, wantErr: authix.ErrInvalidToken},
		{name: "valid cookie, invalid header", set: func(r *http.Request) {
			r.Header.Set("Cookie", cn+good)
			r.Header.Set("X-API-Key", "garbage")
		}, want: w},
		{name: "Basic instead of Bearer", set: setHeader("Authorization", "Basic "+good), wantErr: authix.ErrMissingToken},
		{name: "Bearer without a token", set: setHeader("Authorization", "Bearer "), wantErr: authix.ErrMissingToken},
		{name: "1 MiB cookie", set: setCookie(cn + mib), wantErr: authix.ErrInvalidToken},
		{name: "1 MiB X-API-Key header", set: setHeader("X-API-Key", mib), wantErr: authix.ErrInvalidToken},
		{name: "1 MiB Bearer", set: setHeader("Authorization", "Bearer "+mib), wantErr: authix.ErrInvalidToken},
		{name: "token one byte over MaxTokenSize", set: setCookie(cn + strings.Repeat("A", authix.MaxTokenSize+1)), wantErr: authix.ErrInvalidToken},
		{name: "standard base64 alphabet", set: setCookie(cn + strings.NewReplacer("-", "+", "_", "/").Replace(good)), wantErr: authix.ErrInvalidToken},
		{name: "missing padding", set: setCookie(cn + strings.TrimRight(good, "=")), wantErr: authix.ErrInvalidToken},
		{name: "extra padding", set: setCookie(cn + good + "="), wantErr: authix.ErrInvalidToken},
		{name: "percent-encoded padding", set: setCookie(cn + strings.ReplaceAll(good, "=", "%3D")), wantErr: authix.ErrInvalidToken},
		{name: "wrong version byte", set: setCookie(cn + tamper(t, good, func(raw []byte) []byte { raw[0] = 0x81; return raw })), wantErr: authix.ErrInvalidToken},
		{name: "wrong version byte, MAC recomputed", set: setCookie(cn + tamper(t, good, func(raw []byte) []byte { raw[0] = 0x81; return resignTag(raw, signA) })), wantErr: authix.ErrInvalidToken},
		{name: "tag stripped", set: setCookie(cn + tamper(t, good, func(raw []byte) []byte { return raw[:len(raw)-32] })), wantErr: authix.ErrInvalidToken},
		{name: "extra block before the tag", set: setCookie(cn + tamper(t, good, func(raw []byte) []byte {
			out := append(append([]byte(nil), raw[:len(raw)-32]...), make([]byte, 16)...)
			return append(out, raw[len(raw)-32:]...)
		})), wantErr: authix.ErrInvalidToken},
		{name: "sealed with another key", set: setCookie(cn + seal(fOther, string(johnJSON), now)), wantErr: authix.ErrInvalidToken},
		{name: "sealed with the second (older) key", set: setCookie(cn + seal(fSpec, string(johnJSON), now)), want: w},
		{name: "one second past the TTL", set: setCookie(cn + seal(fA, string(johnJSON), now.Add(-ttl-time.Second))), wantErr: authix.ErrExpiredToken},
		{name: "exactly at the TTL", set: setCookie(cn + seal(fA, string(johnJSON), now.Add(-ttl))), want: w},
		{name: "61 s in the future (beyond the 60 s skew)", set: setCookie(cn + seal(fA, string(johnJSON), now.Add(61*time.Second))), wantErr: authix.ErrInvalidToken},
		{name: "60 s in the future (within the skew)", set: setCookie(cn + seal(fA, string(johnJSON), now.Add(60*time.Second))), want: w},
		{name: "timestamp at the end of time", set: setCookie(cn + sealRaw(t, keyA, time.Unix(1<<62, 0), pkcs7Pad(johnJSON))), wantErr: authix.ErrInvalidToken},
		{name: "timestamp before 1970", set: setCookie(cn + sealRaw(t, keyA, time.Unix(-1<<40, 0), pkcs7Pad(johnJSON))), wantErr: authix.ErrExpiredToken},
		{name: "revoked token", set: setCookie(cn + revoked), wantErr: authix.ErrRevokedToken},
		{name: "revoked token as Bearer", set: setHeader("Authorization", "Bearer "+revoked), wantErr: authix.ErrRevokedToken},
		{name: "revoked token, other encoding of the same bytes", set: setCookie(cn + revokedAlias), wantErr: authix.ErrRevokedToken},
		{name: "authentic, plaintext not JSON", set: setCookie(cn + seal(fA, "not json at all", now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, plaintext not UTF-8", set: setCookie(cn + seal(fA, "\xff\xfe{\"id\":1}", now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, empty plaintext", set: setCookie(cn + seal(fA, "", now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, JSON null", set: setCookie(cn + seal(fA, "null", now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, JSON array", set: setCookie(cn + seal(fA, `[1,2,3]`, now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, JSON string", set: setCookie(cn + seal(fA, `"john"`, now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, wrong field types", set: setCookie(cn + seal(fA, `{"id":"seven","name":7}`, now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, trailing garbage after JSON", set: setCookie(cn + seal(fA, `{"id":7}x`, now)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, unknown fields are ignored", set: setCookie(cn + seal(fA, `{"id":7,"name":"John Q. Public","role":"root"}`, now)), want: w},
		{name: "authentic, empty body (too short)", set: setCookie(cn + sealRaw(t, keyA, now, nil)), wantErr: authix.ErrInvalidToken},
		{name: "authentic, padding byte 0", set: setCookie(cn + sealRaw(t, keyA, now, make([]byte, 16))), wantErr: authix.ErrInvalidToken},
		{name: "authentic, padding byte 17", set: setCookie(cn + sealRaw(t, keyA, now, []byte(strings.Repeat("\x11", 16)))), wantErr: authix.ErrInvalidToken},
		{name: "authentic, padding of 32 bytes", set: setCookie(cn + sealRaw(t, keyA, now, []byte(strings.Repeat("\x20", 32)))), wantErr: authix.ErrInvalidToken},
		{name: "spec vector, verify.json token, long expired", set: setCookie(cn + "gAAAAAAdwJ6wAAECAwQFBgcICQoLDA0ODy021cpGVWKZ_eEwCGM4BLLF_5CV9dOPmrhuVUPgJobwOz7JcbmrR64jVmpU4IwqDA=="), wantErr: authix.ErrExpiredToken},
		{name: "bytes above 0x7f in the cookie (raw HTTP)", raw: "GET /me HTTP/1.1\r\nHost: %s\r\nCookie: " + cn + "\xff\xfe" + good + "\r\nConnection: close\r\n\r\n", wantErr: authix.ErrInvalidToken},
		{name: "NUL in the cookie (raw HTTP)", raw: "GET /me HTTP/1.1\r\nHost: %s\r\nCookie: " + cn + good[:10] + "\x00" + good[10:] + "\r\nConnection: close\r\n\r\n", serverRefuses: true},
		{name: "bare CR in the cookie (raw HTTP)", raw: "GET /me HTTP/1.1\r\nHost: %s\r\nCookie: " + cn + good[:10] + "\r" + good[10:] + "\r\nConnection: close\r\n\r\n", serverRefuses: true},
	}
	named := len(cases)

	for i := range len(good) {
		cases = append(cases, advCase{name: fmt.Sprintf("truncated to %d chars", i), set: setCookie(cn + good[:i])})
	}
	raw, err := base64.URLEncoding.DecodeString(good)
	require.NoError(t, err)
	for i := range raw {
		for _, bit := range []byte{0x01, 0x80} {
			flipped := append([]byte(nil), raw...)
			flipped[i] ^= bit
			cases = append(cases, advCase{
				name:    fmt.Sprintf("bit %#02x flipped in byte %d", bit, i),
				set:     setCookie(cn + base64.URLEncoding.EncodeToString(flipped)),
				wantErr: authix.ErrInvalidToken,
			})
		}
	}
	t.Logf("%d named cases, %d in all", named, len(cases))

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			reached, runs, errs := s.reached.Load(), s.runs.Load(), s.errs.Load()
			revokes := s.store.revokes.Load()
			status, body, hdr := s.do(t, c)
			err := s.takeErr()

			require.Less(t, status, 500, "a 5xx: %s", body)
			assert.Equal(t, revokes, s.store.revokes.Load(), "a request wrote to the revocation store")
			if c.want != nil {
				require.Equal(t, http.StatusOK, status, "body %q, error %v", body, err)
				var got User
				require.NoError(t, json.Unmarshal([]byte(body), &got))
				assert.Equal(t, *c.want, got)
				assert.Equal(t, runs+1, s.runs.Load())
				return
			}
			assert.Equal(t, runs, s.runs.Load(), "the handler ran for a rejected request")
			if c.serverRefuses && s.reached.Load() == reached {
				// net/http refused the malformed request itself.
				assert.GreaterOrEqual(t, status, 400)
				return
			}
			assert.Equal(t, reached+1, s.reached.Load(), "the request did not reach the vault")
			assert.Equal(t, http.StatusUnauthorized, status)
			assert.Equal(t, rejectBody, body, "every rejection has the same body")
			assert.Equal(t, "no-store", hdr.Get("Cache-Control"))
			assert.Equal(t, errs+1, s.errs.Load())
			require.Error(t, err)
			assert.True(t, isOneOf(err, allErrors...), "error %v wraps no exported error", err)
			if c.wantErr != nil {
				assert.ErrorIs(t, err, c.wantErr)
			}
		})
	}

	t.Run("server keeps serving", func(t *testing.T) {
		status, body, _ := s.do(t, advCase{set: setCookie(cn + good)})
		require.Equal(t, http.StatusOK, status, body)
		assert.Equal(t, int64(1), s.store.revokes.Load(), "only the test's own DisableAccessToken wrote to the store")
	})
}

// TestAdversarialDefaultServer checks that a server with net/http's default
// header limit never answers 5xx to oversized tokens, and that the handler
// does not run.
func TestAdversarialDefaultServer(t *testing.T) {
	s := newAdvServer(t, 0)
	cn := authix.DefaultCookieName + "="
	for _, c := range []struct {
		name string
		size int
	}{{"1 MiB cookie", 1 << 20}, {"2 MiB cookie", 2 << 20}} {
		t.Run(c.name, func(t *testing.T) {
			req, err := http.NewRequest("GET", s.srv.URL+"/me", nil)
			require.NoError(t, err)
			req.Header.Set("Cookie", cn+strings.Repeat("A", c.size))
			resp, err := s.srv.Client().Do(req)
			if err != nil {
				// The server may close the connection while the client is
				// still writing headers it will never read; that is a
				// refusal, not a failure.
				t.Logf("client error: %v", err)
			} else {
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				assert.Less(t, resp.StatusCode, 500)
				assert.Contains(t, []int{http.StatusUnauthorized, http.StatusRequestHeaderFieldsTooLarge}, resp.StatusCode)
				t.Logf("status %d", resp.StatusCode)
			}
			assert.Zero(t, s.runs.Load())
		})
	}
	tok, err := s.vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	status, _, _ := s.do(t, advCase{set: setCookie(cn + tok)})
	assert.Equal(t, http.StatusOK, status, "the server keeps serving")
}
