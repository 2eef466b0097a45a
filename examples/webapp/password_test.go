package main

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

// confirmForm is what the confirm form posts.
func confirmForm(password, next string) url.Values {
	return url.Values{"confirm": {"1"}, "password": {password}, "next": {next}}
}

func TestStepUp(t *testing.T) {
	t.Parallel()
	clk := new(fakeClock)
	_, srv := startApp(t, nil, authix.WithClock(clk.now))
	c := newClient(t, srv)
	c.login("alice", "wonderland", true)
	wantStatus(t, "/password right after login", c.get("/password"), http.StatusOK, "")

	clk.advance(stepUpAge) // not over it
	wantStatus(t, "/password at the step-up age", c.get("/password"), http.StatusOK, "")
	clk.advance(time.Second)
	const back = "/login?next=%2Fpassword"
	wantStatus(t, "/password past the step-up age", c.get("/password"), http.StatusSeeOther, back)
	wantStatus(t, "POST /password past the step-up age", c.post("/password", url.Values{"password": {"new password"}, "again": {"new password"}}), http.StatusSeeOther, back)
	wantStatus(t, "/account past the step-up age", c.get("/account"), http.StatusOK, "")

	form := c.get(back)
	if form.status != http.StatusOK || !strings.Contains(form.body, "Confirm your password") ||
		!strings.Contains(form.body, `name="confirm" value="1"`) || strings.Contains(form.body, `name="username"`) ||
		!strings.Contains(form.body, "logged in as <strong>alice</strong>") {
		t.Fatalf("%s: %d, want the confirm form for alice\n%s", back, form.status, form.body)
	}
	if plain := c.get("/login"); !strings.Contains(plain.body, `name="username"`) {
		t.Fatalf("/login without next: want the login form\n%s", plain.body)
	}

	t.Run("wrong password", func(t *testing.T) {
		r := c.post("/login", confirmForm("builder", "/password"))
		if r.status != http.StatusUnauthorized || r.cookie != nil || !strings.Contains(r.body, "Wrong password.") {
			t.Fatalf("confirm with bob's password: %d, cookie %v; want 401, no cookie, an error\n%s", r.status, r.cookie, r.body)
		}
	})
	t.Run("cross-site", func(t *testing.T) {
		r := c.post("/login", confirmForm("wonderland", "/password"), "Sec-Fetch-Site", "cross-site")
		if r.status != http.StatusForbidden || r.cookie != nil {
			t.Fatalf("cross-site confirm: %d, cookie %v; want 403 and no cookie", r.status, r.cookie)
		}
		wantStatus(t, "/password", c.get("/password"), http.StatusSeeOther, back)
	})
	t.Run("not logged in", func(t *testing.T) {
		r := newClient(t, srv).post("/login", confirmForm("wonderland", "/password"))
		if r.status != http.StatusUnauthorized || r.cookie != nil || !strings.Contains(r.body, "Your session has ended") {
			t.Fatalf("confirm without a session: %d, cookie %v\n%s", r.status, r.cookie, r.body)
		}
	})

	before := c.devices()
	old := c.get("/account").body
	r := c.post("/login", confirmForm("wonderland", "/password"))
	wantStatus(t, "confirm", r, http.StatusSeeOther, "/password")
	if r.cookie == nil || r.cookie.MaxAge <= 0 {
		t.Fatalf("confirm set cookie %v, want a new persistent one (the login was remembered)", r.cookie)
	}
	wantStatus(t, "/password after confirming", c.get("/password"), http.StatusOK, "")
	// The same session: one device, started at the login, ending as before.
	after := c.devices()
	if len(after) != 1 || after[0].started != before[0].started || after[0].ends != before[0].ends || !after[0].current {
		t.Fatalf("devices after confirming: %+v, want the one session of before, %+v", after, before)
	}
	if ends := sessionEnds(old); ends == "" || ends != sessionEnds(c.get("/account").body) {
		t.Fatalf("the session's end moved at the confirm: %q", ends)
	}
}

