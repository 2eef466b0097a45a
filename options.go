package authix

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
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
	store          RevocationStore
	onError        func(http.ResponseWriter, *http.Request, error)
	now            func() time.Time
	remember       time.Duration
	rememberSet    bool
	sliding        bool
	renewAfter     time.Duration
	sessionLife    time.Duration
	reload         any // func(context.Context, T) (T, error), checked by New
	purpose        string
	logger         *slog.Logger
	subject        any // func(T) string, checked by New
	cop            *http.CrossOriginProtection
	copSet         bool
}

func invalid(option, format string, args ...any) error {
	return fmt.Errorf("%w: %s: %s", ErrInvalidOption, option, fmt.Sprintf(format, args...))
}

// DefaultCookie returns the cookie template a Vault uses unless WithCookie
// replaces it: named "access-token", Path "/", HttpOnly, Secure, SameSite=Lax,
// and no Max-Age, so a normal login's cookie lasts for the browser session,
// as fastapi-authix's does, while its token still expires on the server
// after the TTL. A login with RememberMe(true) gets a persistent cookie
// instead. Browsers and curl accept Secure cookies from http://localhost.
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
// (one hour) unless set; under WithSliding it is the idle timeout. It must be at
// least one second, since Fernet timestamps have a resolution of one second.
//
// Each token the vault seals carries its expiry inside, so no reader's TTL
// (a redeploy that raises it) extends it, and a logout lasts as long as the
// token can; a reader accepts no token older than its longest lifetime (the
// TTL or the remember-me lifetime). Tokens without a sealed expiry, such as
// fastapi-authix's, live for the reader's TTL.
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
// from. An empty Name, Path or SameSite takes the default. A zero MaxAge
// makes a normal login's cookie a browser-session cookie (no Max-Age); a
// positive one gives it that Max-Age. Start from DefaultCookie and change
// what you need: a template that turns off HttpOnly or Secure is refused
// unless WithInsecureCookie is also given.
func WithCookie(template http.Cookie) Option {
	return func(cfg *config) error {
		if template.Value != "" || !template.Expires.IsZero() || template.RawExpires != "" || template.Raw != "" || len(template.Unparsed) > 0 {
			return invalid("WithCookie", "set only attributes in the template: Value and Expires are written by the Vault")
		}
		if template.MaxAge < 0 {
			return invalid("WithCookie", "MaxAge must not be negative (it would delete the cookie); 0 makes a browser-session cookie")
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
		// Browsers drop a cookie that breaks the rules of its name's prefix.
		switch name := strings.ToLower(template.Name); {
		case strings.HasPrefix(name, "__host-") && (!template.Secure || template.Path != "/" || template.Domain != ""):
			return invalid("WithCookie", "a __Host- cookie needs Secure, Path \"/\" and no Domain, or browsers drop it")
		case strings.HasPrefix(name, "__secure-") && !template.Secure:
			return invalid("WithCookie", "a __Secure- cookie needs Secure, or browsers drop it")
		}
		cfg.cookie = template
		cfg.noCookie = false
		return nil
	}
}

// DefaultRememberMe is how long a token issued with RememberMe(true) lives,
// and its persistent cookie with it, unless WithRememberMe changes it.
const DefaultRememberMe = 30 * 24 * time.Hour

// DefaultSessionLifetime is how long a sliding session lasts at most,
// however active its user, unless WithSessionLifetime changes it.
const DefaultSessionLifetime = 12 * time.Hour

// WithSubject names the subject of a payload, such as a user id, so that
// LogoutEverywhere can refuse every token of that subject at once (a
// password change, a ban). Each request then asks the store for the
// subject's cut-off, so the revocation store must implement SubjectStore
// (the memory store and redisstore do). Tokens the vault seals carry their
// issue time to the microsecond, so a login right after a
// LogoutEverywhere, in the same second, is accepted. T must be the vault's
// payload type. Off by default.
func WithSubject[T any](subject func(payload T) string) Option {
	return func(cfg *config) error {
		if subject == nil {
			return invalid("WithSubject", "subject is nil")
		}
		cfg.subject = subject
		return nil
	}
}

// WithLogger makes the vault log every request it refuses, with a reason
// from a fixed set (RejectReason) and the request's method, path (cut to
// 256 bytes, marked "…") and token source, never a token or a key: store failures at LevelError (with the
// store's error), other refusals at LevelInfo, requests without a token at
// LevelDebug. OptionalData, which lets such requests through, logs them
// too. Without it (the default) nothing is logged; the error handler still
// receives each error.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return invalid("WithLogger", "logger is nil; omit the option to log nothing")
		}
		cfg.logger = l
		return nil
	}
}

