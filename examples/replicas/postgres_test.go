package main

// Issue 22's acceptance through processes of this command on a real
// PostgreSQL: LISTEN mode on the server, and polling mode through a real
// PgBouncer in transaction pooling mode.

import (
	"context"
	"errors"
	"io"
	"log"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/pgstore"
	"github.com/authix-go/authix/pgstore/pgtest"
)

// TestProcessesOnPostgres: two replicas on one PostgreSQL; a logout on one
// is refused on the other, and on a replica started later; it holds after
// PostgreSQL restarts; LogoutEverywhere on one ends the user's sessions on
// the other. In LISTEN mode, PostgreSQL stopped fails requests closed once
// the mirror is past its bound, and a logout then reports no success.
func TestProcessesOnPostgres(t *testing.T) {
	srv := pgtest.Start(t)
	bin := buildReplicas(t)
	t.Run("listen", func(t *testing.T) {
		onPostgres(t, bin, srv, true, "DATABASE_URL="+srv.NewDatabase(t))
	})
	t.Run("polling through pgbouncer", func(t *testing.T) {
		b := pgtest.StartBouncer(t, srv)
		u, err := url.Parse(srv.NewDatabase(t))
		if err != nil {
			t.Fatal(err)
		}
		through := b.DatabaseURL(strings.TrimPrefix(u.Path, "/")) + "&default_query_exec_mode=exec"
		onPostgres(t, bin, srv, false, "DATABASE_URL="+through, "DATABASE_POLL_INTERVAL=100ms")
	})
}

// onPostgres runs the acceptance on replicas of bin with the store
// settings env; stopped adds PostgreSQL stopped for a while.
func onPostgres(t *testing.T, bin string, srv *pgtest.Server, stopped bool, env ...string) {
	keys := authix.GenerateKey()
	first := startReplica(t, bin, "first", keys, env...)
	second := startReplica(t, bin, "second", keys, env...)
	for _, r := range []*replica{first, second} {
		awaitLog(t, r, "postgres: ", "it logs its store")
	}

	// A logout on the first is refused on the second.
	john := loginAs(t, first, "John")
	first.expect(t, "/home", john, http.StatusOK, `{"hello":"John"}`)
	second.expect(t, "/home", john, http.StatusOK, `{"hello":"John"}`)
	first.expect(t, "/logout", john, http.StatusOK, `{"ok":true}`)
	first.expect(t, "/home", john, http.StatusUnauthorized, "")
	start := time.Now()
	awaitStatus(t, second, john, http.StatusUnauthorized, "the second replica refuses the logged-out cookie")
	t.Logf("the second replica refuses the logged-out cookie %v after the logout returned", time.Since(start))

	// A replica started later knows it at once.
	third := startReplica(t, bin, "third", keys, env...)
	third.expect(t, "/home", john, http.StatusUnauthorized, "")

	live := loginAs(t, second, "Ann")
	if stopped {
		srv.Stop()
		// The first's mirror was confirmed within the bound: the request
		// passes and the revocation fails (500); past the bound the
		// request itself is refused (401). Never a logout reported done.
		resp, body := first.get(t, "/logout", live)
		if resp.StatusCode == http.StatusOK {
			t.Fatalf("logout with PostgreSQL stopped: %d %s; want a failure", resp.StatusCode, body)
		}
		t.Logf("logout with PostgreSQL stopped: %d %s", resp.StatusCode, body)
		awaitStatus(t, second, live, http.StatusUnauthorized, "a live cookie is refused once the mirror is past its bound")
		awaitLog(t, second, "GET /home refused: ", "the second replica logs why it refuses")
		srv.Start()
		awaitStatus(t, second, live, http.StatusOK, "a live cookie is accepted again once PostgreSQL is back")
	} else {
		srv.Stop()
		srv.Start()
	}

	// After the restart the logout still holds everywhere, and a new one
	// reaches the other replicas (the first attempt may meet a pooled
	// connection that died with the server: the user is told, and retries).
	for _, r := range []*replica{first, second, third} {
		r.expect(t, "/home", john, http.StatusUnauthorized, "")
	}
	awaitOK(t, second, http.MethodGet, "/logout", live)
	for _, r := range []*replica{first, third} {
		awaitStatus(t, r, live, http.StatusUnauthorized, r.name+" refuses a cookie logged out after the restart")
	}

	// LogoutEverywhere on the second ends John's sessions on the first.
	onFirst, onSecond := loginAs(t, first, "John"), loginAs(t, second, "John")
	jane := loginAs(t, first, "Jane")
	awaitOK(t, second, http.MethodPost, "/logout-everywhere", onSecond)
	for _, tok := range []string{onFirst, onSecond} {
		awaitStatus(t, first, tok, http.StatusUnauthorized, "the first refuses John's sessions after LogoutEverywhere on the second")
	}
	first.expect(t, "/home", jane, http.StatusOK, `{"hello":"Jane"}`)
	again := loginAs(t, first, "John")
	for _, r := range []*replica{first, second, third} {
		awaitStatus(t, r, again, http.StatusOK, "John logs in again")
	}

	for _, r := range []*replica{first, second, third} {
		r.stop(t)
		if strings.Contains(r.logs.String(), keys) {
			t.Errorf("%s logs its keys:\n%s", r.name, r.logs)
		}
	}
	t.Logf("first's logs:\n%s", first.logs)
}

