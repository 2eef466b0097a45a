package authix_test

// Regression tests for the second review of logout (issue 19): each one
// failed on fd7fc32.

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// subjectVault is a sliding vault of user 7's replica: keyA, the clock and
// the store given, subjects named by userSubject.
func subjectVault(t *testing.T, now func() time.Time, store authix.RevocationStore, opts ...authix.Option) *authix.Vault[User] {
	t.Helper()
	v, err := authix.New[User](append([]authix.Option{authix.WithKeys(keyA), authix.WithClock(now),
		authix.WithRevocationStore(store), authix.WithSubject(userSubject), authix.WithSliding(0)}, opts...)...)
	require.NoError(t, err)
	return v
}

// A thief's session renewed on a replica that has not yet learned of a
// LogoutEverywhere is refused once it has, and everywhere else.
func TestLogoutEverywhereHoldsAfterLaggingRenewal(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	current, lagging := authix.NewMemoryStore(clk.Now), authix.NewMemoryStore(clk.Now)
	a := subjectVault(t, clk.Now, current)
	b := subjectVault(t, clk.Now, lagging)
	ctx := context.Background()

	thief := newBrowser(t, a) // a sliding session of user 7
	clk.Advance(31 * time.Minute)
	require.NoError(t, a.LogoutEverywhere(ctx, "7"))
	_, err := a.Authenticate(cookieRequest(thief.token))
	require.ErrorIs(t, err, authix.ErrRevokedToken)

	// The next request reaches B, which does not know of the logout yet.
	clk.Advance(time.Second)
	rec := httptest.NewRecorder()
	b.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})).ServeHTTP(rec, cookieRequest(thief.token))
	require.Equal(t, http.StatusOK, rec.Code, "B lags")
	require.Equal(t, 1, thief.take(rec), "and renews the session")

	// B learns the cut-off A recorded.
	id := subjectIDOf(t, a, "7")
	cut, err := current.SubjectCutoff(ctx, id)
	require.NoError(t, err)
	require.NoError(t, lagging.RevokeSubject(ctx, id, cut, clk.Now().Add(time.Hour)))
	for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
		_, err := v.Authenticate(cookieRequest(thief.token))
		assert.ErrorIs(t, err, authix.ErrRevokedToken, "the token B renewed, on %s", name)
	}

	// A login after the logout, on either replica, is accepted.
	clk.Advance(time.Millisecond)
	for name, v := range map[string]*authix.Vault[User]{"A": a, "B": b} {
		tok, err := v.CreateAccessToken(User{ID: 7})
		require.NoError(t, err)
		_, err = v.Authenticate(cookieRequest(tok))
		assert.NoError(t, err, "a new login on %s", name)
	}
}

// skewedClock runs d ahead of clk.
func skewedClock(clk *fakeClock, d time.Duration) func() time.Time {
	return func() time.Time { return clk.Now().Add(d) }
}

// A replica whose clock runs 30 s fast (inside Fernet's 60 s tolerance)
// neither stamps its tokens past a later LogoutEverywhere nor lets its own
// LogoutEverywhere hide a later one, and does not refuse logins after it.
func TestLogoutEverywhereHoldsUnderClockSkew(t *testing.T) {
	t.Parallel()
	t.Run("a token sealed on the fast replica", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		store := authix.NewMemoryStore(clk.Now)
		fast := subjectVault(t, skewedClock(clk, 30*time.Second), store)
		right := subjectVault(t, clk.Now, store)
		tok, err := fast.CreateAccessToken(User{ID: 7})
		require.NoError(t, err)
		clk.Advance(10 * time.Second)
		require.NoError(t, right.LogoutEverywhere(context.Background(), "7"))
		for name, v := range map[string]*authix.Vault[User]{"fast": fast, "right": right} {
			_, err := v.Authenticate(cookieRequest(tok))
			assert.ErrorIs(t, err, authix.ErrRevokedToken, name)
		}
	})
	t.Run("a logout on the slow replica after one on the fast", func(t *testing.T) {
		t.Parallel()
		clk := newFakeClock(testEpoch)
		store := authix.NewMemoryStore(clk.Now)
		fast := subjectVault(t, skewedClock(clk, 30*time.Second), store)
		right := subjectVault(t, clk.Now, store)
		require.NoError(t, fast.LogoutEverywhere(context.Background(), "7"))
		clk.Advance(5 * time.Second)
		tok, err := right.CreateAccessToken(User{ID: 7})
		require.NoError(t, err)
		_, err = right.Authenticate(cookieRequest(tok))
		require.NoError(t, err, "a login after the fast replica's logout")
		clk.Advance(5 * time.Second)
		require.NoError(t, right.LogoutEverywhere(context.Background(), "7"))
		for name, v := range map[string]*authix.Vault[User]{"fast": fast, "right": right} {
			_, err := v.Authenticate(cookieRequest(tok))
			assert.ErrorIs(t, err, authix.ErrRevokedToken, name)
		}
	})
}

