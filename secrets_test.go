package authix_test

import (
	"context"
	"encoding/base64"
	"encoding/hex"
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

// keyRenderings lists the ways a key could show up in text: the key
// string, and its bytes and halves in the encodings fmt and logs use.
func keyRenderings(t *testing.T, key string) []string {
	t.Helper()
	sign, enc := keyHalves(t, key)
	all := append(append([]byte(nil), sign...), enc...)
	out := []string{key, strings.TrimRight(key, "=")}
	for _, b := range [][]byte{all, sign, enc} {
		out = append(out,
			hex.EncodeToString(b),
			base64.StdEncoding.EncodeToString(b),
			base64.RawURLEncoding.EncodeToString(b),
			strings.Trim(fmt.Sprint(b), "[]"), // decimal, as %v and %d print bytes
			strings.Trim(fmt.Sprintf("%o", b), "[]"),
			strings.Trim(fmt.Sprintf("%b", b), "[]"),
		)
	}
	return out
}

// assertNoKey fails if text contains key or any rendering of it, or any
// 12-character piece of the key string.
func assertNoKey(t *testing.T, text, key, what string) {
	t.Helper()
	for _, r := range keyRenderings(t, key) {
		if strings.Contains(text, r) {
			t.Errorf("%s reveals the key (as %q): %s", what, r, shorten(text))
			return
		}
	}
	for i := 0; i+12 <= len(key); i++ {
		if strings.Contains(text, key[i:i+12]) {
			t.Errorf("%s reveals part of the key (%q): %s", what, key[i:i+12], shorten(text))
			return
		}
	}
}

func shorten(s string) string {
	if len(s) > 300 {
		return s[:300] + "…"
	}
	return s
}

func TestSecretsBadKeysNotInErrors(t *testing.T) {
	t.Parallel()
	good := authix.GenerateKey()
	fresh := func() string { return authix.GenerateKey() }
	cases := map[string]func() (bad string, arg string){
		"one character short":    func() (string, string) { k := fresh(); return k[:43], k[:43] },
		"one character too many": func() (string, string) { k := fresh(); return k + "A", k + "A" },
		"31 bytes in hex":        func() (string, string) { k := hex.EncodeToString([]byte(fresh()[:31])); return k, k },
		"invalid character":      func() (string, string) { k := fresh(); k = k[:10] + "!" + k[11:]; return k, k },
		"space inside":           func() (string, string) { k := fresh(); k = k[:20] + " " + k[20:]; return k, k },
		"16 bytes":               func() (string, string) { k := fresh()[:22] + "=="; return k, k },
		"64 bytes": func() (string, string) {
			k := base64.URLEncoding.EncodeToString([]byte(strings.Repeat("secret-material-", 4)))
			return k, k
		},
		"valid key, then a bad one": func() (string, string) { k := fresh()[:40]; return k, good + "," + k },
		"bad key, then a valid one": func() (string, string) { k := fresh()[:40]; return k, k + "," + good },
	}
	for name, mk := range cases {
		t.Run(name, func(t *testing.T) {
			bad, arg := mk()
			_, err := authix.NewFernet(time.Hour, arg)
			require.ErrorIs(t, err, authix.ErrInvalidOption)
			_, err2 := authix.New[User](authix.WithKeys(arg))
			require.ErrorIs(t, err2, authix.ErrInvalidOption)
			for _, e := range []error{err, err2} {
				for _, text := range []string{e.Error(), fmt.Sprintf("%+v", e), fmt.Sprintf("%#v", e)} {
					assert.NotContains(t, text, bad)
					assert.NotContains(t, text, good)
					for i := 0; i+12 <= len(bad); i++ {
						assert.NotContains(t, text, bad[i:i+12], "a piece of the bad key")
					}
				}
			}
		})
	}
}

// formatVerbs are the verbs the task asks about; each must print the
// description, never the configuration.
var formatVerbs = []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%10v", "%-40s"}

func TestSecretsNotInFormattedValues(t *testing.T) {
	t.Parallel()
	keyOld := authix.GenerateKey()
	f, err := authix.NewFernet(time.Hour, keyA, keyOld)
	require.NoError(t, err)
	vDefault, err := authix.New[User](authix.WithKeys(keyA, keyOld), authix.WithHeader("X-API-Key"), authix.WithBearer())
	require.NoError(t, err)
	vCipher, err := authix.New[map[string]string](authix.WithCipher(f))
	require.NoError(t, err)
	vAny, err := authix.New[any](authix.WithKeys(keyA))
	require.NoError(t, err)

	values := map[string]any{
		"*Fernet":                  f,
		"*Vault[User]":             vDefault,
		"*Vault[map] WithCipher":   vCipher,
		"*Vault[any]":              vAny,
		"struct holding a *Vault":  struct{ V *authix.Vault[User] }{vDefault},
		"struct holding a *Fernet": struct{ C authix.Cipher }{f},
		"slice of ciphers":         []authix.Cipher{f},
		"Option WithKeys":          authix.WithKeys(keyA, keyOld),
		"Option WithCipher":        authix.WithCipher(f),
		"[]Option":                 []authix.Option{authix.WithKeys(keyA), authix.WithTTL(time.Minute)},
	}
	for name, v := range values {
		for _, verb := range formatVerbs {
			text := fmt.Sprintf(verb, v)
			assertNoKey(t, text, keyA, name+" "+verb)
			assertNoKey(t, text, keyOld, name+" "+verb)
		}
		assertNoKey(t, fmt.Sprint(v), keyA, name+" Sprint")
		assertNoKey(t, fmt.Sprintln(v), keyA, name+" Sprintln")
	}
	// The descriptions say something useful.
	assert.Contains(t, fmt.Sprint(f), "keys: 2")
	assert.Contains(t, fmt.Sprint(vDefault), `"access-token"`)
	assert.Contains(t, fmt.Sprint(vDefault), `"X-Api-Key"`)
}

// TestSecretsNotInAnyFormatVerb covers the verbs that do not call String or
// GoString (%d, %o, %b, %t, %c, …): fmt then prints the struct's fields,
// and with them the keys.
func TestSecretsNotInAnyFormatVerb(t *testing.T) {
	t.Parallel()
	f, err := authix.NewFernet(time.Hour, keyA)
	require.NoError(t, err)
	v, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	for name, val := range map[string]any{"*Fernet": f, "*Vault": v} {
		for _, verb := range []string{"%d", "%o", "%b", "%t", "%c", "%e", "%U", "%p"} {
			assertNoKey(t, fmt.Sprintf(verb, val), keyA, name+" "+verb)
		}
	}
}

// TestSecretsTokenNeverStored checks what a RevocationStore receives: an
// opaque id that is neither the token nor any part of it.
func TestSecretsTokenNeverStored(t *testing.T) {
	t.Parallel()
	clock := newFakeClock(testEpoch)
	store := &countingStore{inner: authix.NewMemoryStore(clock.Now)}
	v, err := authix.New[User](authix.WithKeys(keyA), authix.WithClock(clock.Now), authix.WithRevocationStore(store))
	require.NoError(t, err)
	ctx := context.Background()

	// Padded, so that another encoding of the same token exists.
	u := User{ID: 7, Name: "John Q. Public"}
	tok, err := v.CreateAccessToken(u)
	require.NoError(t, err)
	other, err := v.CreateAccessToken(u)
	require.NoError(t, err)
	raw, err := base64.URLEncoding.DecodeString(tok)
	require.NoError(t, err)

	require.NoError(t, v.DisableAccessToken(ctx, tok))
	disabled, err := v.IsTokenDisabled(ctx, tok)
	require.NoError(t, err)
	require.True(t, disabled)
	r := httptest.NewRequest("GET", "/", nil)
	r.Header.Set("Cookie", authix.DefaultCookieName+"="+tok)
	_, err = v.Authenticate(r)
	require.ErrorIs(t, err, authix.ErrRevokedToken)
	// The same bytes under another encoding are the same token.
	disabled, err = v.IsTokenDisabled(ctx, encodingAlias(t, tok))
	require.NoError(t, err)
	assert.True(t, disabled, "revocation must not depend on the token's encoding")
	disabled, err = v.IsTokenDisabled(ctx, other)
	require.NoError(t, err)
	require.False(t, disabled)

	ids := store.seenIDs() // each a TokenID in hex, as countingStore writes it
	require.GreaterOrEqual(t, len(ids), 4)
	// No 16 bytes of the token in a row (its IV, a ciphertext block, half
	// its tag, ...) are part of an id.
	for _, id := range ids {
		for i := 0; i+16 <= len(raw); i++ {
			assert.NotContains(t, id, hex.EncodeToString(raw[i:i+16]), "bytes %d to %d of the token", i, i+16)
		}
	}
	assert.Equal(t, ids[0], ids[1], "Revoke and IsRevoked must see the same id")
	assert.NotEqual(t, ids[0], ids[len(ids)-1], "two tokens must have different ids")
}

// TestSecretsRejectionRevealsNothing: what the client gets back from a
// rejection names neither the check that failed nor the token.
func TestSecretsRejectionRevealsNothing(t *testing.T) {
	t.Parallel()
	v, err := authix.New[User](authix.WithKeys(keyA))
	require.NoError(t, err)
	srv := httptest.NewServer(v.RequireData(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler ran")
	})))
	defer srv.Close()
	f, err := authix.NewFernet(time.Hour, keyA)
	require.NoError(t, err)
	old, _, err := f.Seal(nil, []byte(`{"id":1}`), time.Now().Add(-2*time.Hour))
	require.NoError(t, err)
	bad, _, err := f.Seal(nil, []byte(`{"id":"x"}`), time.Now())
	require.NoError(t, err)
	for _, tok := range []string{"garbage", string(old), string(bad)} {
		status, body := doRequest(t, srv, "/", requestSpec{method: "GET", cookie: authix.DefaultCookieName + "=" + tok})
		assert.Equal(t, http.StatusUnauthorized, status)
		assert.Equal(t, rejectBody, body)
		assert.NotContains(t, body, tok)
		// The precise error is for the logs: it does not echo the token either.
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Cookie", authix.DefaultCookieName+"="+tok)
		_, err := v.Authenticate(r)
		require.Error(t, err)
		assert.NotContains(t, err.Error(), tok)
	}
}
