package authix_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const denyBody = `{"detail":"Cross-origin request denied"}` + "\n"

// csrfServer serves vault.RequireData around a handler that counts its
// runs and echoes the payload's name, on a real listener, so that requests
// carry the Host a server sees.
func csrfServer(t *testing.T, vault *authix.Vault[User]) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var runs atomic.Int64
	h := vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		u, ok := vault.Data(r.Context())
		if !ok {
			http.Error(w, "no data in context", http.StatusInternalServerError)
			return
		}
		_, _ = io.WriteString(w, "hello "+u.Name)
	}))
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv, &runs
}

type requestSpec struct {
	method  string
	cookie  string // Cookie header value; "" for none
	apiKey  string // X-API-Key value
	bearer  string // Authorization: Bearer value
	headers map[string]string
}

func doRequest(t *testing.T, srv *httptest.Server, path string, rq requestSpec) (int, string) {
	t.Helper()
	req, err := http.NewRequest(rq.method, srv.URL+path, strings.NewReader("a=1"))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if rq.cookie != "" {
		req.Header.Set("Cookie", rq.cookie)
	}
	if rq.apiKey != "" {
		req.Header.Set("X-API-Key", rq.apiKey)
	}
	if rq.bearer != "" {
		req.Header.Set("Authorization", "Bearer "+rq.bearer)
	}
	for k, v := range rq.headers {
		req.Header.Set(k, v)
	}
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(body)
}

