package authix

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
)

// Vault issues, reads and revokes access tokens that carry a payload of
// type T. Create one with New and share it: all its methods are safe for
// concurrent use, and its configuration never changes after New.
type Vault[T any] struct {
	cipher    Cipher
	opts      json.Options // T's payload options
	store     RevocationStore
	ttl       time.Duration // a normal login's token lifetime
	remember  time.Duration // a remember-me token's lifetime
	sliding   bool
	renewAt   time.Duration // 0: half the token's lifetime
	session   time.Duration // a sliding session's absolute lifetime
	reload    func(context.Context, T) (T, error)
	subject   func(T) string // nil: no subject checks
	subjects  SubjectStore   // store, when subject is set
	now       func() time.Time
	onError   func(http.ResponseWriter, *http.Request, error)
	cookie    http.Cookie
	useCookie bool
	header    string // canonical; empty when off
	bearer    bool
	cop       *http.CrossOriginProtection // nil when off
	ownCOP    bool                        // cop is the caller's: refuse as its Handler does
	logger    *slog.Logger                // nil: log nothing

	nilable  bool // T is a pointer, map, slice or interface
	auto     bool // T is an interface: the first payload's type is recorded
	autoType atomic.Pointer[reflect.Type]
	name     string

	bufs sync.Pool // *[]byte, plaintext buffers
	outs sync.Pool // *T: a value to decode into without a heap allocation per call
}

