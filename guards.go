package authix

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Require is middleware that admits a request only when pred holds for its
// payload; behind RequireData or RedirectToLogin it reads their payload, on
// its own it authenticates as RequireData does. A false pred is ErrForbidden
// for the error handler (403). Guards compose.
func (v *Vault[T]) Require(pred func(T) bool) func(http.Handler) http.Handler {
	if pred == nil {
		panic("authix: Require: pred is nil")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := v.dataOf(r.Context())
			if c == nil {
				var err error
				if c, err = v.admit(w, r); err != nil {
					v.Reject(w, r, err)
					return
				}
				r = r.WithContext(c)
			}
			if !pred(c.data) {
				v.Reject(w, r, ErrForbidden)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

// MustData is Data for handlers that only run behind RequireData,
// RedirectToLogin or Require: it panics when ctx carries no payload, so a
// route that lost its middleware fails in its first test.
func (v *Vault[T]) MustData(ctx context.Context) T {
	c := v.dataOf(ctx)
	if c == nil {
		panic("authix: MustData: no payload in the context for this vault; wrap the handler in RequireData, RedirectToLogin or Require")
	}
	return c.data
}

// RedirectToLogin is RequireData for browser routes: an unauthenticated
// request is redirected (303) to loginPath with its path and query in
// "next", for the login handler to return to through SafeNext. Cross-origin
// refusals and store failures go to the error handler, as a new login would
// not help. loginPath must be a path on this site, or it panics.
func (v *Vault[T]) RedirectToLogin(loginPath string) func(http.Handler) http.Handler {
	if SafeNext(loginPath) != loginPath {
		panic("authix: RedirectToLogin: login path " + url.QueryEscape(loginPath) + " is not a path on this site")
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := v.admit(w, r)
			switch {
			case errors.Is(err, ErrCrossOrigin), errors.Is(err, ErrRevocationStore):
				// Logging in again would not help: a store that cannot answer
				// would send the new token back here, round and round.
				v.Reject(w, r, err)
				return
			case err != nil:
				v.logRejection(r, err, "redirected to login")
				v.clearDeadCookie(w, r, err)
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, loginURL(loginPath, r), http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r.WithContext(c))
		})
	}
}

// RequireConfirmed is middleware that admits an authenticated request only
// when its user authenticated within maxAge (login or Confirm), for
// sensitive actions ("sudo mode"). Otherwise a cookie request goes to
// loginPath with "next", as RedirectToLogin sends it, to confirm the
// password; other requests, or all when loginPath is empty, get
// ErrStepUp through the error handler (401) with the RFC 9470 challenge
// WWW-Authenticate: Bearer error="insufficient_user_authentication",
// max_age=… . Unauthenticated requests are refused as RequireData does.
func (v *Vault[T]) RequireConfirmed(maxAge time.Duration, loginPath string) func(http.Handler) http.Handler {
	if maxAge < time.Second {
		panic("authix: RequireConfirmed: maxAge must be at least one second")
	}
	if loginPath != "" && SafeNext(loginPath) != loginPath {
		panic("authix: RequireConfirmed: login path " + url.QueryEscape(loginPath) + " is not a path on this site")
	}
	challenge := fmt.Sprintf(`Bearer error="insufficient_user_authentication", error_description="A more recent authentication is required", max_age=%d`, int64(maxAge/time.Second))
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c := v.dataOf(r.Context())
			if c == nil {
				var err error
				if c, err = v.admit(w, r); err != nil {
					v.Reject(w, r, err)
					return
				}
				r = r.WithContext(c)
			}
			auth := c.info.AuthenticatedAt
			if !auth.IsZero() && !v.now().After(auth.Add(maxAge)) {
				next.ServeHTTP(w, r)
				return
			}
			v.logRejection(r, ErrStepUp, "step-up")
			if loginPath != "" && c.info.Source == SourceCookie {
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, loginURL(loginPath, r), http.StatusSeeOther)
				return
			}
			w.Header().Set("WWW-Authenticate", challenge)
			v.onError(w, r, ErrStepUp)
		})
	}
}

// SafeNext returns next when it is a path on this site, and "/" otherwise: one
// leading "/", no backslash, control character or white space, which
// browsers may turn into another host. Pass it the URL-decoded "next" value.
func SafeNext(next string) string {
	if len(next) == 0 || next[0] != '/' || len(next) > 1 && next[1] == '/' {
		return "/"
	}
	for i := 0; i < len(next); i++ {
		if c := next[i]; c <= ' ' || c == '\\' || c == 0x7f {
			return "/"
		}
	}
	return next
}

// loginURL is loginPath with r's path and query as "next".
func loginURL(loginPath string, r *http.Request) string {
	sep := "?"
	if strings.Contains(loginPath, "?") {
		sep = "&"
	}
	return loginPath + sep + "next=" + url.QueryEscape(SafeNext(r.URL.RequestURI()))
}
