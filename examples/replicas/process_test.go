package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/redisstore"
	"github.com/authix-go/authix/redisstore/redistest"
)

// syncBuffer is a bytes.Buffer safe for a process or goroutine to write
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// replica is one running examples/replicas process.
type replica struct {
	name string
	url  string // http://127.0.0.1:port
	cmd  *exec.Cmd
	logs *syncBuffer
	done chan struct{} // closed once the process has exited
	err  error         // cmd.Wait's result, set before done is closed
}

// buildReplicas builds this command into a temporary directory.
func buildReplicas(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "replicas")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// startReplica runs bin on a free loopback port with the given keys and
// store settings (environment entries such as "REDIS_URL=…"), waits until
// it answers, and kills it when the test ends.
func startReplica(t *testing.T, bin, name, keys string, store ...string) *replica {
	t.Helper()
	addr := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	r := &replica{name: name, url: "http://" + addr, logs: &syncBuffer{}, done: make(chan struct{})}
	r.cmd = exec.Command(bin)
	r.cmd.Env = append(os.Environ(), "ADDR="+addr, "AUTHIX_KEYS="+keys, "REDIS_URL=", "DATABASE_URL=", "DATABASE_POLL_INTERVAL=")
	r.cmd.Env = append(r.cmd.Env, store...)
	r.cmd.Stdout, r.cmd.Stderr = r.logs, r.logs
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		r.err = r.cmd.Wait()
		close(r.done)
	}()
	t.Cleanup(func() {
		_ = r.cmd.Process.Kill()
		<-r.done
		if t.Failed() {
			t.Logf("%s logs:\n%s", name, r.logs)
		}
	})

	deadline := time.Now().Add(15 * time.Second)
	for {
		resp, err := http.Get(r.url + "/home")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != http.StatusUnauthorized {
				t.Fatalf("%s: GET /home without a cookie: %d, want 401", name, resp.StatusCode)
			}
			return r
		}
		select {
		case <-r.done:
			t.Fatalf("%s exited at start (%v):\n%s", name, r.err, r.logs)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s does not answer on %s: %v\n%s", name, addr, err, r.logs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// get sends GET path to r, with the access-token cookie set by hand when
// token is not empty, and returns the response with its body read. Redirects
// are not followed.
func (r *replica) get(t *testing.T, path, token string) (*http.Response, string) {
	t.Helper()
	return r.send(t, http.MethodGet, path, token)
}

// send is get with another method.
func (r *replica) send(t *testing.T, method, path, token string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, r.url+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token != "" {
		req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
	}
	client := &http.Client{
		Timeout:       5 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %s %s: %v", r.name, method, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("%s: %s %s: read body: %v", r.name, method, path, err)
	}
	return resp, strings.TrimSpace(string(body))
}

// expect checks a response's status and, when body is not empty, its body.
func (r *replica) expect(t *testing.T, path, token string, status int, body string) *http.Response {
	t.Helper()
	resp, got := r.get(t, path, token)
	if resp.StatusCode != status || (body != "" && got != body) {
		t.Fatalf("%s: GET %s: %d %s; want %d %s", r.name, path, resp.StatusCode, got, status, body)
	}
	return resp
}

// stop sends SIGTERM and waits for a clean exit.
func (r *replica) stop(t *testing.T) {
	t.Helper()
	if err := r.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatalf("%s: SIGTERM: %v", r.name, err)
	}
	select {
	case <-r.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s still running 15s after SIGTERM:\n%s", r.name, r.logs)
	}
	if r.err != nil {
		t.Fatalf("%s exited with %v after SIGTERM:\n%s", r.name, r.err, r.logs)
	}
	if !strings.Contains(r.logs.String(), "stopped") {
		t.Fatalf("%s exited without shutting down gracefully:\n%s", r.name, r.logs)
	}
}

