package authix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-json-experiment/json"
)

// Vault issues, reads and revokes access tokens that carry a payload of
// type T. Create one with New and share it: its methods are safe for
// concurrent use, and its configuration never changes after New.
type Vault[T any] struct {
	settings
	subject  func(T) string // nil: no subject checks
	reload   func(context.Context, T) (T, error)
	autoType atomic.Pointer[reflect.Type] // auto mode: the first payload's type
	bufs     sync.Pool                    // *[]byte, plaintext buffers
	outs     sync.Pool                    // *T, to decode into without an allocation per call
}

// settings is a vault's configuration as New validated it.
type settings struct {
	cipher    Cipher
	store     RevocationStore
	subjects  SubjectStore // the store, under WithSubject
	devices   DeviceStore  // the store, under WithSubject, when it lists devices
	purpose   string
	fields    map[string]bool // a struct T's JSON names: a payload must set one, or be empty
	now       func() time.Time
	ttl       time.Duration // a normal login's token lifetime
	remember  time.Duration // a remember-me token's lifetime
	sliding   bool
	renewAt   time.Duration // 0: half the token's lifetime
	session   time.Duration // a sliding session's absolute lifetime
	cookie    http.Cookie
	useCookie bool
	header    string // canonical; empty when off
	bearer    bool
	cop       *http.CrossOriginProtection // nil when off
	ownCOP    bool                        // cop is the caller's: refuse as its Handler does
	onError   func(http.ResponseWriter, *http.Request, error)
	logger    *slog.Logger // nil: log nothing
	opts      json.Options // the payload type's
	nilable   bool         // T is a pointer, map, slice or interface
	auto      bool         // T is an interface: the first payload's type is recorded
	name      string       // T's
}

// New returns a Vault for payloads of type T (see "Payloads" in the package
// doc), configured by opts, each of which states its default. A configuration
// New cannot use fails with ErrInvalidOption saying what to fix; a T that
// JSON cannot carry fails with ErrUnsupportedPayload naming the field.
// Vaults that share keys accept each other's tokens unless WithPurpose sets
// them apart.
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
	s, err := cfg.validate(reflect.TypeFor[T]())
	if err != nil {
		return nil, err
	}
	v := &Vault[T]{settings: s}
	// validate checked the function types.
	v.subject, _ = cfg.subject.(func(T) string)
	v.reload, _ = cfg.reload.(func(context.Context, T) (T, error))
	v.bufs.New = func() any {
		b := make([]byte, 0, fernetMaxRaw)
		return &b
	}
	v.outs.New = func() any { return new(T) }
	if v.cop != nil && !v.ownCOP {
		// A login form behind CrossOriginProtection().Handler is refused,
		// and logged, as the vault's own routes are.
		v.cop.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v.Reject(w, r, ErrCrossOrigin)
		}))
	}
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
	var b strings.Builder
	fmt.Fprintf(&b, "authix.Vault[%s]{ttl: %v, remember-me: %v", v.name, v.ttl, v.remember)
	if v.sliding {
		renew := "half the lifetime"
		if v.renewAt != 0 {
			renew = v.renewAt.String()
		}
		fmt.Fprintf(&b, ", sliding: renew after %s, session %v", renew, v.session)
	}
	if v.purpose != "" {
		fmt.Fprintf(&b, ", purpose: %q", v.purpose)
	}
	if v.subject != nil {
		b.WriteString(", subject checks")
	}
	fmt.Fprintf(&b, ", sources:%s}", src)
	return b.String()
}

// Format prints String for every verb, so that no verb reveals key bytes.
func (v *Vault[T]) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, v.String()) }

// LoginOption chooses, per login, what SetAccessToken and IssueAccessToken
// seal. It is a value, so that a login does not allocate for it; the zero
// LoginOption changes nothing.
type LoginOption struct {
	remember, set bool
	label         string
}

// RememberMe(true) makes a login's token live for the remember-me lifetime
// (WithRememberMe) in a persistent cookie, instead of the TTL in a
// browser-session cookie. RememberMe(false) is a normal login, so a form's
// checkbox can be passed as it is.
func RememberMe(remember bool) LoginOption { return LoginOption{remember: remember, set: true} }

// DeviceLabel names a login's session in the devices list (Devices), such
// as "Firefox on Linux": the app chooses it, and nothing else about the
// client is kept. It is cut to 64 bytes.
func DeviceLabel(label string) LoginOption {
	return LoginOption{label: clip(strings.ToValidUTF8(label, "\uFFFD"), 64)}
}

