package authix_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// deviceStore is the memory store, counting the device records written.
type deviceStore struct {
	*authix.MemoryStore
	saves atomic.Int64
}

func (s *deviceStore) SaveDevice(ctx context.Context, subject authix.SubjectID, session authix.TokenID, record []byte, until time.Time) error {
	s.saves.Add(1)
	return s.MemoryStore.SaveDevice(ctx, subject, session, record, until)
}

// devicesVault is a sliding vault with subjects and a device store, on clk.
func devicesVault(t *testing.T, clk *fakeClock) (*authix.Vault[User], *deviceStore) {
	t.Helper()
	store := &deviceStore{MemoryStore: authix.NewMemoryStore(clk.Now)}
	return subjectVault(t, clk.Now, store), store
}

// deviceLogin logs user 7 in with label and returns the cookie token.
func deviceLogin(t *testing.T, v *authix.Vault[User], label string, opts ...authix.LoginOption) string {
	t.Helper()
	rec := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(rec, User{ID: 7, Name: "John"}, append(opts, authix.DeviceLabel(label))...))
	return rec.Result().Cookies()[0].Value
}

// onDevicesPage serves a request with tok behind RequireData and runs f in
// the handler; it returns the response.
func onDevicesPage(t *testing.T, v *authix.Vault[User], tok string, f func(ctx context.Context)) *httptest.ResponseRecorder {
	t.Helper()
	rec := httptest.NewRecorder()
	v.RequireData(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) { f(r.Context()) })).ServeHTTP(rec, cookieRequest(tok))
	return rec
}

func listDevices(t *testing.T, v *authix.Vault[User], tok string) []authix.Device {
	t.Helper()
	var list []authix.Device
	rec := onDevicesPage(t, v, tok, func(ctx context.Context) {
		var err error
		list, err = v.Devices(ctx)
		require.NoError(t, err)
	})
	require.Equal(t, http.StatusOK, rec.Code)
	return list
}

func TestDevices(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, store := devicesVault(t, clk)
	laptop := deviceLogin(t, v, "Firefox on Linux")
	clk.Advance(time.Minute)
	phone := deviceLogin(t, v, "Safari on iPhone", authix.RememberMe(true))
	clk.Advance(time.Minute)
	tablet := deviceLogin(t, v, "Chrome on Android")

	list := listDevices(t, v, laptop)
	require.Len(t, list, 3, "three sessions")
	assert.Equal(t, "Chrome on Android", list[0].Label, "most recently active first")
	for _, d := range list {
		assert.Equal(t, d.Label == "Firefox on Linux", d.Current, d.Label)
		assert.Equal(t, d.Label == "Safari on iPhone", d.Remembered, d.Label)
		assert.WithinDuration(t, d.Started, d.LastActive, 0, "not renewed yet")
	}
	assert.WithinDuration(t, testEpoch, list[2].Started, 0)
	assert.WithinDuration(t, testEpoch.Add(12*time.Hour), list[2].Ends, 0)

	t.Run("requests between renewals write nothing", func(t *testing.T) {
		before := store.saves.Load()
		for range 10 {
			clk.Advance(time.Minute)
			listDevices(t, v, laptop)
		}
		assert.Equal(t, before, store.saves.Load())
	})
	t.Run("a renewal updates last active", func(t *testing.T) {
		clk.Advance(20 * time.Minute) // past half the hour
		rec := onDevicesPage(t, v, laptop, func(context.Context) {})
		require.Len(t, rec.Result().Cookies(), 1, "renewed")
		laptop = rec.Result().Cookies()[0].Value
		for _, d := range listDevices(t, v, laptop) {
			if d.Current {
				assert.WithinDuration(t, clk.Now().Truncate(time.Second), d.LastActive, 0)
				assert.WithinDuration(t, testEpoch, d.Started, 0)
			}
		}
	})
	t.Run("ending one refuses its tokens and leaves the others", func(t *testing.T) {
		var tabletID string
		for _, d := range listDevices(t, v, laptop) {
			if d.Label == "Chrome on Android" {
				tabletID = d.ID
			}
		}
		onDevicesPage(t, v, laptop, func(ctx context.Context) { require.NoError(t, v.EndDevice(ctx, tabletID)) })
		_, err := v.Authenticate(cookieRequest(tablet))
		assert.ErrorIs(t, err, authix.ErrRevokedToken)
		for _, tok := range []string{laptop, phone} {
			_, err := v.Authenticate(cookieRequest(tok))
			assert.NoError(t, err)
		}
		assert.Len(t, listDevices(t, v, laptop), 2)
	})
	t.Run("all but this one", func(t *testing.T) {
		onDevicesPage(t, v, laptop, func(ctx context.Context) { require.NoError(t, v.EndOtherDevices(ctx)) })
		_, err := v.Authenticate(cookieRequest(phone))
		assert.ErrorIs(t, err, authix.ErrRevokedToken)
		list := listDevices(t, v, laptop)
		require.Len(t, list, 1)
		assert.True(t, list[0].Current)
	})
	t.Run("gone after the absolute lifetime", func(t *testing.T) {
		clk.Advance(12 * time.Hour)
		other := deviceLogin(t, v, "later")
		assert.Len(t, listDevices(t, v, other), 1, "only the new session")
	})
}

