package authix

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Vault issues, reads and revokes access tokens that carry a payload of
// type T. Create one with New and share it: all its methods are safe for
// concurrent use, and its configuration never changes after New.
type Vault[T any] struct {
	cipher    Cipher
	ser       Serializer // nil: encoding/json directly
	store     RevocationStore
	ttl       int64 // seconds: the lifetime sealed into each new token
	now       func() time.Time
	onError   func(http.ResponseWriter, *http.Request, error)
	cookie    http.Cookie
	useCookie bool
	header    string // canonical; empty when off
	bearer    bool
	cop       *http.CrossOriginProtection // nil when off
	deny      http.Handler

	nilable  bool // T is a pointer, map, slice or interface
	numbers  bool // T holds an interface: JSON numbers decode as json.Number
	auto     bool // T is an interface: the first payload's type is recorded
	autoType atomic.Pointer[reflect.Type]
	name     string

	bufs sync.Pool // *[]byte, plaintext buffers
}

// New returns a Vault for payloads of type T, configured by opts.
//
// With no options, tokens are Fernet tokens under a random per-process key,
// valid for DefaultTTL (one hour), carried in the "access-token" cookie
// (DefaultCookie), revoked in memory (NewMemoryStore), rejected with
// DefaultErrorHandler, and cookie-authenticated requests are protected
// against cross-origin use (see WithTrustedOrigins).
//
// T may be a struct, a pointer to a struct, a map such as map[string]string,
// or an interface such as any: then the first payload's dynamic type is
// recorded, later payloads must have that type, and tokens decoded before
// any payload was sealed come back as map[string]any. A T that JSON cannot
// carry fails with ErrUnsupportedPayload naming the field.
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
		deny:      cfg.deny,
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
	v.numbers = holdsInterface(t)

	switch {
	case cfg.cipher != nil && cfg.keysSet:
		return nil, invalid("WithCipher", "cannot be combined with WithKeys: give the keys to the cipher")
	case cfg.cipher != nil && cfg.ttlSet:
		return nil, invalid("WithCipher", "cannot be combined with WithTTL: the cipher sets the TTL")
	case cfg.cipher != nil:
		v.cipher = cfg.cipher
	default:
		f, err := NewFernet(cfg.ttl, cfg.keys...)
		if err != nil {
			return nil, err
		}
		v.cipher = f
	}

	if v.useCookie {
		if !cfg.insecureCookie && (!v.cookie.HttpOnly || !v.cookie.Secure) {
			return nil, invalid("WithCookie", "template turns off HttpOnly or Secure; start from authix.DefaultCookie(), or add authix.WithInsecureCookie() if you mean it")
		}
		if v.cookie.SameSite == http.SameSiteNoneMode && !v.cookie.Secure {
			return nil, invalid("WithCookie", "SameSite=None requires Secure; browsers drop the cookie otherwise")
		}
		if v.cookie.MaxAge == 0 {
			v.cookie.MaxAge = int(v.cipher.TTL() / time.Second)
		}
	} else if v.header == "" && !v.bearer {
		return nil, invalid("WithoutCookie", "no token source left; add WithHeader or WithBearer")
	}

	if cfg.serializer != nil {
		if _, isJSON := cfg.serializer.(JSON); !isJSON {
			v.ser = cfg.serializer
		}
	}
	if v.store == nil {
		v.store = NewMemoryStore(cfg.now)
	}
	v.ttl = int64(v.cipher.TTL() / time.Second)
	if v.onError == nil {
		v.onError = DefaultErrorHandler
	}
	if !cfg.noCOP {
		v.cop = http.NewCrossOriginProtection()
		for _, o := range cfg.trusted {
			if err := v.cop.AddTrustedOrigin(o); err != nil {
				return nil, invalid("WithTrustedOrigins", "%v", err)
			}
		}
	} else if len(cfg.trusted) > 0 || cfg.deny != nil {
		return nil, invalid("WithoutCrossOriginProtection", "cannot be combined with WithTrustedOrigins or WithCrossOriginDenyHandler")
	}
	v.bufs.New = func() any {
		b := make([]byte, 0, fernetMaxRaw)
		return &b
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
	return fmt.Sprintf("authix.Vault[%s]{ttl: %v, sources:%s}", v.name, v.cipher.TTL(), src)
}

// GoString describes the vault without revealing keys.
func (v *Vault[T]) GoString() string { return v.String() }

// Format prints String for every verb, so that no verb reveals key bytes.
func (v *Vault[T]) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, v.String()) }

// TTL reports how long the tokens this vault seals stay valid.
func (v *Vault[T]) TTL() time.Duration { return v.cipher.TTL() }

