package authix_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A payload that could be sealed but never decoded would lock every user
// out right after login: New refuses it.
func TestPayloadInterfaceWithMethods(t *testing.T) {
	t.Parallel()
	type withStringer struct {
		Name fmt.Stringer `json:"name"`
	}
	type nested struct {
		Inner struct{ S []fmt.Stringer }
	}
	for name, mk := range map[string]func() error{
		"field":     func() error { _, err := authix.New[withStringer](); return err },
		"nested":    func() error { _, err := authix.New[nested](); return err },
		"top level": func() error { _, err := authix.New[fmt.Stringer](); return err },
	} {
		t.Run(name, func(t *testing.T) {
			err := mk()
			require.ErrorIs(t, err, authix.ErrUnsupportedPayload)
			assert.Contains(t, err.Error(), "fmt.Stringer")
		})
	}
	_, err := authix.New[withStringer]()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "withStringer.Name", "names the field")
}

// Integers in map and auto payloads come back exact: two user ids above
// 2^53 stay two ids.
func TestPayloadIntegersExact(t *testing.T) {
	t.Parallel()
	const a, b = 9007199254740993, 9007199254740992 // 2^53+1 and 2^53
	m, err := authix.New[map[string]any](authix.WithKeys(keyA))
	require.NoError(t, err)
	ta, err := m.CreateAccessToken(map[string]any{"id": a})
	require.NoError(t, err)
	tb, err := m.CreateAccessToken(map[string]any{"id": b})
	require.NoError(t, err)
	ga, err := m.DecodeAccessToken(ta)
	require.NoError(t, err)
	gb, err := m.DecodeAccessToken(tb)
	require.NoError(t, err)
	assert.NotEqual(t, ga["id"], gb["id"], "two ids decoded as one number")
	assert.Equal(t, fmt.Sprint(a), fmt.Sprint(ga["id"]))

	auto, err := authix.New[any](authix.WithKeys(keyA))
	require.NoError(t, err)
	got, err := auto.DecodeAccessToken(ta) // before any payload was sealed: a map
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(a), fmt.Sprint(got.(map[string]any)["id"]))

	type withAny struct {
		ID any `json:"id"`
	}
	s, err := authix.New[withAny](authix.WithKeys(keyA))
	require.NoError(t, err)
	gs, err := s.DecodeAccessToken(ta)
	require.NoError(t, err)
	assert.Equal(t, fmt.Sprint(a), fmt.Sprint(gs.ID))
}

// Payload keys match exactly, as Python's json module reads them: a key in
// another case is an unknown field, not a second spelling of is_admin, and
// a repeated key is refused rather than resolved one way or the other.
func TestPayloadKeysExact(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testEpoch)
	fern := mustFernet(t, time.Hour, keyA)
	v, err := authix.New[User](authix.WithCipher(fern), authix.WithClock(clock.Now))
	require.NoError(t, err)
	seal := func(plain string) string {
		tok, _, err := fern.Seal(nil, []byte(plain), clock.Now())
		require.NoError(t, err)
		return string(tok)
	}

	u, err := v.DecodeAccessToken(seal(`{"id":1,"is_admin":false,"IS_ADMIN":true}`))
	require.NoError(t, err)
	assert.Equal(t, User{ID: 1}, u, "IS_ADMIN is not is_admin")

	for name, plain := range map[string]string{
		"repeated":         `{"id":1,"is_admin":false,"is_admin":true}`,
		"repeated escaped": `{"id":1,"is_admin":false,"\u0069s_admin":true}`,
	} {
		t.Run(name, func(t *testing.T) {
			u, err := v.DecodeAccessToken(seal(plain))
			require.ErrorIs(t, err, authix.ErrInvalidToken)
			assert.Equal(t, User{}, u)
		})
	}

	// What a vault seals is what json.Marshal writes.
	tok, err := v.CreateAccessToken(User{ID: 7, Name: "<J&>"})
	require.NoError(t, err)
	plain, _, err := fern.Open(nil, tok, clock.Now())
	require.NoError(t, err)
	want, _ := json.Marshal(User{ID: 7, Name: "<J&>"})
	assert.True(t, strings.HasSuffix(string(plain), ","+string(want[1:])), "%s", plain)
}