// During a rolling deploy that raises the TTL from 1 h to 2 h, a session
// logged out on an old replica stays out although a new one renewed it.
func TestLogoutOutlastsLongerLifetimes(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	store := authix.NewMemoryStore(clk.Now)
	old := slidingVault(t, clk, authix.WithRevocationStore(store))
	newer := slidingVault(t, clk, authix.WithRevocationStore(store), authix.WithTTL(2*time.Hour))
	user := newBrowser(t, old)
	thief := &browser{t: t, token: user.token, h: newer.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))}

	clk.Advance(31 * time.Minute)
	status, set := thief.get()
	require.Equal(t, http.StatusOK, status)
	require.Equal(t, 1, set, "the new replica renews for two hours")

	rec := httptest.NewRecorder()
	require.NoError(t, old.Logout(rec, cookieRequest(user.token)))
	clk.Advance(65 * time.Minute)
	_, err := newer.Authenticate(cookieRequest(thief.token))
	assert.ErrorIs(t, err, authix.ErrRevokedToken, "the renewed token on the new replica")
	_, err = old.Authenticate(cookieRequest(thief.token))
	assert.True(t, isOneOf(err, authix.ErrRevokedToken, authix.ErrExpiredToken), "on the old replica: %v", err)
}

// A client that calls RenewAccessToken in a loop cannot fill the store:
// each token is exchanged at most once, and only past its renewal age.
func TestRenewalFloodIsBounded(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	store := authix.NewMemoryStore(clk.Now)
	v := slidingVault(t, clk, authix.WithRevocationStore(store))
	ctx := context.Background()
	tok, _, err := v.IssueAccessToken(User{ID: 7}, authix.RememberMe(true))
	require.NoError(t, err)

	flood := func() string {
		t.Helper()
		cur := tok
		for range 2000 {
			next, _, err := v.RenewAccessToken(ctx, cur)
			require.NoError(t, err)
			cur = next
		}
		return cur
	}
	assert.Equal(t, tok, flood(), "a young token is not exchanged")
	assert.Zero(t, store.Held(), "and nothing is revoked")

	clk.Advance(authix.DefaultRememberMe/2 + time.Second)
	renewed := flood()
	assert.NotEqual(t, tok, renewed, "past its renewal age, once")
	assert.Equal(t, 1, store.Held(), "one revocation for the one exchange")
	_, err = v.Authenticate(cookieRequest(tok))
	assert.ErrorIs(t, err, authix.ErrRevokedToken, "the old token is ended")
	_, err = v.Authenticate(cookieRequest(renewed))
	assert.NoError(t, err)
}

// Logout ends the session of an authentic token that the cipher already
// refuses as too old, so a session a thief renewed meanwhile ends too.
func TestLogoutWithTokenPastCipherLifetime(t *testing.T) {
	t.Parallel()
	for name, opt := range map[string]func() authix.Option{
		"WithCipher":                func() authix.Option { return authix.WithCipher(mustFernet(t, time.Hour, keyA)) },
		"WithRememberMe of the TTL": func() authix.Option { return authix.WithRememberMe(time.Hour) },
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(testEpoch)
			v, err := authix.New[User](opt(), authix.WithClock(clk.Now), authix.WithSliding(0))
			if name != "WithCipher" {
				v, err = authix.New[User](opt(), authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithSliding(0))
			}
			require.NoError(t, err)
			user := newBrowser(t, v)
			thief := *user
			old := user.token

			clk.Advance(31 * time.Minute)
			_, set := thief.get()
			require.Equal(t, 1, set, "the thief's request renews the session")
			clk.Advance(39 * time.Minute)
			_, err = v.Authenticate(cookieRequest(old))
			require.ErrorIs(t, err, authix.ErrExpiredToken, "the user's token is 70 minutes old")

			require.NoError(t, v.Logout(httptest.NewRecorder(), cookieRequest(old)))
			_, err = v.Authenticate(cookieRequest(thief.token))
			assert.ErrorIs(t, err, authix.ErrRevokedToken, "the session the thief renewed is ended")
		})
	}
}

