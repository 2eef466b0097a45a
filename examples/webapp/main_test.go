package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

// startApp serves the app over HTTPS (the cookie is Secure) with a fresh
// key and the memory store, or store when it is not nil, and the vault
// options extra.
func startApp(t *testing.T, store authix.RevocationStore, extra ...authix.Option) (*app, *httptest.Server) {
	t.Helper()
	a, err := newApp(authix.GenerateKey(), store, slog.New(slog.DiscardHandler), extra...)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(a.routes())
	t.Cleanup(srv.Close)
	return a, srv
}

// client is one browser: its own cookie jar, redirects not followed.
type client struct {
	t    *testing.T
	srv  *httptest.Server
	http *http.Client
}

func newClient(t *testing.T, srv *httptest.Server) *client {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	hc := *srv.Client() // a copy: srv.Client() is one client for all callers
	hc.Jar = jar
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &client{t: t, srv: srv, http: &hc}
}

// response is what a request got back, its body read.
type response struct {
	status int
	header http.Header
	body   string
	cookie *http.Cookie // the token cookie it set, if any
}

// do sends a request; hdr adds headers (name, value pairs).
func (c *client) do(method, path, contentType, body string, hdr ...string) response {
	c.t.Helper()
	req, err := http.NewRequest(method, c.srv.URL+path, strings.NewReader(body))
	if err != nil {
		c.t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	r := response{status: resp.StatusCode, header: resp.Header, body: string(b)}
	for _, ck := range resp.Cookies() {
		if ck.Name == authix.DefaultCookieName {
			r.cookie = ck
		}
	}
	return r
}

func (c *client) get(path string, hdr ...string) response { return c.do("GET", path, "", "", hdr...) }

func (c *client) post(path string, form url.Values, hdr ...string) response {
	return c.do("POST", path, "application/x-www-form-urlencoded", form.Encode(), hdr...)
}

// login posts the login form and fails the test unless it succeeds; hdr
// adds headers, such as a User-Agent.
func (c *client) login(name, password string, remember bool, hdr ...string) response {
	c.t.Helper()
	form := url.Values{"username": {name}, "password": {password}, "next": {"/account"}}
	if remember {
		form.Set("remember", "on")
	}
	r := c.post("/login", form, hdr...)
	if r.status != http.StatusSeeOther || r.header.Get("Location") != "/account" || r.cookie == nil {
		c.t.Fatalf("login as %s: %d to %q, cookie %v; want 303 to /account with a cookie", name, r.status, r.header.Get("Location"), r.cookie)
	}
	return r
}

func wantStatus(t *testing.T, what string, r response, status int, location string) {
	t.Helper()
	if r.status != status || r.header.Get("Location") != location {
		t.Fatalf("%s: %d to %q, want %d to %q\n%s", what, r.status, r.header.Get("Location"), status, location, r.body)
	}
}

func TestLoginForm(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	c := newClient(t, srv)

	wantStatus(t, "anonymous /account", c.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
	if r := c.get("/"); !strings.Contains(r.body, `<a href="/login">Log in</a>`) {
		t.Fatalf("anonymous home page has no login link:\n%s", r.body)
	}
	form := c.get("/login?next=%2Faccount")
	if form.status != http.StatusOK || !strings.Contains(form.body, `name="next" value="/account"`) {
		t.Fatalf("login form: %d, want 200 with next=/account:\n%s", form.status, form.body)
	}
	if r := c.get(`/login?next=/"><script>alert(1)</script>`); strings.Contains(r.body, "<script>") {
		t.Fatalf("next is not escaped:\n%s", r.body)
	}

	t.Run("wrong password", func(t *testing.T) {
		for _, creds := range [][2]string{{"bob", "wonderland"}, {"nobody", "builder"}, {"bob", ""}} {
			r := c.post("/login", url.Values{"username": {creds[0]}, "password": {creds[1]}})
			if r.status != http.StatusUnauthorized || r.cookie != nil || !strings.Contains(r.body, "Wrong username or password") {
				t.Errorf("login %q/%q: %d, cookie %v; want 401, no cookie, an error message", creds[0], creds[1], r.status, r.cookie)
			}
		}
	})
	t.Run("next is kept on this site", func(t *testing.T) {
		for next, want := range map[string]string{"/admin?x=1": "/admin?x=1", "//evil.example": "/", "https://evil.example/": "/", "": "/"} {
			r := newClient(t, srv).post("/login", url.Values{"username": {"bob"}, "password": {"builder"}, "next": {next}})
			wantStatus(t, "login with next="+next, r, http.StatusSeeOther, want)
		}
	})

	r := c.login("bob", "builder", false)
	if r.cookie.MaxAge != 0 || !r.cookie.HttpOnly || !r.cookie.Secure || r.cookie.SameSite != http.SameSiteLaxMode {
		t.Fatalf("cookie %v: want a browser-session cookie, HttpOnly, Secure, SameSite=Lax", r.cookie)
	}
	acc := c.get("/account")
	if acc.status != http.StatusOK || !strings.Contains(acc.body, `<dd id="name">bob</dd>`) ||
		!strings.Contains(acc.body, `<dd id="remembered">false</dd>`) || !strings.Contains(acc.body, `action="/logout-everywhere"`) {
		t.Fatalf("/account: %d\n%s", acc.status, acc.body)
	}
	if r := c.get("/"); !strings.Contains(r.body, "Logged in as <strong>bob</strong>") {
		t.Fatalf("home page after login:\n%s", r.body)
	}
}

func TestRememberMe(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	c := newClient(t, srv)
	r := c.login("bob", "builder", true)
	if want := int(rememberMe / time.Second); r.cookie.MaxAge != want {
		t.Fatalf("remembered login: cookie Max-Age %d, want %d", r.cookie.MaxAge, want)
	}
	if acc := c.get("/account"); !strings.Contains(acc.body, `<dd id="remembered">true</dd>`) {
		t.Fatalf("/account does not say the login is remembered:\n%s", acc.body)
	}
}

func TestAdmin(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	tests := []struct {
		name, user, password string
		status               int
		location, body       string
	}{
		{"anonymous", "", "", http.StatusSeeOther, "/login?next=%2Fadmin", ""},
		{"user", "bob", "builder", http.StatusForbidden, "", "This page is for admins only."},
		{"admin", "alice", "wonderland", http.StatusOK, "", "only admins see this page"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newClient(t, srv)
			if tt.user != "" {
				c.login(tt.user, tt.password, false)
			}
			r := c.get("/admin")
			wantStatus(t, "/admin", r, tt.status, tt.location)
			if !strings.Contains(r.body, tt.body) {
				t.Fatalf("/admin body lacks %q:\n%s", tt.body, r.body)
			}
		})
	}
}

// fakeClock stands still at clockStart until the test moves it; the server
// reads it while the test moves it.
type fakeClock struct{ ahead atomic.Int64 }

// clockStart is when every fake clock starts: pages show times to the
// minute, and tests compare them.
var clockStart = time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC)

