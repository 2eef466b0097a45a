package authix_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// browser keeps the token cookie between requests, as a browser would, and
// records what each response set.
type browser struct {
	t      *testing.T
	token  string
	h      http.Handler
	tokens []string // every token the session held, in order
}

func newBrowser(t *testing.T, v *authix.Vault[User], opts ...authix.LoginOption) *browser {
	t.Helper()
	b := &browser{t: t, h: v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u, _ := v.Data(r.Context())
		_ = json.NewEncoder(w).Encode(u)
	}))}
	rec := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(rec, User{ID: 7, Name: "John"}, opts...))
	b.take(rec)
	return b
}

// take keeps the token cookie rec sets, if any, and reports how many
// Set-Cookie lines it wrote.
func (b *browser) take(rec *httptest.ResponseRecorder) int {
	lines := rec.Header().Values("Set-Cookie")
	for _, c := range rec.Result().Cookies() {
		if c.Name == authix.DefaultCookieName && c.MaxAge >= 0 {
			b.token = c.Value
			b.tokens = append(b.tokens, c.Value)
		}
	}
	return len(lines)
}

// get sends one request with the cookie and returns the status and how
// many Set-Cookie lines the response had.
func (b *browser) get() (status, setCookies int) {
	rec := httptest.NewRecorder()
	b.h.ServeHTTP(rec, cookieRequest(b.token))
	return rec.Code, b.take(rec)
}

func slidingVault(t *testing.T, clk *fakeClock, opts ...authix.Option) *authix.Vault[User] {
	t.Helper()
	v, err := authix.New[User](append([]authix.Option{authix.WithKeys(keyA), authix.WithClock(clk.Now),
		authix.WithSliding(0), authix.WithSessionLifetime(12 * time.Hour)}, opts...)...)
	require.NoError(t, err)
	return v
}

