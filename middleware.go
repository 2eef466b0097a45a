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

// SetAccessToken seals payload, as IssueAccessToken does, into the token
// cookie on w: a browser-session cookie for a normal login, a persistent one
// for RememberMe(true), with Cache-Control: no-store and Vary: Cookie. A
// Set-Cookie over MaxTokenSize bytes is ErrTokenTooLarge and nothing is
// written; under WithoutCookie it is ErrInvalidOption.
func (v *Vault[T]) SetAccessToken(w http.ResponseWriter, payload T, opts ...LoginOption) error {
	if !v.useCookie {
		return fmt.Errorf("%w: SetAccessToken: the vault has no cookie (WithoutCookie); send the token from IssueAccessToken instead", ErrInvalidOption)
	}
	tok, info, err := v.issue(payload, opts)
	if err != nil {
		return err
	}
	return v.setCookie(w, tok, info, v.now())
}

// setCookie writes tok as the token cookie: persistent until the token
// expires for a remembered login, else as the template says.
func (v *Vault[T]) setCookie(w http.ResponseWriter, tok string, info TokenInfo, now time.Time) error {
	c := v.cookie
	c.Value = tok
	if info.Remembered {
		c.MaxAge = max(1, int((info.ExpiresAt.Sub(now)+time.Second-1)/time.Second)) // rounded up
	}
	line := c.String()
	if len(line) > MaxTokenSize {
		return fmt.Errorf("%w: Set-Cookie would be %d bytes, browsers keep %d", ErrTokenTooLarge, len(line), MaxTokenSize)
	}
	h := w.Header()
	h.Add("Set-Cookie", line)
	noStore(h)
	return nil
}

// noStore keeps shared caches from storing a response that sets a cookie.
func noStore(h http.Header) {
	h.Set("Cache-Control", "no-store")
	for _, v := range h.Values("Vary") {
		for f := range strings.SplitSeq(v, ",") {
			if f = strings.TrimSpace(f); f == "*" || strings.EqualFold(f, "Cookie") {
				return
			}
		}
	}
	h.Add("Vary", "Cookie")
}

// RemoveAccessToken tells the browser to delete the token cookie, with the
// attributes and caching headers SetAccessToken writes. It revokes nothing;
// Logout does both.
func (v *Vault[T]) RemoveAccessToken(w http.ResponseWriter) {
	if !v.useCookie {
		return
	}
	c := v.cookie
	c.Value = ""
	c.MaxAge = -1
	c.Expires = time.Unix(0, 0)
	h := w.Header()
	h.Add("Set-Cookie", c.String())
	noStore(h)
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
// its payload without writing a response or renewing the token. In order: a
// token must be present (ErrMissingToken); a cookie token on an unsafe
// cross-origin request is refused (ErrCrossOrigin); the token must open
// (ErrInvalidToken, ErrExpiredToken), must not be revoked, nor its session
// or subject (ErrRevokedToken, or ErrRevocationStore when the store fails),
// and must decode into T.
func (v *Vault[T]) Authenticate(r *http.Request) (T, error) {
	var data T
	_, _, err := v.authenticateRequest(r, v.now(), &data)
	return data, err
}

// authenticateRequest is Authenticate decoding into *data, so that
// RequireData decodes straight into the context value it hands on.
func (v *Vault[T]) authenticateRequest(r *http.Request, now time.Time, data *T) (opened, source, error) {
	tok, src := v.extract(r)
	switch {
	case src == fromNone:
		return opened{}, src, ErrMissingToken
	case src == fromCookie:
		if err := v.checkOrigin(r); err != nil {
			return opened{}, src, err
		}
	}
	o, err := v.authenticate(r.Context(), tok, now, data)
	o.info.Source = src.name()
	return o, src, err
}

var errOriginUserinfo = fmt.Errorf("%w: Origin header carries userinfo, which no browser sends", ErrCrossOrigin)

// checkOrigin applies the vault's cross-origin protection to a request
// authenticated by the cookie, and refuses an unsafe request whose Origin
// carries userinfo: net/http compares only its host with Host.
func (v *Vault[T]) checkOrigin(r *http.Request) error {
	if v.cop == nil {
		return nil
	}
	if err := v.cop.Check(r); err != nil {
		return fmt.Errorf("%w: %w", ErrCrossOrigin, err)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if strings.Contains(r.Header.Get("Origin"), "@") {
		return errOriginUserinfo
	}
	return nil
}

// CrossOriginProtection returns the protection the vault applies to cookie
// requests, or nil when off, so that a login form's POST is protected the
// same way: mux.Handle("POST /login", vault.CrossOriginProtection().Handler(login)).
func (v *Vault[T]) CrossOriginProtection() *http.CrossOriginProtection { return v.cop }

func (s source) name() TokenSource {
	switch s {
	case fromCookie:
		return SourceCookie
	case fromHeader:
		return SourceHeader
	case fromBearer:
		return SourceBearer
	}
	return ""
}

// RequireData is middleware that runs next only for a request that
// Authenticate accepts, with the payload in the context for Data and its
// TokenInfo for Info, and renews a sliding cookie session past its renewal
// age. Otherwise it rejects as Reject does (DefaultErrorHandler: 401, or 403).
func (v *Vault[T]) RequireData(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.admit(w, r)
		if err != nil {
			v.Reject(w, r, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(c))
	})
}

// admit authenticates r into the context value RequireData hands on and
// renews a sliding cookie session past its renewal age.
func (v *Vault[T]) admit(w http.ResponseWriter, r *http.Request) (*dataContext[T], error) {
	c := &dataContext[T]{Context: r.Context(), vault: v}
	now := v.now()
	o, src, err := v.authenticateRequest(r, now, &c.data)
	c.info, c.sid = o.info, o.m.sid
	if err != nil || !v.sliding || src != fromCookie || !o.m.hasSession() {
		return c, err
	}
	if err := v.renewCookie(w, r, c, o, now); err != nil {
		return nil, err
	}
	return c, nil
}

// Reject answers a request that Authenticate refused with err, as RequireData
// does: the error handler, after WWW-Authenticate: Bearer for a 401 when the
// vault reads Bearer tokens, or a WithCrossOriginProtection of the caller's
// for ErrCrossOrigin. Adapters for other middleware shapes call Authenticate,
// then Reject.
func (v *Vault[T]) Reject(w http.ResponseWriter, r *http.Request, err error) {
	v.logRejection(r, err, "rejected")
	v.clearDeadCookie(w, r, err)
	if v.ownCOP && v.cop != nil && errors.Is(err, ErrCrossOrigin) {
		// The caller's protection answers as its Handler would: its deny
		// handler, or net/http's 403. A request it lets through (an Origin
		// with userinfo) goes to the error handler.
		v.cop.Handler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			v.onError(w, r, err)
		})).ServeHTTP(w, r)
		return
	}
	if v.bearer && !errors.Is(err, ErrCrossOrigin) && !errors.Is(err, ErrForbidden) {
		// RFC 6750: a 401 names the scheme the client should use.
		w.Header().Set("WWW-Authenticate", "Bearer")
	}
	v.onError(w, r, err)
}

