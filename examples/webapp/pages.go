package main

import (
	"bytes"
	"embed"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"strings"
	"time"

	"github.com/authix-go/authix"
)

// The pages are html/template templates: every value is escaped for where
// it appears.
//
//go:embed pages.html
var pagesFS embed.FS

var pages = template.Must(template.New("pages").Funcs(template.FuncMap{"when": when}).ParseFS(pagesFS, "pages.html"))

// when is how the devices page shows a time: in UTC, to the minute; a
// dash for a time the session does not say (Device.Started of a session
// begun before authix sealed login times).
func when(t time.Time) string {
	if t.IsZero() {
		return "–"
	}
	return t.UTC().Format("Jan 2, 15:04")
}

// reject answers the requests authix refuses: JSON under /api/, as
// authix.DefaultErrorHandler does, and an HTML page everywhere else.
func reject(w http.ResponseWriter, r *http.Request, err error) {
	if strings.HasPrefix(r.URL.Path, "/api/") {
		authix.DefaultErrorHandler(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	switch {
	case errors.Is(err, authix.ErrForbidden):
		renderError(w, http.StatusForbidden, "Forbidden", "This page is for admins only.")
	case errors.Is(err, authix.ErrCrossOrigin):
		renderError(w, http.StatusForbidden, "Forbidden", "Cross-origin request denied.")
	default:
		renderError(w, http.StatusUnauthorized, "Not logged in", "Please log in again.")
	}
}

// fail logs err and answers 500 (503 when the revocation store is down).
func (a *app) fail(w http.ResponseWriter, r *http.Request, what string, err error) {
	a.log.Error(what, "err", err, "path", r.URL.Path)
	status := http.StatusInternalServerError
	if errors.Is(err, authix.ErrRevocationStore) {
		status = http.StatusServiceUnavailable
	}
	renderError(w, status, "Something went wrong", "Please try again later.")
}

func (a *app) render(w http.ResponseWriter, status int, page string, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, page, data); err != nil {
		a.log.Error("template", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
}

func renderError(w http.ResponseWriter, status int, title, msg string) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = pages.ExecuteTemplate(w, "error", map[string]string{"Title": title, "Message": msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// securityHeaders keeps pages out of frames and forms posting elsewhere.
func securityHeaders(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("Content-Security-Policy", "default-src 'self'; style-src 'self' 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		h.ServeHTTP(w, r)
	})
}