func TestSlidingSession(t *testing.T) {
	t.Parallel()
	t.Run("an active user stays logged in for 8 hours", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		b := newBrowser(t, slidingVault(t, clk))
		renewals := 0
		for i := range 8 * 6 {
			clk.Advance(10 * time.Minute)
			status, set := b.get()
			require.Equal(t, http.StatusOK, status, "request %d, %v after login", i, time.Duration(i+1)*10*time.Minute)
			require.LessOrEqual(t, set, 1, "a renewal writes one Set-Cookie and no more")
			renewals += set
		}
		assert.Equal(t, 16, renewals, "renewed every 30 minutes, at half the lifetime")
	})
	t.Run("an idle user is logged out after 61 minutes", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		b := newBrowser(t, slidingVault(t, clk))
		clk.Advance(40 * time.Minute)
		status, set := b.get()
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 1, set, "renewed past half its hour")
		clk.Advance(61 * time.Minute)
		status, _ = b.get()
		assert.Equal(t, http.StatusUnauthorized, status)
	})
	t.Run("no renewal outlives the absolute lifetime", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		b := newBrowser(t, slidingVault(t, clk))
		var last time.Duration
		for elapsed := time.Duration(0); elapsed < 13*time.Hour; elapsed += 10 * time.Minute {
			clk.Advance(10 * time.Minute)
			if status, _ := b.get(); status != http.StatusOK {
				break
			}
			last = elapsed + 10*time.Minute
		}
		assert.Equal(t, 12*time.Hour, last, "the last request accepted is the one at the absolute limit")
	})
	t.Run("a renewed token carries the reloaded payload", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		v := slidingVault(t, clk, authix.WithRenewal(func(_ context.Context, u User) (User, error) {
			if u.ID == 7 {
				u.IsAdmin = true
			}
			return u, nil
		}))
		b := newBrowser(t, v)
		clk.Advance(31 * time.Minute)
		_, set := b.get()
		require.Equal(t, 1, set)
		got, err := v.DecodeAccessToken(b.token)
		require.NoError(t, err)
		assert.True(t, got.IsAdmin)
	})
	t.Run("a remembered session is reloaded too", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		v := slidingVault(t, clk, authix.WithRenewal(func(_ context.Context, u User) (User, error) {
			u.IsAdmin = true
			return u, nil
		}))
		b := newBrowser(t, v, authix.RememberMe(true))
		end := testEpoch.Add(authix.DefaultRememberMe)
		// Its expiry is its session's end, which no renewal moves: the
		// renewal is there for the reload.
		clk.Advance(authix.DefaultRememberMe/2 + time.Minute)
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, cookieRequest(b.token))
		require.Equal(t, http.StatusOK, rec.Code)
		cookies := rec.Result().Cookies()
		require.Len(t, cookies, 1, "renewed past its renewal age")
		assert.Equal(t, int(end.Sub(clk.Now())/time.Second), cookies[0].MaxAge, "still ends with its session")
		got, err := v.DecodeAccessToken(cookies[0].Value)
		require.NoError(t, err)
		assert.True(t, got.IsAdmin, "the reloaded payload")
	})
	t.Run("a failed reload ends the session", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		gone := errors.New("user deleted")
		var seen error
		v := slidingVault(t, clk,
			authix.WithRenewal(func(context.Context, User) (User, error) { return User{}, gone }),
			authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
				seen = err
				authix.DefaultErrorHandler(w, r, err)
			}))
		b := newBrowser(t, v)
		first := b.token
		clk.Advance(31 * time.Minute)
		rec := httptest.NewRecorder()
		b.h.ServeHTTP(rec, cookieRequest(first))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.ErrorIs(t, seen, authix.ErrSessionEnded)
		assert.ErrorIs(t, seen, gone)
		assert.Contains(t, rec.Header().Get("Set-Cookie"), "Max-Age=0", "the cookie is cleared")
		_, err := v.Authenticate(cookieRequest(first))
		assert.ErrorIs(t, err, authix.ErrRevokedToken, "the session is revoked")
	})
	t.Run("header and Bearer clients renew explicitly", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		v := slidingVault(t, clk, authix.WithBearer())
		tok, info, err := v.IssueAccessToken(User{ID: 7})
		require.NoError(t, err)
		clk.Advance(50 * time.Minute)
		req := httptest.NewRequest(http.MethodGet, "/", nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		v.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, req)
		assert.Equal(t, http.StatusOK, rec.Code)
		assert.Empty(t, rec.Header().Values("Set-Cookie"), "no cookie for a Bearer client")

		fresh, freshInfo, err := v.RenewAccessToken(context.Background(), tok)
		require.NoError(t, err)
		assert.Equal(t, clk.Now().Add(time.Hour).Unix(), freshInfo.ExpiresAt.Unix())
		assert.Equal(t, info.SessionExpiresAt.Unix(), freshInfo.SessionExpiresAt.Unix(), "the same session")
		_, err = v.DecodeAccessToken(fresh)
		require.NoError(t, err)
		disabled, err := v.IsTokenDisabled(context.Background(), tok)
		require.NoError(t, err)
		assert.True(t, disabled, "the old token ends")
	})
}

// Renewing a token of a vault without sliding sessions starts a session
// bounded from the token's issue time: renewals cannot go on for ever.
func TestRenewWithoutSliding(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithoutCookie(), authix.WithBearer())
	require.NoError(t, err)
	tok, err := v.CreateAccessToken(User{ID: 7})
	require.NoError(t, err)
	ctx := context.Background()
	renewals := 0
	var last authix.TokenInfo
	for range 100 {
		clk.Advance(50 * time.Minute)
		next, info, err := v.RenewAccessToken(ctx, tok)
		if err != nil {
			require.ErrorIs(t, err, authix.ErrExpiredToken)
			break
		}
		tok, last = next, info
		renewals++
	}
	assert.Equal(t, 14, renewals, "renewed until the session lifetime, 12 hours from the first token")
	assert.Equal(t, testEpoch.Add(12*time.Hour).Unix(), last.ExpiresAt.Unix(), "the last token ends with the session")
	assert.Equal(t, testEpoch.Add(12*time.Hour).Unix(), last.SessionExpiresAt.Unix())
}

