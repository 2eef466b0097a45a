package authix_test

import (
	"context"
	"encoding/base64"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTokenSources(t *testing.T) {
	t.Parallel()
	newVault := func(opts ...authix.Option) *authix.Vault[User] {
		v, err := authix.New[User](append([]authix.Option{authix.WithKeys(keyA)}, opts...)...)
		require.NoError(t, err)
		return v
	}
	v := newVault()
	john, err := v.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)
	ann, err := v.CreateAccessToken(User{Name: "Ann"})
	require.NoError(t, err)

	type request struct {
		cookie, header, authorization string
	}
	cases := []struct {
		name    string
		opts    []authix.Option
		req     request
		want    string // payload name; empty means an error
		wantErr error
	}{
		{"cookie only", nil, request{cookie: john}, "John", nil},
		{"header ignored by default", nil, request{header: john}, "", authix.ErrMissingToken},
		{"header only", []authix.Option{authix.WithHeader(authix.DefaultHeader)}, request{header: john}, "John", nil},
		{"header name is case-insensitive", []authix.Option{authix.WithHeader("x-api-key")}, request{header: john}, "John", nil},
		{"both: cookie wins", []authix.Option{authix.WithHeader(authix.DefaultHeader)}, request{cookie: john, header: ann}, "John", nil},
		{"both: a bad cookie still wins", []authix.Option{authix.WithHeader(authix.DefaultHeader)}, request{cookie: "bad", header: ann}, "", authix.ErrInvalidToken},
		{"without cookie, header", []authix.Option{authix.WithoutCookie(), authix.WithHeader(authix.DefaultHeader)}, request{cookie: john, header: ann}, "Ann", nil},
		{"without cookie, cookie ignored", []authix.Option{authix.WithoutCookie(), authix.WithHeader(authix.DefaultHeader)}, request{cookie: john}, "", authix.ErrMissingToken},
		{"neither", nil, request{}, "", authix.ErrMissingToken},
		{"bearer", []authix.Option{authix.WithBearer()}, request{authorization: "Bearer " + ann}, "Ann", nil},
		{"bearer scheme any case", []authix.Option{authix.WithBearer()}, request{authorization: "bearer " + ann}, "Ann", nil},
		{"bearer off", nil, request{authorization: "Bearer " + ann}, "", authix.ErrMissingToken},
		{"basic is not bearer", []authix.Option{authix.WithBearer()}, request{authorization: "Basic " + ann}, "", authix.ErrMissingToken},
		{"cookie before bearer", []authix.Option{authix.WithBearer()}, request{cookie: john, authorization: "Bearer " + ann}, "John", nil},
		{"custom cookie name", []authix.Option{authix.WithCookie(withName("sid"))}, request{cookie: john}, "", authix.ErrMissingToken},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			v := newVault(c.opts...)
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			if c.req.cookie != "" {
				r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: c.req.cookie})
			}
			if c.req.header != "" {
				r.Header.Set(authix.DefaultHeader, c.req.header)
			}
			if c.req.authorization != "" {
				r.Header.Set("Authorization", c.req.authorization)
			}
			got, err := v.Authenticate(r)
			if c.wantErr != nil {
				require.ErrorIs(t, err, c.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got.Name)
		})
	}
}

func withName(name string) http.Cookie {
	c := authix.DefaultCookie()
	c.Name = name
	return c
}

func TestExtractAccessToken(t *testing.T) {
	t.Parallel()
	v, err := authix.New[User](authix.WithHeader("X-Token"))
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	_, ok := v.ExtractAccessToken(r)
	assert.False(t, ok)
	r.Header.Set("X-Token", "anything")
	tok, ok := v.ExtractAccessToken(r)
	assert.True(t, ok)
	assert.Equal(t, "anything", tok, "extraction does not validate")
	r.Header.Add("Cookie", "other=1; access-token=\"quoted\"; access-token=second")
	tok, ok = v.ExtractAccessToken(r)
	assert.True(t, ok)
	assert.Equal(t, "quoted", tok, "the first cookie of that name, unquoted, as net/http reads it")
}

