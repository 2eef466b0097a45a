package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowserSlidingRenewal shows a sliding session renewing in Chromium.
// The server runs in the test with a fake clock (one-hour tokens, renewal
// past half their age, a 12-hour session); only that clock moves time:
//
//  1. /login?name=John redirects to /home, which greets John; the browser
//     holds a browser-session cookie (the original token);
//  2. 10 minutes later, /home is 200 and the cookie is the same: the token
//     is too young to renew;
//  3. 40 minutes after login, /home is 200 and the browser holds another
//     cookie value, the one the server set on that response (renewed);
//  4. 80 minutes after login, the original token has expired but the
//     session goes on: the browser sends the renewed token and /home is 200
//     (and renews it again, since it is 40 minutes old);
//  5. the original token put back into the browser is 401 (expired);
//  6. with the latest token back, /logout clears the cookie, /home is 401,
//     and each renewed token put back by hand is 401: the whole session was
//     revoked, including the renewed token the logout request did not carry.
//
// A screenshot of /home after the renewal is saved as TestBrowser saves its
// own. It skips without Chromium, unless AUTHIX_REQUIRE_BROWSER=1.
func TestBrowserSlidingRenewal(t *testing.T) {
	browserPath := findChromium(t)

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)

	srv := startRenewalServer(t)
	base := srv.url
	browser := startBrowser(ctx, t, browserPath)
	run := func(name string, f func(ctx context.Context) error) {
		t.Helper()
		sctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := f(sctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	loginAt := srv.now()
	hello := map[string]any{"hello": "John"}
	notAuthenticated := map[string]any{"detail": "Not authenticated"}

	// 1. Log in.
	var original string
	run("step 1: login", func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/login?name=John"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != base+"/home" {
			return fmt.Errorf("login ended on %s with status %d, want %s/home with 200", resp.URL, resp.Status, base)
		}
		if err := wantPageJSON(ctx, hello); err != nil {
			return err
		}
		c, err := sessionCookie(ctx, base)
		if err != nil {
			return err
		}
		original = c.Value
		return nil
	})
	if hit := srv.lastHome(t); hit.sent != original || hit.status != http.StatusOK || hit.setCookie != "" {
		t.Fatalf("step 1: the server saw %+v; want the login's token, 200 and no renewal", hit)
	}

	// 2. Too young to renew: the cookie stays.
	srv.advance(10 * time.Minute)
	run("step 2: no renewal at 10 minutes", func(ctx context.Context) error {
		if err := loadHome(ctx, base, http.StatusOK, hello); err != nil {
			return err
		}
		c, err := sessionCookie(ctx, base)
		if err != nil {
			return err
		}
		if c.Value != original {
			return errors.New("the cookie changed although the token is 10 minutes old")
		}
		return nil
	})
	if hit := srv.lastHome(t); hit.sent != original || hit.status != http.StatusOK || hit.setCookie != "" {
		t.Fatalf("step 2: the server saw %+v; want the original token, 200 and no renewal", hit)
	}

	// 3. Past half the lifetime: the response renews the cookie.
	srv.advance(30 * time.Minute)
	var renewed string
	run("step 3: renewal at 40 minutes", func(ctx context.Context) error {
		if err := loadHome(ctx, base, http.StatusOK, hello); err != nil {
			return err
		}
		c, err := sessionCookie(ctx, base)
		if err != nil {
			return err
		}
		if c.Value == original {
			return errors.New("the browser still holds the original token 40 minutes after login")
		}
		renewed = c.Value
		return screenshot(ctx, t, "home-after-renewal.png")
	})
	if hit := srv.lastHome(t); hit.sent != original || hit.status != http.StatusOK || hit.setCookie != renewed {
		t.Fatalf("step 3: the server saw %+v; want the original token, 200 and Set-Cookie with the value the browser now holds", hit)
	}
	if err := srv.check(original); err != nil {
		t.Fatalf("step 3: the original token should still be valid until its hour is up: %v", err)
	}
	t.Logf("step 3: %s after login the cookie changed (%d-byte token to a new %d-byte token)",
		srv.now().Sub(loginAt), len(original), len(renewed))

	// 4. The original token's hour is over; the session goes on.
	srv.advance(40 * time.Minute)
	if err := srv.check(original); !errors.Is(err, authix.ErrExpiredToken) {
		t.Fatalf("step 4: the original token 80 minutes after login: %v, want %v", err, authix.ErrExpiredToken)
	}
	var latest string
	run("step 4: session continues at 80 minutes", func(ctx context.Context) error {
		if err := loadHome(ctx, base, http.StatusOK, hello); err != nil {
			return err
		}
		c, err := sessionCookie(ctx, base)
		if err != nil {
			return err
		}
		latest = c.Value
		return nil
	})
	hit := srv.lastHome(t)
	if hit.sent != renewed || hit.status != http.StatusOK || hit.setCookie == "" || hit.setCookie != latest ||
		latest == renewed || latest == original {
		t.Fatalf("step 4: the server saw %+v; want the renewed token, 200 and a second renewal that the browser holds", hit)
	}
	t.Logf("step 4: %s after login /home is 200 on the renewed token, renewed again", srv.now().Sub(loginAt))

	// 5. The original token, put back, has expired.
	run("step 5: original token", func(ctx context.Context) error {
		if err := putCookie(ctx, base, original); err != nil {
			return err
		}
		return loadHome(ctx, base, http.StatusUnauthorized, notAuthenticated)
	})
	if hit := srv.lastHome(t); hit.sent != original || hit.status != http.StatusUnauthorized {
		t.Fatalf("step 5: the server saw %+v; want the original token and 401", hit)
	}

	// 6. Log out with the latest token: the session ends.
	if err := srv.check(renewed); err != nil {
		t.Fatalf("step 6: before logout the first renewed token should be valid: %v", err)
	}
	run("step 6: logout", func(ctx context.Context) error {
		if err := putCookie(ctx, base, latest); err != nil {
			return err
		}
		if err := loadHome(ctx, base, http.StatusOK, hello); err != nil {
			return fmt.Errorf("with the latest token back: %w", err)
		}
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/logout"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("logout: status %d, want 200", resp.Status)
		}
		if err := wantPageJSON(ctx, map[string]any{"ok": true}); err != nil {
			return err
		}
		if c, err := browserCookie(ctx, base, authix.DefaultCookieName); err != nil || c != nil {
			return fmt.Errorf("after logout the browser still has the cookie (%v)", err)
		}
		if err := loadHome(ctx, base, http.StatusUnauthorized, notAuthenticated); err != nil {
			return fmt.Errorf("after logout: %w", err)
		}
		for _, tok := range []struct{ name, value string }{{"latest", latest}, {"first renewed", renewed}} {
			if err := putCookie(ctx, base, tok.value); err != nil {
				return err
			}
			if err := loadHome(ctx, base, http.StatusUnauthorized, notAuthenticated); err != nil {
				return fmt.Errorf("the %s token put back after logout: %w", tok.name, err)
			}
			if hit := srv.lastHome(t); hit.sent != tok.value {
				return fmt.Errorf("the server did not get the %s token back: %+v", tok.name, hit)
			}
		}
		return nil
	})
	if srv.logouts() != 1 {
		t.Fatalf("step 6: the server logged out %d times, want 1", srv.logouts())
	}
	for _, tok := range []string{latest, renewed} {
		if err := srv.check(tok); !errors.Is(err, authix.ErrRevokedToken) {
			t.Fatalf("step 6: a renewed token after logout: %v, want %v", err, authix.ErrRevokedToken)
		}
	}
}