// WithPurpose binds the vault to a purpose, such as "invite" or
// "password-reset": its keys are derived from the configured ones with
// HKDF-SHA256 and the purpose, so a token sealed for one purpose never
// opens in a vault of another, even with the same WithKeys (an invite link
// is no session cookie). Without it (the default purpose) the keys are used
// as they are, which is what fastapi-authix shares; tokens of a named
// purpose open only in authix vaults of that purpose. It cannot be combined
// with WithCipher.
func WithPurpose(purpose string) Option {
	return func(cfg *config) error {
		if purpose == "" {
			return invalid("WithPurpose", "purpose is empty; omit the option for the default purpose")
		}
		cfg.purpose = purpose
		return nil
	}
}

// WithRememberMe sets how long a token issued with RememberMe(true) lives
// (DefaultRememberMe, 30 days, unless set): its cookie is persistent, with
// that Max-Age, and a sliding session never renews it beyond that time
// after the login. It must be at least the TTL.
func WithRememberMe(lifetime time.Duration) Option {
	return func(cfg *config) error {
		if lifetime < time.Second {
			return invalid("WithRememberMe", "lifetime must be at least one second, got %v", lifetime)
		}
		cfg.remember = lifetime
		cfg.rememberSet = true
		return nil
	}
}

// WithSliding makes RequireData renew a cookie session: once a token is
// older than renewAfter (zero: half its lifetime), the response carries a
// fresh token of the same session, so an active user stays logged in and
// an idle one is logged out when the token lifetime (the TTL, or the
// remember-me lifetime) passes without a request. No renewal outlives the
// session's absolute lifetime (WithSessionLifetime), and Logout ends every
// token of the session at once. Header and Bearer clients get no cookie;
// they renew with RenewAccessToken. Off by default: tokens then live for
// their lifetime from login.
func WithSliding(renewAfter time.Duration) Option {
	return func(cfg *config) error {
		if renewAfter < 0 {
			return invalid("WithSliding", "renewAfter must not be negative, got %v", renewAfter)
		}
		cfg.sliding = true
		cfg.renewAfter = renewAfter
		return nil
	}
}

// WithSessionLifetime sets the absolute lifetime of a sliding session
// (DefaultSessionLifetime, 12 hours, unless set): sealed into the first
// token at login, it ends the session whatever renewals do. A remember-me
// session lasts for the remember-me lifetime instead. It needs WithSliding
// and must be at least the TTL.
func WithSessionLifetime(lifetime time.Duration) Option {
	return func(cfg *config) error {
		if lifetime < time.Second {
			return invalid("WithSessionLifetime", "lifetime must be at least one second, got %v", lifetime)
		}
		cfg.sessionLife = lifetime
		return nil
	}
}

// WithRenewal makes each renewal of a sliding session (and RenewAccessToken)
// call reload with the payload the old token carries, and seal the payload
// it returns instead: roles change, a deleted user's session ends. A token
// past its renewal age is then renewed even when its expiry cannot move,
// as a remembered login's cannot, so that reload runs for it too. When
// reload fails, the session ends: the request is refused (ErrSessionEnded
// wrapping reload's error), the session is revoked and the cookie cleared.
// T must be the vault's payload type. Without it, a renewal seals the same
// payload again.
func WithRenewal[T any](reload func(ctx context.Context, payload T) (T, error)) Option {
	return func(cfg *config) error {
		if reload == nil {
			return invalid("WithRenewal", "reload is nil")
		}
		cfg.reload = reload
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
		if http.CanonicalHeaderKey(name) == "Authorization" {
			return invalid("WithHeader", "Authorization carries a scheme; use WithBearer to read Authorization: Bearer <token>")
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

// WithCrossOriginProtection sets how requests authenticated by the cookie
// are protected against use from other origins (CSRF). By default the
// vault uses http.NewCrossOriginProtection() as it comes: a POST, PUT,
// PATCH or DELETE whose Sec-Fetch-Site, or else Origin against Host, says
// it came from another origin is refused with ErrCrossOrigin, which
// DefaultErrorHandler answers with 403; tokens from a header or Bearer are
// never checked, since browsers do not attach them on their own. An Origin
// that carries userinfo ("https://user@host"), which no browser sends, is
// refused too.
//
// Pass a protection of your own for trusted origins (AddTrustedOrigin),
// bypass patterns (AddInsecureBypassPattern) or a deny handler
// (SetDenyHandler): requests are then checked, and refused, exactly as its
// Handler would. Pass nil to turn the check off, only behind another CSRF
// defence. The protection is the caller's to share: changing it later
// changes the vault's checks (its methods are safe for concurrent use).
func WithCrossOriginProtection(p *http.CrossOriginProtection) Option {
	return func(cfg *config) error {
		cfg.cop, cfg.copSet = p, true
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