// TestRejections sends every kind of bad token through RequireData and
// checks the client sees one identical answer while the error handler
// sees the precise error.
func TestRejections(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	var handled error
	v, err := authix.New[User](
		authix.WithKeys(keyA), authix.WithClock(clk.Now),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			authix.DefaultErrorHandler(w, r, err)
		}),
	)
	require.NoError(t, err)
	valid, err := v.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)
	revoked, err := v.CreateAccessToken(User{Name: "Revoked"})
	require.NoError(t, err)
	require.NoError(t, v.DisableAccessToken(context.Background(), revoked))
	otherKey, err := authix.New[User]()
	require.NoError(t, err)
	foreign, err := otherKey.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)
	clk.Advance(-2 * time.Hour)
	old, err := v.CreateAccessToken(User{Name: "Old"})
	require.NoError(t, err)
	clk.Advance(2 * time.Hour)

	raw, err := base64.URLEncoding.DecodeString(valid)
	require.NoError(t, err)
	raw[len(raw)/2] ^= 0x01
	tampered := base64.URLEncoding.EncodeToString(raw)

	cases := []struct {
		name  string
		token string
		want  error
	}{
		{"none", "", authix.ErrMissingToken},
		{"expired", old, authix.ErrExpiredToken},
		{"tampered", tampered, authix.ErrInvalidToken},
		{"wrong key", foreign, authix.ErrInvalidToken},
		{"truncated", valid[:len(valid)-8], authix.ErrInvalidToken},
		{"non-base64", "!!!not-base64!!!", authix.ErrInvalidToken},
		{"5000 bytes", strings.Repeat("A", 5000), authix.ErrInvalidToken},
		{"revoked", revoked, authix.ErrRevokedToken},
	}
	var bodies []string
	for _, c := range cases {
		handled = nil
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		if c.token != "" {
			r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: c.token})
		}
		rec := httptest.NewRecorder()
		ran := false
		v.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })).ServeHTTP(rec, r)
		assert.False(t, ran, c.name)
		assert.Equal(t, http.StatusUnauthorized, rec.Code, c.name)
		assert.Equal(t, "application/json", rec.Header().Get("Content-Type"), c.name)
		assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"), c.name)
		assert.ErrorIs(t, handled, c.want, c.name)
		bodies = append(bodies, rec.Body.String())
	}
	for i, b := range bodies {
		assert.Equal(t, bodies[0], b, "client-visible body of %q differs", cases[i].name)
	}

	// And the valid token still works.
	got, err := v.Authenticate(cookieRequest(valid))
	require.NoError(t, err)
	assert.Equal(t, "John", got.Name)
}

func TestCookieAttributes(t *testing.T) {
	t.Parallel()
	v, err := authix.New[User]()
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(rec, User{Name: "John"}))
	line := rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"access-token=gAAAAA", "Path=/", "HttpOnly", "Secure", "SameSite=Lax"} {
		assert.Contains(t, line, attr)
	}
	assert.NotContains(t, line, "Domain=")
	assert.NotContains(t, line, "Max-Age", "a normal login's cookie lasts for the browser session")
	assert.NotContains(t, line, "Expires")

	rec = httptest.NewRecorder()
	v.RemoveAccessToken(rec)
	line = rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"access-token=;", "Path=/", "Max-Age=0", "Expires=Thu, 01 Jan 1970", "HttpOnly", "Secure", "SameSite=Lax"} {
		assert.Contains(t, line, attr)
	}

	tmpl := authix.DefaultCookie()
	tmpl.Name, tmpl.Path, tmpl.Domain, tmpl.SameSite = "sid", "/app", "example.com", http.SameSiteStrictMode
	v, err = authix.New[User](authix.WithCookie(tmpl), authix.WithTTL(15*time.Minute))
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(rec, User{Name: "John"}))
	line = rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"sid=gAAAAA", "Path=/app", "Domain=example.com", "HttpOnly", "Secure", "SameSite=Strict"} {
		assert.Contains(t, line, attr)
	}
	rec = httptest.NewRecorder()
	v.RemoveAccessToken(rec)
	line = rec.Header().Get("Set-Cookie")
	for _, attr := range []string{"sid=;", "Path=/app", "Domain=example.com", "Max-Age=0"} {
		assert.Contains(t, line, attr)
	}

	v, err = authix.New[User](authix.WithCookie(http.Cookie{Name: "dev"}), authix.WithInsecureCookie())
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(rec, User{Name: "John"}))
	line = rec.Header().Get("Set-Cookie")
	assert.NotContains(t, line, "Secure")
	assert.NotContains(t, line, "HttpOnly")
	assert.Contains(t, line, "SameSite=Lax", "zero SameSite takes the default")

	v, err = authix.New[User](authix.WithoutCookie(), authix.WithBearer())
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	require.ErrorIs(t, v.SetAccessToken(rec, User{}), authix.ErrInvalidOption)
	v.RemoveAccessToken(rec)
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
}

