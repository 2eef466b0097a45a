package authix_test

// Interoperability with Python: a Go service and a FastAPI service running
// fastapi-authix, given the same key, read each other's access tokens. The
// Python side is testdata/python/fernet_interop.py, which uses the
// `cryptography` package exactly as fastapi-authix does.
//
// The tests need a python3 with `cryptography`: python3 on PATH, then
// /usr/bin/python3 (where Debian's python3-cryptography installs). Without
// one they skip, unless AUTHIX_REQUIRE_PYTHON=1, which makes them fail.

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const pyScript = "testdata/python/fernet_interop.py"

// pyFind returns the first python3 that imports cryptography.fernet.
var pyFind = sync.OnceValues(func() (string, []string) {
	var tried []string
	candidates := []string{"/usr/bin/python3"}
	if p, err := exec.LookPath("python3"); err == nil {
		candidates = append([]string{p}, candidates...)
	}
	for _, p := range candidates {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		out, err := exec.CommandContext(ctx, p, "-c", "import cryptography.fernet").CombinedOutput()
		cancel()
		if err == nil {
			return p, nil
		}
		tried = append(tried, p+": "+strings.TrimSpace(pyFirstLine(string(out), err)))
	}
	return "", tried
})

func pyFirstLine(out string, err error) string {
	if out == "" {
		return err.Error()
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	return lines[len(lines)-1]
}

// requirePython returns a python3 with cryptography, or skips the test
// (fails it when AUTHIX_REQUIRE_PYTHON=1).
func requirePython(t *testing.T) string {
	t.Helper()
	p, tried := pyFind()
	if p != "" {
		return p
	}
	msg := "no python3 with the cryptography package (tried " + strings.Join(tried, "; ") +
		"); install it with: apt-get install python3-cryptography"
	if os.Getenv("AUTHIX_REQUIRE_PYTHON") == "1" {
		t.Fatal(msg + " (AUTHIX_REQUIRE_PYTHON=1 makes this a failure)")
	}
	t.Skip(msg)
	return ""
}

// pyFernet is one running fernet_interop.py, answering a command per line.
type pyFernet struct {
	t   *testing.T
	mu  sync.Mutex
	in  io.WriteCloser
	out *bufio.Scanner
}

func startPython(t *testing.T) *pyFernet {
	t.Helper()
	python := requirePython(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	cmd := exec.CommandContext(ctx, python, pyScript)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	require.NoError(t, err)
	out, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		in.Close()
		if err := cmd.Wait(); err != nil {
			t.Errorf("fernet_interop.py: %v", err)
		}
		cancel()
	})
	sc := bufio.NewScanner(out)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	return &pyFernet{t: t, in: in, out: sc}
}

type pyResult struct {
	Key       string         `json:"key"`
	OK        bool           `json:"ok"`
	Token     string         `json:"token"`
	Payload   map[string]any `json:"payload"`
	Plaintext string         `json:"plaintext"`
	IssuedAt  int64          `json:"issued_at"`
	Error     string         `json:"error"`
}

func (p *pyFernet) call(cmd map[string]any) pyResult {
	p.t.Helper()
	line, err := json.Marshal(cmd)
	require.NoError(p.t, err)
	return p.callLine(string(line))
}

// callLine sends one command line as it is.
func (p *pyFernet) callLine(line string) pyResult {
	p.t.Helper()
	var err error
	p.mu.Lock()
	defer p.mu.Unlock()
	_, err = io.WriteString(p.in, line+"\n")
	require.NoError(p.t, err)
	require.True(p.t, p.out.Scan(), "fernet_interop.py stopped answering: %v", p.out.Err())
	var res pyResult
	require.NoError(p.t, json.Unmarshal(p.out.Bytes(), &res), "answer: %s", p.out.Bytes())
	return res
}

// seal has Python seal payload with keys (MultiFernet when several), at
// the Unix time at when it is not zero.
func (p *pyFernet) seal(keys []string, payload map[string]any, at int64) string {
	p.t.Helper()
	cmd := map[string]any{"op": "seal", "keys": keys, "payload": payload}
	if at != 0 {
		cmd["at"] = at
	}
	res := p.call(cmd)
	require.Empty(p.t, res.Error)
	require.NotEmpty(p.t, res.Token)
	return res.Token
}

// open has Python open token with keys and ttl, at the Unix time now when it
// is not zero. It returns the result, whose Error is "InvalidToken" when
// Python refuses the token.
func (p *pyFernet) open(keys []string, token string, ttl, now int64) pyResult {
	p.t.Helper()
	cmd := map[string]any{"op": "open", "keys": keys, "token": token, "ttl": ttl}
	if now != 0 {
		cmd["now"] = now
	}
	return p.call(cmd)
}