// A logout after renewals ends every token the session ever held.
func TestLogoutEndsTheSession(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v := slidingVault(t, clk, authix.WithSliding(15*time.Minute))
	b := newBrowser(t, v)
	for range 3 {
		clk.Advance(16 * time.Minute)
		status, set := b.get()
		require.Equal(t, http.StatusOK, status)
		require.Equal(t, 1, set)
	}
	require.Len(t, b.tokens, 4, "the login's token and three renewals")
	for _, tok := range b.tokens {
		_, err := v.Authenticate(cookieRequest(tok))
		require.NoError(t, err, "every token of the session is live before the logout")
	}

	rec := httptest.NewRecorder()
	require.NoError(t, v.Logout(rec, cookieRequest(b.token)))
	for i, tok := range b.tokens {
		_, err := v.Authenticate(cookieRequest(tok))
		assert.ErrorIs(t, err, authix.ErrRevokedToken, "token %d", i)
	}
}

func TestRememberMe(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithRememberMe(14*24*time.Hour))
	require.NoError(t, err)

	remembered := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(remembered, User{ID: 1}, authix.RememberMe(true)))
	c := remembered.Result().Cookies()[0]
	assert.Equal(t, int((14 * 24 * time.Hour).Seconds()), c.MaxAge, "a persistent cookie for the remember-me lifetime")

	normal := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(normal, User{ID: 2}, authix.RememberMe(false)))
	line := normal.Header().Get("Set-Cookie")
	assert.NotContains(t, line, "Max-Age")
	assert.NotContains(t, line, "Expires")
	session := normal.Result().Cookies()[0].Value

	clk.Advance(time.Hour)
	_, err = v.Authenticate(cookieRequest(session))
	require.NoError(t, err, "valid up to its lifetime")
	clk.Advance(time.Second)
	_, err = v.Authenticate(cookieRequest(session))
	assert.ErrorIs(t, err, authix.ErrExpiredToken, "refused on the server although the browser keeps the cookie")
	_, err = v.Authenticate(cookieRequest(c.Value))
	assert.NoError(t, err, "the remembered login lives on")
	clk.Advance(14 * 24 * time.Hour)
	_, err = v.Authenticate(cookieRequest(c.Value))
	assert.ErrorIs(t, err, authix.ErrExpiredToken)

	_, err = authix.New[User](authix.WithRememberMe(time.Minute))
	assert.ErrorIs(t, err, authix.ErrInvalidOption, "a remember-me lifetime shorter than the TTL")
	_, err = authix.New[User](authix.WithSessionLifetime(24 * time.Hour))
	assert.ErrorIs(t, err, authix.ErrInvalidOption, "a session lifetime without sliding")
}

