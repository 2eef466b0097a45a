package authix_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/authix-go/authix"
)

var benchUser = User{ID: 1, IsAdmin: true, Name: "John"}

func benchVault(b *testing.B) (*authix.Vault[User], string) {
	b.Helper()
	v, err := authix.New[User](authix.WithKeys(keyA))
	if err != nil {
		b.Fatal(err)
	}
	tok, err := v.CreateAccessToken(benchUser)
	if err != nil {
		b.Fatal(err)
	}
	return v, tok
}

func BenchmarkOpen(b *testing.B) {
	f := mustFernet(b, time.Hour, keyA)
	plain, _ := json.Marshal(benchUser)
	now := time.Now()
	tok, _, err := f.Seal(nil, plain, now)
	if err != nil {
		b.Fatal(err)
	}
	token := string(tok)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := f.Open(dst[:0], token, now); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkCreateAccessToken(b *testing.B) {
	v, _ := benchVault(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.CreateAccessToken(benchUser); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONMarshal(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := json.Marshal(benchUser); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeAccessToken(b *testing.B) {
	v, tok := benchVault(b)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.DecodeAccessToken(tok); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkJSONUnmarshal(b *testing.B) {
	plain, _ := json.Marshal(benchUser)
	b.ReportAllocs()
	for b.Loop() {
		var u User
		if err := json.Unmarshal(plain, &u); err != nil {
			b.Fatal(err)
		}
	}
}

// discard is a ResponseWriter that keeps nothing, so the benchmarks
// measure the middleware rather than a recorder.
type discard struct{ h http.Header }

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(int)             {}

func benchServe(b *testing.B, h http.Handler, r *http.Request) {
	w := &discard{h: http.Header{}}
	b.ReportAllocs()
	for b.Loop() {
		h.ServeHTTP(w, r)
	}
}

func BenchmarkRequireData(b *testing.B) {
	v, tok := benchVault(b)
	r := httptest.NewRequest(http.MethodGet, "/home", nil)
	r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
	h := v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, ok := v.Data(r.Context()); !ok || u.ID != 1 {
			b.Fatal("no payload")
		}
	}))
	benchServe(b, h, r)
}

func BenchmarkBareHandler(b *testing.B) {
	r := httptest.NewRequest(http.MethodGet, "/home", nil)
	r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: "x"})
	benchServe(b, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}), r)
}