func TestDevicesBounded(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, _ := devicesVault(t, clk)
	var last string
	for i := range authix.MaxDevices + 5 {
		clk.Advance(time.Second)
		last = deviceLogin(t, v, fmt.Sprint("device ", i))
	}
	list := listDevices(t, v, last)
	assert.Len(t, list, authix.MaxDevices)
	assert.Equal(t, fmt.Sprint("device ", authix.MaxDevices+4), list[0].Label)
}

func TestDevicesNeedAStore(t *testing.T) {
	t.Parallel()
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithSliding(0))
	require.NoError(t, err)
	tok, err := v.CreateAccessToken(User{ID: 7})
	require.NoError(t, err)
	onDevicesPage(t, v, tok, func(ctx context.Context) {
		_, err := v.Devices(ctx)
		assert.ErrorIs(t, err, authix.ErrInvalidOption)
	})
	_, err = v.Devices(context.Background())
	assert.Error(t, err)
}

// stepUpVault serves a sensitive route behind RequireConfirmed(10m).
func stepUpRoute(v *authix.Vault[User], loginPath string) http.Handler {
	return v.RequireConfirmed(10*time.Minute, loginPath)(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("sensitive"))
	}))
}

func TestRequireConfirmed(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithSliding(0), authix.WithBearer())
	require.NoError(t, err)
	fresh, err := v.CreateAccessToken(User{ID: 7})
	require.NoError(t, err)
	py, _, err := mustFernet(t, time.Hour, keyA).Seal(nil, []byte(`{"id":7,"name":"from Python"}`), clk.Now())
	require.NoError(t, err)
	// Tokens sealed before "at" existed: a session's renewed token says
	// when it was renewed, not when the user authenticated; a token
	// outside a session is never renewed, so its issue time is its login.
	sealOld := func(meta string) string {
		tok, _, err := mustFernet(t, time.Hour, keyA).Seal(nil, fmt.Appendf(nil, `{"_authix":{"exp":%d%s},"id":7}`, clk.Now().Add(time.Hour).Unix(), meta), clk.Now())
		require.NoError(t, err)
		return string(tok)
	}
	renewedOld := sealOld(fmt.Sprintf(`,"abs":%d,"sid":"AAAAAAAAAAAAAAAB"`, clk.Now().Add(12*time.Hour).Unix()))
	loginOld := sealOld("")
	bearer := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/password", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		return r
	}
	browser := func(tok string) *http.Request {
		r := httptest.NewRequest(http.MethodGet, "/password?x=1", nil)
		r.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
		return r
	}
	const challenge = `Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=600`
	for _, tc := range []struct {
		name      string
		age       time.Duration
		req       func(string) *http.Request
		tok       string
		status    int
		location  string
		challenge bool
	}{
		{"fresh browser", 9 * time.Minute, browser, fresh, http.StatusOK, "", false},
		{"fresh API", 10 * time.Minute, bearer, fresh, http.StatusOK, "", false},
		{"stale browser goes to confirm", 11 * time.Minute, browser, fresh, http.StatusSeeOther, "/login?next=%2Fpassword%3Fx%3D1", false},
		{"stale API gets the RFC 9470 challenge", 11 * time.Minute, bearer, fresh, http.StatusUnauthorized, "", true},
		{"Python token, no authentication time", 0, bearer, string(py), http.StatusUnauthorized, "", true},
		{"no token", 0, bearer, "", http.StatusUnauthorized, "", false},
		{"session token from before the authentication time was sealed", time.Minute, bearer, renewedOld, http.StatusUnauthorized, "", true},
		{"token outside a session from before it: its login", time.Minute, bearer, loginOld, http.StatusOK, "", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := newFakeClock(testEpoch.Add(tc.age))
			w, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(at.Now), authix.WithSliding(0), authix.WithBearer())
			require.NoError(t, err)
			rec := httptest.NewRecorder()
			req := tc.req(tc.tok)
			if tc.tok == "" {
				req.Header.Del("Authorization")
			}
			stepUpRoute(w, "/login").ServeHTTP(rec, req)
			assert.Equal(t, tc.status, rec.Code)
			assert.Equal(t, tc.location, rec.Header().Get("Location"))
			if tc.challenge {
				assert.Equal(t, challenge, rec.Header().Get("WWW-Authenticate"))
				assert.JSONEq(t, `{"detail":"Not authenticated"}`, rec.Body.String())
			} else {
				assert.NotContains(t, rec.Header().Get("WWW-Authenticate"), "insufficient")
			}
		})
	}
	t.Run("without a login path, browsers get the challenge too", func(t *testing.T) {
		at := newFakeClock(testEpoch.Add(time.Hour / 2))
		w, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(at.Now), authix.WithSliding(0))
		require.NoError(t, err)
		rec := httptest.NewRecorder()
		stepUpRoute(w, "").ServeHTTP(rec, browser(fresh))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Equal(t, challenge, rec.Header().Get("WWW-Authenticate"))
	})
}