// renewalUser is the payload of the renewal server.
type renewalUser = struct {
	Name string `json:"name"`
}

// homeHit is what the renewal server saw of one GET /home.
type homeHit struct {
	sent      string // the token cookie the request carried
	status    int    // the status the server answered
	setCookie string // the token the response set, if any
}

// renewalServer serves a sliding-session vault with a clock the test sets.
type renewalServer struct {
	url     string
	clock   atomic.Int64 // Unix nanoseconds
	vault   *authix.Vault[renewalUser]
	mu      sync.Mutex
	homes   []homeHit
	logoutN int
}

func (s *renewalServer) now() time.Time { return time.Unix(0, s.clock.Load()) }

func (s *renewalServer) advance(d time.Duration) { s.clock.Add(int64(d)) }

func (s *renewalServer) lastHome(t *testing.T) homeHit {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.homes) == 0 {
		t.Fatal("the server saw no GET /home")
	}
	return s.homes[len(s.homes)-1]
}

func (s *renewalServer) logouts() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.logoutN
}

// check authenticates tok at the fake clock's time, as RequireData would,
// without renewing it.
func (s *renewalServer) check(tok string) error {
	r := httptest.NewRequest(http.MethodGet, "/home", nil)
	r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
	_, err := s.vault.Authenticate(r)
	return err
}