// CreateAccessToken seals payload into the token of a normal login. It
// fails with ErrPayloadType for a nil payload (or, in auto mode, one of
// another type than the first), with ErrUnsupportedPayload for a payload
// that does not encode as a JSON object or holds invalid UTF-8, and with
// ErrTokenTooLarge for a token over MaxTokenSize bytes.
func (v *Vault[T]) CreateAccessToken(payload T) (string, error) {
	tok, _, err := v.issue(payload, nil)
	return tok, err
}

// IssueAccessToken is CreateAccessToken for a login chosen by opts, and
// also returns what the token says about itself, such as the ExpiresAt an
// API login answers with.
func (v *Vault[T]) IssueAccessToken(payload T, opts ...LoginOption) (string, TokenInfo, error) {
	return v.issue(payload, opts)
}

func (v *Vault[T]) issue(payload T, opts []LoginOption) (string, TokenInfo, error) {
	var (
		m     sealed
		label string
	)
	for _, o := range opts {
		if o.set {
			m.rem = o.remember
		}
		if o.label != "" {
			label = o.label
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
	tok, info, err := v.seal(payload, m, now)
	if err == nil && v.devices != nil && m.hasSession() {
		rec := deviceRecord{Label: label, Started: now.Unix(), Seen: now.Unix(), Ends: m.abs, Rem: m.rem}
		err = v.saveDevice(context.Background(), payload, m.sid, rec)
	}
	if err != nil {
		return "", TokenInfo{}, err
	}
	return tok, info, nil
}

// seal makes the token for payload with m sealed in it, issued at now, and
// what it says about itself.
func (v *Vault[T]) seal(payload T, m sealed, now time.Time) (string, TokenInfo, error) {
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
	var (
		tok  []byte
		info TokenInfo
	)
	if err == nil {
		tok, info, err = v.cipher.Seal((*tp)[:0], plain, now)
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
	info.ExpiresAt, info.Remembered, info.AuthenticatedAt = time.Unix(m.exp, 0), m.rem, authenticatedAt(m, info.IssuedAt)
	if m.abs != 0 {
		info.SessionExpiresAt = time.Unix(m.abs, 0)
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

// DecodeAccessToken opens token and decodes its payload. It does not ask
// the revocation store; Authenticate and RequireData do. Errors wrap
// ErrInvalidToken or ErrExpiredToken.
func (v *Vault[T]) DecodeAccessToken(token string) (T, error) {
	p := v.outs.Get().(*T)
	_, err := v.openInto(token, v.now(), p)
	out := *p
	var zero T
	*p = zero
	v.outs.Put(p)
	return out, err
}

// opened is what an authentic token says about itself.
type opened struct {
	info    TokenInfo
	m       sealed
	expired bool // openInfo: past its expiry, opened as of its issue time
}

// openInto opens token at now and decodes its payload into *out, a zero
// value, or leaves it zero and fails. The plaintext lives in a pooled
// buffer for as long as the call.
func (v *Vault[T]) openInto(token string, now time.Time, out *T) (opened, error) {
	bp := v.bufs.Get().(*[]byte)
	plain, payload, o, err := v.open((*bp)[:0], token, now)
	if err == nil {
		err = v.decode(payload, out)
	}
	v.putBuf(bp, plain)
	return o, err
}

// open opens token at now into dst and finds its payload and lifetime: the
// sealed expiry when there is one, else the vault's TTL. An authentic token
// past its expiry fails with ErrExpiredToken, with o filled in as far as
// the token could be read.
func (v *Vault[T]) open(dst []byte, token string, now time.Time) (plain, payload []byte, o opened, err error) {
	plain, o.info, err = v.cipher.Open(dst, token, now)
	if err != nil {
		return plain, nil, o, err
	}
	m, payload, ok, err := splitSealed(plain[len(dst):])
	if err != nil {
		return plain, nil, opened{}, err
	}
	o.m = m
	if ok {
		// The writer decides, up to what this reader grants a token of its
		// kind: a payload that merely looks sealed gains nothing.
		lim := o.info.IssuedAt.Unix() + int64((v.lifetime(m)+time.Second-1)/time.Second)
		o.m.exp = min(m.exp, lim)
		o.info.ExpiresAt, o.info.Remembered = time.Unix(o.m.exp, 0), m.rem
		o.info.AuthenticatedAt = authenticatedAt(m, o.info.IssuedAt)
		if m.abs != 0 {
			o.info.SessionExpiresAt = time.Unix(m.abs, 0)
		}
	} else {
		o.info.ExpiresAt = o.info.IssuedAt.Add(v.ttl)
	}
	switch {
	case !now.After(o.info.ExpiresAt):
		return plain, payload, o, nil
	case o.m.abs != 0 && o.m.exp >= o.m.abs:
		return plain, nil, o, errSessionOver
	}
	return plain, nil, o, errTokenExpired
}

// openInfo opens token for what it says about itself, and decodes its
// payload into *out when out is not nil. An authentic token past its
// expiry is reported as expired, not as an error: no revocation concerns
// it any more, though its session may still be alive.
func (v *Vault[T]) openInfo(token string, now time.Time, out *T) (o opened, decoded bool, err error) {
	bp := v.bufs.Get().(*[]byte)
	plain, payload, o, err := v.open((*bp)[:0], token, now)
	if errors.Is(err, ErrExpiredToken) {
		// Opened as of its issue time, it still names its session and
		// subject, even when the cipher's own lifetime ended it.
		plain, payload, o, err = v.open(plain[:0], token, o.info.IssuedAt)
		if err == nil {
			err = errTokenExpired
		}
	}
	o.expired = errors.Is(err, ErrExpiredToken)
	if o.expired {
		err = nil
	}
	if err == nil && out != nil {
		decoded = v.decode(payload, out) == nil
	}
	v.putBuf(bp, plain)
	return o, decoded, err
}

// decode reads a payload object into *out, or leaves it zero and fails.
// The buffer is the vault's, reused by later requests: json copies what it
// keeps.
func (v *Vault[T]) decode(payload []byte, out *T) error {
	var err error
	switch {
	case bytes.Equal(bytes.TrimSpace(payload), []byte("null")):
		err = fmt.Errorf("%w: payload is null", ErrInvalidToken)
	case v.auto:
		err = v.decodeAuto(payload, out)
	default:
		if err = json.Unmarshal(payload, out, v.opts); err != nil {
			err = fmt.Errorf("%w: payload does not decode into %s: %w", ErrInvalidToken, v.name, err)
		} else if v.fields != nil && reflect.ValueOf(out).Elem().IsZero() && !setsAField(payload, v.fields) {
			err = fmt.Errorf("%w: payload sets none of %s's fields: a token of another vault? (see WithPurpose)", ErrInvalidToken, v.name)
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

// authenticate checks token at now as every request path does: it opens
// and decodes into *out, is not revoked, nor its session, and its subject
// was not logged out everywhere since. On failure *out is left zero.
func (v *Vault[T]) authenticate(ctx context.Context, token string, now time.Time, out *T) (opened, error) {
	o, err := v.openInto(token, now, out)
	if err == nil {
		err = v.checkRevoked(ctx, o)
	}
	if err == nil && v.subject != nil {
		err = v.checkSubject(ctx, *out, o)
	}
	if err != nil {
		var zero T
		*out = zero
	}
	return o, err
}

// DisableAccessToken revokes token until it would have expired, so that
// Authenticate and RequireData refuse it although it is authentic; other
// tokens of its session stay valid (Logout ends them all). An expired
// token is left alone (nil error). A token that does not open is
// ErrInvalidToken; a store failure wraps ErrRevocationStore.
func (v *Vault[T]) DisableAccessToken(ctx context.Context, token string) error {
	o, _, err := v.openInfo(token, v.now(), nil)
	if err != nil || o.expired {
		return err
	}
	return v.revoke(ctx, o.info.ID, o.info.ExpiresAt)
}

func (v *Vault[T]) revoke(ctx context.Context, id TokenID, until time.Time) error {
	if err := v.store.Revoke(ctx, id, until); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return nil
}

// IsTokenDisabled reports whether token, or its session, was revoked and
// has not yet expired. A token that does not open is ErrInvalidToken; a
// store failure wraps ErrRevocationStore.
func (v *Vault[T]) IsTokenDisabled(ctx context.Context, token string) (bool, error) {
	o, _, err := v.openInfo(token, v.now(), nil)
	if err != nil || o.expired {
		return false, err
	}
	err = v.checkRevoked(ctx, o)
	if errors.Is(err, ErrRevokedToken) {
		return true, nil
	}
	return false, err
}

// checkRevoked asks the store about the token and its session: nil, or an
// error wrapping ErrRevokedToken or ErrRevocationStore.
func (v *Vault[T]) checkRevoked(ctx context.Context, o opened) error {
	revoked, err := v.store.IsRevoked(ctx, o.info.ID)
	if err == nil && !revoked && o.m.hasSession() {
		revoked, err = v.store.IsRevoked(ctx, sessionKey(o.m.sid))
	}
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	case revoked:
		return ErrRevokedToken
	}
	return nil
}
