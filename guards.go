package authix

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
)

// Require is middleware that admits a request only when pred holds for its
// payload: roles, permissions, anything the payload carries. Behind
// RequireData or RedirectToLogin it reads the payload they put in the
// context; on its own it authenticates as RequireData does. An
// unauthenticated request is rejected as RequireData rejects it (401); an
// authenticated one for which pred is false gets ErrForbidden through the
// error handler (DefaultErrorHandler: 403). Guards compose:
// vault.Require(isAdmin)(vault.Require(isActive)(h)).
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
// RedirectToLogin or Require: it panics when ctx carries no payload for
// this vault, so a route that lost its middleware fails loudly in its first
// test instead of reading a zero payload. net/http recovers the panic and
// the request fails with no response; use Data where a payload is optional.
func (v *Vault[T]) MustData(ctx context.Context) T {
	c := v.dataOf(ctx)
	if c == nil {
		panic("authix: MustData: no payload in the context for this vault; wrap the handler in RequireData, RedirectToLogin or Require")
	}
	return c.data
}

// RedirectToLogin is RequireData for browser routes: a request that is not
// authenticated (no token, or one that is invalid, expired or revoked) is
// redirected (303 See Other) to loginPath with the request's path and query
// in the "next" parameter, for the login handler to return to through
// SafeNext. A cross-origin refusal, a revocation store that cannot answer
// (a new login would not help), and ErrForbidden from an inner Require go to
// the error handler as usual.
// loginPath must be a path on this site, such as "/login"; anything else
// panics at setup, since a redirect elsewhere would be an open redirect.
func (v *Vault[T]) RedirectToLogin(loginPath string) func(http.Handler) http.Handler {
	if SafeNext(loginPath) != loginPath {
		panic("authix: RedirectToLogin: login path " + url.QueryEscape(loginPath) + " is not a path on this site")
	}
	sep := "?"
	if strings.Contains(loginPath, "?") {
		sep = "&"
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
				w.Header().Set("Cache-Control", "no-store")
				http.Redirect(w, r, loginPath+sep+"next="+url.QueryEscape(SafeNext(r.URL.RequestURI())), http.StatusSeeOther)
				return
			}
			next.ServeHTTP(w, r.WithContext(c))
		})
	}
}

// SafeNext returns next when it is a path on this site, and "/" otherwise:
// it must start with one "/", and hold no backslash, control character or
// white space, which browsers may turn into "//" (another host). A login
// handler redirects to SafeNext(r.FormValue("next")) after a login; the
// value is URL-decoded there, so encoded forms of "//evil.com" arrive as
// "//evil.com" and are refused.
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
