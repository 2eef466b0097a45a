package authix_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The lifetime a vault seals leads the payload object in one exact form;
// only that form counts, and a malformed one is an invalid token.
func TestSealedLifetimeForms(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now))
	require.NoError(t, err)
	f, err := authix.NewFernet(time.Hour, keyA)
	require.NoError(t, err)
	now := clk.Now().Unix()
	seal := func(plain string) string {
		tok, _, err := f.Seal(nil, []byte(plain), clk.Now())
		require.NoError(t, err)
		return string(tok)
	}
	in := func(d time.Duration) int64 { return now + int64(d/time.Second) }
	for _, tc := range []struct {
		name  string
		plain string
		want  User
		err   error
	}{
		{"payload after the lifetime", fmt.Sprintf(`{"_authix":{"exp":%d},"id":7,"name":"John"}`, in(time.Minute)), User{ID: 7, Name: "John"}, nil},
		{"empty payload", fmt.Sprintf(`{"_authix":{"exp":%d}}`, in(time.Minute)), User{}, nil},
		{"expired by its sealed lifetime", fmt.Sprintf(`{"_authix":{"exp":%d},"id":7}`, now-1), User{}, authix.ErrExpiredToken},
		{"a sealed lifetime ends at its second", fmt.Sprintf(`{"_authix":{"exp":%d},"id":7}`, now), User{ID: 7}, nil},
		{"no lifetime: the reader's TTL", `{"id":7}`, User{ID: 7}, nil},
		{"not leading: an ordinary member", fmt.Sprintf(`{"id":7,"_authix":{"exp":%d}}`, now-1), User{ID: 7}, nil},
		{"no digits", `{"_authix":{"exp":},"id":7}`, User{}, authix.ErrInvalidToken},
		{"not a number", `{"_authix":{"exp":12x},"id":7}`, User{}, authix.ErrInvalidToken},
		{"another member inside", fmt.Sprintf(`{"_authix":{"exp":%d,"x":1},"id":7}`, in(time.Minute)), User{}, authix.ErrInvalidToken},
		{"too many digits", `{"_authix":{"exp":9999999999999999999},"id":7}`, User{}, authix.ErrInvalidToken},
		{"cut short", fmt.Sprintf(`{"_authix":{"exp":%d}`, in(time.Minute)), User{}, authix.ErrInvalidToken},
		{"data after it", fmt.Sprintf(`{"_authix":{"exp":%d}}x`, in(time.Minute)), User{}, authix.ErrInvalidToken},
		{"microseconds of the issue second", fmt.Sprintf(`{"_authix":{"exp":%d,"us":999999},"id":7}`, in(time.Minute)), User{ID: 7}, nil},
		{"a second's worth of microseconds", fmt.Sprintf(`{"_authix":{"exp":%d,"us":1000000},"id":7}`, in(time.Minute)), User{}, authix.ErrInvalidToken},
		{"every field", fmt.Sprintf(`{"_authix":{"exp":%d,"us":5,"abs":%d,"sid":"AAAAAAAAAAAAAAAA","rem":1},"id":7}`, in(time.Minute), in(time.Hour)), User{ID: 7}, nil},
		{"fields out of order", fmt.Sprintf(`{"_authix":{"exp":%d,"abs":%d,"us":5},"id":7}`, in(time.Minute), in(time.Hour)), User{}, authix.ErrInvalidToken},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.DecodeAccessToken(seal(tc.plain))
			if tc.err != nil {
				require.ErrorIs(t, err, tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	t.Run("no token outlives what the reader grants its kind", func(t *testing.T) {
		// fastapi-authix payloads may begin with an "_authix" key too: a
		// normal token gets the reader's TTL at most, a remembered one its
		// remember-me lifetime.
		normal := seal(fmt.Sprintf(`{"_authix":{"exp":%d},"id":7}`, in(29*24*time.Hour)))
		remembered := seal(fmt.Sprintf(`{"_authix":{"exp":%d,"rem":1},"id":7}`, in(48*time.Hour)))
		clk.Advance(time.Hour)
		_, err := v.DecodeAccessToken(normal)
		require.NoError(t, err, "at the reader's TTL")
		clk.Advance(time.Hour)
		defer clk.Advance(-2 * time.Hour)
		_, err = v.DecodeAccessToken(normal)
		require.ErrorIs(t, err, authix.ErrExpiredToken, "a normal token past the reader's TTL")
		_, err = v.DecodeAccessToken(remembered)
		require.NoError(t, err, "a remembered one within the remember-me lifetime")
		short, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithRememberMe(time.Hour))
		require.NoError(t, err)
		_, err = short.DecodeAccessToken(remembered)
		require.ErrorIs(t, err, authix.ErrExpiredToken, "past this reader's remember-me lifetime")
	})
	t.Run("what CreateAccessToken seals", func(t *testing.T) {
		tok, err := v.CreateAccessToken(User{ID: 7})
		require.NoError(t, err)
		plain, _, err := f.Open(nil, tok, clk.Now())
		require.NoError(t, err)
		want := fmt.Sprintf(`{"_authix":{"exp":%d},`, in(time.Hour))
		assert.True(t, strings.HasPrefix(string(plain), want), "%s", plain)
	})
}