// TestTwoProcesses runs the README's transcript against two processes of
// this command sharing keys and Redis: a cookie from the first works on the
// second until it is logged out on the first, then the second refuses it.
func TestTwoProcesses(t *testing.T) {
	srv := redistest.Start(t)
	bin := buildReplicas(t)
	keys := authix.GenerateKey()
	first := startReplica(t, bin, "first", keys, "REDIS_URL="+srv.URL())
	second := startReplica(t, bin, "second", keys, "REDIS_URL="+srv.URL())

	resp := first.expect(t, "/login?name=John", "", http.StatusFound, "")
	if loc := resp.Header.Get("Location"); loc != "/home" {
		t.Fatalf("login redirects to %q, want /home", loc)
	}
	var token string
	for _, c := range resp.Cookies() {
		if c.Name == authix.DefaultCookieName {
			token = c.Value
			// Secure: a cookie jar would not send it over http://127.0.0.1,
			// which is why the cookie is set by hand.
			if !c.Secure || !c.HttpOnly {
				t.Errorf("login cookie: Secure %v, HttpOnly %v; want both", c.Secure, c.HttpOnly)
			}
		}
	}
	if token == "" {
		t.Fatalf("login sets no %s cookie: %v", authix.DefaultCookieName, resp.Header["Set-Cookie"])
	}

	first.expect(t, "/home", token, http.StatusOK, `{"hello":"John"}`)
	second.expect(t, "/home", token, http.StatusOK, `{"hello":"John"}`)

	first.expect(t, "/logout", token, http.StatusOK, `{"ok":true}`)
	first.expect(t, "/home", token, http.StatusUnauthorized, "")
	// The logout reached Redis, announced, before it returned; the second
	// replica must refuse the cookie once the announcement arrives.
	start := time.Now()
	for {
		resp, body := second.get(t, "/home", token)
		if resp.StatusCode == http.StatusUnauthorized {
			t.Logf("second refuses the logged-out cookie %v after the logout returned: %s", time.Since(start), body)
			break
		}
		if resp.StatusCode != http.StatusOK || time.Since(start) > propagationWait {
			t.Fatalf("second: GET /home with the logged-out cookie: %d %s after %v; want 401",
				resp.StatusCode, body, time.Since(start))
		}
		time.Sleep(time.Millisecond)
	}

	first.stop(t)
	second.stop(t)
	for _, r := range []*replica{first, second} {
		if strings.Contains(r.logs.String(), keys) {
			t.Errorf("%s logs its keys:\n%s", r.name, r.logs)
		}
	}
	t.Logf("first's logs:\n%s", first.logs)
}

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// TestRunConfigErrors checks that run refuses a bad environment before it
// listens, with a message that says what to do and no secret in it.
func TestRunConfigErrors(t *testing.T) {
	key := authix.GenerateKey()
	for _, tc := range []struct {
		name string
		env  map[string]string
		want []string // substrings of the error
	}{
		{"no keys", map[string]string{}, []string{"AUTHIX_KEYS is empty", "go run ./cmd/authix keygen"}},
		{"only commas", map[string]string{"AUTHIX_KEYS": " , ,"}, []string{"AUTHIX_KEYS is empty"}},
		{"not a redis url", map[string]string{"AUTHIX_KEYS": key, "REDIS_URL": "http://localhost:6379"},
			[]string{"REDIS_URL", "scheme"}},
		{"url does not parse", map[string]string{"AUTHIX_KEYS": key, "REDIS_URL": "redis://u:s3cret@local host:6379/0"},
			[]string{"REDIS_URL is not a URL"}},
		{"bad database", map[string]string{"AUTHIX_KEYS": key, "REDIS_URL": "redis://u:s3cret@localhost:6379/x"},
			[]string{"REDIS_URL redis://u:xxxxx@localhost:6379/x", "database"}},
		{"both stores", map[string]string{"AUTHIX_KEYS": key, "REDIS_URL": "redis://localhost:6379/0",
			"DATABASE_URL": "postgres://u:s3cret@localhost/db"}, []string{"both DATABASE_URL and REDIS_URL"}},
		{"not a postgres url", map[string]string{"AUTHIX_KEYS": key, "DATABASE_URL": "host=localhost password=s3cret"},
			[]string{"DATABASE_URL is not a postgres:// URL"}},
		{"postgres url does not parse", map[string]string{"AUTHIX_KEYS": key, "DATABASE_URL": "postgres://u:s3cret@local host/db"},
			[]string{"DATABASE_URL is not a postgres:// URL"}},
		{"bad poll interval", map[string]string{"AUTHIX_KEYS": key, "DATABASE_URL": "postgres://u:s3cret@localhost/db",
			"DATABASE_POLL_INTERVAL": "often"}, []string{"DATABASE_POLL_INTERVAL", "often"}},
		{"poll interval too short", map[string]string{"AUTHIX_KEYS": key, "DATABASE_URL": "postgres://u:s3cret@localhost/db",
			"DATABASE_POLL_INTERVAL": "1ms"}, []string{"WithPolling(1ms)"}},
		{"poll interval without postgres", map[string]string{"AUTHIX_KEYS": key, "DATABASE_POLL_INTERVAL": "1s"},
			[]string{"DATABASE_POLL_INTERVAL is set but DATABASE_URL is not"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			err := run(context.Background(), env(tc.env), log.New(&logs, "", 0))
			if err == nil {
				t.Fatal("run accepted the environment")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error shows the password: %q", err)
			}
			if logs.String() != "" {
				t.Errorf("run logged before refusing: %s", logs.String())
			}
		})
	}
}