func TestLogout(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()
	valid, revoked, expired := lifeCycleTokens(t, v, clk)

	for name, tok := range map[string]string{"valid": valid, "expired": expired, "revoked": revoked, "garbage": "not-a-token", "none": ""} {
		t.Run(name, func(t *testing.T) {
			for range 2 { // idempotent
				rec := httptest.NewRecorder()
				require.NoError(t, v.Logout(rec, cookieRequest(tok)))
				assert.Equal(t, http.StatusOK, rec.Code, "Logout writes no status")
				line := rec.Header().Get("Set-Cookie")
				assert.Contains(t, line, authix.DefaultCookieName+"=;")
				assert.Contains(t, line, "Max-Age=0")
				assert.Equal(t, "no-store", rec.Header().Get("Cache-Control"))
			}
		})
	}
	disabled, err := v.IsTokenDisabled(ctx, valid)
	require.NoError(t, err)
	assert.True(t, disabled, "the valid token is revoked")

	// An expired token of a sliding session ends the session's newer tokens.
	sv := slidingVault(t, clk)
	b := newBrowser(t, sv)
	old := b.token
	clk.Advance(45 * time.Minute)
	_, set := b.get()
	require.Equal(t, 1, set)
	clk.Advance(20 * time.Minute) // old has expired; the renewed token has not
	require.NoError(t, sv.Logout(httptest.NewRecorder(), cookieRequest(old)))
	_, err = sv.Authenticate(cookieRequest(b.token))
	assert.ErrorIs(t, err, authix.ErrRevokedToken, "logging out with an expired token ends its session")

	// A forged cross-site logout changes nothing.
	fresh, err := v.CreateAccessToken(User{ID: 4})
	require.NoError(t, err)
	req := httptest.NewRequest(http.MethodPost, "https://app.example/logout", nil)
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: fresh})
	rec := httptest.NewRecorder()
	assert.ErrorIs(t, v.Logout(rec, req), authix.ErrCrossOrigin)
	assert.Empty(t, rec.Header().Values("Set-Cookie"))
	_, err = v.Authenticate(cookieRequest(fresh))
	assert.NoError(t, err)
}

// Every response that sets or clears the cookie keeps shared caches away
// from its Set-Cookie, checked on the wire.
func TestCachingHeaders(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v := slidingVault(t, clk)
	mux := http.NewServeMux()
	mux.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) {
		if err := v.SetAccessToken(w, User{ID: 1}); err != nil {
			t.Error(err)
		}
	})
	mux.Handle("GET /home", v.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})))
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := v.Logout(w, r); err != nil {
			t.Error(err)
		}
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()

	send := func(method, path, token string) *http.Response {
		req, err := http.NewRequest(method, srv.URL+path, nil)
		require.NoError(t, err)
		if token != "" {
			req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: token})
		}
		resp, err := srv.Client().Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp
	}
	check := func(name string, resp *http.Response) string {
		t.Helper()
		require.Len(t, resp.Cookies(), 1, name)
		assert.Equal(t, "no-store", resp.Header.Get("Cache-Control"), name)
		assert.True(t, strings.EqualFold(resp.Header.Get("Vary"), "Cookie"), "%s: Vary %q", name, resp.Header.Get("Vary"))
		return resp.Cookies()[0].Value
	}
	tok := check("login", send(http.MethodGet, "/login", ""))
	clk.Advance(31 * time.Minute)
	tok = check("renewal", send(http.MethodGet, "/home", tok))
	check("logout", send(http.MethodPost, "/logout", tok))
}

// A handler sees what the token said about itself, and an issuer the
// expiry of the token it made.
func TestTokenInfo(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithBearer())
	require.NoError(t, err)

	tok, info, err := v.IssueAccessToken(User{ID: 7})
	require.NoError(t, err)
	assert.Equal(t, testEpoch.Add(time.Hour).Unix(), info.ExpiresAt.Unix(), "an API login answers expires_at")
	assert.Equal(t, testEpoch.Unix(), info.IssuedAt.Unix())

	var seen authix.TokenInfo
	h := v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var ok bool
		seen, ok = v.Info(r.Context())
		assert.True(t, ok)
	}))
	for _, tc := range []struct {
		src authix.TokenSource
		req *http.Request
	}{
		{authix.SourceCookie, cookieRequest(tok)},
		{authix.SourceBearer, func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", "Bearer "+tok)
			return r
		}()},
	} {
		h.ServeHTTP(httptest.NewRecorder(), tc.req)
		assert.Equal(t, tc.src, seen.Source)
		assert.Equal(t, info.ID, seen.ID)
		assert.Equal(t, info.ExpiresAt, seen.ExpiresAt)
	}
	_, ok := v.Info(context.Background())
	assert.False(t, ok, "no info outside the middleware")
}