func TestCrossOriginCookieRequests(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA), authix.WithHeader("X-API-Key"), authix.WithBearer())
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	self := srv.URL // the origin the server is reached at, http://127.0.0.1:port
	cookie := authix.DefaultCookieName + "=" + tok
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}

	cases := []struct {
		name string
		rq   requestSpec
		want int // 200: the handler ran; otherwise it must not have
	}{
		{"same-origin POST with cookie", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": self}}, 200},
		{"user-initiated POST with cookie (Sec-Fetch-Site: none)", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Sec-Fetch-Site": "none"}}, 200},
		{"cross-site POST with cookie", requestSpec{method: "POST", cookie: cookie, headers: cross}, 403},
		{"cross-site POST with cookie, no Origin", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Sec-Fetch-Site": "cross-site"}}, 403},
		{"same-site (sibling subdomain) POST with cookie", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://other.example"}}, 403},
		{"cross-site PUT with cookie", requestSpec{method: "PUT", cookie: cookie, headers: cross}, 403},
		{"cross-site PATCH with cookie", requestSpec{method: "PATCH", cookie: cookie, headers: cross}, 403},
		{"cross-site DELETE with cookie", requestSpec{method: "DELETE", cookie: cookie, headers: cross}, 403},
		{"cross-site POST with an invalid cookie is refused before the token is read", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=garbage", headers: cross}, 403},
		{"Sec-Fetch-Site: cross-site wins over a same Origin", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": self}}, 403},
		{"Sec-Fetch-Site: same-origin wins over a foreign Origin", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Sec-Fetch-Site": "same-origin", "Origin": "https://evil.example"}}, 200},
		{"cross-site GET with cookie", requestSpec{method: "GET", cookie: cookie, headers: cross}, 200},
		{"cross-site OPTIONS with cookie", requestSpec{method: "OPTIONS", cookie: cookie, headers: cross}, 200},
		{"cross-site POST with the token in X-API-Key", requestSpec{method: "POST", apiKey: tok, headers: cross}, 200},
		{"cross-site POST with the token as Bearer", requestSpec{method: "POST", bearer: tok, headers: cross}, 200},
		{"cross-site POST with an empty cookie and the token in X-API-Key", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=", apiKey: tok, headers: cross}, 200},
		// The cookie wins over the header, so a browser that attaches the
		// cookie to a cross-site request is still refused.
		{"cross-site POST with cookie and X-API-Key", requestSpec{method: "POST", cookie: cookie, apiKey: tok, headers: cross}, 403},
		{"cross-site POST with cookie and Bearer", requestSpec{method: "POST", cookie: cookie, bearer: tok, headers: cross}, 403},
		{"cross-site POST without a token", requestSpec{method: "POST", headers: cross}, 401},
		// Older browsers send Origin but no Sec-Fetch-Site: Origin is
		// compared with the Host the server received.
		{"no Sec-Fetch-Site, Origin matches Host", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Origin": self}}, 200},
		{"no Sec-Fetch-Site, foreign Origin", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Origin": "https://evil.example"}}, 403},
		{"no Sec-Fetch-Site, Origin on another port", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Origin": "http://127.0.0.1:1"}}, 403},
		{"no Sec-Fetch-Site, Origin null", requestSpec{method: "POST", cookie: cookie, headers: map[string]string{"Origin": "null"}}, 403},
		{"neither Sec-Fetch-Site nor Origin (not a browser)", requestSpec{method: "POST", cookie: cookie}, 200},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := runs.Load()
			status, body := doRequest(t, srv, "/", c.rq)
			assert.Equal(t, c.want, status, "body: %s", body)
			if c.want == http.StatusOK {
				assert.Equal(t, "hello John", body)
				assert.Equal(t, before+1, runs.Load(), "the handler must run once")
				return
			}
			assert.Equal(t, before, runs.Load(), "the handler must not run")
			if c.want == http.StatusForbidden {
				assert.Equal(t, denyBody, body)
			}
		})
	}
}

func TestCrossOriginHEADWithCookie(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	status, _ := doRequest(t, srv, "/", requestSpec{method: "HEAD", cookie: authix.DefaultCookieName + "=" + tok,
		headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	assert.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, runs.Load())
}

func TestCrossOriginTrustedOrigins(t *testing.T) {
	t.Parallel()
	cop := http.NewCrossOriginProtection()
	require.NoError(t, cop.AddTrustedOrigin("https://app.example.com"))
	require.NoError(t, cop.AddTrustedOrigin("https://admin.example.com:8443"))
	vault, err := authix.New[User](authix.WithKeys(keyA), authix.WithCrossOriginProtection(cop))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	cookie := authix.DefaultCookieName + "=" + tok

	for _, c := range []struct {
		name    string
		headers map[string]string
		want    int
	}{
		{"trusted origin, cross-site", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://app.example.com"}, 200},
		{"trusted origin with port, same-site", map[string]string{"Sec-Fetch-Site": "same-site", "Origin": "https://admin.example.com:8443"}, 200},
		{"trusted origin, old browser", map[string]string{"Origin": "https://app.example.com"}, 200},
		{"trusted host on another scheme", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "http://app.example.com"}, 403},
		{"trusted host on another port", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://admin.example.com"}, 403},
		{"suffix of a trusted origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evilapp.example.com"}, 403},
		{"untrusted origin", map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}, 403},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := runs.Load()
			status, body := doRequest(t, srv, "/", requestSpec{method: "POST", cookie: cookie, headers: c.headers})
			assert.Equal(t, c.want, status, "body: %s", body)
			wantRuns := before
			if c.want == http.StatusOK {
				wantRuns++
			}
			assert.Equal(t, wantRuns, runs.Load())
		})
	}
}

func TestCrossOriginProtectionOff(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA), authix.WithCrossOriginProtection(nil))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	status, body := doRequest(t, srv, "/", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=" + tok,
		headers: map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}})
	assert.Equal(t, http.StatusOK, status)
	assert.Equal(t, "hello John", body)
	assert.EqualValues(t, 1, runs.Load())
	assert.Nil(t, vault.CrossOriginProtection())
}

func TestCrossOriginDenyHandler(t *testing.T) {
	t.Parallel()
	var denied, errored atomic.Int64
	var lastErr atomic.Value
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		denied.Add(1)
		w.WriteHeader(http.StatusTeapot)
		_, _ = io.WriteString(w, "denied")
	}))
	vault, err := authix.New[User](authix.WithKeys(keyA), authix.WithHeader("X-API-Key"),
		authix.WithCrossOriginProtection(cop),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			errored.Add(1)
			lastErr.Store(err)
			authix.DefaultErrorHandler(w, r, err)
		}))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	cross := map[string]string{"Sec-Fetch-Site": "cross-site", "Origin": "https://evil.example"}

	status, body := doRequest(t, srv, "/", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=" + tok, headers: cross})
	assert.Equal(t, http.StatusTeapot, status)
	assert.Equal(t, "denied", body)
	assert.EqualValues(t, 1, denied.Load())
	assert.Zero(t, errored.Load(), "the deny handler replaces the error handler for cross-origin requests")
	assert.Zero(t, runs.Load())

	// Token failures still go to the error handler.
	status, _ = doRequest(t, srv, "/", requestSpec{method: "POST", apiKey: "garbage", headers: cross})
	assert.Equal(t, http.StatusUnauthorized, status)
	assert.EqualValues(t, 1, errored.Load())
	assert.ErrorIs(t, lastErr.Load().(error), authix.ErrInvalidToken)
	assert.EqualValues(t, 1, denied.Load())

	// A header token passes; the deny handler is not called.
	status, _ = doRequest(t, srv, "/", requestSpec{method: "POST", apiKey: tok, headers: cross})
	assert.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, denied.Load())
	assert.EqualValues(t, 1, runs.Load())
}

func TestCrossOriginErrorReachesErrorHandler(t *testing.T) {
	t.Parallel()
	var got atomic.Value
	vault, err := authix.New[User](authix.WithKeys(keyA),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got.Store(err)
			authix.DefaultErrorHandler(w, r, err)
		}))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	status, body := doRequest(t, srv, "/", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=" + tok,
		headers: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Equal(t, denyBody, body)
	assert.Zero(t, runs.Load())
	err, _ = got.Load().(error)
	assert.ErrorIs(t, err, authix.ErrCrossOrigin)
}

