package authix_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func isAdmin(u User) bool { return u.IsAdmin }

func TestGuards(t *testing.T) {
	t.Parallel()
	var seen error
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithBearer(),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			seen = err
			authix.DefaultErrorHandler(w, r, err)
		}))
	require.NoError(t, err)
	admin, err := v.CreateAccessToken(User{ID: 1, IsAdmin: true})
	require.NoError(t, err)
	user, err := v.CreateAccessToken(User{ID: 2})
	require.NoError(t, err)
	ok := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(v.MustData(r.Context()).Name))
	})
	bearer := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/admin", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	routes := map[string]http.Handler{
		"Require alone":              v.Require(isAdmin)(ok),
		"Require behind RequireData": v.RequireData(v.Require(isAdmin)(ok)),
		"two guards":                 v.Require(isAdmin)(v.Require(func(u User) bool { return u.ID > 0 })(ok)),
	}
	for name, h := range routes {
		for _, tc := range []struct {
			name    string
			req     *http.Request
			status  int
			err     error
			wwwAuth string
		}{
			{"no token", httptest.NewRequest(http.MethodGet, "/admin", nil), http.StatusUnauthorized, authix.ErrMissingToken, "Bearer"},
			{"garbage", bearer("garbage"), http.StatusUnauthorized, authix.ErrInvalidToken, "Bearer"},
			{"not an admin", cookieRequest(user), http.StatusForbidden, authix.ErrForbidden, ""},
			{"not an admin, Bearer", bearer(user), http.StatusForbidden, authix.ErrForbidden, ""},
			{"an admin", cookieRequest(admin), http.StatusOK, nil, ""},
			{"an admin, Bearer", bearer(admin), http.StatusOK, nil, ""},
		} {
			t.Run(name+"/"+tc.name, func(t *testing.T) {
				seen = nil
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, tc.req)
				assert.Equal(t, tc.status, rec.Code)
				assert.Equal(t, tc.wwwAuth, rec.Header().Get("WWW-Authenticate"))
				if tc.err == nil {
					assert.NoError(t, seen)
					return
				}
				assert.ErrorIs(t, seen, tc.err)
				if tc.status == http.StatusForbidden {
					assert.JSONEq(t, `{"detail":"Forbidden"}`, rec.Body.String())
				}
			})
		}
	}

	t.Run("MustData outside the middleware panics", func(t *testing.T) {
		assert.PanicsWithValue(t,
			"authix: MustData: no payload in the context for this vault; wrap the handler in RequireData, RedirectToLogin or Require",
			func() { v.MustData(httptest.NewRequest(http.MethodGet, "/", nil).Context()) })
	})
	t.Run("no WWW-Authenticate without Bearer", func(t *testing.T) {
		plain, err := authix.New[User]()
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		plain.RequireData(ok).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/", nil))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Empty(t, rec.Header().Get("WWW-Authenticate"))
	})
}

func TestRedirectToLogin(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	valid, revoked, expired := lifeCycleTokens(t, v, clk)
	user, err := v.CreateAccessToken(User{ID: 2})
	require.NoError(t, err)
	admin, err := v.CreateAccessToken(User{ID: 1, IsAdmin: true})
	require.NoError(t, err)
	page := v.RedirectToLogin("/login")(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("page"))
	}))
	adminPage := v.RedirectToLogin("/login")(v.Require(isAdmin)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte("admin"))
	})))
	get := func(target, tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "https://app.example"+target, nil)
		if tok != "" {
			r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
		}
		return r
	}
	for _, tc := range []struct {
		name     string
		h        http.Handler
		req      *http.Request
		status   int
		location string
	}{
		{"no token", page, get("/orders?id=7", ""), http.StatusSeeOther, "/login?next=%2Forders%3Fid%3D7"},
		{"expired", page, get("/orders", expired), http.StatusSeeOther, "/login?next=%2Forders"},
		{"revoked", page, get("/orders", revoked), http.StatusSeeOther, "/login?next=%2Forders"},
		{"garbage", page, get("/orders", "x"), http.StatusSeeOther, "/login?next=%2Forders"},
		{"a request path of //evil.com", page, get("//evil.com", ""), http.StatusSeeOther, "/login?next=%2F"},
		{"valid", page, get("/orders", valid), http.StatusOK, ""},
		{"admin page, not an admin", adminPage, get("/admin", user), http.StatusForbidden, ""},
		{"admin page, an admin", adminPage, get("/admin", admin), http.StatusOK, ""},
		{"admin page, no token", adminPage, get("/admin", ""), http.StatusSeeOther, "/login?next=%2Fadmin"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			tc.h.ServeHTTP(rec, tc.req)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.location, rec.Header().Get("Location"))
		})
	}
	t.Run("a store that cannot answer is refused, not redirected to a login that would loop", func(t *testing.T) {
		down, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithRevocationStore(failingStore{}))
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		down.RedirectToLogin("/login")(page).ServeHTTP(rec, get("/orders", valid))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Empty(t, rec.Header().Get("Location"))
	})
	t.Run("a cross-origin POST is refused, not redirected", func(t *testing.T) {
		r := httptest.NewRequest(http.MethodPost, "https://app.example/orders", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: valid})
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, r)
		assert.Equal(t, http.StatusForbidden, rec.Code)
	})
	t.Run("a login path off this site panics at setup", func(t *testing.T) {
		for _, p := range []string{"https://evil.com/login", "//evil.com/login", "login"} {
			assert.Panics(t, func() { v.RedirectToLogin(p) }, p)
		}
	})
}

// SafeNext keeps only paths on this site, whatever a hostile next holds.
func TestSafeNext(t *testing.T) {
	t.Parallel()
	for _, next := range []string{
		"//evil.com", "/\\evil.com", "\\\\evil.com", "https://evil.com", "http:evil.com", "evil.com",
		"//evil.com/%2F..", "/\t/evil.com", "/\n/evil.com", "/a\r\nLocation: https://evil.com",
		"/\x00evil", " /x", "", "javascript:alert(1)", "%2F%2Fevil.com",
	} {
		assert.Equal(t, "/", authix.SafeNext(next), "%q", next)
	}
	for _, next := range []string{"/", "/orders", "/orders?id=7&x=%2F%2F", "/a/b/../c", "/%2F%2Fevil.com", "/ünïcode"} {
		got := authix.SafeNext(next)
		assert.Equal(t, next, got)
		// Whatever it keeps resolves to this site.
		u, err := url.Parse("https://app.example/base")
		require.NoError(t, err)
		ref, err := url.Parse(got)
		require.NoError(t, err)
		assert.Equal(t, "app.example", u.ResolveReference(ref).Host, "%q", next)
	}
	// Decoded by a form, the encoded variants arrive as the plain ones.
	for _, enc := range []string{"%2F%2Fevil.com", "%2F%5Cevil.com", "%2F%09%2Fevil.com", "%2Fa%0D%0ALocation:x"} {
		dec, err := url.QueryUnescape(enc)
		require.NoError(t, err)
		assert.Equal(t, "/", authix.SafeNext(dec), "%q decoded", enc)
	}
}
