package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"
)

// TestBrowser drives the real examples/basic server with headless Chromium:
//
//  1. /login?name=John redirects to /home, which shows {"hello":"John"};
//  2. the token cookie is HttpOnly (absent from document.cookie) while the
//     browser's cookie store has it with Secure, SameSite=Lax, Path=/ and an
//     expiry one hour ahead;
//  3. a form on another origin that POSTs to a protected route is refused
//     with 403 although the browser sent the cookie, and the handler does not
//     run (a form on the route's own origin is accepted, as a control);
//  4. /logout, then /home is 401, and so is the old token put back;
//  5. a screenshot of /home is saved in the test's temporary directory.
//
// It needs Chromium (AUTHIX_CHROMIUM, or chromium on PATH) and skips
// without it, unless AUTHIX_REQUIRE_BROWSER=1. With AUTHIX_E2E_ARTIFACTS set
// to a directory, the screenshots are copied there too.
func TestBrowser(t *testing.T) {
	browserPath := findChromium(t)

	// One deadline for the whole test: the servers and the browser die with
	// it even if a step hangs.
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	t.Cleanup(cancel)

	key := authix.GenerateKey()
	basic := startBasic(ctx, t, key)
	api := startAPI(t, key)
	evil := startEvilPage(t, api.url+"/transfer")

	browser := startBrowser(ctx, t, browserPath)
	run := func(name string, f func(ctx context.Context) error) {
		t.Helper()
		sctx, cancel := context.WithTimeout(browser, 30*time.Second)
		defer cancel()
		if err := f(sctx); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	// 1. Log in; the browser follows the redirect to /home.
	run("step 1: login", func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(basic+"/login?name=John"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK || resp.URL != basic+"/home" {
			return fmt.Errorf("login ended on %s with status %d, want %s/home with 200", resp.URL, resp.Status, basic)
		}
		return wantPageJSON(ctx, map[string]any{"hello": "John"})
	})

	// 5. The screenshot of /home, taken while it greets John.
	run("step 5: screenshot", func(ctx context.Context) error {
		return screenshot(ctx, t, "home.png")
	})

	// 2. HttpOnly: scripts do not see the token, the cookie store has it.
	var token string
	run("step 2: cookie", func(ctx context.Context) error {
		// A cookie the page may read proves that document.cookie works here.
		seen, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.cookie = "probe=1; path=/"; document.cookie`))
		if err != nil {
			return err
		}
		if !strings.Contains(seen, "probe=1") || strings.Contains(seen, authix.DefaultCookieName) {
			return fmt.Errorf("document.cookie = %q, want probe=1 and no %s", seen, authix.DefaultCookieName)
		}
		c, err := browserCookie(ctx, basic, authix.DefaultCookieName)
		if err != nil {
			return err
		}
		if c == nil {
			return fmt.Errorf("the browser has no %s cookie for %s", authix.DefaultCookieName, basic)
		}
		// A normal login's cookie lasts for the browser session; its token
		// expires on the server after the TTL.
		if !c.HTTPOnly || !c.Secure || c.SameSite != network.CookieSameSiteLax || c.Path != "/" || !c.Session {
			return fmt.Errorf("cookie httpOnly=%v secure=%v sameSite=%q path=%q session=%v; want HttpOnly, Secure, Lax, /, a browser-session cookie",
				c.HTTPOnly, c.Secure, c.SameSite, c.Path, c.Session)
		}
		t.Logf("step 2: document.cookie=%q; cookie store: %s HttpOnly Secure SameSite=%s Path=%s, a browser-session cookie",
			seen, c.Name, c.SameSite, c.Path)
		token = c.Value
		return nil
	})

	// 3a. Control: the API's own page posts to it, and the handler runs.
	run("step 3a: same-origin POST", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(api.url+"/")); err != nil {
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#send")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("status %d, want 200", resp.Status)
		}
		return wantPageJSON(ctx, map[string]any{"sent_by": "John"})
	})
	rec := api.last(t)
	if rec.status != http.StatusOK || !rec.validToken || rec.fetchSite != "same-origin" || api.ran() != 1 {
		t.Fatalf("step 3a: server saw %+v and ran the handler %d times; want a valid cookie, Sec-Fetch-Site same-origin, 200, 1 run", rec, api.ran())
	}

	// 3b. The same form on another origin: the browser sends the cookie,
	// authix refuses the request, and the handler does not run.
	run("step 3b: cross-origin POST", func(ctx context.Context) error {
		if err := chromedp.Do(ctx, chromedp.Navigate(evil+"/")); err != nil {
			return err
		}
		resp, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS("#send")))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusForbidden {
			return fmt.Errorf("status %d, want 403", resp.Status)
		}
		return wantPageJSON(ctx, map[string]any{"detail": "Cross-origin request denied"})
	})
	rec = api.last(t)
	if rec.status != http.StatusForbidden || !rec.validToken || rec.origin != evil ||
		(rec.fetchSite != "same-site" && rec.fetchSite != "cross-site") || api.ran() != 1 {
		t.Fatalf("step 3b: server saw %+v and ran the handler %d times; want a valid cookie from origin %s, Sec-Fetch-Site same-site or cross-site, 403, still 1 run",
			rec, api.ran(), evil)
	}
	t.Logf("step 3: the browser sent the cookie from origin %s with Sec-Fetch-Site %s; answer %d; handler runs: %d",
		rec.origin, rec.fetchSite, rec.status, api.ran())

	// 4. Log out; /home is 401, and the old token does not come back.
	run("step 4: logout", func(ctx context.Context) error {
		resp, err := chromedp.Run(ctx, chromedp.NavigateResponse(basic+"/logout"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusOK {
			return fmt.Errorf("logout: status %d, want 200", resp.Status)
		}
		if err := wantPageJSON(ctx, map[string]any{"ok": true}); err != nil {
			return err
		}
		if c, err := browserCookie(ctx, basic, authix.DefaultCookieName); err != nil || c != nil {
			return fmt.Errorf("after logout the browser still has the cookie (%v)", err)
		}
		resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(basic+"/home"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusUnauthorized {
			return fmt.Errorf("/home after logout: status %d, want 401", resp.Status)
		}
		if err := wantPageJSON(ctx, map[string]any{"detail": "Not authenticated"}); err != nil {
			return err
		}
		if err := screenshot(ctx, t, "home-after-logout.png"); err != nil {
			return err
		}

		// Put the logged-out token back: the server revoked it.
		secure := true
		if _, err := chromedp.Call(ctx, network.SetCookie, network.SetCookieParams{
			Name: authix.DefaultCookieName, Value: token, URL: basic + "/", Path: "/", Secure: &secure, HTTPOnly: &secure,
		}); err != nil {
			return err
		}
		resp, err = chromedp.Run(ctx, chromedp.NavigateResponse(basic+"/home"))
		if err != nil {
			return err
		}
		if resp.Status != http.StatusUnauthorized {
			return fmt.Errorf("/home with the logged-out token: status %d, want 401", resp.Status)
		}
		return nil
	})
}

// findChromium returns the browser to run, or skips the test when there is
// none and AUTHIX_REQUIRE_BROWSER is not 1.
func findChromium(t *testing.T) string {
	t.Helper()
	candidates := []string{"chromium", "chromium-browser", "/usr/bin/chromium"}
	if env := os.Getenv("AUTHIX_CHROMIUM"); env != "" {
		candidates = []string{env}
	}
	for _, c := range candidates {
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("AUTHIX_REQUIRE_BROWSER") == "1" {
		t.Fatalf("no browser among %q, and AUTHIX_REQUIRE_BROWSER=1", candidates)
	}
	t.Skipf("no browser among %q: install Debian's chromium or set AUTHIX_CHROMIUM (AUTHIX_REQUIRE_BROWSER=1 makes this a failure)", candidates)
	return ""
}

// startBrowser starts headless Chromium in a fresh profile, with background
// networking off, and stops it when the test ends.
func startBrowser(ctx context.Context, t *testing.T, path string) context.Context {
	t.Helper()
	out := &lockedBuffer{}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.WindowSize(800, 600),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-features", "Translate,OptimizationHints,MediaRouter,DialMediaRouteProvider"),
		chromedp.Flag("no-proxy-server", true),
		chromedp.CombinedOutput(out),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(ctx, opts...)
	browser, cancelBrowser := chromedp.NewContext(allocCtx)
	t.Cleanup(func() {
		// Close the browser gracefully, then make sure the process is gone.
		cctx, cancel := context.WithTimeout(browser, 10*time.Second)
		defer cancel()
		_ = chromedp.Cancel(cctx)
		cancelBrowser()
		cancelAlloc()
		if t.Failed() {
			t.Logf("chromium output:\n%s", out.String())
		}
	})
	// The first Do starts the browser; its context is the test's, so the
	// browser lives until the cleanup above.
	if err := chromedp.Do(browser); err != nil {
		t.Fatalf("starting chromium: %v\n%s", err, out.String())
	}
	return browser
}

// startBasic builds ./examples/basic, runs it on a free loopback port with
// the given key, and returns its URL on http://localhost.
func startBasic(ctx context.Context, t *testing.T, key string) string {
	t.Helper()
	return startExample(ctx, t, "basic", key, "/home", http.StatusUnauthorized)
}

// startExample builds ./examples/<name> with the build tags, if any, runs
// it on a free loopback port with the given key and without REDIS_URL,
// waits until GET probe answers want, and returns its URL on
// http://localhost. The process is killed when the test ends, and its
// output logged if the test failed.
func startExample(ctx context.Context, t *testing.T, name, key, probe string, want int, tags ...string) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "examples", name, "main.go")); err != nil {
		t.Fatalf("cannot find examples/%s from %s: %v", name, root, err)
	}
	bin := filepath.Join(t.TempDir(), name)
	bctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	build := exec.CommandContext(bctx, "go", "build", "-tags", strings.Join(tags, ","), "-o", bin, "./examples/"+name)
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./examples/%s: %v\n%s", name, err, out)
	}

	port := freePort(t)
	out := &lockedBuffer{}
	cmd := exec.Command(bin)
	cmd.Env = []string{"ADDR=127.0.0.1:" + port, "AUTHIX_KEYS=" + key}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "REDIS_URL=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-exited
		if t.Failed() {
			t.Logf("examples/%s output:\n%s", name, out.String())
		}
	})

	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := client.Get("http://127.0.0.1:" + port + probe)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode != want {
				t.Fatalf("examples/%s: GET %s is %d, want %d", name, probe, resp.StatusCode, want)
			}
			break
		}
		select {
		case <-exited:
			t.Fatalf("examples/%s exited early:\n%s", name, out.String())
		case <-time.After(100 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("examples/%s did not answer on port %s: %v", name, port, err)
		}
	}
	return "http://localhost:" + port
}

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, err := net.SplitHostPort(l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// User is the payload of examples/basic.
type User struct {
	Name string `json:"name"`
}

// postRecord is what the API server saw of one POST /transfer.
type postRecord struct {
	validToken bool   // the request carried examples/basic's cookie, and it opens
	fetchSite  string // Sec-Fetch-Site
	origin     string // Origin
	status     int    // the status the server answered
}

// api is a second service with the same keys as examples/basic and a
// protected POST route; it records every POST and counts handler runs.
type api struct {
	url     string
	mu      sync.Mutex
	records []postRecord
	runs    int
}

func (a *api) last(t *testing.T) postRecord {
	t.Helper()
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.records) == 0 {
		t.Fatal("the API server saw no POST")
	}
	return a.records[len(a.records)-1]
}

func (a *api) ran() int {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.runs
}

var formPage = template.Must(template.New("form").Parse(`<!doctype html>
<title>{{.Title}}</title>
<h1>{{.Title}}</h1>
<form method="post" action="{{.Action}}">
<input type="hidden" name="amount" value="100">
<button id="send" type="submit">Send</button>
</form>
`))

func serveForm(title, action string) http.HandlerFunc {
	return func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = formPage.Execute(w, struct{ Title, Action string }{title, action})
	}
}

func startAPI(t *testing.T, key string) *api {
	t.Helper()
	vault, err := authix.New[User](authix.WithKeys(key))
	if err != nil {
		t.Fatal(err)
	}
	a := &api{}
	transfer := vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.mu.Lock()
		a.runs++
		a.mu.Unlock()
		user, _ := vault.Data(r.Context())
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"sent_by": user.Name})
	}))
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", serveForm("API", "/transfer"))
	mux.HandleFunc("POST /transfer", func(w http.ResponseWriter, r *http.Request) {
		rec := postRecord{fetchSite: r.Header.Get("Sec-Fetch-Site"), origin: r.Header.Get("Origin")}
		if c, err := r.Cookie(authix.DefaultCookieName); err == nil {
			_, err := vault.DecodeAccessToken(c.Value)
			rec.validToken = err == nil
		}
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		transfer.ServeHTTP(sw, r)
		rec.status = sw.status
		a.mu.Lock()
		a.records = append(a.records, rec)
		a.mu.Unlock()
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	a.url = onLocalhost(srv.URL)
	return a
}

// startEvilPage serves, on its own origin, a form that posts to action.
func startEvilPage(t *testing.T, action string) string {
	t.Helper()
	srv := httptest.NewServer(serveForm("Another site", action))
	t.Cleanup(srv.Close)
	return onLocalhost(srv.URL)
}

// onLocalhost turns http://127.0.0.1:port into http://localhost:port, the
// host on which Chromium keeps Secure cookies over plain HTTP and that makes
// the origins same-site.
func onLocalhost(u string) string {
	return strings.Replace(u, "://127.0.0.1:", "://localhost:", 1)
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

// wantPageJSON checks that the page shows the JSON object want.
func wantPageJSON(ctx context.Context, want map[string]any) error {
	// Chromium shows a JSON document in a <pre>, beside its own controls.
	text, err := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector("body > pre") || document.body).innerText`))
	if err != nil {
		return err
	}
	var got map[string]any
	if err := json.Unmarshal([]byte(text), &got); err != nil {
		return fmt.Errorf("page text %q is not a JSON object: %w", text, err)
	}
	if !reflect.DeepEqual(got, want) {
		return fmt.Errorf("page shows %s, want %v", strings.TrimSpace(text), want)
	}
	return nil
}

// browserCookie returns the browser's cookie called name for url, or nil.
func browserCookie(ctx context.Context, url, name string) (*network.Cookie, error) {
	res, err := chromedp.Call(ctx, network.GetCookies, network.GetCookiesParams{URLs: []string{url + "/"}})
	if err != nil {
		return nil, err
	}
	for _, c := range res.Cookies {
		if c.Name == name {
			return c, nil
		}
	}
	return nil, nil
}

// screenshot saves the viewport as a PNG in the test's temporary directory,
// and copies it to AUTHIX_E2E_ARTIFACTS when that is set.
func screenshot(ctx context.Context, t *testing.T, name string) error {
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(png, []byte("\x89PNG")) {
		return errors.New("the screenshot is not a PNG")
	}
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, png, 0o644); err != nil {
		return err
	}
	t.Logf("screenshot: %s (%d bytes)", path, len(png))
	if dir := os.Getenv("AUTHIX_E2E_ARTIFACTS"); dir != "" {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
			return err
		}
	}
	return nil
}

// lockedBuffer collects a process's output from several goroutines.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
