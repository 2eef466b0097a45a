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
// Path=/, no Max-Age). A normal login gets a browser-session cookie whose
// token expires on the server after the TTL; RememberMe(true) gets a
// persistent cookie for the remember-me lifetime. The response also gets
// Cache-Control: no-store and Vary: Cookie, so that no shared cache keeps
// the Set-Cookie. A Set-Cookie header over MaxTokenSize bytes, which
// browsers would drop, is ErrTokenTooLarge and nothing is written. It
// fails as IssueAccessToken does, and with ErrInvalidOption under
// WithoutCookie, where callers send IssueAccessToken's token themselves.
func (v *Vault[T]) SetAccessToken(w http.ResponseWriter, payload T, opts ...LoginOption) error {
	if !v.useCookie {
		return fmt.Errorf("%w: SetAccessToken: the vault has no cookie (WithoutCookie); send the token from IssueAccessToken instead", ErrInvalidOption)
	}
	tok, info, err := v.issue(payload, opts, false)
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

// RemoveAccessToken tells the browser to delete the token cookie: same name,
// path and domain, Max-Age=0, with the caching headers SetAccessToken
// writes. It does not revoke the token; Logout does both. With
// WithoutCookie it does nothing.
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

// Logout ends the session of the request r: it revokes the token r carries
// and, for a sliding session, every token of that session, whether the
// token is valid or has expired, and always clears the cookie. It never
// writes a status or a body, so it needs no RequireData in front, and it is
// idempotent. A token that does not open has nothing to revoke. A cookie
// request from another origin is refused with ErrCrossOrigin and changes
// nothing (logout CSRF); a store failure wraps ErrRevocationStore, and the
// cookie is cleared all the same.
func (v *Vault[T]) Logout(w http.ResponseWriter, r *http.Request) error {
	tok, src := v.extract(r)
	if src == fromCookie {
		// A logout changes state whatever its method: a cross-site link
		// must not log the user out, so it is checked as a POST would be.
		post := *r
		post.Method = http.MethodPost
		if err := v.checkOrigin(&post); err != nil {
			return err
		}
	}
	v.RemoveAccessToken(w)
	if src == fromNone {
		return nil
	}
	now := v.now()
	info, m, expired, err := v.openInfo(tok, now)
	if err != nil {
		return nil
	}
	ctx := r.Context()
	var errs []error
	if !expired {
		errs = append(errs, v.revoke(ctx, info.ID, info.ExpiresAt))
	}
	errs = append(errs, v.endSession(ctx, m, now))
	return errors.Join(errs...)
}

// RenewAccessToken exchanges a valid token for a fresh one of the same
// session, and ends the old one: what RequireData does for a cookie under
// WithSliding, for clients that send the token in a header or as Bearer.
// The new token lives one lifetime from now (the TTL, or the remember-me
// lifetime), never past the session's absolute lifetime, and carries the
// payload WithRenewal reloads, if set. It fails as Authenticate does, with
// ErrExpiredToken once the session's absolute lifetime has passed, and
// with ErrSessionEnded when the reload fails.
func (v *Vault[T]) RenewAccessToken(ctx context.Context, token string) (string, TokenInfo, error) {
	now := v.now()
	var (
		data T
		info TokenInfo
	)
	m, err := v.authenticate(ctx, token, now, &data, &info)
	if err != nil {
		return "", TokenInfo{}, err
	}
	if now.Sub(info.IssuedAt) < v.renewAge(info) {
		// Too young to renew: each token can be exchanged once, so the
		// revocations a session causes are bounded by its lifetime, not by
		// how fast a client calls.
		return token, info, nil
	}
	if !m.hasSession() {
		// A token sealed outside a session starts one, bounded from its
		// issue time as a login would be.
		if err := v.newSession(&m, info.IssuedAt); err != nil {
			return "", TokenInfo{}, err
		}
	}
	next, ok := v.renewal(m, info, now)
	if !ok {
		return "", TokenInfo{}, fmt.Errorf("%w: the session's absolute lifetime has passed", ErrExpiredToken)
	}
	_, tok, fresh, err := v.reseal(ctx, data, next, now)
	if err != nil {
		return "", TokenInfo{}, err
	}
	if err := v.revoke(ctx, info.ID, info.ExpiresAt); err != nil {
		return "", TokenInfo{}, err
	}
	return tok, fresh, nil
}

// renewAge is how old a token must be before it is renewed: WithSliding's
// renewAfter, or half the token's lifetime.
func (v *Vault[T]) renewAge(info TokenInfo) time.Duration {
	if v.renewAt != 0 {
		return v.renewAt
	}
	return info.ExpiresAt.Sub(info.IssuedAt) / 2
}

// renewal is what the token after one with m and info seals, issued at now, and
// whether it would live at all.
func (v *Vault[T]) renewal(m sealed, info TokenInfo, now time.Time) (sealed, bool) {
	next := m
	next.exp = now.Add(v.lifetime(m)).Unix()
	if v.subject != nil {
		// The session stays under the cut-off it started with.
		next.sv, next.hasSV, next.us = subjectVersion(m, info), true, 0
	}
	if m.abs != 0 {
		next.exp = min(next.exp, m.abs)
	}
	return next, next.exp > now.Unix()
}

// reseal seals the payload of a renewed token, reloaded if WithRenewal is
// set, and returns it with the token; a failed reload ends the session
// (ErrSessionEnded).
func (v *Vault[T]) reseal(ctx context.Context, data T, next sealed, now time.Time) (T, string, TokenInfo, error) {
	if v.reload != nil {
		fresh, err := v.reload(ctx, data)
		if err != nil {
			err = fmt.Errorf("%w: %w", ErrSessionEnded, err)
			return data, "", TokenInfo{}, errors.Join(err, v.endSession(ctx, next, now))
		}
		data = fresh
	}
	tok, info, err := v.seal(data, next, now, true)
	return data, tok, info, err
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
// ErrExpiredToken), must not be revoked, nor its session (ErrRevokedToken,
// or ErrRevocationStore when the store fails), and must decode into T. It
// never renews a token.
func (v *Vault[T]) Authenticate(r *http.Request) (T, error) {
	var (
		data T
		info TokenInfo
	)
	_, _, err := v.authenticateRequest(r, v.now(), &data, &info)
	return data, err
}

// authenticateRequest is Authenticate writing into *data and *info, so that
// RequireData decodes straight into the context value it hands on.
func (v *Vault[T]) authenticateRequest(r *http.Request, now time.Time, data *T, info *TokenInfo) (sealed, source, error) {
	tok, src := v.extract(r)
	switch {
	case src == fromNone:
		return sealed{}, src, ErrMissingToken
	case src == fromCookie:
		if err := v.checkOrigin(r); err != nil {
			return sealed{}, src, err
		}
	}
	m, err := v.authenticate(r.Context(), tok, now, data, info)
	info.Source = src.name()
	return m, src, err
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

// CrossOriginProtection returns the protection the vault applies to
// cookie-authenticated requests (see WithCrossOriginProtection), or nil
// when it is off, so that routes not behind RequireData, such as a login
// form's POST (login CSRF), are protected the same way:
//
//	mux.Handle("POST /login", vault.CrossOriginProtection().Handler(login))
//
// It is safe for concurrent use; changing it changes the vault's checks.
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

func (v *Vault[T]) authenticate(ctx context.Context, token string, now time.Time, out *T, info *TokenInfo) (sealed, error) {
	bp := v.bufs.Get().(*[]byte)
	plain, payload, ti, m, err := v.openToken((*bp)[:0], token, now)
	*info = ti
	if err == nil {
		err = v.checkRevoked(ctx, info.ID, m)
	}
	if err == nil {
		err = v.decode(payload, out)
	}
	if err == nil && v.subject != nil {
		if err = v.checkSubject(ctx, *out, info, m); err != nil {
			var zero T
			*out = zero
		}
	}
	v.putBuf(bp, plain)
	return m, err
}

// RequireData is middleware that lets a request through only with a valid
// token, and puts its payload into the request context for Data and its
// TokenInfo for Info. Otherwise the handler does not run: the error handler
// answers (DefaultErrorHandler: 401, or 403 for a cross-origin request).
// Under WithSliding it renews a cookie token past its renewal age. Use it
// as vault.RequireData(handler), or with routers as r.Use(vault.RequireData).
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

// admit authenticates r into the context value RequireData hands on and,
// for a sliding cookie session past its renewal age, sets a fresh token on
// w.
func (v *Vault[T]) admit(w http.ResponseWriter, r *http.Request) (*dataContext[T], error) {
	c := &dataContext[T]{Context: r.Context(), vault: v}
	now := v.now()
	m, src, err := v.authenticateRequest(r, now, &c.data, &c.info)
	if err != nil || !v.sliding || src != fromCookie || !m.hasSession() {
		return c, err
	}
	if now.Sub(c.info.IssuedAt) < v.renewAge(c.info) {
		return c, nil
	}
	// A renewal that cannot move the expiry (a remembered login, whose
	// expiry is its session's end) still reloads the payload.
	next, ok := v.renewal(m, c.info, now)
	if !ok || next.exp <= m.exp && v.reload == nil {
		return c, nil // the session's absolute lifetime allows no more
	}
	data, tok, fresh, err := v.reseal(r.Context(), c.data, next, now)
	switch {
	case errors.Is(err, ErrSessionEnded):
		v.RemoveAccessToken(w)
		return nil, err
	case err != nil || v.setCookie(w, tok, fresh, now) != nil:
		return c, nil // keep the valid token this request came with
	}
	fresh.Source = c.info.Source
	c.data, c.info = data, fresh
	return c, nil
}

// Reject answers a request that Authenticate refused with err, as
// RequireData does: for ErrCrossOrigin under a WithCrossOriginProtection of
// the caller's, as that protection's Handler answers; otherwise the error
// handler (DefaultErrorHandler unless WithErrorHandler replaced it), after a WWW-Authenticate: Bearer header
// when the vault reads Bearer tokens and err is not ErrForbidden. Adapters for frameworks whose middleware is
// not func(http.Handler) http.Handler call Authenticate, then Reject.
func (v *Vault[T]) Reject(w http.ResponseWriter, r *http.Request, err error) {
	v.logRejection(r, err, "rejected")
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

// Info returns what the token of the request said about itself, as
// RequireData or OptionalData put it into ctx for this vault: its id, when
// it was issued and expires, where it came from, its session's limit. After
// a renewal it describes the new token. It reports false, and never panics,
// when there is none.
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
}

func (c *dataContext[T]) Value(key any) any {
	if k, ok := key.(*Vault[T]); ok && k == c.vault {
		return c
	}
	return c.Context.Value(key)
}

func (c *dataContext[T]) String() string { return "authix.WithData" }

// DefaultErrorHandler is how RequireData rejects a request unless
// WithErrorHandler replaces it: 403 for ErrCrossOrigin and ErrForbidden,
// otherwise 401, with
// a JSON body that is the same for every token failure so that clients learn
// nothing about which check failed, and Cache-Control: no-store.
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