// TestRunInvalidKey checks that a key that is not a Fernet key is refused
// before Redis is dialled, with a message naming AUTHIX_KEYS.
func TestRunInvalidKey(t *testing.T) {
	// No Redis listens there: the key is checked first.
	url := "redis://127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)) + "/0"
	err := run(context.Background(), env(map[string]string{"AUTHIX_KEYS": "not-a-key", "REDIS_URL": url}),
		log.New(io.Discard, "", 0))
	if err == nil || !strings.Contains(err.Error(), "AUTHIX_KEYS") || !errors.Is(err, authix.ErrInvalidOption) {
		t.Fatalf("run with a bad key: %v; want an error naming AUTHIX_KEYS and wrapping ErrInvalidOption", err)
	}
}

// TestRunRedisDown checks that run fails at start, with a hint, when nothing
// listens at REDIS_URL.
func TestRunRedisDown(t *testing.T) {
	url := "redis://:s3cret@127.0.0.1:" + strconv.Itoa(redistest.FreePort(t)) + "/0?dial_timeout=200ms"
	start := time.Now()
	err := run(context.Background(), env(map[string]string{"AUTHIX_KEYS": authix.GenerateKey(), "REDIS_URL": url}),
		log.New(io.Discard, "", 0))
	if !errors.Is(err, redisstore.ErrUnavailable) || !strings.Contains(err.Error(), "redis-server") {
		t.Fatalf("run without Redis: %v; want ErrUnavailable and a hint", err)
	}
	if strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error shows the Redis password: %q", err)
	}
	t.Logf("refused after %v: %v", time.Since(start).Round(time.Millisecond), err)
}

// TestRunStops runs the server in this process and cancels its context, as
// SIGTERM does: run must stop serving and return nil.
func TestRunStops(t *testing.T) {
	srv := redistest.Start(t)
	addr := "127.0.0.1:" + strconv.Itoa(redistest.FreePort(t))
	key := authix.GenerateKey()
	var logs syncBuffer
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, env(map[string]string{"ADDR": addr, "AUTHIX_KEYS": key, "REDIS_URL": srv.URL()}),
			log.New(&logs, "", 0))
	}()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(logs.String(), "listening on "+addr) {
		select {
		case err := <-errc:
			t.Fatalf("run returned at start: %v\n%s", err, logs.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("run does not start:\n%s", logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	resp, err := http.Get("http://" + addr + "/home")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("GET /home without a cookie: %d, want 401", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-errc:
		if err != nil {
			t.Fatalf("run after cancel: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("run still serving 15s after cancel")
	}
	if _, err := http.Get("http://" + addr + "/home"); err == nil {
		t.Error("still serving after run returned")
	}
	out := logs.String()
	for _, want := range []string{"keys: 1 from AUTHIX_KEYS", "redis: " + srv.URL(), "shutting down", "stopped"} {
		if !strings.Contains(out, want) {
			t.Errorf("logs do not contain %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, key) {
		t.Errorf("logs show the key:\n%s", out)
	}
}

// TestRejectAndLog checks that a store failure is answered like any token
// failure, and logged, while token failures are not logged.
func TestRejectAndLog(t *testing.T) {
	for _, tc := range []struct {
		name   string
		err    error
		logged bool
	}{
		{"store failure", fmt.Errorf("%w: %w", authix.ErrRevocationStore, redisstore.ErrUnavailable), true},
		{"revoked token", authix.ErrRevokedToken, false},
		{"missing token", authix.ErrMissingToken, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var logs syncBuffer
			got := httptest.NewRecorder()
			rejectAndLog(log.New(&logs, "", 0))(got, httptest.NewRequest(http.MethodGet, "/home", nil), tc.err)
			want := httptest.NewRecorder()
			authix.DefaultErrorHandler(want, httptest.NewRequest(http.MethodGet, "/home", nil), tc.err)
			if got.Code != want.Code || got.Body.String() != want.Body.String() {
				t.Errorf("answer %d %s; DefaultErrorHandler answers %d %s",
					got.Code, got.Body, want.Code, want.Body)
			}
			if logged := strings.Contains(logs.String(), "GET /home refused: "+tc.err.Error()); logged != tc.logged {
				t.Errorf("logged %v, want %v: %q", logged, tc.logged, logs.String())
			}
		})
	}
}