func startRenewalServer(t *testing.T) *renewalServer {
	t.Helper()
	s := &renewalServer{}
	// A fixed instant: nothing depends on the wall clock.
	s.clock.Store(time.Date(2030, time.January, 2, 9, 0, 0, 0, time.UTC).UnixNano())
	vault, err := authix.New[renewalUser](authix.WithClock(s.now), authix.WithSliding(0), authix.WithSessionLifetime(12*time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if authix.DefaultTTL != time.Hour {
		t.Fatalf("default TTL is %v, the steps assume one hour", authix.DefaultTTL)
	}
	s.vault = vault

	home := vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, _ := vault.Data(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"hello": user.Name})
	}))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if err := vault.SetAccessToken(w, renewalUser{Name: r.URL.Query().Get("name")}); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		http.Redirect(w, r, "/home", http.StatusSeeOther)
	})
	mux.HandleFunc("GET /home", func(w http.ResponseWriter, r *http.Request) {
		var hit homeHit
		if c, err := r.Cookie(authix.DefaultCookieName); err == nil {
			hit.sent = c.Value
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		home.ServeHTTP(sw, r)
		hit.status = sw.status
		for _, line := range w.Header().Values("Set-Cookie") {
			if c, err := http.ParseSetCookie(line); err == nil && c.Name == authix.DefaultCookieName {
				hit.setCookie = c.Value
			}
		}
		s.mu.Lock()
		s.homes = append(s.homes, hit)
		s.mu.Unlock()
	})
	mux.HandleFunc("/logout", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodPost {
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if err := vault.Logout(w, r); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		s.mu.Lock()
		s.logoutN++
		s.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true}` + "\n"))
	})
	hs := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(hs.Close)
	s.url = onLocalhost(hs.URL)
	return s
}

// sessionCookie returns the browser's token cookie for base, which must be
// a browser-session cookie with the vault's attributes.
func sessionCookie(ctx context.Context, base string) (*network.Cookie, error) {
	c, err := browserCookie(ctx, base, authix.DefaultCookieName)
	if err != nil {
		return nil, err
	}
	if c == nil {
		return nil, fmt.Errorf("the browser has no %s cookie for %s", authix.DefaultCookieName, base)
	}
	if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || !c.Session || c.Value == "" {
		return nil, fmt.Errorf("cookie httpOnly=%v secure=%v sameSite=%q path=%q session=%v len=%d; want a non-empty HttpOnly, Secure, Lax, / browser-session cookie",
			c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Session, len(c.Value))
	}
	return c, nil
}

// putCookie sets the token cookie in the browser by hand, as the server
// would.
func putCookie(ctx context.Context, base, value string) error {
	yes := true
	_, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
		Name: authix.DefaultCookieName, Value: value, URL: base + "/", Path: "/",
		Secure: &yes, HTTPOnly: &yes, SameSite: network.CookieSameSiteLax,
	})
	return err
}

// loadHome navigates to /home and checks its status and JSON.
func loadHome(ctx context.Context, base string, status int, want map[string]any) error {
	resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(base+"/home"))
	if err != nil {
		return err
	}
	if resp.Status != int64(status) {
		return fmt.Errorf("/home: status %d, want %d", resp.Status, status)
	}
	return wantPageJSON(ctx, want)
}
