package main

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/authix-go/authix"
)

// TestFlow runs the README's curl transcript against the example's routes.
func TestFlow(t *testing.T) {
	vault, err := authix.New[User]()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(routes(vault))
	defer srv.Close()
	client := srv.Client()
	client.Jar, _ = cookiejar.New(nil)
	u, _ := url.Parse(srv.URL)

	call := func(path string) (int, string) {
		t.Helper()
		resp, err := client.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, strings.TrimSpace(string(b))
	}
	if code, body := call("/login?name=John"); code != http.StatusOK || body != `{"hello":"John"}` {
		t.Fatalf("login: %d %s", code, body)
	}
	cookies := client.Jar.Cookies(u)
	if len(cookies) != 1 || cookies[0].Name != authix.DefaultCookieName {
		t.Fatalf("cookies after login: %v", cookies)
	}
	old := cookies[0].Value
	if code, body := call("/logout"); code != http.StatusOK || body != `{"ok":true}` {
		t.Fatalf("logout: %d %s", code, body)
	}
	if code, _ := call("/home"); code != http.StatusUnauthorized {
		t.Fatalf("home after logout without cookie: %d", code)
	}
	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/home", nil)
	req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: old})
	resp, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("replayed cookie after logout: %d, want 401", resp.StatusCode)
	}
	if code, _ := call("/login"); code != http.StatusBadRequest {
		t.Fatalf("login without name: %d", code)
	}
}