// New returns a Vault for payloads of type T, configured by opts.
//
// With no options, tokens are Fernet tokens under a random per-process key,
// valid for DefaultTTL (one hour), carried in the "access-token" cookie
// (DefaultCookie), revoked in memory (NewMemoryStore), rejected with
// DefaultErrorHandler, and cookie-authenticated requests are protected
// against cross-origin use (see WithCrossOriginProtection).
//
// T may be a struct, a pointer to a struct, a map such as map[string]string,
// or an interface such as any: then the first payload's dynamic type is
// recorded, later payloads must have that type, and tokens decoded before
// any payload was sealed come back as map[string]any. A T that JSON cannot
// carry fails with ErrUnsupportedPayload naming the field.
//
// Payloads are JSON objects, encoded as json.Marshal encodes them and read
// strictly, as Python's json module reads them: keys match exactly (a key
// "IS_ADMIN" is not the field tagged "is_admin"), an object that repeats a
// key is refused, integers keep their exact value (json.Number in an
// interface), and unknown fields are ignored, so that replicas can roll out
// a new field one at a time. A Serializer that calls encoding/json restores
// its looser reading.
func New[T any](opts ...Option) (*Vault[T], error) {
	cfg := config{ttl: DefaultTTL, cookie: DefaultCookie(), now: time.Now}
	for i, opt := range opts {
		if opt == nil {
			return nil, fmt.Errorf("%w: option %d is nil", ErrInvalidOption, i+1)
		}
		if err := opt(&cfg); err != nil {
			return nil, err
		}
	}
	t := reflect.TypeFor[T]()
	v := &Vault[T]{
		store:     cfg.store,
		now:       cfg.now,
		onError:   cfg.onError,
		cookie:    cfg.cookie,
		useCookie: !cfg.noCookie,
		header:    cfg.header,
		bearer:    cfg.bearer,
		auto:      t.Kind() == reflect.Interface,
		name:      t.String(),
	}
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface:
		v.nilable = true
	}
	if err := checkPayloadType(t); err != nil {
		return nil, err
	}

	// The cipher holds every token to the longest lifetime the vault seals;
	// the vault holds each to its own.
	v.ttl, v.remember = cfg.ttl, DefaultRememberMe
	if cfg.rememberSet {
		v.remember = cfg.remember
	}
	switch {
	case cfg.cipher != nil && cfg.keysSet:
		return nil, invalid("WithCipher", "cannot be combined with WithKeys: give the keys to the cipher")
	case cfg.cipher != nil && cfg.ttlSet:
		return nil, invalid("WithCipher", "cannot be combined with WithTTL: the cipher sets the TTL")
	case cfg.cipher != nil && cfg.purpose != "":
		return nil, invalid("WithCipher", "cannot be combined with WithPurpose: give the cipher keys of its own")
	case cfg.cipher != nil:
		v.cipher = cfg.cipher
		v.ttl = cfg.cipher.TTL()
		if !cfg.rememberSet {
			v.remember = v.ttl
		} else if v.remember > v.ttl {
			return nil, invalid("WithRememberMe", "lifetime %v is longer than the cipher's TTL %v, which bounds every token", v.remember, v.ttl)
		}
	default:
		if v.remember < v.ttl {
			if cfg.rememberSet {
				return nil, invalid("WithRememberMe", "lifetime %v is shorter than the TTL %v", v.remember, v.ttl)
			}
			v.remember = v.ttl
		}
		keys, err := parseKeys(cfg.keys)
		if err == nil && cfg.purpose != "" {
			keys, err = purposeKeys(keys, cfg.purpose)
		}
		if err != nil {
			return nil, err
		}
		v.cipher = newFernet(max(v.ttl, v.remember), keys)
	}
	v.sliding, v.renewAt, v.session = cfg.sliding, cfg.renewAfter, DefaultSessionLifetime
	switch {
	case cfg.sessionLife != 0 && !cfg.sliding:
		return nil, invalid("WithSessionLifetime", "needs WithSliding: without renewals a session lasts one token lifetime")
	case cfg.sessionLife != 0 && cfg.sessionLife < v.ttl:
		return nil, invalid("WithSessionLifetime", "lifetime %v is shorter than the TTL %v", cfg.sessionLife, v.ttl)
	case cfg.sessionLife != 0:
		v.session = cfg.sessionLife
	}
	v.session = max(v.session, v.ttl)
	if cfg.subject != nil {
		subject, ok := cfg.subject.(func(T) string)
		if !ok {
			return nil, invalid("WithSubject", "subject takes %s, the vault's payload type", t)
		}
		v.subject = subject
	}
	if cfg.reload != nil {
		reload, ok := cfg.reload.(func(context.Context, T) (T, error))
		if !ok {
			return nil, invalid("WithRenewal", "reload takes and returns %s, the vault's payload type", t)
		}
		v.reload = reload
	}

	if v.useCookie {
		if !cfg.insecureCookie && (!v.cookie.HttpOnly || !v.cookie.Secure) {
			return nil, invalid("WithCookie", "template turns off HttpOnly or Secure; start from authix.DefaultCookie(), or add authix.WithInsecureCookie() if you mean it")
		}
		if v.cookie.SameSite == http.SameSiteNoneMode && !v.cookie.Secure {
			return nil, invalid("WithCookie", "SameSite=None requires Secure; browsers drop the cookie otherwise")
		}
	} else if v.header == "" && !v.bearer {
		return nil, invalid("WithoutCookie", "no token source left; add WithHeader or WithBearer")
	}

	v.opts = payloadOptions(t)
	if v.store == nil {
		v.store = NewMemoryStore(cfg.now)
	}
	if v.subject != nil {
		var ok bool
		if v.subjects, ok = v.store.(SubjectStore); !ok {
			return nil, invalid("WithSubject", "the revocation store %T cannot revoke subjects: it has no RevokeSubject and SubjectCutoff (SubjectStore)", v.store)
		}
	}
	if v.onError == nil {
		v.onError = DefaultErrorHandler
	}
	v.logger = cfg.logger
	v.cop = http.NewCrossOriginProtection()
	if cfg.copSet {
		v.cop, v.ownCOP = cfg.cop, true
	}
	v.bufs.New = func() any {
		b := make([]byte, 0, fernetMaxRaw)
		return &b
	}
	v.outs.New = func() any { return new(T) }
	return v, nil
}

// String describes the vault without revealing keys.
func (v *Vault[T]) String() string {
	src := ""
	if v.useCookie {
		src += " cookie " + strconv.Quote(v.cookie.Name)
	}
	if v.header != "" {
		src += " header " + strconv.Quote(v.header)
	}
	if v.bearer {
		src += " bearer"
	}
	return fmt.Sprintf("authix.Vault[%s]{ttl: %v, sources:%s}", v.name, v.ttl, src)
}

// GoString describes the vault without revealing keys.
func (v *Vault[T]) GoString() string { return v.String() }

// Format prints String for every verb, so that no verb reveals key bytes.
func (v *Vault[T]) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, v.String()) }

// TTL reports how long the tokens of a normal login stay valid.
func (v *Vault[T]) TTL() time.Duration { return v.ttl }

// LoginOption chooses, per login, what SetAccessToken and IssueAccessToken
// seal. It is a value, not a function, so that issuing a token does not
// allocate for it; the zero LoginOption changes nothing.
type LoginOption struct {
	remember bool
	set      bool
}

