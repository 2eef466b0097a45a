package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/authix-go/authix"
)

// TestReadmeTranscript replays the README's first curl transcript as curl
// runs it: -b reads a cookie file, -c writes back what the responses set,
// -L follows redirects with the cookies set on the way, -i prints the
// status and headers. Every step after the login must send the token: a
// logout that overwrote the cookie file would leave the last step nothing
// to replay.
func TestReadmeTranscript(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(readme), "With the example running:\n\n```console\n")
	block, _, ok2 := strings.Cut(rest, "```")
	if !ok || !ok2 {
		t.Fatal("the README has no transcript after \"With the example running:\"")
	}
	vault, err := authix.New[User]()
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(routes(vault))
	defer srv.Close()
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	files := map[string]map[string]string{} // cookie file -> name -> value

	steps := strings.Split(strings.TrimPrefix(block, "$ "), "\n$ ")
	if len(steps) < 3 {
		t.Fatalf("%d steps in the transcript", len(steps))
	}
	for n, step := range steps {
		lines := strings.Split(strings.TrimRight(step, "\n"), "\n")
		args, want := strings.Fields(lines[0]), lines[1:]
		var follow, include bool
		var readFrom, writeTo, target string
		for i := 1; i < len(args); i++ {
			switch args[i] {
			case "-L":
				follow = true
			case "-i":
				include = true
			case "-b":
				i++
				readFrom = args[i]
			case "-c":
				i++
				writeTo = args[i]
			default:
				target = strings.Trim(args[i], "'")
			}
		}
		jar := map[string]string{}
		for k, v := range files[readFrom] {
			jar[k] = v
		}
		if _, sent := jar[authix.DefaultCookieName]; n > 0 && !sent {
			// After the login, each step sends the token from the cookie
			// file: the last one is a replay of the revoked token.
			t.Errorf("%s: sends no token; a cookie file overwritten by a step before?", lines[0])
		}
		target = strings.Replace(target, "http://localhost:8000", srv.URL, 1)
		var resp *http.Response
		for {
			req, _ := http.NewRequest(http.MethodGet, target, nil)
			for k, v := range jar {
				req.AddCookie(&http.Cookie{Name: k, Value: v})
			}
			if resp, err = client.Do(req); err != nil {
				t.Fatal(err)
			}
			for _, c := range resp.Cookies() {
				if c.MaxAge < 0 {
					delete(jar, c.Name)
				} else {
					jar[c.Name] = c.Value
				}
			}
			loc := resp.Header.Get("Location")
			if !follow || loc == "" {
				break
			}
			resp.Body.Close()
			target = srv.URL + loc
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if writeTo != "" {
			files[writeTo] = jar
		}
		if want[len(want)-1] != strings.TrimSpace(string(body)) {
			t.Errorf("%s: body %s, want %s", lines[0], body, want[len(want)-1])
		}
		if !include {
			continue
		}
		if got := resp.Proto + " " + resp.Status; got != want[0] {
			t.Errorf("%s: %s, want %s", lines[0], got, want[0])
		}
		for _, h := range want[1:] {
			name, value, ok := strings.Cut(h, ": ")
			if !ok || name == "Date" || name == "Content-Length" {
				continue
			}
			if got := resp.Header.Get(name); got != value {
				t.Errorf("%s: %s: %q, want %q", lines[0], name, got, value)
			}
		}
	}
}
