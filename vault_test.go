package authix_test

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

// roundTrip logs in with payload through SetAccessToken, then sends the
// cookie to a RequireData-protected handler and returns what Data gave it.
func roundTrip[T any](t *testing.T, v *authix.Vault[T], payload T) (T, bool) {
	t.Helper()
	login := httptest.NewRecorder()
	require.NoError(t, v.SetAccessToken(login, payload))
	cookies := login.Result().Cookies()
	require.Len(t, cookies, 1)

	var got T
	var ok bool
	h := v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got, ok = v.Data(r.Context())
	}))
	req := httptest.NewRequest(http.MethodGet, "/home", nil)
	req.AddCookie(cookies[0])
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	require.Equal(t, http.StatusOK, rec.Code, rec.Body.String())
	return got, ok
}

func TestPayloadTypesRoundTrip(t *testing.T) {
	t.Parallel()
	t.Run("struct", func(t *testing.T) {
		v, err := authix.New[User]()
		require.NoError(t, err)
		got, ok := roundTrip(t, v, User{ID: 1, IsAdmin: true, Name: "John"})
		require.True(t, ok)
		assert.Equal(t, User{ID: 1, IsAdmin: true, Name: "John"}, got)
	})
	t.Run("pointer to struct", func(t *testing.T) {
		v, err := authix.New[*User]()
		require.NoError(t, err)
		got, ok := roundTrip(t, v, &User{ID: 2, Name: "Ann"})
		require.True(t, ok)
		assert.Equal(t, &User{ID: 2, Name: "Ann"}, got)
	})
	t.Run("map (dict mode)", func(t *testing.T) {
		v, err := authix.New[map[string]string]()
		require.NoError(t, err)
		got, ok := roundTrip(t, v, map[string]string{"name": "John"})
		require.True(t, ok)
		assert.Equal(t, map[string]string{"name": "John"}, got)
	})
	t.Run("any (auto mode) restores the recorded type", func(t *testing.T) {
		v, err := authix.New[any]()
		require.NoError(t, err)
		got, ok := roundTrip[any](t, v, User{ID: 3, Name: "Bo"})
		require.True(t, ok)
		assert.Equal(t, User{ID: 3, Name: "Bo"}, got)
		assert.IsType(t, User{}, got)
	})
}

func TestAutoMode(t *testing.T) {
	t.Parallel()
	v, err := authix.New[any]()
	require.NoError(t, err)

	// Before any payload was sealed, tokens decode as maps.
	other, err := authix.New[any](authix.WithCipher(mustFernet(t, time.Hour, keyA)))
	require.NoError(t, err)
	tok, err := other.CreateAccessToken(map[string]any{"name": "John"})
	require.NoError(t, err)
	fresh, err := authix.New[any](authix.WithCipher(mustFernet(t, time.Hour, keyA)))
	require.NoError(t, err)
	got, err := fresh.DecodeAccessToken(tok)
	require.NoError(t, err)
	assert.Equal(t, map[string]any{"name": "John"}, got)

	_, err = v.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)
	_, err = v.CreateAccessToken(map[string]string{"name": "John"})
	require.ErrorIs(t, err, authix.ErrPayloadType)
	_, err = v.CreateAccessToken(&User{Name: "John"})
	require.ErrorIs(t, err, authix.ErrPayloadType)
	_, err = v.CreateAccessToken(nil)
	require.ErrorIs(t, err, authix.ErrPayloadType)

	t.Run("unsupported first payload", func(t *testing.T) {
		v, err := authix.New[any]()
		require.NoError(t, err)
		_, err = v.CreateAccessToken(struct{ C chan int }{})
		require.ErrorIs(t, err, authix.ErrUnsupportedPayload)
		// The failed payload recorded nothing.
		_, err = v.CreateAccessToken(User{})
		require.NoError(t, err)
	})
}

type deep struct {
	Outer struct {
		Items []struct {
			Events chan int
		}
	}
}

func TestUnsupportedPayloadTypes(t *testing.T) {
	t.Parallel()
	_, err := authix.New[deep]()
	require.ErrorIs(t, err, authix.ErrUnsupportedPayload)
	assert.Contains(t, err.Error(), "deep.Outer.Items[].Events")

	for name, f := range map[string]func() error{
		"func":          func() error { _, err := authix.New[func()](); return err },
		"complex field": func() error { _, err := authix.New[struct{ Z complex128 }](); return err },
		"map key":       func() error { _, err := authix.New[map[[2]int]string](); return err },
		"pointer chan":  func() error { _, err := authix.New[*struct{ C *chan int }](); return err },
	} {
		assert.ErrorIs(t, f(), authix.ErrUnsupportedPayload, name)
	}
	// Fields json never touches are fine.
	_, err = authix.New[struct {
		Name   string
		Skip   chan int `json:"-"`
		hidden func()
	}]()
	require.NoError(t, err)
	type node struct {
		Name     string
		Children []*node
	}
	_, err = authix.New[node]()
	require.NoError(t, err, "recursive types are supported")
	_, err = authix.New[struct{ At time.Time }]()
	require.NoError(t, err, "types with their own JSON methods are supported")
}