// sessionEnds is what the account page says about the session's end.
func sessionEnds(account string) string {
	_, rest, _ := strings.Cut(account, "<dt>Session ends</dt><dd>")
	end, _, _ := strings.Cut(rest, "</dd>")
	return end
}

func TestChangePassword(t *testing.T) {
	t.Parallel()
	clk := new(fakeClock)
	a, srv := startApp(t, nil, authix.WithClock(clk.now))
	laptop, phone, bob := newClient(t, srv), newClient(t, srv), newClient(t, srv)
	laptop.login("alice", "wonderland", true, "User-Agent", firefoxLinux)
	phone.login("alice", "wonderland", false)
	bob.login("bob", "builder", false)
	apiToken := apiLogin(t, newClient(t, srv), "alice", "wonderland")
	clk.advance(time.Minute)

	for _, tt := range []struct{ name, password, again, msg string }{
		{"short", "short", "short", "at least 8 characters"},
		{"differ", "a new password", "another password", "The two passwords differ."},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := laptop.post("/password", url.Values{"password": {tt.password}, "again": {tt.again}})
			if r.status != http.StatusBadRequest || !strings.Contains(r.body, tt.msg) {
				t.Fatalf("%s: %d, want 400 with %q\n%s", tt.name, r.status, tt.msg, r.body)
			}
		})
	}
	change := url.Values{"password": {"looking-glass"}, "again": {"looking-glass"}}
	if r := laptop.post("/password", change, "Sec-Fetch-Site", "cross-site"); r.status != http.StatusForbidden {
		t.Fatalf("cross-site password change: %d, want 403", r.status)
	}
	if _, ok := a.users.checkPassword("alice", "wonderland"); !ok {
		t.Fatal("a refused change changed the password")
	}

	r := laptop.post("/password", change, "User-Agent", firefoxLinux)
	if r.status != http.StatusOK || !strings.Contains(r.body, "Your password was changed") {
		t.Fatalf("change password: %d\n%s", r.status, r.body)
	}
	if r.cookie == nil || r.cookie.MaxAge != int(rememberMe/time.Second) {
		t.Fatalf("change password set cookie %v, want a new remembered one", r.cookie)
	}

	// This browser goes on; every other session of alice ends, bob's not.
	wantStatus(t, "the laptop's /account", laptop.get("/account"), http.StatusOK, "")
	wantStatus(t, "the laptop's /password", laptop.get("/password"), http.StatusOK, "")
	if acc := laptop.get("/account"); !strings.Contains(acc.body, `<dd id="remembered">true</dd>`) {
		t.Fatalf("the new session is not remembered:\n%s", acc.body)
	}
	if d := laptop.devices(); !slices.ContainsFunc(d, func(d device) bool { return d.current && d.label == "Firefox on Linux" }) {
		t.Fatalf("the laptop's devices: %+v, want this device named as at login", d)
	}
	wantStatus(t, "the phone's /account", phone.get("/account"), http.StatusSeeOther, "/login?next=%2Faccount")
	if r := newClient(t, srv).get("/api/me", "Authorization", "Bearer "+apiToken); r.status != http.StatusUnauthorized {
		t.Fatalf("alice's API token after the change: %d, want 401", r.status)
	}
	wantStatus(t, "bob's /account", bob.get("/account"), http.StatusOK, "")

	r = newClient(t, srv).post("/login", url.Values{"username": {"alice"}, "password": {"wonderland"}})
	wantStatus(t, "login with the old password", r, http.StatusUnauthorized, "")
	phone.login("alice", "looking-glass", false)
}

// A logged-in user who logs in as someone else from the login form starts
// a new session; only the confirm form confirms.
func TestLoginAsAnotherUser(t *testing.T) {
	t.Parallel()
	_, srv := startApp(t, nil)
	c := newClient(t, srv)
	c.login("bob", "builder", false)
	if form := c.get("/login?next=%2Fadmin"); !strings.Contains(form.body, "Confirm your password") {
		t.Fatalf("/login?next= for a logged-in user: want the confirm form\n%s", form.body)
	}
	c.login("alice", "wonderland", false)
	wantStatus(t, "alice's /admin", c.get("/admin"), http.StatusOK, "")
}
