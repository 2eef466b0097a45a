package authix

import (
	"fmt"
	"net/http"
	"time"
)

// DefaultCookieName is the cookie that carries the token, as in fastapi-authix.
const DefaultCookieName = "access-token"

// DefaultHeader is the header name fastapi-authix reads tokens from; reading
// a header is off unless WithHeader turns it on.
const DefaultHeader = "X-API-Key"

// Option configures a Vault. Options are checked by New, which fails with an
// error wrapping ErrInvalidOption that names the option and what to fix; a
// Vault never changes its configuration afterwards.
type Option func(*config) error

type config struct {
	cipher         Cipher
	keys           []string
	keysSet        bool
	ttl            time.Duration
	ttlSet         bool
	cookie         http.Cookie
	noCookie       bool
	insecureCookie bool
	header         string
	bearer         bool
	serializer     Serializer
	store          RevocationStore
	onError        func(http.ResponseWriter, *http.Request, error)
	now            func() time.Time
	trusted        []string
	deny           http.Handler
	noCOP          bool
}

func invalid(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// DefaultCookie returns the cookie template a Vault uses unless WithCookie
// replaces it: named "access-token", Path "/", HttpOnly, Secure, SameSite=Lax,
// and Max-Age equal to the TTL (a zero MaxAge in a template means the TTL).
// Browsers and curl accept Secure cookies from http://localhost.
func DefaultCookie() http.Cookie {
	return http.Cookie{
		Name:     DefaultCookieName,
		Path:     "/",
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
}

// WithCipher makes the Vault seal and open tokens with c instead of the
// default Fernet cipher; the token TTL is then c.TTL(), and the vault seals
// each token's expiry inside its plaintext as with the default cipher. It
// cannot be combined with WithKeys or WithTTL, which configure the default
// cipher.
func WithCipher(c Cipher) Option {
	return func(cfg *config) error {
		if c == nil {
			return invalid("WithCipher", "cipher is nil")
		}
		if c.TTL() < time.Second {
			return invalid("WithCipher", "cipher TTL must be at least one second, got %v", c.TTL())
		}
		cfg.cipher = c
		return nil
	}
}

// WithKeys sets the Fernet keys of the default cipher. Each argument may hold
// several comma-separated keys, so WithKeys(os.Getenv("AUTHIX_KEYS")) works;
// each key is 32 bytes of URL-safe base64 (see GenerateKey). The first key
// seals, all keys open, which lets keys rotate. Without WithKeys a random key
// is generated per process, so tokens do not survive a restart; an empty key
// list is an error rather than a silent fallback to a random key.
func WithKeys(keys ...string) Option {
	return func(cfg *config) error {
		if len(splitKeys(keys)) == 0 {
			return invalid("WithKeys", "no keys given (is AUTHIX_KEYS empty?); generate one with authix.GenerateKey")
		}
		cfg.keys = append(cfg.keys, keys...)
		cfg.keysSet = true
		return nil
	}
}

// WithTTL sets how long a token stays valid after it is sealed: DefaultTTL
// (one hour) unless set. The cookie's Max-Age follows it. It must be at
// least one second, since Fernet timestamps have a resolution of one second.
//
// Each token the vault seals carries its expiry inside, so a reader with a
// longer TTL (a redeploy that raises it) never extends it, and a logout
// lasts as long as the token can; a reader with a shorter TTL still ends it
// sooner. Tokens without a sealed expiry, such as fastapi-authix's, live
// for the reader's TTL.
func WithTTL(ttl time.Duration) Option {
	return func(cfg *config) error {
		if ttl < time.Second {
			return invalid("WithTTL", "TTL must be at least one second, got %v", ttl)
		}
		cfg.ttl = ttl
		cfg.ttlSet = true
		return nil
	}
}

// WithCookie replaces the cookie template (DefaultCookie) that
// SetAccessToken and RemoveAccessToken write and that requests are read
// from. An empty Name, Path or SameSite takes the default, and a zero MaxAge
// means the TTL. Start from DefaultCookie and change what you need: a
// template that turns off HttpOnly or Secure is refused unless
// WithInsecureCookie is also given.
func WithCookie(template http.Cookie) Option {
	return func(cfg *config) error {
		if template.Value != "" || !template.Expires.IsZero() || template.RawExpires != "" || template.Raw != "" || len(template.Unparsed) > 0 {
			return invalid("WithCookie", "set only attributes in the template: Value and Expires are written by the Vault")
		}
		if template.MaxAge < 0 {
			return invalid("WithCookie", "MaxAge must not be negative (zero means the TTL)")
		}
		if template.Name == "" {
			template.Name = DefaultCookieName
		}
		if template.Path == "" {
			template.Path = "/"
		}
		if template.SameSite == 0 {
			template.SameSite = http.SameSiteLaxMode
		}
		probe := template
		probe.Value = "x"
		if err := probe.Valid(); err != nil {
			return invalid("WithCookie", "%v", err)
		}
		cfg.cookie = template
		cfg.noCookie = false
		return nil
	}
}

// WithInsecureCookie allows a WithCookie template without HttpOnly or
// without Secure. Without HttpOnly, scripts on the page can read the token;
// without Secure, it travels over plain HTTP.
func WithInsecureCookie() Option {
	return func(cfg *config) error {
		cfg.insecureCookie = true
		return nil
	}
}

// WithoutCookie turns off the cookie: tokens are read from the header
// (WithHeader) or Authorization: Bearer (WithBearer) only, one of which must
// then be on, and SetAccessToken returns an error.
func WithoutCookie() Option {
	return func(cfg *config) error {
		cfg.noCookie = true
		return nil
	}
}

// WithHeader also reads tokens from the named request header, such as
// DefaultHeader ("X-API-Key"). Reading a header is off by default. When both
// a cookie and the header are present, the cookie wins, as in fastapi-authix.
// Header tokens are not subject to cross-origin checks, since browsers do
// not attach them on their own.
func WithHeader(name string) Option {
	return func(cfg *config) error {
		if !validHeaderName(name) {
			return invalid("WithHeader", "%q is not a valid header name", name)
		}
		cfg.header = http.CanonicalHeaderKey(name)
		return nil
	}
}

// WithBearer also reads tokens from "Authorization: Bearer <token>". It is
// off by default, and is tried after the cookie and the WithHeader header.
func WithBearer() Option {
	return func(cfg *config) error {
		cfg.bearer = true
		return nil
	}
}

// WithSerializer replaces the default JSON serializer.
func WithSerializer(s Serializer) Option {
	return func(cfg *config) error {
		if s == nil {
			return invalid("WithSerializer", "serializer is nil")
		}
		cfg.serializer = s
		return nil
	}
}

// WithRevocationStore replaces the default in-memory store (NewMemoryStore)
// where DisableAccessToken records revoked tokens. Use a shared, durable
// store when several processes share keys.
func WithRevocationStore(s RevocationStore) Option {
	return func(cfg *config) error {
		if s == nil {
			return invalid("WithRevocationStore", "store is nil")
		}
		cfg.store = s
		return nil
	}
}

// WithErrorHandler replaces DefaultErrorHandler, which RequireData calls to
// reject a request. The handler receives the precise error; what it writes
// to the client should not reveal which check failed.
func WithErrorHandler(h func(w http.ResponseWriter, r *http.Request, err error)) Option {
	return func(cfg *config) error {
		if h == nil {
			return invalid("WithErrorHandler", "handler is nil")
		}
		cfg.onError = h
		return nil
	}
}

// WithClock makes the Vault, its default cipher checks and its default
// revocation store read the time from now instead of time.Now, so expiry
// can be tested.
func WithClock(now func() time.Time) Option {
	return func(cfg *config) error {
		if now == nil {
			return invalid("WithClock", "clock is nil")
		}
		cfg.now = now
		return nil
	}
}

// WithTrustedOrigins lets cookie-authenticated requests with unsafe methods
// come from these origins ("scheme://host[:port]"), besides the same origin.
//
// Cross-origin protection is on by default: browsers attach cookies to
// requests that other sites start, so a cookie-authenticated POST, PUT,
// PATCH or DELETE from another origin is rejected with ErrCrossOrigin (403 by
// default), as http.CrossOriginProtection decides from Sec-Fetch-Site, then
// Origin against Host. Tokens from a header or Bearer are never checked.
func WithTrustedOrigins(origins ...string) Option {
	return func(cfg *config) error {
		probe := http.NewCrossOriginProtection()
		for _, o := range origins {
			if err := probe.AddTrustedOrigin(o); err != nil {
				return invalid("WithTrustedOrigins", "%v", err)
			}
		}
		cfg.trusted = append(cfg.trusted, origins...)
		return nil
	}
}

// WithCrossOriginDenyHandler makes RequireData answer a rejected
// cross-origin request with h instead of the error handler.
func WithCrossOriginDenyHandler(h http.Handler) Option {
	return func(cfg *config) error {
		if h == nil {
			return invalid("WithCrossOriginDenyHandler", "handler is nil")
		}
		cfg.deny = h
		return nil
	}
}

// WithoutCrossOriginProtection turns off the cross-origin check of
// cookie-authenticated requests (see WithTrustedOrigins). Do this only when
// something else in front of the handlers protects against CSRF.
func WithoutCrossOriginProtection() Option {
	return func(cfg *config) error {
		cfg.noCOP = true
		return nil
	}
}

func validHeaderName(name string) bool {
	if name == "" {
		return false
	}
	for i := range len(name) {
		c := name[i]
		if c <= ' ' || c >= 0x7f || c == ':' || c == '(' || c == ')' || c == '<' || c == '>' ||
			c == '@' || c == ',' || c == ';' || c == '\\' || c == '"' || c == '/' || c == '[' ||
			c == ']' || c == '?' || c == '=' || c == '{' || c == '}' {
			return false
		}
	}
	return true
}