func TestNilPayloads(t *testing.T) {
	t.Parallel()
	v, err := authix.New[*User]()
	require.NoError(t, err)
	_, err = v.CreateAccessToken(nil)
	require.ErrorIs(t, err, authix.ErrPayloadType)
	m, err := authix.New[map[string]string]()
	require.NoError(t, err)
	require.ErrorIs(t, m.SetAccessToken(httptest.NewRecorder(), nil), authix.ErrPayloadType)
}

func TestNewRejectsBadOptions(t *testing.T) {
	t.Parallel()
	f := mustFernet(t, time.Hour)
	cases := map[string][]authix.Option{
		"nil option":                {nil},
		"cipher and keys":           {authix.WithCipher(f), authix.WithKeys(keyA)},
		"cipher and ttl":            {authix.WithCipher(f), authix.WithTTL(time.Minute)},
		"nil cipher":                {authix.WithCipher(nil)},
		"empty keys":                {authix.WithKeys("")},
		"bad key":                   {authix.WithKeys("abc")},
		"zero ttl":                  {authix.WithTTL(0)},
		"sub-second ttl":            {authix.WithTTL(time.Millisecond)},
		"no source":                 {authix.WithoutCookie()},
		"bad header":                {authix.WithHeader("X Bad")},
		"empty header":              {authix.WithHeader("")},
		"cookie value":              {authix.WithCookie(http.Cookie{Name: "a", Value: "b", HttpOnly: true, Secure: true})},
		"cookie bad name":           {authix.WithCookie(http.Cookie{Name: "a b", HttpOnly: true, Secure: true})},
		"cookie negative max-age":   {authix.WithCookie(http.Cookie{MaxAge: -1, HttpOnly: true, Secure: true})},
		"insecure cookie":           {authix.WithCookie(http.Cookie{Name: "sid"})},
		"samesite none without tls": {authix.WithCookie(http.Cookie{SameSite: http.SameSiteNoneMode, HttpOnly: true}), authix.WithInsecureCookie()},
		"nil store":                 {authix.WithRevocationStore(nil)},
		"nil clock":                 {authix.WithClock(nil)},
		"nil error handler":         {authix.WithErrorHandler(nil)},
		"cipher ttl below a second": {authix.WithCipher(shortCipher{f})},
	}
	for name, opts := range cases {
		t.Run(name, func(t *testing.T) {
			v, err := authix.New[User](opts...)
			require.ErrorIs(t, err, authix.ErrInvalidOption)
			assert.Nil(t, v)
			assert.NotContains(t, err.Error(), keyA)
		})
	}
}

type shortCipher struct{ *authix.Fernet }

func (shortCipher) TTL() time.Duration { return time.Millisecond }

func TestVaultStringHidesKeys(t *testing.T) {
	t.Parallel()
	v, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	for _, format := range []string{"%v", "%+v", "%#v", "%s"} {
		s := fmt.Sprintf(format, v)
		assert.NotContains(t, s, keyA, format)
		assert.Contains(t, s, "authix.Vault", format)
	}
}

func TestKeysFromEnvironmentFormat(t *testing.T) {
	t.Parallel()
	oldKey, newKey := authix.GenerateKey(), authix.GenerateKey()
	before, err := authix.New[User](authix.WithKeys(oldKey))
	require.NoError(t, err)
	tok, err := before.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)

	// Rotation: the new key is prepended, the old one still opens.
	after, err := authix.New[User](authix.WithKeys(newKey + ", " + oldKey))
	require.NoError(t, err)
	got, err := after.DecodeAccessToken(tok)
	require.NoError(t, err)
	assert.Equal(t, "John", got.Name)
	fresh, err := after.CreateAccessToken(User{Name: "Ann"})
	require.NoError(t, err)
	_, err = before.DecodeAccessToken(fresh)
	require.ErrorIs(t, err, authix.ErrInvalidToken, "new tokens are sealed with the new key")
}

func TestDecodeRejectsWrongShapes(t *testing.T) {
	t.Parallel()
	f := mustFernet(t, time.Hour, keyA)
	v, err := authix.New[User](authix.WithCipher(f))
	require.NoError(t, err)
	for name, plain := range map[string]string{
		"not JSON":    "hello",
		"null":        "null",
		"array":       "[1,2]",
		"wrong field": `{"id":"one"}`,
		"truncated":   `{"id":1`,
	} {
		tok, _, err := f.Seal(nil, []byte(plain), time.Now())
		require.NoError(t, err)
		_, err = v.DecodeAccessToken(string(tok))
		assert.ErrorIs(t, err, authix.ErrInvalidToken, name)
	}
}