// TestCrossOriginAuthenticateHostFallback drives Authenticate with
// server-side requests (httptest.NewRequest sets Host as a server would)
// for the Origin-against-Host fallback without Sec-Fetch-Site.
func TestCrossOriginAuthenticateHostFallback(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)

	for _, c := range []struct {
		name, host, origin string
		want               error
	}{
		{"origin matches host", "shop.example.com", "https://shop.example.com", nil},
		{"origin matches host and port", "shop.example.com:8443", "https://shop.example.com:8443", nil},
		{"origin lacks the port", "shop.example.com:8443", "https://shop.example.com", authix.ErrCrossOrigin},
		{"origin on another host", "shop.example.com", "https://evil.example.com", authix.ErrCrossOrigin},
		{"origin is a subdomain of host", "example.com", "https://evil.example.com", authix.ErrCrossOrigin},
		{"origin null", "shop.example.com", "null", authix.ErrCrossOrigin},
		{"origin unparsable", "shop.example.com", "https://%zz", authix.ErrCrossOrigin},
		{"no origin", "shop.example.com", "", nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/orders", strings.NewReader("a=1"))
			r.Host = c.host
			r.Header.Set("Cookie", authix.DefaultCookieName+"="+tok)
			if c.origin != "" {
				r.Header.Set("Origin", c.origin)
			}
			u, err := vault.Authenticate(r)
			if c.want == nil {
				require.NoError(t, err)
				assert.Equal(t, "John", u.Name)
				return
			}
			require.ErrorIs(t, err, c.want)
			assert.Zero(t, u)
		})
	}
}

func TestCrossOriginOptionalData(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	var sawData, runs atomic.Int64
	srv := httptest.NewServer(vault.OptionalData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs.Add(1)
		if _, ok := vault.Data(r.Context()); ok {
			sawData.Add(1)
		}
	})))
	defer srv.Close()
	status, _ := doRequest(t, srv, "/", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=" + tok,
		headers: map[string]string{"Sec-Fetch-Site": "cross-site"}})
	assert.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, runs.Load())
	assert.Zero(t, sawData.Load(), "a cross-site cookie request must be anonymous")

	status, _ = doRequest(t, srv, "/", requestSpec{method: "POST", cookie: authix.DefaultCookieName + "=" + tok,
		headers: map[string]string{"Sec-Fetch-Site": "same-origin"}})
	assert.Equal(t, http.StatusOK, status)
	assert.EqualValues(t, 1, sawData.Load())
}

// TestHostPrefixCookie backs SECURITY.md's advice against cookies planted by
// sibling subdomains: a "__Host-" cookie template works, and its Set-Cookie
// meets the prefix's rules (Secure, Path=/, no Domain).
func TestHostPrefixCookie(t *testing.T) {
	t.Parallel()
	tmpl := authix.DefaultCookie()
	tmpl.Name = "__Host-access-token"
	vault, err := authix.New[User](authix.WithKeys(keyA), authix.WithCookie(tmpl))
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	require.NoError(t, vault.SetAccessToken(rec, User{ID: 1, Name: "John"}))
	set := rec.Result().Cookies()
	require.Len(t, set, 1)
	c := set[0]
	assert.Equal(t, "__Host-access-token", c.Name)
	assert.True(t, c.Secure)
	assert.Equal(t, "/", c.Path)
	assert.Empty(t, c.Domain)

	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", authix.DefaultCookieName+"="+c.Value+"; __Host-access-token="+c.Value)
	u, err := vault.Authenticate(r)
	require.NoError(t, err)
	assert.Equal(t, "John", u.Name)
	r.Header.Set("Cookie", authix.DefaultCookieName+"="+c.Value)
	_, err = vault.Authenticate(r)
	assert.ErrorIs(t, err, authix.ErrMissingToken, "a cookie without the prefix is not read")
}

// net/http compares only an Origin's host with Host, so an Origin with
// userinfo passes its check; no browser sends one, and authix refuses it.
func TestCrossOriginUserinfo(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	tok, err := vault.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	srv, runs := csrfServer(t, vault)
	host := strings.TrimPrefix(srv.URL, "http://")
	cookie := authix.DefaultCookieName + "=" + tok
	status, _ := doRequest(t, srv, "/", requestSpec{method: "POST", cookie: cookie,
		headers: map[string]string{"Origin": "http://evil@" + host}})
	assert.Equal(t, http.StatusForbidden, status)
	assert.Zero(t, runs.Load())
	status, _ = doRequest(t, srv, "/", requestSpec{method: "POST", cookie: cookie,
		headers: map[string]string{"Origin": "http://" + host}})
	assert.Equal(t, http.StatusOK, status, "the same Origin without userinfo")
}

// The vault's protection guards a login form that is not behind
// RequireData (login CSRF) exactly as it guards the vault's routes.
func TestCrossOriginProtectsLoginForm(t *testing.T) {
	t.Parallel()
	vault, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	var logins atomic.Int64
	login := vault.CrossOriginProtection().Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		logins.Add(1)
		_ = vault.SetAccessToken(w, User{ID: 1})
	}))
	for _, c := range []struct {
		site string
		want int
	}{{"cross-site", http.StatusForbidden}, {"same-origin", http.StatusOK}} {
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.Header.Set("Sec-Fetch-Site", c.site)
		rec := httptest.NewRecorder()
		login.ServeHTTP(rec, r)
		assert.Equal(t, c.want, rec.Code, c.site)
	}
	assert.EqualValues(t, 1, logins.Load())
}