// RememberMe(true) makes a login's token live for the remember-me lifetime
// (WithRememberMe, DefaultRememberMe) in a persistent cookie, instead of
// the TTL in a browser-session cookie. RememberMe(false) is a normal login,
// so a form's checkbox can be passed as it is.
func RememberMe(remember bool) LoginOption { return LoginOption{remember: remember, set: true} }

// CreateAccessToken seals payload into the token of a normal login, which
// expires one TTL from now whatever TTL its readers have. It fails with
// ErrPayloadType for a nil payload or, in auto mode, a payload of another
// type than the first, with ErrUnsupportedPayload for a payload that does
// not encode as a JSON object, and with ErrTokenTooLarge for a token over
// MaxTokenSize bytes.
func (v *Vault[T]) CreateAccessToken(payload T) (string, error) {
	tok, _, err := v.issue(payload, nil, false)
	return tok, err
}

// IssueAccessToken is CreateAccessToken for a login chosen by opts, and
// also returns what the token says about itself, such as its ExpiresAt for
// an API login to answer with. It fails as CreateAccessToken does.
func (v *Vault[T]) IssueAccessToken(payload T, opts ...LoginOption) (string, TokenInfo, error) {
	return v.issue(payload, opts, true)
}

func (v *Vault[T]) issue(payload T, opts []LoginOption, withID bool) (string, TokenInfo, error) {
	var m sealed
	for _, o := range opts {
		if o.set {
			m.rem = o.remember
		}
	}
	now := v.now()
	m.exp = now.Add(v.lifetime(m)).Unix()
	if v.subject != nil {
		// The cut-off in force, not this replica's clock, is what a later
		// LogoutEverywhere is compared with.
		cut, err := v.subjects.SubjectCutoff(context.Background(), subjectKey(v.subject(payload)))
		if err != nil {
			return "", TokenInfo{}, fmt.Errorf("%w: %w", ErrRevocationStore, err)
		}
		m.sv, m.hasSV = unixMicro(cut), true
	}
	if v.sliding {
		if err := v.newSession(&m, now); err != nil {
			return "", TokenInfo{}, err
		}
	}
	return v.seal(payload, m, now, withID)
}

// newSession gives m a fresh session id, and the absolute lifetime of a
// session that started at start.
func (v *Vault[T]) newSession(m *sealed, start time.Time) error {
	if _, err := rand.Read(m.sid[:]); err != nil {
		return fmt.Errorf("authix: reading a random session id: %w", err)
	}
	m.abs = start.Add(max(v.session, v.lifetime(*m))).Unix()
	return nil
}

// LogoutEverywhere refuses every token of subject (as WithSubject names
// it) issued up to now, on this vault and on every vault that shares its
// store and keys, including tokens fastapi-authix sealed: sessions on
// other devices end, renewals included, and a login after it is accepted,
// in the same second too. The record lasts as long as such a token could
// still be accepted. It fails with ErrInvalidOption without WithSubject,
// and wraps ErrRevocationStore when the store fails.
func (v *Vault[T]) LogoutEverywhere(ctx context.Context, subject string) error {
	if v.subject == nil {
		return fmt.Errorf("%w: LogoutEverywhere needs WithSubject", ErrInvalidOption)
	}
	if !utf8.ValidString(subject) {
		return fmt.Errorf("%w: LogoutEverywhere: subject %q is not valid UTF-8, so no token carries it", ErrInvalidOption, subject)
	}
	// Renewals keep a session's tokens under the cut-off they started with
	// until the session's absolute end, so the record outlives the longest
	// session as well as the longest token.
	now := v.now()
	until := now.Add(v.longest())
	if err := v.subjects.RevokeSubject(ctx, subjectKey(subject), now, until); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return nil
}

// subjectKey is the store's name for a subject: a fixed size whatever the
// subject, hashed on the stack since every request asks for it.
func subjectKey(subject string) SubjectID {
	const label = "authix subject\x00"
	var buf [64]byte
	return sha256.Sum256(append(append(buf[:0], label...), subject...))
}

var errSubjectRevoked = fmt.Errorf("%w: every token of its subject was revoked", ErrRevokedToken)

// checkSubject refuses a token of a subject logged out everywhere after
// the token was issued.
func (v *Vault[T]) checkSubject(ctx context.Context, payload T, info *TokenInfo, m sealed) error {
	cutoff, err := v.subjects.SubjectCutoff(ctx, subjectKey(v.subject(payload)))
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	case cutoff.IsZero():
		return nil
	}
	if subjectVersion(m, *info) < cutoff.UnixMicro() {
		return errSubjectRevoked
	}
	return nil
}