func (c *fakeClock) now() time.Time          { return clockStart.Add(time.Duration(c.ahead.Load())) }
func (c *fakeClock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// setUser replaces the user called name in the app's table, or deletes
// them when u is nil, as an administrator would in the database.
func setUser(a *app, name string, u *User) {
	a.users.mu.Lock()
	defer a.users.mu.Unlock()
	if u == nil {
		delete(a.users.rows, name)
		return
	}
	acc := a.users.rows[name]
	acc.user = *u
	a.users.rows[name] = acc
}

// A remembered login lasts two weeks, but the user it carries is reloaded
// within minutes: a demoted admin loses the admin page, a deleted user
// their session.
func TestRenewalReloadsUser(t *testing.T) {
	t.Parallel()
	clk := new(fakeClock)
	a, srv := startApp(t, nil, authix.WithClock(clk.now))
	alice, bob := newClient(t, srv), newClient(t, srv)
	alice.login("alice", "wonderland", true)
	bobToken := bob.login("bob", "builder", true).cookie.Value
	wantStatus(t, "the admin's /admin", alice.get("/admin"), http.StatusOK, "")

	setUser(a, "alice", &User{ID: "u1", Name: "alice"})
	setUser(a, "bob", nil)
	clk.advance(10 * time.Minute) // past the renewal age

	r := alice.get("/admin")
	wantStatus(t, "the demoted admin's /admin", r, http.StatusForbidden, "")
	if r.cookie == nil || r.cookie.MaxAge <= 0 {
		t.Fatalf("the demoted admin's renewal set cookie %v, want a fresh persistent one", r.cookie)
	}
	acc := alice.get("/account")
	wantStatus(t, "the demoted admin's /account", acc, http.StatusOK, "")
	if !strings.Contains(acc.body, "<dt>Admin</dt><dd>false</dd>") {
		t.Fatalf("/account after the demotion still shows an admin:\n%s", acc.body)
	}

	wantStatus(t, "the deleted user's /account", bob.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
	replay := newClient(t, srv).get("/account", "Cookie", authix.DefaultCookieName+"="+bobToken)
	wantStatus(t, "the deleted user's token, replayed", replay, http.StatusSeeOther, "/login?next=%2Faccount")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	c := newClient(t, srv)
	token := c.login("bob", "builder", false).cookie.Value

	// A forged cross-site logout changes nothing.
	if r := c.post("/logout", nil, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden || r.cookie != nil {
		t.Fatalf("cross-site logout: %d, cookie %v; want 403 and no cookie", r.status, r.cookie)
	}
	wantStatus(t, "/account after the forged logout", c.get("/account"), http.StatusOK, "")

	r := c.post("/logout", nil)
	wantStatus(t, "logout", r, http.StatusSeeOther, "/")
	if r.cookie == nil || r.cookie.MaxAge >= 0 {
		t.Fatalf("logout: cookie %v, want it removed", r.cookie)
	}
	wantStatus(t, "/account after logout", c.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
	// The token itself was revoked, not only the cookie dropped.
	replay := newClient(t, srv).get("/account", "Cookie", authix.DefaultCookieName+"="+token)
	wantStatus(t, "/account with the logged-out token", replay, http.StatusSeeOther, "/login?next=%2Faccount")
}

func TestLogoutEverywhere(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	laptop, phone, bob := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	laptop.login("alice", "wonderland", false)
	phone.login("alice", "wonderland", true)
	bob.login("bob", "builder", false)
	apiToken := apiLogin(t, newClient(t, srv), "alice", "wonderland")

	r := laptop.post("/logout-everywhere", nil)
	wantStatus(t, "logout everywhere", r, http.StatusSeeOther, "/")
	if r.cookie == nil || r.cookie.MaxAge >= 0 {
		t.Fatalf("logout everywhere: cookie %v, want it removed", r.cookie)
	}
	wantStatus(t, "the phone's /account", phone.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
	if r := newClient(t, srv).get("/api/me", "Authorization", "Bearer "+apiToken); r.status != http.StatusUnauthorized {
		t.Fatalf("alice's API token after logout everywhere: %d, want 401", r.status)
	}
	wantStatus(t, "bob's /account", bob.get("/account"), http.StatusOK, "")

	// A login after it is a new session.
	phone.login("alice", "wonderland", false)
	wantStatus(t, "the phone's /account after a new login", phone.get("/account"), http.StatusOK, "")
}

// apiLogin logs in through the JSON API and returns the Bearer token; hdr
// adds headers.
func apiLogin(t *testing.T, c *client, name, password string, hdr ...string) string {
	t.Helper()
	body, _ := json.Marshal(map[string]string{"username": name, "password": password})
	r := c.do("POST", "/api/login", "application/json", string(body), hdr...)
	var got struct {
		AccessToken string    `json:"access_token"`
		TokenType   string    `json:"token_type"`
		ExpiresAt   time.Time `json:"expires_at"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil || r.status != http.StatusOK {
		t.Fatalf("API login: %d %s (%v)", r.status, r.body, err)
	}
	if got.AccessToken == "" || got.TokenType != "Bearer" || got.ExpiresAt.IsZero() || r.cookie != nil {
		t.Fatalf("API login answered %s and cookie %v; want a Bearer token, its expiry and no cookie", r.body, r.cookie)
	}
	return got.AccessToken
}

func TestAPI(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	c := newClient(t, srv)
	token := apiLogin(t, c, "alice", "wonderland")
	alice := `{"id":"u1","name":"alice","admin":true}` + "\n"

	tests := []struct {
		name   string
		hdr    []string
		status int
		body   string
	}{
		{"bearer", []string{"Authorization", "Bearer " + token}, http.StatusOK, alice},
		{"no token", nil, http.StatusUnauthorized, `{"detail":"Not authenticated"}` + "\n"},
		{"garbage", []string{"Authorization", "Bearer nope"}, http.StatusUnauthorized, `{"detail":"Not authenticated"}` + "\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := c.get("/api/me", tt.hdr...)
			if r.status != tt.status || r.body != tt.body || r.header.Get("Content-Type") != "application/json" {
				t.Fatalf("/api/me: %d %q (%s), want %d %q", r.status, r.body, r.header.Get("Content-Type"), tt.status, tt.body)
			}
			if tt.status == http.StatusUnauthorized && r.header.Get("WWW-Authenticate") != "Bearer" {
				t.Fatalf("401 without WWW-Authenticate: Bearer: %v", r.header)
			}
		})
	}
	t.Run("cookie", func(t *testing.T) {
		b := newClient(t, srv)
		b.login("alice", "wonderland", false)
		if r := b.get("/api/me"); r.status != http.StatusOK || r.body != alice {
			t.Fatalf("/api/me with the cookie: %d %q", r.status, r.body)
		}
	})
	t.Run("bad login", func(t *testing.T) {
		for body, status := range map[string]int{`{"username":"alice","password":"x"}`: 401, `not json`: 400} {
			if r := c.do("POST", "/api/login", "application/json", body); r.status != status || r.cookie != nil {
				t.Errorf("API login with %s: %d, want %d", body, r.status, status)
			}
		}
	})
}

func TestLoginCSRF(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	form := url.Values{"username": {"bob"}, "password": {"builder"}}
	tests := []struct {
		name   string
		hdr    []string
		status int
	}{
		{"cross-site form", []string{"Sec-Fetch-Site", "cross-site"}, http.StatusForbidden},
		{"other origin, no Sec-Fetch-Site", []string{"Origin", "https://evil.example"}, http.StatusForbidden},
		{"same-origin form", []string{"Sec-Fetch-Site", "same-origin", "Origin", srv.URL}, http.StatusSeeOther},
		{"not a browser", nil, http.StatusSeeOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newClient(t, srv).post("/login", form, tt.hdr...)
			if r.status != tt.status || (r.cookie != nil) != (tt.status == http.StatusSeeOther) {
				t.Fatalf("POST /login: %d, cookie %v; want %d, a cookie only when it is accepted", r.status, r.cookie, tt.status)
			}
		})
	}
}

// plainStore is a revocation store without SubjectStore, as redisstore was
// before it could revoke subjects.
type plainStore struct{ authix.RevocationStore }

func TestStoreWithoutSubjects(t *testing.T) {
	t.Parallel()
	a, srv := startApp(t, plainStore{authix.NewMemoryStore(nil)})
	if a.everywhere {
		t.Fatal("everywhere is set for a store that cannot revoke subjects")
	}
	c := newClient(t, srv)
	c.login("alice", "wonderland", false)
	if r := c.get("/account"); r.status != http.StatusOK || strings.Contains(r.body, "/logout-everywhere") {
		t.Fatalf("/account: %d, want 200 without the log-out-everywhere form:\n%s", r.status, r.body)
	}
	for _, path := range []string{"/logout-everywhere", "/password", "/devices/end-others"} {
		if r := c.post(path, nil); r.status != http.StatusNotFound {
			t.Fatalf("POST %s: %d, want 404", path, r.status)
		}
	}
	if r := c.get("/devices"); r.status != http.StatusNotFound {
		t.Fatalf("GET /devices: %d, want 404", r.status)
	}
	wantStatus(t, "logout", c.post("/logout", nil), http.StatusSeeOther, "/")
}

func TestRunNeedsKeys(t *testing.T) {
	t.Parallel()
	env := map[string]string{"ADDR": "127.0.0.1:0", "AUTHIX_KEYS": " , "}
	err := run(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
	if !errors.Is(err, errNoKeys) {
		t.Fatalf("run without keys: %v, want errNoKeys", err)
	}
}
