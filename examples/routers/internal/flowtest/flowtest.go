// Package flowtest drives the login, home and logout flow of examples/basic
// through a router's handler, the way a browser would, so that every router
// example is held to the same behaviour.
//
// The vault's cookie is Secure, and a cookie jar keeps Secure cookies only
// for https URLs, so the handler is served by httptest.NewTLSServer and
// requested with that server's client, which trusts its certificate, plus a
// net/http/cookiejar jar.
package flowtest

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

// Run serves h over TLS and checks, in order:
//
//  1. GET /home without a token is 401 with authix's JSON body;
//  2. GET /login without a name is 400;
//  3. GET /login?name=John sets the access-token cookie (HttpOnly, Secure,
//     SameSite=Lax, Path=/, a browser-session cookie) and redirects with 302 to /home,
//     which answers {"hello":"John"};
//  4. GET /logout answers {"ok":true} and deletes the cookie;
//  5. GET /home is 401 again, and so is a replay of the old token: logout
//     revoked it, it did not only forget it.
func Run(t *testing.T, h http.Handler) {
	t.Helper()
	srv := httptest.NewTLSServer(h)
	t.Cleanup(srv.Close)
	base, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}

	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	client := srv.Client()
	client.Jar = jar
	client.Timeout = 10 * time.Second
	var redirects []*http.Response
	client.CheckRedirect = func(req *http.Request, via []*http.Request) error {
		redirects = append(redirects, req.Response)
		if len(via) >= 5 {
			return http.ErrUseLastResponse
		}
		return nil
	}

	// 1. Not logged in.
	status, body := get(t, client, srv.URL+"/home")
	wantJSON(t, "GET /home before login", status, body, http.StatusUnauthorized, map[string]any{"detail": "Not authenticated"})

	// 2. A login without a name.
	status, _ = get(t, client, srv.URL+"/login")
	if status != http.StatusBadRequest {
		t.Errorf("GET /login without a name: status %d, want %d", status, http.StatusBadRequest)
	}

	// 3. Log in, follow the redirect to /home.
	redirects = nil
	resp, body := do(t, client, newRequest(t, srv.URL+"/login?name=John"))
	wantJSON(t, "GET /login?name=John, redirected", resp.StatusCode, body, http.StatusOK, map[string]any{"hello": "John"})
	if resp.Request.URL.Path != "/home" {
		t.Errorf("login ended on %s, want /home", resp.Request.URL.Path)
	}
	if len(redirects) != 1 || redirects[0].StatusCode != http.StatusFound {
		t.Fatalf("login: want exactly one 302 redirect, got %d redirects", len(redirects))
	}
	set := findCookie(redirects[0].Cookies(), authix.DefaultCookieName)
	switch {
	case set == nil:
		t.Fatalf("login: no %s cookie in %q", authix.DefaultCookieName, redirects[0].Header.Values("Set-Cookie"))
	case set.Value == "", !set.HttpOnly, !set.Secure, set.SameSite != http.SameSiteLaxMode, set.Path != "/", set.MaxAge != 0, !set.Expires.IsZero():
		t.Errorf("login cookie %q: want a value, HttpOnly, Secure, SameSite=Lax, Path=/, no Max-Age or Expires", set.String())
	}
	token := set.Value
	if c := findCookie(jar.Cookies(base), authix.DefaultCookieName); c == nil || c.Value != token {
		t.Fatalf("the cookie jar does not hold the login cookie")
	}

	// A second visit to /home with the cookie alone, no redirect involved.
	status, body = get(t, client, srv.URL+"/home")
	wantJSON(t, "GET /home after login", status, body, http.StatusOK, map[string]any{"hello": "John"})

	// 4. Log out.
	redirects = nil
	resp, body = do(t, client, newRequest(t, srv.URL+"/logout"))
	wantJSON(t, "GET /logout", resp.StatusCode, body, http.StatusOK, map[string]any{"ok": true})
	if del := findCookie(resp.Cookies(), authix.DefaultCookieName); del == nil || del.MaxAge >= 0 {
		t.Errorf("logout: want a Set-Cookie that deletes %s, got %q", authix.DefaultCookieName, resp.Header.Values("Set-Cookie"))
	}
	if c := findCookie(jar.Cookies(base), authix.DefaultCookieName); c != nil {
		t.Errorf("the cookie jar still holds %s after logout", authix.DefaultCookieName)
	}

	// 5. Logged out: the jar has no cookie, and the old token is revoked.
	status, body = get(t, client, srv.URL+"/home")
	wantJSON(t, "GET /home after logout", status, body, http.StatusUnauthorized, map[string]any{"detail": "Not authenticated"})

	replay := newRequest(t, srv.URL+"/home")
	replay.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
	resp, body = do(t, srv.Client(), replay)
	wantJSON(t, "GET /home replaying the logged-out token", resp.StatusCode, body, http.StatusUnauthorized, map[string]any{"detail": "Not authenticated"})
}

func newRequest(t *testing.T, url string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func get(t *testing.T, client *http.Client, url string) (int, []byte) {
	t.Helper()
	resp, body := do(t, client, newRequest(t, url))
	return resp.StatusCode, body
}

func do(t *testing.T, client *http.Client, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	if err != nil {
		t.Fatalf("%s %s: reading the body: %v", req.Method, req.URL.Path, err)
	}
	return resp, body
}

func wantJSON(t *testing.T, what string, status int, body []byte, wantStatus int, want map[string]any) {
	t.Helper()
	if status != wantStatus {
		t.Errorf("%s: status %d, want %d (body %q)", what, status, wantStatus, body)
		return
	}
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Errorf("%s: body %q is not a JSON object: %v", what, body, err)
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s: body %s, want %v", what, strings.TrimSpace(string(body)), want)
	}
}

func findCookie(cookies []*http.Cookie, name string) *http.Cookie {
	for _, c := range cookies {
		if c.Name == name {
			return c
		}
	}
	return nil
}