// subjectVersion is the newest cut-off a token was issued under: sealed
// since "sv"; for older tokens and fastapi-authix's (which count from the
// start of their second), just before their issue time.
func subjectVersion(m sealed, info TokenInfo) int64 {
	if m.hasSV {
		return m.sv
	}
	return info.IssuedAt.UnixMicro() + m.us - 1
}

// unixMicro is t in Unix microseconds, 0 for the zero time.
func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// longest is how long a token or a session the vault issues can last.
func (v *Vault[T]) longest() time.Duration {
	if v.sliding {
		return max(v.cipher.TTL(), v.session)
	}
	return v.cipher.TTL()
}

// lifetime is how long each token of a login lives.
func (v *Vault[T]) lifetime(m sealed) time.Duration {
	if m.rem {
		return v.remember
	}
	return v.ttl
}

// seal makes the token for payload with m sealed in it, issued at now, and
// what it says about itself; its id (one more Open) only when withID is set.
func (v *Vault[T]) seal(payload T, m sealed, now time.Time, withID bool) (string, TokenInfo, error) {
	if err := v.checkPayload(payload); err != nil {
		return "", TokenInfo{}, err
	}
	opts := v.opts
	if v.auto {
		opts = numberOptions
	}
	enc, err := json.Marshal(payload, opts)
	if err != nil {
		return "", TokenInfo{}, fmt.Errorf("%w: %w", ErrUnsupportedPayload, err)
	}
	pp, tp := v.bufs.Get().(*[]byte), v.bufs.Get().(*[]byte)
	plain, err := appendSealed((*pp)[:0], m, enc)
	var tok []byte
	if err == nil {
		tok, err = v.cipher.Seal((*tp)[:0], plain, now)
	}
	s := string(tok)
	v.putBuf(pp, plain)
	v.putBuf(tp, tok)
	if err != nil {
		return "", TokenInfo{}, err
	}
	if len(s) > MaxTokenSize {
		return "", TokenInfo{}, errSealTooLarge
	}
	info := TokenInfo{IssuedAt: time.Unix(now.Unix(), 0), ExpiresAt: time.Unix(m.exp, 0), Remembered: m.rem}
	if m.abs != 0 {
		info.SessionExpiresAt = time.Unix(m.abs, 0)
	}
	if withID {
		// The id is the cipher's to compute: open the token as a reader will.
		bp := v.bufs.Get().(*[]byte)
		opened, _, read, _, err := v.openToken((*bp)[:0], s, now)
		v.putBuf(bp, opened)
		if err != nil {
			return "", TokenInfo{}, err
		}
		info.ID, info.KeyIndex = read.ID, read.KeyIndex
	}
	return s, info, nil
}

func (v *Vault[T]) checkPayload(payload T) error {
	if !v.nilable {
		return nil
	}
	rv := reflect.ValueOf(any(payload))
	if !rv.IsValid() || isNil(rv) {
		return fmt.Errorf("%w: payload is nil", ErrPayloadType)
	}
	if !v.auto {
		return nil
	}
	dt := rv.Type()
	rec := v.autoType.Load()
	if rec == nil {
		if err := checkPayloadType(dt); err != nil {
			return err
		}
		v.autoType.CompareAndSwap(nil, &dt)
		rec = v.autoType.Load()
	}
	if *rec != dt {
		return fmt.Errorf("%w: vault carries %s, got %s", ErrPayloadType, *rec, dt)
	}
	return nil
}

func isNil(rv reflect.Value) bool {
	switch rv.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.Interface, reflect.Func, reflect.Chan:
		return rv.IsNil()
	}
	return false
}

func (v *Vault[T]) putBuf(bp *[]byte, used []byte) {
	if cap(used) <= 2*fernetMaxRaw {
		*bp = used[:0]
	}
	v.bufs.Put(bp)
}

// DecodeAccessToken opens token and decodes its payload. It does not consult
// the revocation store; Authenticate and RequireData do. Errors wrap
// ErrInvalidToken or ErrExpiredToken.
func (v *Vault[T]) DecodeAccessToken(token string) (T, error) {
	bp := v.bufs.Get().(*[]byte)
	plain, payload, _, _, err := v.openToken((*bp)[:0], token, v.now())
	// The pointer escapes into json; a pooled value keeps the result off
	// the heap.
	p := v.outs.Get().(*T)
	if err == nil {
		err = v.decode(payload, p)
	}
	v.putBuf(bp, plain)
	out := *p
	var zero T
	*p = zero
	v.outs.Put(p)
	return out, err
}

