package authix_test

import (
	"encoding/json"
	"fmt"
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

// retainer is a Serializer that keeps the bytes it was given, as zero-copy
// decoders do.
type retainer struct{ authix.JSON }

type retained struct{ Raw []byte }

func (retainer) Unmarshal(data []byte, v any) error {
	p, ok := v.(*retained)
	if !ok {
		return fmt.Errorf("unexpected %T", v)
	}
	p.Raw = data
	return nil
}

func (retainer) Marshal(v any) ([]byte, error) {
	return json.Marshal(map[string]string{"who": string(v.(retained).Raw)})
}

// A Serializer that keeps a reference to its input must never see it
// overwritten by a later request's token.
func TestPayloadSerializerOwnsItsBytes(t *testing.T) {
	t.Parallel()
	v, err := authix.New[retained](authix.WithKeys(keyA), authix.WithSerializer(retainer{}))
	require.NoError(t, err)
	alice, err := v.CreateAccessToken(retained{Raw: []byte("alice")})
	require.NoError(t, err)
	bob, err := v.CreateAccessToken(retained{Raw: []byte("bob-the-builder")})
	require.NoError(t, err)

	first, err := v.DecodeAccessToken(alice)
	require.NoError(t, err)
	was := string(first.Raw)
	for range 10 {
		_, err = v.DecodeAccessToken(bob)
		require.NoError(t, err)
	}
	assert.Equal(t, was, string(first.Raw), "a later decode changed an earlier payload")
	assert.Contains(t, was, "alice")
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
		tok, err := fern.Seal(nil, []byte(plain), clock.Now())
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

	// JSON, the default Serializer, reads as strictly when named.
	var ju User
	require.NoError(t, authix.JSON{}.Unmarshal([]byte(`{"id":1,"is_admin":false,"IS_ADMIN":true}`), &ju))
	assert.Equal(t, User{ID: 1}, ju)
	ju = User{}
	assert.Error(t, authix.JSON{}.Unmarshal([]byte(`{"id":1,"id":2}`), &ju))
	named, err := authix.New[User](authix.WithCipher(fern), authix.WithClock(clock.Now), authix.WithSerializer(authix.JSON{}))
	require.NoError(t, err)
	u, err = named.DecodeAccessToken(seal(`{"id":1,"is_admin":false,"IS_ADMIN":true}`))
	require.NoError(t, err)
	assert.Equal(t, User{ID: 1}, u)
	b, err := authix.JSON{}.Marshal(User{ID: 7, Name: "<J&>"})
	require.NoError(t, err)
	want, _ := json.Marshal(User{ID: 7, Name: "<J&>"})
	assert.Equal(t, string(want), string(b))
}
