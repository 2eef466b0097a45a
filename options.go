package authix

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
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
// replaces it: "access-token", Path "/", HttpOnly, Secure, SameSite=Lax, and
// no Max-Age, so a normal login's cookie lasts for the browser session, as
// fastapi-authix's does. Browsers and curl accept Secure cookies from
// http://localhost.
func DefaultCookie() http.Cookie {
	return http.Cookie{
		Name:     DefaultCookieName,
		Path:     "/",
		HttpOnly: true,
		Secure:   true,
		SameSite: http.SameSiteLaxMode,
	}
}

// WithCipher makes the vault seal and open tokens with c instead of the
// default Fernet cipher, whose TTL is then the vault's. It cannot be combined
// with WithKeys, WithTTL or WithPurpose, which configure the default cipher.
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

// WithKeys sets the Fernet keys: each argument may hold several
// comma-separated keys (WithKeys(os.Getenv("AUTHIX_KEYS"))), the first seals
// and all open. Without it, a random key per process (tokens do not survive a
// restart); an empty list is an error, never a silent random key.
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

// WithTTL sets how long a normal login's token lives: DefaultTTL (one hour)
// unless set, at least one second; under WithSliding it is the idle timeout.
// See "Lifetimes" in the package doc for how readers hold tokens to it.
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

// WithCookie replaces the cookie template (DefaultCookie) that tokens are
// written to and read from. Start from DefaultCookie: an empty Name, Path or
// SameSite takes the default, a zero MaxAge keeps a browser-session cookie,
// and turning off HttpOnly or Secure needs WithInsecureCookie.
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

// WithSubject names the subject of a payload, such as a user id, for
// LogoutEverywhere; requests then check the subject's cut-off, so the store
// must implement SubjectStore. T must be the vault's payload type. Off by
// default.
func WithSubject[T any](subject func(payload T) string) Option {
	return func(cfg *config) error {
		if subject == nil {
			return invalid("WithSubject", "subject is nil")
		}
		cfg.subject = subject
		return nil
	}
}

// WithLogger logs every request the vault refuses, OptionalData's included,
// with a RejectReason, the method, path and token source (each bounded),
// never a token or a key: store failures at LevelError, requests without a
// token at LevelDebug, others at LevelInfo. Off by default.
func WithLogger(l *slog.Logger) Option {
	return func(cfg *config) error {
		if l == nil {
			return invalid("WithLogger", "logger is nil; omit the option to log nothing")
		}
		cfg.logger = l
		return nil
	}
}

// WithPurpose binds the vault to a purpose, such as "invite": its keys are
// derived from the configured ones with HKDF-SHA256, so its tokens never open
// in a vault of another purpose. Without it the keys are used as they are,
// as fastapi-authix shares them.
func WithPurpose(purpose string) Option {
	return func(cfg *config) error {
		if purpose == "" {
			return invalid("WithPurpose", "purpose is empty; omit the option for the default purpose")
		}
		cfg.purpose = purpose
		return nil
	}
}

// WithRememberMe sets how long a RememberMe(true) login's token, and its
// persistent cookie, live: DefaultRememberMe (30 days) unless set, at least
// the TTL.
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

// WithSliding makes RequireData renew a cookie session past its renewal age,
// renewAfter (zero: half the token's lifetime, else at least a second), so an
// active user stays logged in and an idle one is logged out after one
// lifetime; see "Sessions" in the package doc. Off by default.
func WithSliding(renewAfter time.Duration) Option {
	return func(cfg *config) error {
		if renewAfter < 0 || renewAfter > 0 && renewAfter < time.Second {
			return invalid("WithSliding", "renewAfter must be zero (half the lifetime) or at least one second, got %v", renewAfter)
		}
		cfg.sliding = true
		cfg.renewAfter = renewAfter
		return nil
	}
}

// WithSessionLifetime sets a sliding session's absolute lifetime, sealed at
// login and passed by no renewal: DefaultSessionLifetime (12 hours) unless
// set, at least the TTL; a remembered session lasts the remember-me lifetime.
// It needs WithSliding.
func WithSessionLifetime(lifetime time.Duration) Option {
	return func(cfg *config) error {
		if lifetime < time.Second {
			return invalid("WithSessionLifetime", "lifetime must be at least one second, got %v", lifetime)
		}
		cfg.sessionLife = lifetime
		return nil
	}
}

// WithRenewal makes each renewal seal the payload reload returns for the old
// one, so role changes reach a session within its renewal age (a remembered
// login too); an error ends the session (ErrSessionEnded). T must be the
// vault's payload type. Without it, a renewal seals the same payload.
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

// WithHeader also reads tokens from the named header, such as DefaultHeader
// ("X-API-Key"); off by default. The cookie wins when both are present, as in
// fastapi-authix, and header tokens skip the cross-origin check.
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

// WithRevocationStore replaces the default in-memory store (NewMemoryStore);
// replicas that share keys need a shared store, such as redisstore.
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

// WithCrossOriginProtection replaces the check of cookie requests from other
// origins (default: http.NewCrossOriginProtection() as it comes; see
// "Cross-origin requests" in the package doc). A protection of your own, with
// trusted origins, bypass patterns or a deny handler, is applied exactly as
// its Handler would, and stays yours to change; nil turns the check off.
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

