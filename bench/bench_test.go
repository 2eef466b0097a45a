package bench

import (
	"context"
	"errors"
	"github.com/authix-go/authix"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// tamper flips one character in the middle of a token.
func tamper(tok string) string {
	b := []byte(tok)
	i := len(b) / 2
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return string(b)
}

// TestPeersDecode checks that every decode path the benchmarks time reads
// user back, and refuses a tampered token, so that each one does the real
// work.
func TestPeersDecode(t *testing.T) {
	t.Parallel()
	p := newPeers(t)
	tk := p.tokens(t)
	cases := []struct {
		name   string
		decode func(tok string) (User, error)
		tok    string
	}{
		{"authix", p.vault.DecodeAccessToken, tk.authix},
		{"fernet-go", func(tok string) (User, error) {
			u, ok := p.decodeFernetGo([]byte(tok))
			if !ok {
				return u, errors.New("fernet-go: rejected")
			}
			return u, nil
		}, string(tk.fernetGo)},
		{"securecookie", func(tok string) (User, error) {
			var u User
			err := p.sc.Decode(cookieName, tok, &u)
			return u, err
		}, tk.securecookie},
		{"golang-jwt", func(tok string) (User, error) {
			var c userClaims
			err := p.parseJWT(tok, &c)
			return c.User, err
		}, tk.golangJWT},
		{"authix-open", func(tok string) (User, error) {
			out, _, err := p.fernet.Open(nil, tok, time.Now())
			// The vault leads the payload with the lifetime it sealed.
			if want := `{"_authix":{"exp":`; err == nil && (!strings.HasPrefix(string(out), want) || !strings.HasSuffix(string(out), ","+plaintext[1:])) {
				t.Errorf("Open = %q, want %s…},%s", out, want, plaintext[1:])
			}
			return user, err
		}, tk.authix},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			u, err := c.decode(c.tok)
			if err != nil || u != user {
				t.Fatalf("decode = %+v, %v; want %+v", u, err, user)
			}
			if u, err := c.decode(tamper(c.tok)); err == nil {
				t.Fatalf("tampered token decoded to %+v", u)
			}
		})
	}
}

// TestMiddlewareRoutes checks that every middleware benchmarked lets its
// request through to a handler that sees user, and that each one but bare
// refuses the same request without its token.
func TestMiddlewareRoutes(t *testing.T) {
	t.Parallel()
	for _, rt := range routes(t) {
		t.Run(rt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			rt.h.ServeHTTP(w, rt.req)
			if w.Code != http.StatusNoContent {
				t.Fatalf("with token: status %d, body %q", w.Code, w.Body)
			}
			if rt.name == "bare" {
				return
			}
			w = httptest.NewRecorder()
			rt.h.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "/me", nil))
			if w.Code != http.StatusUnauthorized {
				t.Fatalf("without token: status %d, want 401", w.Code)
			}
		})
	}
}

// TestPlainChainRevocation checks that the plain chain's revocation check
// is on its request path.
func TestPlainChainRevocation(t *testing.T) {
	t.Parallel()
	p := newPeers(t)
	tok := string(p.tokens(t).fernetGo)
	pc := &plainChain{keys: p.fernetKs}
	h := pc.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	r := httptest.NewRequest(http.MethodGet, "/me", nil)
	r.AddCookie(&http.Cookie{Name: cookieName, Value: tok})
	for _, c := range []struct {
		name   string
		revoke bool
		want   int
	}{{"live", false, http.StatusNoContent}, {"revoked", true, http.StatusUnauthorized}} {
		if c.revoke {
			pc.revoked.Store(tok, struct{}{})
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		if w.Code != c.want {
			t.Errorf("%s token: status %d, want %d", c.name, w.Code, c.want)
		}
	}
}

// TestChurnSteadyState checks the premise of BenchmarkStore/Revoke: while
// it revokes, the store keeps about n live entries (one second's worth of
// expiries may wait for the next sweep) and sweeps the rest.
func TestChurnSteadyState(t *testing.T) {
	t.Parallel()
	const n = 3600
	ctx := context.Background()
	c := newChurn(t, n)
	if got := c.store.Len(); got != n {
		t.Fatalf("after fill: Len = %d, want %d", got, n)
	}
	perSecond := int(time.Second / c.step)
	for i := range 3 * n {
		if err := c.revoke(ctx); err != nil {
			t.Fatal(err)
		}
		if i%97 != 0 {
			continue
		}
		if got := c.store.Len(); got < n-perSecond-1 || got > n+1 {
			t.Fatalf("after %d revokes: Len = %d, want about %d", i+1, got, n)
		}
		last := c.ids[(len(c.ids)/2+c.cursor-1)%len(c.ids)]
		if ok, err := c.store.IsRevoked(ctx, last); err != nil || !ok {
			t.Fatalf("id just revoked: IsRevoked = %v, %v", ok, err)
		}
	}
}

// TestRevocationIDs checks that the ids do not repeat.
func TestRevocationIDs(t *testing.T) {
	t.Parallel()
	ids := revocationIDs(0, 1000)
	seen := make(map[authix.TokenID]bool, len(ids))
	for _, id := range ids {
		if seen[id] {
			t.Fatalf("id %x repeats", id)
		}
		seen[id] = true
	}
}