func (p *pyFernet) generateKey() string {
	p.t.Helper()
	res := p.call(map[string]any{"op": "generate_key"})
	require.Empty(p.t, res.Error)
	return res.Key
}

// interopUser is the tests' User with a list of roles, so that a JSON array
// crosses between the languages too. The list would make User itself
// incomparable, which the fuzz targets need it not to be.
type interopUser struct {
	User
	Roles []string `json:"roles"`
}

var (
	interopJohn = interopUser{User{ID: 7, Name: "Jöhn Smith ✓", IsAdmin: true}, []string{"admin", "editor"}}
	// interopJohnPy is interopJohn as the Python side writes it: a dict.
	interopJohnPy = map[string]any{"id": 7, "name": "Jöhn Smith ✓", "is_admin": true, "roles": []any{"admin", "editor"}}
)

// interopErrLog records what an error handler saw.
type interopErrLog struct {
	mu   sync.Mutex
	errs []error
}

// take returns the errors recorded so far and forgets them.
func (l *interopErrLog) take() []error {
	l.mu.Lock()
	defer l.mu.Unlock()
	errs := l.errs
	l.errs = nil
	return errs
}

// interopServe runs RequireData in front of a handler that answers with the
// payload as JSON; the interopErrLog receives what the error handler saw.
func interopServe(t *testing.T, opts ...authix.Option) (*authix.Vault[interopUser], *httptest.Server, *interopErrLog) {
	t.Helper()
	errs := new(interopErrLog)
	opts = append(opts, authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
		errs.mu.Lock()
		errs.errs = append(errs.errs, err)
		errs.mu.Unlock()
		authix.DefaultErrorHandler(w, r, err)
	}))
	vault, err := authix.New[interopUser](opts...)
	require.NoError(t, err)
	srv := httptest.NewServer(vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, ok := vault.Data(r.Context())
		if !ok {
			http.Error(w, "no data", http.StatusInternalServerError)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(user)
	})))
	t.Cleanup(srv.Close)
	return vault, srv, errs
}

// interopGet requests srv with the token in the access-token cookie, as
// a browser that logged in on the Python service would.
func interopGet(t *testing.T, srv *httptest.Server, token string) (int, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, srv.URL+"/home", nil)
	require.NoError(t, err)
	if token != "" {
		req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, body
}

func TestInteropPythonTokenOpensInGo(t *testing.T) {
	t.Parallel()
	py := startPython(t)
	key := py.generateKey() // Python's key format, given to Go as AUTHIX_KEYS would be
	token := py.seal([]string{key}, interopJohnPy, 0)
	otherKeyToken := py.seal([]string{py.generateKey()}, interopJohnPy, 0)

	vault, srv, errs := interopServe(t, authix.WithKeys(key))

	t.Run("RequireData accepts the cookie and decodes the struct", func(t *testing.T) {
		status, body := interopGet(t, srv, token)
		require.Equal(t, http.StatusOK, status, "body: %s", body)
		var got interopUser
		require.NoError(t, json.Unmarshal(body, &got))
		assert.Equal(t, interopJohn, got)
	})
	t.Run("DecodeAccessToken", func(t *testing.T) {
		got, err := vault.DecodeAccessToken(token)
		require.NoError(t, err)
		assert.Equal(t, interopJohn, got)
	})
	t.Run("dict mode and auto mode", func(t *testing.T) {
		dict, err := authix.New[map[string]any](authix.WithKeys(key))
		require.NoError(t, err)
		m, err := dict.DecodeAccessToken(token)
		require.NoError(t, err)
		assert.Equal(t, map[string]any{"id": json.Number("7"), "name": "Jöhn Smith ✓", "is_admin": true, "roles": []any{"admin", "editor"}}, m,
			"numbers are json.Number, so that integers stay exact")

		auto, err := authix.New[any](authix.WithKeys(key))
		require.NoError(t, err)
		a, err := auto.DecodeAccessToken(token)
		require.NoError(t, err)
		assert.Equal(t, m, a)
	})

	rejected := []struct {
		name, token string
		want        error
	}{
		{"sealed under another key", otherKeyToken, authix.ErrInvalidToken},
		{"one character changed", interopTamper(token), authix.ErrInvalidToken},
		{"no cookie", "", authix.ErrMissingToken},
	}
	for _, tc := range rejected {
		t.Run("rejects "+tc.name, func(t *testing.T) {
			errs.take()
			status, body := interopGet(t, srv, tc.token)
			assert.Equal(t, http.StatusUnauthorized, status, "body: %s", body)
			seen := errs.take()
			require.Len(t, seen, 1)
			assert.ErrorIs(t, seen[0], tc.want)
		})
	}
}