var jsonNull = []byte("null")

// decode reads a payload object into *out, or leaves it zero and fails.
// The buffer is the vault's, reused by later requests: json copies what it
// keeps.
func (v *Vault[T]) decode(payload []byte, out *T) error {
	var err error
	switch {
	case bytes.Equal(bytes.TrimSpace(payload), jsonNull):
		err = fmt.Errorf("%w: payload is null", ErrInvalidToken)
	case v.auto:
		err = v.decodeAuto(payload, out)
	default:
		if err = json.Unmarshal(payload, out, v.opts); err != nil {
			err = fmt.Errorf("%w: payload does not decode into %s: %w", ErrInvalidToken, v.name, err)
		}
	}
	if err != nil {
		var zero T
		*out = zero
	}
	return err
}

func (v *Vault[T]) decodeAuto(payload []byte, out *T) error {
	target := reflect.TypeFor[map[string]any]()
	if rec := v.autoType.Load(); rec != nil {
		target = *rec
	}
	p := reflect.New(target)
	if err := json.Unmarshal(payload, p.Interface(), numberOptions); err != nil {
		return fmt.Errorf("%w: payload does not decode into %s: %w", ErrInvalidToken, target, err)
	}
	// New refuses interfaces with methods, so every target is a T.
	*out = p.Elem().Interface().(T)
	return nil
}

// DisableAccessToken revokes token until it would have expired, so that
// Authenticate and RequireData refuse it even though it is authentic. Other
// tokens of its session stay valid; Logout ends them all. An already
// expired token is left alone (nil error). A token that does not open is
// ErrInvalidToken; a store failure wraps ErrRevocationStore.
func (v *Vault[T]) DisableAccessToken(ctx context.Context, token string) error {
	info, _, expired, err := v.openInfo(token, v.now())
	if err != nil || expired {
		return err
	}
	return v.revoke(ctx, info.ID, info.ExpiresAt)
}

func (v *Vault[T]) revoke(ctx context.Context, id TokenID, until time.Time) error {
	if err := v.store.Revoke(ctx, id, until); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return nil
}

// endSession revokes every token of m's session until its sealed absolute
// end, which no token of it outlives whichever replica renewed it.
func (v *Vault[T]) endSession(ctx context.Context, m sealed, now time.Time) error {
	if !m.hasSession() {
		return nil
	}
	until := time.Unix(m.abs, 0)
	if m.abs == 0 {
		until = now.Add(v.longest())
	}
	return v.revoke(ctx, sessionKey(m.sid), until)
}

// IsTokenDisabled reports whether token, or its session, was revoked and
// has not yet expired. A token that does not open is ErrInvalidToken; a
// store failure wraps ErrRevocationStore.
func (v *Vault[T]) IsTokenDisabled(ctx context.Context, token string) (bool, error) {
	info, m, expired, err := v.openInfo(token, v.now())
	if err != nil || expired {
		return false, err
	}
	err = v.checkRevoked(ctx, info.ID, m)
	if errors.Is(err, ErrRevokedToken) {
		return true, nil
	}
	return false, err
}

// openInfo opens token for what it says about itself. An authentic token
// past its expiry is reported as expired, not as an error: no revocation
// concerns it any more.
func (v *Vault[T]) openInfo(token string, now time.Time) (info TokenInfo, m sealed, expired bool, err error) {
	bp := v.bufs.Get().(*[]byte)
	plain, _, info, m, err := v.openToken((*bp)[:0], token, now)
	if errors.Is(err, ErrExpiredToken) && len(plain) == 0 {
		// The cipher's own lifetime ended it before the plaintext was read;
		// opened as of its issue time, it still names its session.
		plain, _, info, m, err = v.openToken(plain[:0], token, info.IssuedAt)
		if err == nil {
			err = errTokenExpired
		}
	}
	v.putBuf(bp, plain)
	if errors.Is(err, ErrExpiredToken) {
		return info, m, true, nil
	}
	return info, m, false, err
}

// checkRevoked asks the store about the token and its session: nil, or an
// error wrapping ErrRevokedToken or ErrRevocationStore.
func (v *Vault[T]) checkRevoked(ctx context.Context, id TokenID, m sealed) error {
	revoked, err := v.store.IsRevoked(ctx, id)
	if err == nil && !revoked && m.hasSession() {
		revoked, err = v.store.IsRevoked(ctx, sessionKey(m.sid))
	}
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	case revoked:
		return ErrRevokedToken
	}
	return nil
}
