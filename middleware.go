package authix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

type source uint8

const (
	fromNone source = iota
	fromCookie
	fromHeader
	fromBearer
)

// SetAccessToken seals payload and sets it as the token cookie on w, with
// the template's attributes (DefaultCookie: HttpOnly, Secure, SameSite=Lax,
// Path=/, Max-Age = TTL). A Set-Cookie header over MaxTokenSize bytes, which
// browsers would drop, is ErrTokenTooLarge and nothing is written. With
// WithoutCookie it fails, and callers send CreateAccessToken's token
// themselves.
func (v *Vault[T]) SetAccessToken(w http.ResponseWriter, payload T) error {
	if !v.useCookie {
		return fmt.Errorf("%w: SetAccessToken: the vault has no cookie (WithoutCookie); send the token from CreateAccessToken instead", ErrInvalidOption)
	}
	tok, err := v.CreateAccessToken(payload)
	if err != nil {
		return err
	}
	c := v.cookie
	c.Value = tok
	line := c.String()
	if len(line) > MaxTokenSize {
		return fmt.Errorf("%w: Set-Cookie would be %d bytes, browsers keep %d", ErrTokenTooLarge, len(line), MaxTokenSize)
	}
	w.Header().Add("Set-Cookie", line)
	return nil
}

// RemoveAccessToken tells the browser to delete the token cookie: same name,
// path and domain, Max-Age=0. It does not revoke the token; see
// DisableAccessToken. With WithoutCookie it does nothing.
func (v *Vault[T]) RemoveAccessToken(w http.ResponseWriter) {
	if !v.useCookie {
		return
	}
	c := v.cookie
	c.Value = ""
	c.MaxAge = -1
	c.Expires = time.Unix(0, 0)
	w.Header().Add("Set-Cookie", c.String())
}

// ExtractAccessToken returns the token r carries, without checking it: the
// cookie first, then the WithHeader header, then Authorization: Bearer, as
// far as each is on. It reports false when none carries a token.
func (v *Vault[T]) ExtractAccessToken(r *http.Request) (string, bool) {
	tok, src := v.extract(r)
	return tok, src != fromNone
}

func (v *Vault[T]) extract(r *http.Request) (string, source) {
	if v.useCookie {
		if tok := cookieValue(r.Header["Cookie"], v.cookie.Name); tok != "" {
			return tok, fromCookie
		}
	}
	if v.header != "" {
		if vals := r.Header[v.header]; len(vals) > 0 && vals[0] != "" {
			return vals[0], fromHeader
		}
	}
	if v.bearer {
		if vals := r.Header["Authorization"]; len(vals) > 0 {
			const scheme = "Bearer "
			if a := vals[0]; len(a) > len(scheme) && strings.EqualFold(a[:len(scheme)], scheme) {
				return strings.TrimSpace(a[len(scheme):]), fromBearer
			}
		}
	}
	return "", fromNone
}

// cookieValue finds the first cookie called name in the Cookie header lines,
// as http.Request.Cookie does, without parsing the others.
func cookieValue(lines []string, name string) string {
	for _, line := range lines {
		for len(line) > 0 {
			var part string
			part, line, _ = strings.Cut(line, ";")
			part = strings.TrimSpace(part)
			k, val, ok := strings.Cut(part, "=")
			if !ok || k != name {
				continue
			}
			if len(val) > 1 && val[0] == '"' && val[len(val)-1] == '"' {
				val = val[1 : len(val)-1]
			}
			return val
		}
	}
	return ""
}

// Authenticate checks the token r carries, as RequireData does, and returns
// its payload, without writing a response. In order: a token must be present
// (ErrMissingToken); a cookie token on an unsafe cross-origin request is
// refused (ErrCrossOrigin); the token must open (ErrInvalidToken,
// ErrExpiredToken), must not be revoked (ErrRevokedToken, or
// ErrRevocationStore when the store fails), and must decode into T.
func (v *Vault[T]) Authenticate(r *http.Request) (T, error) {
	tok, src := v.extract(r)
	switch {
	case src == fromNone:
		var zero T
		return zero, ErrMissingToken
	case src == fromCookie && v.cop != nil:
		if err := v.cop.Check(r); err != nil {
			var zero T
			return zero, fmt.Errorf("%w: %w", ErrCrossOrigin, err)
		}
	}
	return v.authenticate(r.Context(), tok)
}