// Confirm refreshes the authentication time and nothing else: the same
// session, the same absolute end, no second device.
func TestConfirmKeepsTheSession(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, _ := devicesVault(t, clk)
	tok := deviceLogin(t, v, "laptop")
	before := listDevices(t, v, tok)
	require.Len(t, before, 1)

	clk.Advance(15 * time.Minute)
	rec := httptest.NewRecorder()
	stepUpRoute(v, "/login").ServeHTTP(rec, cookieRequest(tok))
	require.Equal(t, http.StatusSeeOther, rec.Code, "stale")

	confirm := httptest.NewRequest(http.MethodPost, "/login", nil)
	confirm.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: tok})
	rec = httptest.NewRecorder()
	fresh, err := v.Confirm(rec, confirm)
	require.NoError(t, err)
	require.Len(t, rec.Result().Cookies(), 1)
	assert.Equal(t, fresh, rec.Result().Cookies()[0].Value)

	rec = httptest.NewRecorder()
	stepUpRoute(v, "/login").ServeHTTP(rec, cookieRequest(fresh))
	assert.Equal(t, http.StatusOK, rec.Code, "fresh after Confirm")

	var info authix.TokenInfo
	onDevicesPage(t, v, fresh, func(ctx context.Context) { info, _ = v.Info(ctx) })
	assert.WithinDuration(t, clk.Now().Truncate(time.Second), info.AuthenticatedAt, 0)
	assert.WithinDuration(t, before[0].Ends, info.SessionExpiresAt, 0, "same absolute end")
	after := listDevices(t, v, fresh)
	require.Len(t, after, 1, "no second device")
	assert.Equal(t, before[0].ID, after[0].ID, "same session")
	assert.True(t, after[0].Current)
	_, err = v.Authenticate(cookieRequest(tok))
	assert.ErrorIs(t, err, authix.ErrRevokedToken, "the token before the confirmation is ended")

	cross := httptest.NewRequest(http.MethodGet, "/login", nil)
	cross.AddCookie(&http.Cookie{Name: authix.DefaultCookieName, Value: fresh})
	cross.Header.Set("Sec-Fetch-Site", "cross-site")
	_, err = v.Confirm(httptest.NewRecorder(), cross)
	assert.ErrorIs(t, err, authix.ErrCrossOrigin)
}

