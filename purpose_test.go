package authix_test

import (
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Vaults that share keys but not a purpose never accept each other's
// tokens; the default purpose is the keys as they are.
func TestPurposeBoundTokens(t *testing.T) {
	t.Parallel()
	type Invite struct {
		Email string `json:"email"`
	}
	session, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	invites, err := authix.New[Invite](authix.WithKeys(keyA), authix.WithPurpose("invite"))
	require.NoError(t, err)
	resets, err := authix.New[User](authix.WithKeys(keyA), authix.WithPurpose("password-reset"))
	require.NoError(t, err)
	resetsAgain, err := authix.New[User](authix.WithKeys(keyA), authix.WithPurpose("password-reset"))
	require.NoError(t, err)

	invite, err := invites.CreateAccessToken(Invite{Email: "a@example.com"})
	require.NoError(t, err)
	_, err = session.Authenticate(cookieRequest(invite))
	assert.ErrorIs(t, err, authix.ErrInvalidToken, "an invite link is no session cookie")
	_, err = resets.DecodeAccessToken(invite)
	assert.ErrorIs(t, err, authix.ErrInvalidToken)

	login, err := session.CreateAccessToken(User{ID: 1})
	require.NoError(t, err)
	_, err = invites.DecodeAccessToken(login)
	assert.ErrorIs(t, err, authix.ErrInvalidToken, "a session token opens no invite vault")

	reset, err := resets.CreateAccessToken(User{ID: 1})
	require.NoError(t, err)
	got, err := resetsAgain.DecodeAccessToken(reset)
	require.NoError(t, err, "the same purpose and keys, another process")
	assert.Equal(t, 1, got.ID)

	// The default purpose uses the keys as they are: a plain Fernet
	// cipher, as fastapi-authix holds, opens its tokens.
	f, err := authix.NewFernet(authix.DefaultTTL, keyA)
	require.NoError(t, err)
	plain, _, err := f.Open(nil, login, time.Now())
	require.NoError(t, err)
	assert.Contains(t, string(plain), `"id":1`)
	_, _, err = f.Open(nil, invite, time.Now())
	assert.ErrorIs(t, err, authix.ErrInvalidToken, "a purpose's keys are not the configured ones")

	_, err = authix.New[User](authix.WithPurpose(""))
	assert.ErrorIs(t, err, authix.ErrInvalidOption)
	_, err = authix.New[User](authix.WithCipher(f), authix.WithPurpose("x"))
	assert.ErrorIs(t, err, authix.ErrInvalidOption)
}
