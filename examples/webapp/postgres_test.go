package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/pgstore/pgtest"
)

// TestPostgresStore: with DATABASE_URL the app keeps revocations and
// devices in PostgreSQL (tables made at start), so two replicas of it, each
// with a Store of its own, share them: a token sealed by one works on the
// other, each lists the devices logged in on both, and a logout everywhere
// on one ends the sessions of the other.
func TestPostgresStore(t *testing.T) {
	srv := pgtest.Start(t)
	env := map[string]string{"DATABASE_URL": srv.URL()}
	key := authix.GenerateKey()
	replica := func() *httptest.Server {
		store, closeStore, err := openStore(context.Background(), func(k string) string { return env[k] }, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(closeStore)
		a, err := newApp(key, store, slog.New(slog.DiscardHandler))
		if err != nil {
			t.Fatal(err)
		}
		if !a.everywhere || !a.devices {
			t.Fatalf("on pgstore: log out everywhere %v, devices %v; want both", a.everywhere, a.devices)
		}
		hs := httptest.NewTLSServer(a.routes())
		t.Cleanup(hs.Close)
		return hs
	}
	one, two := replica(), replica()
	laptop, phone := newClient(t, one), newClient(t, two)
	laptop.login("alice", "wonderland", false, "User-Agent", firefoxLinux)
	phone.login("alice", "wonderland", true, "User-Agent", safariIPhone)
	if got := laptop.devices(); len(got) != 2 {
		t.Fatalf("the first replica lists %d devices, want 2 (one logged in on each replica): %+v", len(got), got)
	}
	// The laptop's cookie on the second replica (cookies do not depend on
	// the port).
	laptopOnTwo := &client{t: t, srv: two, http: laptop.http}
	wantStatus(t, "the laptop's /account on the second replica", laptopOnTwo.get("/account"), http.StatusOK, "")

	wantStatus(t, "logout everywhere on the first replica", laptop.post("/logout-everywhere", nil), http.StatusSeeOther, "/")
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		r := phone.get("/account")
		if r.status == http.StatusSeeOther && r.header.Get("Location") == "/login?next=%2Faccount" {
			break
		}
		if r.status != http.StatusOK || !strings.Contains(r.body, "alice") || time.Now().After(deadline) {
			t.Fatalf("the phone's /account on the second replica after logout everywhere on the first: %d to %q\n%s",
				r.status, r.header.Get("Location"), r.body)
		}
	}
}

// TestOpenStoreErrors: openStore refuses a confusing environment, and
// never shows a password.
func TestOpenStoreErrors(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		env  map[string]string
		want string
	}{
		{map[string]string{"DATABASE_URL": "postgres://u:s3cret@localhost/db", "REDIS_URL": "redis://localhost"}, "both DATABASE_URL and REDIS_URL"},
		{map[string]string{"DATABASE_POLL_INTERVAL": "1s"}, "DATABASE_URL is not"},
		{map[string]string{"DATABASE_URL": "host=localhost password=s3cret"}, "not a postgres:// URL"},
		{map[string]string{"DATABASE_URL": "postgres://u:s3cret@localhost/db", "DATABASE_POLL_INTERVAL": "soon"}, "DATABASE_POLL_INTERVAL"},
		{map[string]string{"DATABASE_URL": "postgres://u:s3cret@localhost/db", "DATABASE_POLL_INTERVAL": "1ms"}, "WithPolling(1ms)"},
	} {
		_, _, err := openStore(context.Background(), func(k string) string { return tt.env[k] }, slog.New(slog.DiscardHandler))
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.Contains(err.Error(), "s3cret") {
			t.Errorf("openStore(%v): %v; want an error containing %q and no password", tt.env, err, tt.want)
		}
	}
}