// Rough edges a new user hit.
func TestRoughEdges(t *testing.T) {
	t.Parallel()
	t.Run("a token of another vault's shape does not authenticate", func(t *testing.T) {
		type Invite struct {
			Email string `json:"email"`
		}
		invites, err := authix.New[Invite](authix.WithKeys(keyA))
		require.NoError(t, err)
		users, err := authix.New[User](authix.WithKeys(keyA))
		require.NoError(t, err)
		tok, err := invites.CreateAccessToken(Invite{Email: "a@example.com"})
		require.NoError(t, err)
		_, err = users.Authenticate(cookieRequest(tok))
		assert.ErrorIs(t, err, authix.ErrInvalidToken)

		type Sparse struct {
			Name string `json:"name,omitempty"`
		}
		sparse, err := authix.New[Sparse](authix.WithKeys(keyA))
		require.NoError(t, err)
		empty, err := sparse.CreateAccessToken(Sparse{})
		require.NoError(t, err)
		_, err = sparse.Authenticate(cookieRequest(empty))
		assert.NoError(t, err, "every field empty under omitempty is a payload")
		zero, err := users.CreateAccessToken(User{})
		require.NoError(t, err)
		_, err = users.Authenticate(cookieRequest(zero))
		assert.NoError(t, err, "a zero payload that names its fields")
	})
	t.Run("a session that reached its end says so", func(t *testing.T) {
		clk := newFakeClock(testEpoch)
		v := slidingVault(t, clk)
		b := newBrowser(t, v)
		for range 23 {
			clk.Advance(31 * time.Minute)
			b.get()
		}
		clk.Advance(time.Hour)
		_, err := v.Authenticate(cookieRequest(b.token))
		require.ErrorIs(t, err, authix.ErrExpiredToken)
		assert.Contains(t, err.Error(), "absolute lifetime")
	})
	t.Run("an unread Bearer token is named in the log", func(t *testing.T) {
		var buf bytes.Buffer
		v, err := authix.New[User](authix.WithKeys(keyA), authix.WithLogger(slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))))
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodGet, "/", nil)
		r.Header.Set("Authorization", "Bearer abc")
		v.RequireData(http.NotFoundHandler()).ServeHTTP(httptest.NewRecorder(), r)
		assert.Contains(t, buf.String(), "Bearer token was present but not read")
	})
	t.Run("the login form's cross-origin refusal is the vault's", func(t *testing.T) {
		var buf bytes.Buffer
		v, err := authix.New[User](authix.WithKeys(keyA), authix.WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
		require.NoError(t, err)
		r := httptest.NewRequest(http.MethodPost, "/login", nil)
		r.Header.Set("Sec-Fetch-Site", "cross-site")
		rec := httptest.NewRecorder()
		v.CrossOriginProtection().Handler(http.NotFoundHandler()).ServeHTTP(rec, r)
		assert.Equal(t, http.StatusForbidden, rec.Code)
		assert.JSONEq(t, `{"detail":"Cross-origin request denied"}`, rec.Body.String())
		assert.Contains(t, buf.String(), "reason=cross-origin")
	})
	t.Run("one rule for the session lifetime", func(t *testing.T) {
		_, err := authix.New[User](authix.WithSliding(0), authix.WithTTL(24*time.Hour))
		assert.ErrorIs(t, err, authix.ErrInvalidOption, "the default lifetime under a longer TTL")
		_, err = authix.New[User](authix.WithSliding(0), authix.WithTTL(2*time.Hour), authix.WithSessionLifetime(time.Hour))
		assert.ErrorIs(t, err, authix.ErrInvalidOption, "a set lifetime under the TTL")
		_, err = authix.New[User](authix.WithSliding(0), authix.WithTTL(24*time.Hour), authix.WithSessionLifetime(24*time.Hour))
		assert.NoError(t, err)
	})
	t.Run("a dead cookie is cleared", func(t *testing.T) {
		clk := newFakeClock(testEpoch)
		v := subjectVault(t, clk.Now, authix.NewMemoryStore(clk.Now))
		other := newBrowser(t, v)
		clk.Advance(time.Second)
		require.NoError(t, v.LogoutEverywhere(context.Background(), "7"))
		rec := httptest.NewRecorder()
		v.RequireData(http.NotFoundHandler()).ServeHTTP(rec, cookieRequest(other.token))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Contains(t, rec.Header().Get("Set-Cookie"), "Max-Age=0")

		expired := newBrowser(t, v)
		clk.Advance(2 * time.Hour) // past its TTL
		rec = httptest.NewRecorder()
		v.RequireData(http.NotFoundHandler()).ServeHTTP(rec, cookieRequest(expired.token))
		assert.Equal(t, http.StatusUnauthorized, rec.Code)
		assert.Contains(t, rec.Header().Get("Set-Cookie"), "Max-Age=0", "an expired cookie is cleared too")

		garbage := httptest.NewRecorder()
		v.RequireData(http.NotFoundHandler()).ServeHTTP(garbage, cookieRequest("garbage"))
		assert.Empty(t, garbage.Header().Get("Set-Cookie"), "only revoked or expired tokens")
	})
	t.Run("String says what the vault does", func(t *testing.T) {
		v, err := authix.New[User](authix.WithKeys(keyA), authix.WithSliding(0), authix.WithPurpose("app"), authix.WithSubject(userSubject))
		require.NoError(t, err)
		s := v.String()
		for _, want := range []string{"remember-me: 720h0m0s", "sliding: renew after half the lifetime, session 12h0m0s", `purpose: "app"`, "subject checks"} {
			assert.True(t, strings.Contains(s, want), "%s lacks %s", s, want)
		}
	})
}