// A fastapi-authix token whose payload begins with an "_authix" key lives
// no longer than its reader grants a token of its kind.
func TestPythonPayloadWithAuthixKey(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	f := mustFernet(t, time.Hour, keyA)
	plain := fmt.Sprintf(`{"_authix":{"exp":%d},"id":7,"name":"John","is_admin":false}`,
		clk.Now().Add(29*24*time.Hour).Unix())
	tok, _, err := f.Seal(nil, []byte(plain), clk.Now())
	require.NoError(t, err)
	clk.Advance(2 * time.Hour)
	_, err = v.DecodeAccessToken(string(tok))
	assert.ErrorIs(t, err, authix.ErrExpiredToken, "two hours old under a one-hour TTL")
	_, err = v.Authenticate(cookieRequest(string(tok)))
	assert.ErrorIs(t, err, authix.ErrExpiredToken)
}

// A link on another site does not log the user out: Logout checks a
// cookie request's origin whatever its method; a same-origin GET works.
func TestCrossSiteGETLogoutRefused(t *testing.T) {
	t.Parallel()
	v, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	tok, err := v.CreateAccessToken(User{ID: 7})
	require.NoError(t, err)
	logout := func(site string) (*httptest.ResponseRecorder, error) {
		req := httptest.NewRequest(http.MethodGet, "https://app.example/logout", nil)
		req.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
		req.Header.Set("Sec-Fetch-Site", site)
		if site == "cross-site" {
			req.Header.Set("Referer", "https://evil.example/")
		}
		rec := httptest.NewRecorder()
		return rec, v.Logout(rec, req)
	}

	rec, err := logout("cross-site")
	assert.ErrorIs(t, err, authix.ErrCrossOrigin)
	assert.Empty(t, rec.Header().Values("Set-Cookie"), "the cookie is kept")
	_, err = v.Authenticate(cookieRequest(tok))
	assert.NoError(t, err, "the token is not revoked")

	rec, err = logout("same-origin")
	require.NoError(t, err)
	assert.True(t, strings.Contains(rec.Header().Get("Set-Cookie"), "Max-Age=0"), "the cookie is cleared")
	_, err = v.Authenticate(cookieRequest(tok))
	assert.ErrorIs(t, err, authix.ErrRevokedToken)
}

// A payload string that is not valid UTF-8 is refused when sealing, so no
// token reads back other than it was sealed, or cannot open at all.
func TestSealRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithSubject(func(u User) string { return u.Name }))
	require.NoError(t, err)
	_, err = v.CreateAccessToken(User{ID: 1, Name: "m\xffallory"})
	assert.ErrorIs(t, err, authix.ErrUnsupportedPayload, "a name that is not UTF-8")
	assert.ErrorIs(t, v.LogoutEverywhere(ctx, "m\xffallory"), authix.ErrInvalidOption, "no token can carry that subject")

	mallory, err := v.CreateAccessToken(User{ID: 1, Name: "m\ufffdallory"})
	require.NoError(t, err)
	require.NoError(t, v.LogoutEverywhere(ctx, "m\ufffdallory"))
	_, err = v.Authenticate(cookieRequest(mallory))
	assert.ErrorIs(t, err, authix.ErrRevokedToken, "a valid UTF-8 subject is logged out")

	dict, err := authix.New[map[string]string](authix.WithKeys(keyA))
	require.NoError(t, err)
	_, err = dict.CreateAccessToken(map[string]string{"\xff": "a", "\ufffd": "b"})
	assert.ErrorIs(t, err, authix.ErrUnsupportedPayload, "keys that would collide")
	_, err = dict.CreateAccessToken(map[string]string{"k": "\xfe"})
	assert.ErrorIs(t, err, authix.ErrUnsupportedPayload, "a value that is not UTF-8")
}

// StringID has a field encoded as a JSON string (",string"): its keys
// match as exactly as any payload's.
type StringID struct {
	ID   int    `json:"id,string"`
	Role string `json:"role"`
}

func TestStringOptionKeysExact(t *testing.T) {
	t.Parallel()
	v, err := authix.New[StringID](authix.WithKeys(keyA))
	require.NoError(t, err)
	f := mustFernet(t, time.Hour, keyA)
	tok, _, err := f.Seal(nil, []byte(`{"id":"7","role":"user","ROLE":"admin"}`), time.Now())
	require.NoError(t, err)
	got, err := v.DecodeAccessToken(string(tok))
	require.NoError(t, err)
	assert.Equal(t, StringID{ID: 7, Role: "user"}, got, "ROLE is not role")

	sealed, err := v.CreateAccessToken(StringID{ID: 7, Role: "user"})
	require.NoError(t, err)
	got, err = v.DecodeAccessToken(sealed)
	require.NoError(t, err)
	assert.Equal(t, StringID{ID: 7, Role: "user"}, got)
}
