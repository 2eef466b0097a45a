package authix_test

import (
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Configuration that browsers or a Python peer would silently reject is
// refused by New, with an error that says what to fix.
func TestConfigurationThatCannotSilentlyBreak(t *testing.T) {
	t.Parallel()
	raw, err := base64.URLEncoding.DecodeString(keyA)
	require.NoError(t, err)
	stdKey := base64.StdEncoding.EncodeToString(raw)
	for !strings.ContainsAny(stdKey, "+/") { // make sure the standard form differs
		raw[0]++
		stdKey = base64.StdEncoding.EncodeToString(raw)
	}
	keys := map[string]string{
		"hex":              hex.EncodeToString(raw),
		"standard base64":  stdKey,
		"unpadded":         strings.TrimRight(keyA, "="),
		"31 bytes":         base64.URLEncoding.EncodeToString(raw[:31]),
		"a newline inside": keyA[:20] + "\n" + keyA[21:],
	}
	for name, key := range keys {
		t.Run("key: "+name, func(t *testing.T) {
			_, err := authix.New[User](authix.WithKeys(key))
			require.ErrorIs(t, err, authix.ErrInvalidOption)
			assert.Contains(t, err.Error(), "URL-safe base64")
			assert.NotContains(t, err.Error(), key)
			assert.NotContains(t, err.Error(), key[:12], "no piece of the key")
		})
	}
	_, err = authix.New[User](authix.WithKeys(keyA + "," + keySpec))
	assert.NoError(t, err, "Python's key format")

	for _, name := range []string{"Authorization", "authorization", "AUTHORIZATION"} {
		_, err := authix.New[User](authix.WithHeader(name))
		require.ErrorIs(t, err, authix.ErrInvalidOption, name)
		assert.Contains(t, err.Error(), "WithBearer")
	}

	host := func(mod func(*http.Cookie)) http.Cookie {
		c := authix.DefaultCookie()
		c.Name = "__Host-token"
		mod(&c)
		return c
	}
	for name, opts := range map[string][]authix.Option{
		"__Host- with a Domain":     {authix.WithCookie(host(func(c *http.Cookie) { c.Domain = "example.com" }))},
		"__Host- with another Path": {authix.WithCookie(host(func(c *http.Cookie) { c.Path = "/app" }))},
		"__Host- without Secure":    {authix.WithCookie(host(func(c *http.Cookie) { c.Secure = false })), authix.WithInsecureCookie()},
		"__host- in lower case":     {authix.WithCookie(host(func(c *http.Cookie) { c.Name, c.Domain = "__host-token", "example.com" }))},
		"__Secure- without Secure":  {authix.WithCookie(host(func(c *http.Cookie) { c.Name, c.Secure = "__Secure-token", false })), authix.WithInsecureCookie()},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := authix.New[User](opts...)
			require.ErrorIs(t, err, authix.ErrInvalidOption)
			assert.Contains(t, err.Error(), "browsers drop it")
		})
	}
	_, err = authix.New[User](authix.WithCookie(host(func(*http.Cookie) {})))
	assert.NoError(t, err, "a __Host- cookie as browsers keep it")
	_, err = authix.New[User](authix.WithCookie(host(func(c *http.Cookie) { c.Name, c.Domain = "__Secure-token", "example.com" })))
	assert.NoError(t, err, "a __Secure- cookie may have a Domain")
}