// The list shows only sessions that can still be used: not one logged out,
// nor one ended by LogoutEverywhere, nor one whose last token expired.
func TestDevicesListOnlyLiveSessions(t *testing.T) {
	t.Parallel()
	t.Run("after Logout", func(t *testing.T) {
		clk := newFakeClock(testEpoch)
		v, _ := devicesVault(t, clk)
		gone := deviceLogin(t, v, "gone")
		kept := deviceLogin(t, v, "kept")
		require.NoError(t, v.Logout(httptest.NewRecorder(), cookieRequest(gone)))
		list := listDevices(t, v, kept)
		require.Len(t, list, 1)
		assert.Equal(t, "kept", list[0].Label)
	})
	t.Run("after LogoutEverywhere", func(t *testing.T) {
		clk := newFakeClock(testEpoch)
		v, _ := devicesVault(t, clk)
		deviceLogin(t, v, "old")
		clk.Advance(time.Second)
		require.NoError(t, v.LogoutEverywhere(context.Background(), "7"))
		clk.Advance(time.Second)
		fresh := deviceLogin(t, v, "new")
		list := listDevices(t, v, fresh)
		require.Len(t, list, 1)
		assert.Equal(t, "new", list[0].Label)
	})
	t.Run("after its token expired unused", func(t *testing.T) {
		clk := newFakeClock(testEpoch)
		v, _ := devicesVault(t, clk)
		deviceLogin(t, v, "idle")
		remembered := deviceLogin(t, v, "remembered", authix.RememberMe(true))
		clk.Advance(time.Hour + time.Second)
		list := listDevices(t, v, remembered)
		require.Len(t, list, 1, "the idle session's token expired")
		assert.Equal(t, "remembered", list[0].Label)
	})
}

// A session begun before login times were sealed is listed once renewed,
// with no start rather than 1970, and its renewals never count as
// authentication.
func TestOlderSessionListedWithoutStart(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, _ := devicesVault(t, clk)
	old, _, err := mustFernet(t, time.Hour, keyA).Seal(nil, fmt.Appendf(nil, `{"_authix":{"exp":%d,"sv":0,"abs":%d,"sid":"AAAAAAAAAAAAAAAC"},"id":7,"name":"John"}`,
		clk.Now().Add(time.Hour).Unix(), clk.Now().Add(12*time.Hour).Unix()), clk.Now())
	require.NoError(t, err)

	clk.Advance(40 * time.Minute) // past the renewal age
	rec := onDevicesPage(t, v, string(old), func(context.Context) {})
	require.Equal(t, http.StatusOK, rec.Code)
	renewed := rec.Result().Cookies()
	require.Len(t, renewed, 1, "renewed")

	list := listDevices(t, v, renewed[0].Value)
	require.Len(t, list, 1)
	assert.True(t, list[0].Started.IsZero(), "started %v", list[0].Started)
	assert.Equal(t, clk.Now().Unix(), list[0].LastActive.Unix())

	rec = httptest.NewRecorder()
	stepUpRoute(v, "/login").ServeHTTP(rec, cookieRequest(renewed[0].Value))
	assert.Equal(t, http.StatusSeeOther, rec.Code, "a renewal is not an authentication")
}

// A session renewed in its last hour is still within a token lifetime of
// its last activity when its absolute end comes: the store itself must
// drop its record then.
func TestDeviceRecordEndsWithTheSession(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, store := devicesVault(t, clk)
	b := &browser{t: t, h: v.RequireData(http.NotFoundHandler())}
	b.token = deviceLogin(t, v, "laptop")
	saves := store.saves.Load()
	for range 17 { // every 40 minutes, the last at 11h20m
		clk.Advance(40 * time.Minute)
		b.get()
	}
	require.Equal(t, saves+17, store.saves.Load(), "each request past the renewal age renewed")

	clk.Advance(41 * time.Minute) // past the session's 12-hour end, within an hour of the last renewal
	list := listDevices(t, v, deviceLogin(t, v, "phone"))
	require.Len(t, list, 1, "only the new session")
	assert.Equal(t, "phone", list[0].Label)
}