func (v *Vault[T]) authenticate(ctx context.Context, token string) (T, error) {
	var out T
	bp := v.bufs.Get().(*[]byte)
	plain, payload, info, err := v.openToken((*bp)[:0], token, v.now())
	if err == nil {
		var revoked bool
		revoked, err = v.isRevoked(ctx, info.ID)
		if err == nil && revoked {
			err = ErrRevokedToken
		}
	}
	if err == nil {
		out, err = v.decode(payload)
	}
	v.putBuf(bp, plain)
	return out, err
}

// RequireData is middleware that lets a request through only with a valid
// token, and puts its payload into the request context for Data. Otherwise
// the handler does not run: the error handler answers (DefaultErrorHandler:
// 401, or 403 for a cross-origin request). Use it as
// vault.RequireData(handler), or with routers as r.Use(vault.RequireData).
func (v *Vault[T]) RequireData(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		data, err := v.Authenticate(r)
		if err != nil {
			v.Reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(v.WithData(r.Context(), data)))
	})
}

// Reject answers a request that Authenticate refused with err, as
// RequireData does: the cross-origin deny handler for ErrCrossOrigin when one
// is set, otherwise the error handler (DefaultErrorHandler unless
// WithErrorHandler replaced it). Adapters for frameworks whose middleware is
// not func(http.Handler) http.Handler call Authenticate, then Reject.
func (v *Vault[T]) Reject(w http.ResponseWriter, r *http.Request, err error) {
	if v.deny != nil && errors.Is(err, ErrCrossOrigin) {
		v.deny.ServeHTTP(w, r)
		return
	}
	v.onError(w, r, err)
}

// OptionalData is middleware that never rejects: with a valid token the
// payload is in the context as with RequireData; without one, Data reports
// false.
func (v *Vault[T]) OptionalData(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if data, err := v.Authenticate(r); err == nil {
			r = r.WithContext(v.WithData(r.Context(), data))
		}
		next.ServeHTTP(w, r)
	})
}

// Data returns the payload RequireData or OptionalData put into ctx for
// this vault. It reports false, and never panics, when there is none.
func (v *Vault[T]) Data(ctx context.Context) (T, bool) {
	if ctx != nil {
		if c, ok := ctx.Value(v).(*dataContext[T]); ok {
			return c.data, true
		}
	}
	var zero T
	return zero, false
}

// WithData returns a copy of ctx that carries data for this vault's Data,
// as RequireData does; handy for testing handlers.
func (v *Vault[T]) WithData(ctx context.Context, data T) context.Context {
	return &dataContext[T]{Context: ctx, vault: v, data: data}
}

// dataContext holds the payload inline, so attaching it costs one
// allocation. Its key is the vault itself, so vaults never see each other's
// payloads.
type dataContext[T any] struct {
	context.Context
	vault *Vault[T]
	data  T
}

func (c *dataContext[T]) Value(key any) any {
	if k, ok := key.(*Vault[T]); ok && k == c.vault {
		return c
	}
	return c.Context.Value(key)
}

func (c *dataContext[T]) String() string { return "authix.WithData" }

// DefaultErrorHandler is how RequireData rejects a request unless
// WithErrorHandler replaces it: 403 for ErrCrossOrigin, otherwise 401, with
// a JSON body that is the same for every token failure so that clients learn
// nothing about which check failed, and Cache-Control: no-store.
func DefaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	if errors.Is(err, ErrCrossOrigin) {
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"detail":"Cross-origin request denied"}` + "\n"))
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"detail":"Not authenticated"}` + "\n"))
}