// interopTamper changes one character in the middle of token, keeping it valid
// base64, so that only the MAC can catch it.
func interopTamper(token string) string {
	b := []byte(token)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

func TestInteropGoTokenOpensInPython(t *testing.T) {
	t.Parallel()
	py := startPython(t)
	key := authix.GenerateKey()
	// A fake clock stopped at the current second: Python opens the token
	// by its own wall clock, so it must be fresh, and the test knows the
	// exact second it was issued at.
	issued := time.Now().Truncate(time.Second)
	vault, err := authix.New[interopUser](authix.WithKeys(key), authix.WithClock(newFakeClock(issued).Now))
	require.NoError(t, err)

	rec := httptest.NewRecorder()
	require.NoError(t, vault.SetAccessToken(rec, interopJohn))
	cookies := rec.Result().Cookies()
	require.Len(t, cookies, 1)
	require.Equal(t, authix.DefaultCookieName, cookies[0].Name, "fastapi-authix reads this cookie")
	token := cookies[0].Value

	t.Run("Fernet(key).decrypt(token, ttl=3600)", func(t *testing.T) {
		res := py.open([]string{key}, token, 3600, 0)
		require.Empty(t, res.Error)
		// Python sees the payload's fields and one more key, "_authix",
		// holding the expiry Go sealed: issued_at + the Go vault's TTL.
		assert.Equal(t, interopSealed(res.IssuedAt+3600), interopInts(res.Payload), "same fields and values")
		assert.True(t, strings.HasPrefix(res.Plaintext, `{"_authix":{"exp":`), "the sealed expiry leads: %s", res.Plaintext)
		assert.NotContains(t, res.Plaintext, "\n", "compact JSON, as orjson writes")
		assert.Equal(t, issued.Unix(), res.IssuedAt)
	})
	t.Run("Python refuses it under another key", func(t *testing.T) {
		res := py.open([]string{authix.GenerateKey()}, token, 3600, 0)
		assert.Equal(t, "InvalidToken", res.Error)
	})
	t.Run("Python refuses it with one character changed", func(t *testing.T) {
		res := py.open([]string{key}, interopTamper(token), 3600, 0)
		assert.Equal(t, "InvalidToken", res.Error)
	})
	t.Run("Python refuses it once older than its TTL", func(t *testing.T) {
		res := py.open([]string{key}, token, 3600, issued.Unix()+3601)
		assert.Equal(t, "InvalidToken", res.Error)
	})
}

// interopInts turns the float64 numbers of a decoded JSON object back
// into ints where they are whole, so it compares with a literal.
func interopInts(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		switch x := v.(type) {
		case float64:
			if x == float64(int(x)) {
				v = int(x)
			}
		case map[string]any:
			v = interopInts(x)
		}
		out[k] = v
	}
	return out
}

// interopSealed is interopJohnPy as Python reads it from a Go token that
// expires at exp.
func interopSealed(exp int64) map[string]any {
	m := map[string]any{"_authix": map[string]any{"exp": int(exp)}}
	for k, v := range interopJohnPy {
		m[k] = v
	}
	return m
}

func TestInteropRotation(t *testing.T) {
	t.Parallel()
	py := startPython(t)

	t.Run("MultiFernet([py, go]) opens a Go token", func(t *testing.T) {
		kPy, kGo := py.generateKey(), authix.GenerateKey()
		vault, err := authix.New[interopUser](authix.WithKeys(kGo))
		require.NoError(t, err)
		token, err := vault.CreateAccessToken(interopJohn)
		require.NoError(t, err)

		res := py.open([]string{kPy, kGo}, token, 3600, 0)
		require.Empty(t, res.Error)
		assert.Equal(t, interopSealed(res.IssuedAt+3600), interopInts(res.Payload))

		res = py.open([]string{kPy}, token, 3600, 0)
		assert.Equal(t, "InvalidToken", res.Error, "only the Go key, second in the list, opens it")
	})

	t.Run(`Go keys "new,old" open a Python token sealed with old`, func(t *testing.T) {
		kOld, kNew := py.generateKey(), authix.GenerateKey()
		token := py.seal([]string{kOld}, interopJohnPy, 0)

		vault, err := authix.New[interopUser](authix.WithKeys(kNew + "," + kOld))
		require.NoError(t, err)
		got, err := vault.DecodeAccessToken(token)
		require.NoError(t, err)
		assert.Equal(t, interopJohn, got)

		f, err := authix.NewFernet(time.Hour, kNew+","+kOld)
		require.NoError(t, err)
		_, info, err := f.Open(nil, token, time.Now())
		require.NoError(t, err)
		assert.Equal(t, 1, info.KeyIndex, "opened by the second key")

		newOnly, err := authix.New[interopUser](authix.WithKeys(kNew))
		require.NoError(t, err)
		_, err = newOnly.DecodeAccessToken(token)
		assert.ErrorIs(t, err, authix.ErrInvalidToken)

		// After rotation Go seals with the new key, which Python reads
		// once it lists that key too.
		fresh, err := vault.CreateAccessToken(interopJohn)
		require.NoError(t, err)
		res := py.open([]string{kNew, kOld}, fresh, 3600, 0)
		require.Empty(t, res.Error)
		assert.Equal(t, "InvalidToken", py.open([]string{kOld}, fresh, 3600, 0).Error)
	})
}