func TestOptionalDataAndContextIsolation(t *testing.T) {
	t.Parallel()
	a, err := authix.New[User]()
	require.NoError(t, err)
	b, err := authix.New[User]()
	require.NoError(t, err)
	tok, err := a.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)

	var fromA, fromB bool
	var user User
	h := b.OptionalData(a.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, fromA = a.Data(r.Context())
		_, fromB = b.Data(r.Context())
	})))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, cookieRequest(tok))
	require.Equal(t, http.StatusOK, rec.Code)
	assert.True(t, fromA)
	assert.Equal(t, "John", user.Name)
	assert.False(t, fromB, "one vault never sees another's payload")

	ran := false
	rec = httptest.NewRecorder()
	a.OptionalData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ran = true
		_, ok := a.Data(r.Context())
		assert.False(t, ok)
	})).ServeHTTP(rec, cookieRequest("garbage"))
	assert.True(t, ran, "OptionalData never rejects")
	assert.Equal(t, http.StatusOK, rec.Code)

	_, ok := a.Data(context.Background())
	assert.False(t, ok)
	//lint:ignore SA1012 a nil context must not panic
	_, ok = a.Data(nil)
	assert.False(t, ok)

	// The context still behaves as a context.
	ctx, cancel := context.WithCancel(a.WithData(context.Background(), User{Name: "x"}))
	cancel()
	<-ctx.Done()
	got, ok := a.Data(ctx)
	assert.True(t, ok)
	assert.Equal(t, "x", got.Name)
}

func TestExampleFlowOverHTTP(t *testing.T) {
	t.Parallel()
	v, err := authix.New[map[string]string]()
	require.NoError(t, err)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, v.SetAccessToken(w, map[string]string{"name": r.URL.Query().Get("name")}))
		http.Redirect(w, r, "/home", http.StatusFound)
	})
	mux.Handle("GET /home", v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, _ := v.Data(r.Context())
		_, _ = io.WriteString(w, "hello "+data["name"])
	})))
	mux.Handle("GET /logout", v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, _ := v.ExtractAccessToken(r)
		require.NoError(t, v.DisableAccessToken(r.Context(), tok))
		v.RemoveAccessToken(w)
		_, _ = io.WriteString(w, "bye")
	})))
	srv := httptest.NewTLSServer(mux)
	defer srv.Close()
	client := srv.Client()
	jar := newJar()
	client.Jar = jar

	body, code := get(t, client, srv.URL+"/login?name=John")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "hello John", body)
	old := jar.value(authix.DefaultCookieName)
	require.NotEmpty(t, old)

	body, code = get(t, client, srv.URL+"/logout")
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, "bye", body)
	assert.Empty(t, jar.value(authix.DefaultCookieName), "the cookie was removed")

	req, err := http.NewRequest(http.MethodGet, srv.URL+"/home", nil)
	require.NoError(t, err)
	req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: old})
	resp, err := srv.Client().Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusUnauthorized, resp.StatusCode, "the old token is refused after logout")
}

func get(t *testing.T, c *http.Client, url string) (string, int) {
	t.Helper()
	resp, err := c.Get(url)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b), resp.StatusCode
}

func TestRejectUsesConfiguredHandlers(t *testing.T) {
	t.Parallel()
	var got error
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusConflict)
	}))
	v, err := authix.New[User](
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			got = err
			w.WriteHeader(http.StatusTeapot)
		}),
		authix.WithCrossOriginProtection(cop),
	)
	require.NoError(t, err)
	r := httptest.NewRequest(http.MethodGet, "/", nil)
	rec := httptest.NewRecorder()
	v.Reject(rec, r, authix.ErrExpiredToken)
	assert.Equal(t, http.StatusTeapot, rec.Code)
	assert.ErrorIs(t, got, authix.ErrExpiredToken)
	cross := httptest.NewRequest(http.MethodPost, "/", nil)
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	rec = httptest.NewRecorder()
	v.Reject(rec, cross, authix.ErrCrossOrigin)
	assert.Equal(t, http.StatusConflict, rec.Code, "the protection's deny handler answers cross-origin rejections")
}