// CreateAccessToken seals payload into a token that expires one TTL from
// now, whatever TTL its readers have. It fails with ErrPayloadType for a nil
// payload or, in auto mode, a payload of another type than the first, with
// ErrUnsupportedPayload for a payload that does not encode as a JSON
// object, and with ErrTokenTooLarge for a token over MaxTokenSize bytes.
func (v *Vault[T]) CreateAccessToken(payload T) (string, error) {
	if err := v.checkPayload(payload); err != nil {
		return "", err
	}
	var (
		enc []byte
		err error
	)
	if v.ser != nil {
		enc, err = v.ser.Marshal(payload)
	} else {
		enc, err = json.Marshal(payload)
	}
	if err != nil {
		return "", fmt.Errorf("%w: %w", ErrUnsupportedPayload, err)
	}
	now := v.now()
	pp, tp := v.bufs.Get().(*[]byte), v.bufs.Get().(*[]byte)
	plain, err := appendSealed((*pp)[:0], now.Unix()+v.ttl, enc)
	var tok []byte
	if err == nil {
		tok, err = v.cipher.Seal((*tp)[:0], plain, now)
	}
	s := string(tok)
	v.putBuf(pp, plain)
	v.putBuf(tp, tok)
	if err != nil {
		return "", err
	}
	if len(s) > MaxTokenSize {
		return "", errSealTooLarge
	}
	return s, nil
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
	plain, payload, _, err := v.openToken((*bp)[:0], token, v.now())
	var out T
	if err == nil {
		out, err = v.decode(payload)
	}
	v.putBuf(bp, plain)
	return out, err
}

var jsonNull = []byte("null")

// decode reads a payload object into T. The buffer is the vault's, reused
// by later requests: encoding/json copies what it keeps, and a custom
// Serializer gets a copy of its own.
func (v *Vault[T]) decode(payload []byte) (T, error) {
	var out T
	if bytes.Equal(bytes.TrimSpace(payload), jsonNull) {
		return out, fmt.Errorf("%w: payload is null", ErrInvalidToken)
	}
	if v.auto {
		return v.decodeAuto(payload)
	}
	if err := v.unmarshal(payload, &out); err != nil {
		var zero T
		return zero, fmt.Errorf("%w: payload does not decode into %s: %w", ErrInvalidToken, v.name, err)
	}
	return out, nil
}

func (v *Vault[T]) decodeAuto(payload []byte) (T, error) {
	var zero T
	target := reflect.TypeFor[map[string]any]()
	if rec := v.autoType.Load(); rec != nil {
		target = *rec
	}
	p := reflect.New(target)
	if err := v.unmarshal(payload, p.Interface()); err != nil {
		return zero, fmt.Errorf("%w: payload does not decode into %s: %w", ErrInvalidToken, target, err)
	}
	// New refuses interfaces with methods, so every target is a T.
	return p.Elem().Interface().(T), nil
}

func (v *Vault[T]) unmarshal(data []byte, dst any) error {
	switch {
	case v.ser != nil:
		return v.ser.Unmarshal(bytes.Clone(data), dst)
	case v.numbers:
		// Numbers in an interface keep their exact value: user ids above
		// 2^53 do not collapse onto the nearest float64.
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(dst); err != nil {
			return err
		}
		if _, err := dec.Token(); err != io.EOF {
			return errors.New("data after the payload object")
		}
		return nil
	}
	return json.Unmarshal(data, dst)
}

// DisableAccessToken revokes token until it would have expired, so that
// Authenticate and RequireData refuse it even though it is authentic. An
// already expired token is left alone (nil error). A token that does not
// open is ErrInvalidToken; a store failure wraps ErrRevocationStore.
func (v *Vault[T]) DisableAccessToken(ctx context.Context, token string) error {
	info, expired, err := v.openInfo(token, v.now())
	if err != nil || expired {
		return err
	}
	if err := v.store.Revoke(ctx, info.ID, info.ExpiresAt); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return nil
}

// IsTokenDisabled reports whether token was revoked with DisableAccessToken
// and has not yet expired. A token that does not open is ErrInvalidToken; a
// store failure wraps ErrRevocationStore.
func (v *Vault[T]) IsTokenDisabled(ctx context.Context, token string) (bool, error) {
	info, expired, err := v.openInfo(token, v.now())
	if err != nil || expired {
		return false, err
	}
	return v.isRevoked(ctx, info.ID)
}

// openInfo opens token for what it says about itself. An authentic token
// past its expiry is reported as expired, not as an error: no revocation
// concerns it any more.
func (v *Vault[T]) openInfo(token string, now time.Time) (info TokenInfo, expired bool, err error) {
	bp := v.bufs.Get().(*[]byte)
	plain, _, info, err := v.openToken((*bp)[:0], token, now)
	v.putBuf(bp, plain)
	if errors.Is(err, ErrExpiredToken) {
		return info, true, nil
	}
	return info, false, err
}

func (v *Vault[T]) isRevoked(ctx context.Context, id TokenID) (bool, error) {
	revoked, err := v.store.IsRevoked(ctx, id)
	if err != nil {
		return false, fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return revoked, nil
}