// validate checks the whole configuration for payloads of type t, once,
// and resolves what the options leave to defaults.
func (c *config) validate(t reflect.Type) (settings, error) {
	if err := checkPayloadType(t); err != nil {
		return settings{}, err
	}
	s := settings{
		store: c.store, now: c.now, onError: c.onError, logger: c.logger,
		cookie: c.cookie, useCookie: !c.noCookie, header: c.header, bearer: c.bearer,
		opts: payloadOptions(t), auto: t.Kind() == reflect.Interface, name: t.String(),
		purpose: c.purpose, fields: fieldNames(t),
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		s.nilable = true
	}
	for _, check := range []func(*settings) error{c.lifetimes, c.sessions, c.sources, c.stores} {
		if err := check(&s); err != nil {
			return settings{}, err
		}
	}
	if c.subject != nil && reflect.TypeOf(c.subject) != reflect.FuncOf([]reflect.Type{t}, []reflect.Type{reflect.TypeFor[string]()}, false) {
		return settings{}, invalid("WithSubject", "subject takes %s, the vault's payload type", t)
	}
	if c.reload != nil && reflect.TypeOf(c.reload) != reflect.FuncOf([]reflect.Type{reflect.TypeFor[context.Context](), t}, []reflect.Type{t, reflect.TypeFor[error]()}, false) {
		return settings{}, invalid("WithRenewal", "reload takes and returns %s, the vault's payload type", t)
	}
	s.cop = http.NewCrossOriginProtection()
	if c.copSet {
		s.cop, s.ownCOP = c.cop, true
	}
	if s.onError == nil {
		s.onError = DefaultErrorHandler
	}
	return s, nil
}

// lifetimes settles the cipher and the token lifetimes: the cipher holds
// every token to the longest lifetime the vault seals, the vault each to
// its own.
func (c *config) lifetimes(s *settings) error {
	s.ttl, s.remember = c.ttl, DefaultRememberMe
	if c.rememberSet {
		s.remember = c.remember
	}
	switch {
	case c.cipher != nil && c.keysSet:
		return invalid("WithCipher", "cannot be combined with WithKeys: give the keys to the cipher")
	case c.cipher != nil && c.ttlSet:
		return invalid("WithCipher", "cannot be combined with WithTTL: the cipher sets the TTL")
	case c.cipher != nil && c.purpose != "":
		return invalid("WithCipher", "cannot be combined with WithPurpose: give the cipher keys of its own")
	case c.cipher != nil:
		s.cipher, s.ttl = c.cipher, c.cipher.TTL()
		if !c.rememberSet {
			s.remember = s.ttl
		} else if s.remember > s.ttl {
			return invalid("WithRememberMe", "lifetime %v is longer than the cipher's TTL %v, which bounds every token", s.remember, s.ttl)
		}
		return nil
	}
	if s.remember < s.ttl {
		if c.rememberSet {
			return invalid("WithRememberMe", "lifetime %v is shorter than the TTL %v", s.remember, s.ttl)
		}
		s.remember = s.ttl
	}
	keys, err := parseKeys(c.keys)
	if err == nil && c.purpose != "" {
		keys, err = purposeKeys(keys, c.purpose)
	}
	if err != nil {
		return err
	}
	s.cipher = newFernet(max(s.ttl, s.remember), keys)
	return nil
}

// sessions settles sliding sessions.
func (c *config) sessions(s *settings) error {
	s.sliding, s.renewAt, s.session = c.sliding, c.renewAfter, DefaultSessionLifetime
	switch {
	case c.sessionLife != 0 && !c.sliding:
		return invalid("WithSessionLifetime", "needs WithSliding: without renewals a session lasts one token lifetime")
	case c.sessionLife != 0:
		s.session = c.sessionLife
	}
	// One rule, default or set: a session lasts at least one token.
	if s.sliding && s.session < s.ttl {
		return invalid("WithSessionLifetime", "session lifetime %v (the default unless set) is shorter than the TTL %v; set it to at least the TTL", s.session, s.ttl)
	}
	s.session = max(s.session, s.ttl)
	return nil
}

// sources checks where tokens are read from.
func (c *config) sources(s *settings) error {
	switch {
	case !s.useCookie && s.header == "" && !s.bearer:
		return invalid("WithoutCookie", "no token source left; add WithHeader or WithBearer")
	case !s.useCookie:
		return nil
	case !c.insecureCookie && (!s.cookie.HttpOnly || !s.cookie.Secure):
		return invalid("WithCookie", "template turns off HttpOnly or Secure; start from authix.DefaultCookie(), or add authix.WithInsecureCookie() if you mean it")
	case s.cookie.SameSite == http.SameSiteNoneMode && !s.cookie.Secure:
		return invalid("WithCookie", "SameSite=None requires Secure; browsers drop the cookie otherwise")
	}
	return nil
}

// stores settles the revocation store.
func (c *config) stores(s *settings) error {
	if s.store == nil {
		s.store = NewMemoryStore(c.now)
	}
	if c.subject == nil {
		return nil
	}
	var ok bool
	if s.subjects, ok = s.store.(SubjectStore); !ok {
		return invalid("WithSubject", "the revocation store %T cannot revoke subjects: it has no RevokeSubject and SubjectCutoff (SubjectStore)", s.store)
	}
	s.devices, _ = s.store.(DeviceStore)
	return nil
}
