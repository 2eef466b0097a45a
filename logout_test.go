package authix_test

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A day of one logout a minute under the default one-hour TTL: each logout
// returns (the bucket table that came before hung after about 140 logouts
// of fresh tokens) and each revoked token stays refused until its own
// expiry, then expires.
func TestLogoutsUnderSteadyChurn(t *testing.T) {
	t.Parallel()
	for _, randomAge := range []bool{false, true} {
		t.Run(map[bool]string{false: "fresh tokens", true: "tokens of random age"}[randomAge], func(t *testing.T) {
			t.Parallel()
			testLogoutChurn(t, randomAge)
		})
	}
}

func testLogoutChurn(t *testing.T, randomAge bool) {
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	ctx := context.Background()
	type logout struct {
		token string
		exp   time.Time
	}
	var live []logout
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range 24 * 60 {
		age := time.Duration(0)
		if randomAge {
			age = time.Duration(rng.Int64N(int64(time.Hour)))
		}
		now := clk.Now()
		clk.Set(now.Add(-age))
		tok, err := v.CreateAccessToken(User{ID: i})
		require.NoError(t, err)
		clk.Set(now)
		require.NoError(t, v.DisableAccessToken(ctx, tok), "logout %d", i)
		live = append(live, logout{tok, now.Add(-age).Truncate(time.Second).Add(time.Hour)})

		kept := live[:0]
		for _, l := range live {
			disabled, err := v.IsTokenDisabled(ctx, l.token)
			require.NoError(t, err)
			if clk.Now().After(l.exp) {
				assert.False(t, disabled, "logout %d: an expired token is no one's concern", i)
				_, err := v.DecodeAccessToken(l.token)
				assert.ErrorIs(t, err, authix.ErrExpiredToken)
				continue
			}
			assert.True(t, disabled, "logout %d: a revoked token is refused until it expires", i)
			kept = append(kept, l)
		}
		live = kept

		fresh, err := v.CreateAccessToken(User{ID: -i})
		require.NoError(t, err)
		disabled, err := v.IsTokenDisabled(ctx, fresh)
		require.NoError(t, err)
		require.False(t, disabled, "logout %d: a fresh token is accepted", i)
		clk.Advance(time.Minute)
	}
}

// A fleet redeployed with a longer TTL must not accept a token that was
// logged out under the shorter one, once its revocation entry has run out.
func TestLogoutSurvivesTTLRaise(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	store := authix.NewMemoryStore(clk.Now)
	before, err := authix.New[User](authix.WithKeys(keyA), authix.WithTTL(time.Hour),
		authix.WithClock(clk.Now), authix.WithRevocationStore(store))
	require.NoError(t, err)
	tok, err := before.CreateAccessToken(User{ID: 1, Name: "John"})
	require.NoError(t, err)
	require.NoError(t, before.DisableAccessToken(context.Background(), tok))

	after, err := authix.New[User](authix.WithKeys(keyA), authix.WithTTL(24*time.Hour),
		authix.WithClock(clk.Now), authix.WithRevocationStore(store))
	require.NoError(t, err)
	clk.Advance(61 * time.Minute)
	_, err = after.DecodeAccessToken(tok)
	assert.ErrorIs(t, err, authix.ErrExpiredToken, "the token keeps the lifetime it was sealed with")
	_, err = after.Authenticate(cookieRequest(tok))
	assert.ErrorIs(t, err, authix.ErrExpiredToken)

	// Tokens sealed by the new fleet live by its TTL.
	fresh, err := after.CreateAccessToken(User{ID: 2})
	require.NoError(t, err)
	clk.Advance(23 * time.Hour)
	_, err = after.DecodeAccessToken(fresh)
	assert.NoError(t, err)
	_, err = before.DecodeAccessToken(fresh)
	assert.ErrorIs(t, err, authix.ErrExpiredToken, "a reader grants a token no more than its own TTL")
}

// A token is accepted up to and including the instant it expires, so its
// revocation must hold at that instant too: a logout at that very moment is
// recorded, and refused.
func TestLogoutAtTheLastInstant(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	tok, err := v.CreateAccessToken(User{ID: 1})
	require.NoError(t, err)
	clk.Advance(time.Hour)
	_, err = v.Authenticate(cookieRequest(tok))
	require.NoError(t, err, "accepted at its expiry instant")

	require.NoError(t, v.DisableAccessToken(context.Background(), tok))
	_, err = v.Authenticate(cookieRequest(tok))
	assert.ErrorIs(t, err, authix.ErrRevokedToken, "a logout at the last instant holds at that instant")
	clk.Advance(time.Nanosecond)
	_, err = v.Authenticate(cookieRequest(tok))
	assert.ErrorIs(t, err, authix.ErrExpiredToken)
}
