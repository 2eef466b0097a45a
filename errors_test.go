package authix_test

import (
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/require"
)

// Every exported function returns only the sentinels its doc comment lists,
// for every kind of bad input the tests know of.
func TestDocumentedErrorSets(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	store := authix.NewMemoryStore(clk.Now)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithRevocationStore(store))
	require.NoError(t, err)
	down, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithRevocationStore(failingStore{}))
	require.NoError(t, err)
	ctx := context.Background()

	valid, revoked, expired := lifeCycleTokens(t, v, clk)
	clk.Advance(2 * time.Hour)
	future, err := v.CreateAccessToken(User{ID: 4})
	require.NoError(t, err)
	clk.Advance(-2 * time.Hour)
	otherKey, err := authix.New[User](authix.WithKeys(keyOther), authix.WithClock(clk.Now))
	require.NoError(t, err)
	foreign, err := otherKey.CreateAccessToken(User{ID: 5})
	require.NoError(t, err)
	wrongShape, err := authix.New[map[string]string](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	shape, err := wrongShape.CreateAccessToken(map[string]string{"id": "not a number"})
	require.NoError(t, err)

	tokens := map[string]string{
		"empty": "", "garbage": "not a token", "truncated": valid[:len(valid)/2],
		"tampered": corrupted(t, valid), "other key": foreign, "expired": expired,
		"future": future, "revoked": revoked, "wrong shape": shape,
		"oversized": strings.Repeat("A", authix.MaxTokenSize+4), "valid": valid,
	}
	check := func(t *testing.T, what string, err error, allowed ...error) {
		t.Helper()
		if err != nil && !isOneOf(err, allowed...) {
			t.Errorf("%s: %v is none of its documented errors %v", what, err, allowed)
		}
	}
	for name, tok := range tokens {
		t.Run(name, func(t *testing.T) {
			_, err := v.DecodeAccessToken(tok)
			check(t, "DecodeAccessToken", err, authix.ErrInvalidToken, authix.ErrExpiredToken)
			_, err = v.IsTokenDisabled(ctx, tok)
			check(t, "IsTokenDisabled", err, authix.ErrInvalidToken, authix.ErrRevocationStore)
			_, err = down.IsTokenDisabled(ctx, tok)
			check(t, "IsTokenDisabled, store down", err, authix.ErrInvalidToken, authix.ErrRevocationStore)
			authErrs := []error{authix.ErrMissingToken, authix.ErrCrossOrigin, authix.ErrInvalidToken,
				authix.ErrExpiredToken, authix.ErrRevokedToken, authix.ErrRevocationStore}
			_, err = v.Authenticate(cookieRequest(tok))
			check(t, "Authenticate", err, authErrs...)
			_, err = down.Authenticate(cookieRequest(tok))
			check(t, "Authenticate, store down", err, authErrs...)
			f, err := authix.NewFernet(time.Hour, keyA)
			require.NoError(t, err)
			_, _, err = f.Open(nil, tok, clk.Now())
			check(t, "Fernet.Open", err, authix.ErrInvalidToken, authix.ErrExpiredToken)
			// Last: these two revoke.
			err = down.DisableAccessToken(ctx, tok)
			check(t, "DisableAccessToken, store down", err, authix.ErrInvalidToken, authix.ErrRevocationStore)
			err = v.DisableAccessToken(ctx, tok)
			check(t, "DisableAccessToken", err, authix.ErrInvalidToken, authix.ErrRevocationStore)
		})
	}

	t.Run("sealing", func(t *testing.T) {
		sealErrs := []error{authix.ErrPayloadType, authix.ErrUnsupportedPayload, authix.ErrTokenTooLarge}
		big := User{Name: strings.Repeat("x", authix.MaxTokenSize)}
		_, err := v.CreateAccessToken(big)
		check(t, "CreateAccessToken", err, sealErrs...)
		require.Error(t, err)
		err = v.SetAccessToken(httptest.NewRecorder(), big)
		check(t, "SetAccessToken", err, append(sealErrs, authix.ErrInvalidOption)...)
		require.Error(t, err)

		auto, err := authix.New[any]()
		require.NoError(t, err)
		for _, p := range []any{nil, []int{1}, "text", User{}, map[string]int{}} {
			_, err = auto.CreateAccessToken(p)
			check(t, "CreateAccessToken (auto)", err, sealErrs...)
		}
		headerOnly, err := authix.New[User](authix.WithoutCookie(), authix.WithBearer())
		require.NoError(t, err)
		err = headerOnly.SetAccessToken(httptest.NewRecorder(), User{})
		check(t, "SetAccessToken without cookie", err, append(sealErrs, authix.ErrInvalidOption)...)
		require.Error(t, err)

		f, err := authix.NewFernet(time.Hour)
		require.NoError(t, err)
		_, _, err = f.Seal(nil, make([]byte, authix.MaxTokenSize), time.Now())
		check(t, "Fernet.Seal", err, authix.ErrTokenTooLarge)
		require.Error(t, err)
	})

	t.Run("construction", func(t *testing.T) {
		_, err := authix.NewFernet(0)
		check(t, "NewFernet", err, authix.ErrInvalidOption)
		require.Error(t, err)
		_, err = authix.NewFernet(time.Hour, "not a key")
		check(t, "NewFernet", err, authix.ErrInvalidOption)
		require.Error(t, err)
		for _, opts := range [][]authix.Option{
			{authix.WithTTL(0)}, {authix.WithKeys("")}, {authix.WithHeader("bad header")}, {nil},
			{authix.WithCipher(nil)}, {authix.WithoutCookie()}, {authix.WithClock(nil)},
		} {
			_, err := authix.New[User](opts...)
			check(t, "New", err, authix.ErrInvalidOption, authix.ErrUnsupportedPayload)
			require.Error(t, err)
		}
		_, err = authix.New[struct{ C chan int }]()
		check(t, "New", err, authix.ErrInvalidOption, authix.ErrUnsupportedPayload)
		require.True(t, errors.Is(err, authix.ErrUnsupportedPayload))
	})
}