func TestInteropExpiry(t *testing.T) {
	t.Parallel()
	py := startPython(t)
	key := py.generateKey()

	t.Run("a Python token older than the TTL is ErrExpiredToken", func(t *testing.T) {
		token := py.seal([]string{key}, interopJohnPy, time.Now().Add(-2*time.Hour).Unix())
		_, srv, errs := interopServe(t, authix.WithKeys(key))
		status, body := interopGet(t, srv, token)
		assert.Equal(t, http.StatusUnauthorized, status, "body: %s", body)
		seen := errs.take()
		require.Len(t, seen, 1)
		assert.ErrorIs(t, seen[0], authix.ErrExpiredToken)
	})

	// At a fixed clock, both sides agree on the last valid second.
	now := time.Unix(1_767_225_600, 0) // 2026-01-01T00:00:00Z
	vault, err := authix.New[interopUser](authix.WithKeys(key), authix.WithClock(newFakeClock(now).Now))
	require.NoError(t, err)
	for _, tc := range []struct {
		age     int64
		expired bool
	}{
		{age: 0},
		{age: 3599},
		{age: 3600},
		{age: 3601, expired: true},
		{age: 86400, expired: true},
	} {
		token := py.seal([]string{key}, interopJohnPy, now.Unix()-tc.age)
		got, err := vault.DecodeAccessToken(token)
		res := py.open([]string{key}, token, 3600, now.Unix())
		if tc.expired {
			assert.ErrorIs(t, err, authix.ErrExpiredToken, "age %ds", tc.age)
			assert.False(t, errors.Is(err, authix.ErrInvalidToken), "an authentic token is expired, not invalid")
			assert.Equal(t, "InvalidToken", res.Error, "Python agrees at age %ds", tc.age)
		} else {
			assert.NoError(t, err, "age %ds", tc.age)
			assert.Equal(t, interopJohn, got)
			assert.Empty(t, res.Error, "Python agrees at age %ds", tc.age)
		}
	}
}

// Text crosses both ways as it was sealed: characters outside the BMP,
// whether Python writes them as UTF-8 or as a surrogate pair escape, and
// Go's own. A lone surrogate, which json.dumps writes as "\ud800" and no
// UTF-8 string can hold, is refused, as Go refuses to seal invalid UTF-8.
func TestInteropUnicode(t *testing.T) {
	t.Parallel()
	py := startPython(t)
	key := authix.GenerateKey()
	v, err := authix.New[map[string]string](authix.WithKeys(key))
	require.NoError(t, err)
	const text = "Jöhn 😀 \u2028"

	for _, ascii := range []bool{false, true} {
		res := py.call(map[string]any{"op": "seal", "keys": []string{key}, "payload": map[string]any{"name": text}, "ascii": ascii})
		require.Empty(t, res.Error)
		got, err := v.DecodeAccessToken(res.Token)
		require.NoError(t, err, "ascii %v", ascii)
		assert.Equal(t, text, got["name"], "ascii %v", ascii)
	}

	// Go's JSON cannot carry a lone surrogate, so the command is written by hand.
	res := py.callLine(`{"op":"seal","keys":["` + key + `"],"payload":{"name":"\ud800"},"ascii":true}`)
	require.Empty(t, res.Error)
	_, err = v.DecodeAccessToken(res.Token)
	assert.ErrorIs(t, err, authix.ErrInvalidToken, "a lone surrogate")

	tok, err := v.CreateAccessToken(map[string]string{"name": text})
	require.NoError(t, err)
	opened := py.open([]string{key}, tok, 3600, 0)
	require.Empty(t, opened.Error)
	assert.Equal(t, text, opened.Payload["name"], "Go's token in Python")
	_, err = v.CreateAccessToken(map[string]string{"name": "\xed\xa0\x80"}) // a surrogate in UTF-8 form
	assert.ErrorIs(t, err, authix.ErrUnsupportedPayload)
}
