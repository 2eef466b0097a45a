package bench

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fernet/fernet-go"
	"github.com/go-chi/jwtauth/v5"
)

// discard is a ResponseWriter that keeps only the status, so that the
// middleware benchmarks measure the middleware and not a recorder. Its
// header map is reused: none of the handlers on the success path sets one.
type discard struct {
	h    http.Header
	code int
}

func (d *discard) Header() http.Header         { return d.h }
func (d *discard) Write(p []byte) (int, error) { return len(p), nil }
func (d *discard) WriteHeader(code int)        { d.code = code }

// plainChain is the middleware a team writes by hand around fernet-go:
// cookie, VerifyAndDecrypt, json.Unmarshal, a sync.Map of revoked tokens,
// context.WithValue.
type plainChain struct {
	keys    []*fernet.Key
	revoked sync.Map // token string -> struct{}
}

type plainKey struct{}

func (pc *plainChain) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := r.Cookie(cookieName)
		if err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		msg := fernet.VerifyAndDecrypt([]byte(c.Value), ttl, pc.keys)
		if msg == nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		if _, revoked := pc.revoked.Load(c.Value); revoked {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		var u User
		if err := json.Unmarshal(msg, &u); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), plainKey{}, u)))
	})
}

type jwtKey struct{}

// golangJWTMiddleware is the middleware a team writes around golang-jwt:
// Authorization: Bearer, ParseWithClaims, context.WithValue.
func (p *peers) golangJWTMiddleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		c := new(userClaims)
		if err := p.parseJWT(tok, c); err != nil {
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), jwtKey{}, c)))
	})
}

// route is one middleware under test: the handler chain and the request
// that passes it.
type route struct {
	name string
	h    http.Handler
	req  *http.Request
}

// routes builds every middleware around a handler that reads the payload
// the way that library's users do and answers 204 when it is user.
func routes(tb testing.TB) []route {
	tb.Helper()
	p := newPeers(tb)
	t := p.tokens(tb)
	withCookie := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		r.AddCookie(&http.Cookie{Name: cookieName, Value: tok})
		return r
	}
	withBearer := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/me", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	answer := func(w http.ResponseWriter, ok bool) {
		if ok {
			w.WriteHeader(http.StatusNoContent)
		} else {
			w.WriteHeader(http.StatusInternalServerError)
		}
	}
	pc := &plainChain{keys: p.fernetKs}
	pc.revoked.Store("some-other-token", struct{}{})
	return []route{
		{"authix", p.vault.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := p.vault.Data(r.Context())
			answer(w, ok && u == user)
		})), withCookie(t.authix)},
		// A sliding session: the renewal age check and the session's
		// revocation lookup on every request; the token is fresh, so no
		// renewal is due.
		{"authix-sliding", p.sliding.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := p.sliding.Data(r.Context())
			answer(w, ok && u == user)
		})), withCookie(t.sliding)},
		// The subject check of WithSubject on every request.
		{"authix-subject", p.subject.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := p.subject.Data(r.Context())
			answer(w, ok && u == user)
		})), withCookie(t.subject)},
		// Every session feature: a sliding session and the subject check.
		{"authix-sessions", p.sessions.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := p.sessions.Data(r.Context())
			answer(w, ok && u == user)
		})), withCookie(t.sessions)},
		{"bare", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			answer(w, true)
		}), withCookie(t.authix)},
		{"golang-jwt", p.golangJWTMiddleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, ok := r.Context().Value(jwtKey{}).(*userClaims)
			answer(w, ok && c.User == user)
		})), withBearer(t.golangJWT)},
		{"jwtauth", jwtauth.Verifier(p.jwtAuth)(jwtauth.Authenticator(p.jwtAuth)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			_, claims, err := jwtauth.FromContext(r.Context())
			answer(w, err == nil && claims["name"] == user.Name)
		}))), withBearer(t.jwtauth)},
		{"plain-chain", pc.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			u, ok := r.Context().Value(plainKey{}).(User)
			answer(w, ok && u == user)
		})), withCookie(string(t.fernetGo))},
	}
}

// BenchmarkMiddleware serves one authenticated GET through each library's
// middleware. bare reads nothing: subtract it to get a middleware's
// overhead.
func BenchmarkMiddleware(b *testing.B) {
	for _, rt := range routes(b) {
		b.Run(rt.name, func(b *testing.B) {
			b.ReportAllocs()
			w := &discard{h: make(http.Header)}
			for b.Loop() {
				w.code = 0
				rt.h.ServeHTTP(w, rt.req)
				if w.code != http.StatusNoContent {
					b.Fatalf("status %d", w.code)
				}
			}
		})
	}
}