func TestDisableAndIsTokenDisabled(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	store := authix.NewMemoryStore(clk.Now)
	v, err := authix.New[User](authix.WithClock(clk.Now), authix.WithRevocationStore(store))
	require.NoError(t, err)
	ctx := context.Background()
	tok, err := v.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)

	disabled, err := v.IsTokenDisabled(ctx, tok)
	require.NoError(t, err)
	assert.False(t, disabled)

	clk.Advance(10 * time.Minute)
	require.NoError(t, v.DisableAccessToken(ctx, tok))
	disabled, err = v.IsTokenDisabled(ctx, tok)
	require.NoError(t, err)
	assert.True(t, disabled)
	assert.Equal(t, 1, store.Len())

	_, err = v.Authenticate(cookieRequest(tok))
	require.ErrorIs(t, err, authix.ErrRevokedToken)

	require.ErrorIs(t, v.DisableAccessToken(ctx, "garbage"), authix.ErrInvalidToken)
	_, err = v.IsTokenDisabled(ctx, "garbage")
	require.ErrorIs(t, err, authix.ErrInvalidToken)

	// Refused until the token's own expiry (issue + 1h), not 1h after logout.
	clk.Advance(49*time.Minute + 59*time.Second)
	_, err = v.Authenticate(cookieRequest(tok))
	require.ErrorIs(t, err, authix.ErrRevokedToken)
	assert.Equal(t, 1, store.Len())
	clk.Advance(2 * time.Second)
	_, err = v.Authenticate(cookieRequest(tok))
	require.ErrorIs(t, err, authix.ErrExpiredToken)
	assert.Equal(t, 0, store.Len(), "the entry is dropped once the token expired")
	require.NoError(t, v.DisableAccessToken(ctx, tok), "disabling an expired token is a no-op")
	disabled, err = v.IsTokenDisabled(ctx, tok)
	require.NoError(t, err)
	assert.False(t, disabled, "an expired token is no longer disabled, only expired")
	assert.Equal(t, 0, store.Len())
}

// The vault's own store compares expiries with the vault's clock reading.
func TestDisableWithDefaultStore(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()
	tok, err := v.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)
	other, err := v.CreateAccessToken(User{Name: "Jane"})
	require.NoError(t, err)

	require.NoError(t, v.DisableAccessToken(ctx, tok))
	clk.Advance(time.Hour - time.Second)
	_, err = v.Authenticate(cookieRequest(tok))
	require.ErrorIs(t, err, authix.ErrRevokedToken)
	disabled, err := v.IsTokenDisabled(ctx, tok)
	require.NoError(t, err)
	assert.True(t, disabled)
	_, err = v.Authenticate(cookieRequest(other))
	require.NoError(t, err, "only the disabled token is refused")
	clk.Advance(2 * time.Second)
	_, err = v.Authenticate(cookieRequest(tok))
	require.ErrorIs(t, err, authix.ErrExpiredToken)
}

func TestFailingStoreFailsClosed(t *testing.T) {
	t.Parallel()
	var handled error
	v, err := authix.New[User](
		authix.WithRevocationStore(failingStore{}),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			handled = err
			authix.DefaultErrorHandler(w, r, err)
		}),
	)
	require.NoError(t, err)
	tok, err := v.CreateAccessToken(User{Name: "John"})
	require.NoError(t, err)

	ran := false
	rec := httptest.NewRecorder()
	v.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { ran = true })).ServeHTTP(rec, cookieRequest(tok))
	assert.False(t, ran)
	assert.Equal(t, http.StatusUnauthorized, rec.Code)
	assert.ErrorIs(t, handled, authix.ErrRevocationStore)
	assert.ErrorIs(t, handled, errStoreDown)

	err = v.DisableAccessToken(context.Background(), tok)
	assert.ErrorIs(t, err, authix.ErrRevocationStore)
	assert.ErrorIs(t, err, errStoreDown)
}

func TestTokenTooLarge(t *testing.T) {
	t.Parallel()
	v, err := authix.New[map[string]string]()
	require.NoError(t, err)
	rec := httptest.NewRecorder()
	err = v.SetAccessToken(rec, map[string]string{"blob": strings.Repeat("x", 3000)})
	require.ErrorIs(t, err, authix.ErrTokenTooLarge)
	assert.Empty(t, rec.Header().Values("Set-Cookie"), "no header is written")

	// Just under the token limit, but the cookie line is longer.
	_, err = v.CreateAccessToken(map[string]string{"blob": strings.Repeat("x", 2900)})
	require.NoError(t, err)
	rec = httptest.NewRecorder()
	err = v.SetAccessToken(rec, map[string]string{"blob": strings.Repeat("x", 2980)})
	require.ErrorIs(t, err, authix.ErrTokenTooLarge)
	assert.Empty(t, rec.Header().Values("Set-Cookie"))

	// A token that fits is set.
	require.NoError(t, v.SetAccessToken(rec, map[string]string{"blob": strings.Repeat("x", 2000)}))
	assert.Len(t, rec.Header().Values("Set-Cookie"), 1)
}