// clearDeadCookie deletes a cookie whose token was refused as revoked or
// expired: it will never be accepted again, and each page would log it.
func (v *Vault[T]) clearDeadCookie(w http.ResponseWriter, r *http.Request, err error) {
	if !errors.Is(err, ErrRevokedToken) && !errors.Is(err, ErrExpiredToken) {
		return
	}
	if _, src := v.extract(r); src == fromCookie {
		v.RemoveAccessToken(w)
	}
}

// OptionalData is middleware that never rejects: with a valid token the
// payload and its TokenInfo are in the context as with RequireData, and a
// sliding session is renewed as there; without one, Data reports false.
func (v *Vault[T]) OptionalData(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := v.admit(w, r)
		switch {
		case err == nil:
			r = r.WithContext(c)
		case !errors.Is(err, ErrMissingToken):
			// Served as anonymous, but seen: a store failure is not a visitor.
			v.logRejection(r, err, "served as anonymous")
		}
		next.ServeHTTP(w, r)
	})
}

// Data returns the payload RequireData or OptionalData put into ctx for
// this vault. It reports false, and never panics, when there is none.
func (v *Vault[T]) Data(ctx context.Context) (T, bool) {
	if c := v.dataOf(ctx); c != nil {
		return c.data, true
	}
	var zero T
	return zero, false
}

// Info returns what the request's token says about itself (its id, issue
// and expiry times, source, session end), as RequireData or OptionalData put
// it into ctx for this vault; after a renewal, the new token's. It reports
// false, and never panics, when there is none.
func (v *Vault[T]) Info(ctx context.Context) (TokenInfo, bool) {
	if c := v.dataOf(ctx); c != nil {
		return c.info, true
	}
	return TokenInfo{}, false
}

func (v *Vault[T]) dataOf(ctx context.Context) *dataContext[T] {
	if ctx == nil {
		return nil
	}
	c, _ := ctx.Value(v).(*dataContext[T])
	return c
}

// WithData returns a copy of ctx that carries data for this vault's Data,
// as RequireData does, with a zero TokenInfo; handy for testing handlers.
func (v *Vault[T]) WithData(ctx context.Context, data T) context.Context {
	return &dataContext[T]{Context: ctx, vault: v, data: data}
}

// dataContext holds the payload and its token's info inline, so attaching
// them costs one allocation. Its key is the vault itself, so vaults never
// see each other's payloads.
type dataContext[T any] struct {
	context.Context
	vault *Vault[T]
	data  T
	info  TokenInfo
	sid   sessionID // the token's session, for Devices
}

func (c *dataContext[T]) Value(key any) any {
	if k, ok := key.(*Vault[T]); ok && k == c.vault {
		return c
	}
	return c.Context.Value(key)
}

func (c *dataContext[T]) String() string { return "authix.WithData" }

// DefaultErrorHandler is how RequireData rejects unless WithErrorHandler
// replaces it: 403 for ErrCrossOrigin and ErrForbidden, else 401, with a JSON
// body that is the same for every token failure and Cache-Control: no-store.
func DefaultErrorHandler(w http.ResponseWriter, _ *http.Request, err error) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	switch {
	case errors.Is(err, ErrCrossOrigin):
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"detail":"Cross-origin request denied"}` + "\n"))
		return
	case errors.Is(err, ErrForbidden):
		w.WriteHeader(http.StatusForbidden)
		_, _ = w.Write([]byte(`{"detail":"Forbidden"}` + "\n"))
		return
	}
	w.WriteHeader(http.StatusUnauthorized)
	_, _ = w.Write([]byte(`{"detail":"Not authenticated"}` + "\n"))
}