// loginAs logs name in on r and returns the token cookie.
func loginAs(t *testing.T, r *replica, name string) string {
	t.Helper()
	resp := r.expect(t, "/login?name="+name, "", http.StatusFound, "")
	for _, c := range resp.Cookies() {
		if c.Name == authix.DefaultCookieName {
			return c.Value
		}
	}
	t.Fatalf("%s: login sets no %s cookie", r.name, authix.DefaultCookieName)
	return ""
}

// awaitStatus waits until GET /home with token answers status on r.
func awaitStatus(t *testing.T, r *replica, token string, status int, what string) {
	t.Helper()
	for deadline := time.Now().Add(propagationWait); ; time.Sleep(5 * time.Millisecond) {
		resp, body := r.get(t, "/home", token)
		if resp.StatusCode == status {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s: GET /home %d %s, want %d", r.name, what, resp.StatusCode, body, status)
		}
	}
}

// awaitLog waits until r's log holds text: a replica writes its log line
// after the response, and the test reads it through a pipe.
func awaitLog(t *testing.T, r *replica, text, what string) {
	t.Helper()
	for deadline := time.Now().Add(propagationWait); !strings.Contains(r.logs.String(), text); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s:\n%s", r.name, what, r.logs)
		}
	}
}

// awaitOK sends method path with token to r until it answers {"ok":true}:
// a write that failed may be retried.
func awaitOK(t *testing.T, r *replica, method, path, token string) {
	t.Helper()
	for deadline := time.Now().Add(propagationWait); ; time.Sleep(50 * time.Millisecond) {
		resp, body := r.send(t, method, path, token)
		if resp.StatusCode == http.StatusOK && body == `{"ok":true}` {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s %s: %d %s, want 200", r.name, method, path, resp.StatusCode, body)
		}
	}
}

// TestRunPostgresDown checks that run fails at start, with the password
// hidden, when nothing listens at DATABASE_URL.
func TestRunPostgresDown(t *testing.T) {
	url := "postgres://app:s3cret@127.0.0.1:" + strconv.Itoa(pgtest.FreePort(t)) + "/db?connect_timeout=1"
	err := run(context.Background(), env(map[string]string{"AUTHIX_KEYS": authix.GenerateKey(), "DATABASE_URL": url}),
		log.New(io.Discard, "", 0))
	if !errors.Is(err, pgstore.ErrUnavailable) || !strings.Contains(err.Error(), "app:xxxxx@") {
		t.Fatalf("run without PostgreSQL: %v; want ErrUnavailable naming the redacted URL", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the password: %q", err)
	}
}
