package authix

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"strings"
	"unicode/utf8"
)

// RejectReason names, in a word or two, why a request was refused: what
// WithLogger records, bounded so that logs and metrics can group by it.
type RejectReason string

// The reasons a vault refuses a request.
const (
	ReasonMissing      RejectReason = "missing"
	ReasonInvalid      RejectReason = "invalid"
	ReasonExpired      RejectReason = "expired"
	ReasonRevoked      RejectReason = "revoked"
	ReasonSubject      RejectReason = "subject revoked"
	ReasonCrossOrigin  RejectReason = "cross-origin"
	ReasonForbidden    RejectReason = "forbidden"
	ReasonStoreError   RejectReason = "store error"
	ReasonSessionEnded RejectReason = "session ended"
	ReasonStepUp       RejectReason = "step-up"
)

// Reason returns the RejectReason of an error authix returned, and false
// for an error that is none of authix's refusals.
func Reason(err error) (RejectReason, bool) {
	for _, c := range []struct {
		err    error
		reason RejectReason
	}{
		// Most specific first: a store failure wraps the store's error.
		{ErrRevocationStore, ReasonStoreError},
		{ErrSessionEnded, ReasonSessionEnded},
		{ErrCrossOrigin, ReasonCrossOrigin},
		{ErrForbidden, ReasonForbidden},
		{ErrStepUp, ReasonStepUp},
		{errSubjectRevoked, ReasonSubject},
		{ErrRevokedToken, ReasonRevoked},
		{ErrExpiredToken, ReasonExpired},
		{ErrInvalidToken, ReasonInvalid},
		{ErrMissingToken, ReasonMissing},
	} {
		if errors.Is(err, c.err) {
			return c.reason, true
		}
	}
	return "", false
}

// logRejection records a refusal with WithLogger's logger, if any. Only the
// reason, the request's method, path and token source go in, and for a
// store failure the error, whose text names no token: token bytes and keys
// never reach a log. What comes from the request or the store is clipped,
// so that no request writes a record larger than a few hundred bytes.
func (v *Vault[T]) logRejection(r *http.Request, err error, how string) {
	if v.logger == nil {
		return
	}
	reason, ok := Reason(err)
	if !ok {
		reason = ReasonInvalid
	}
	level := slog.LevelInfo
	switch reason {
	case ReasonMissing:
		level = slog.LevelDebug
	case ReasonStoreError:
		level = slog.LevelError
	}
	ctx := context.Background()
	if r != nil {
		ctx = r.Context()
	}
	if !v.logger.Enabled(ctx, level) {
		return
	}
	attrs := []slog.Attr{slog.String("reason", string(reason)), slog.String("action", how)}
	if r != nil {
		_, src := v.extract(r)
		attrs = append(attrs, slog.String("method", clip(r.Method, maxLogMethod)), slog.String("path", clip(r.URL.Path, maxLogPath)))
		if src != fromNone {
			attrs = append(attrs, slog.String("source", string(src.name())))
		}
		if src == fromNone && !v.bearer && hasBearer(r) {
			attrs = append(attrs, slog.String("note", "a Bearer token was present but not read: the vault reads Bearer tokens only under WithBearer"))
		}
	}
	if reason == ReasonStoreError {
		attrs = append(attrs, slog.String("error", clip(err.Error(), maxLogError)))
	}
	v.logger.LogAttrs(ctx, level, "authix: request refused", attrs...)
}

// logError records a store failure that the request survives, such as a
// device list not updated at a renewal.
func (v *Vault[T]) logError(ctx context.Context, msg string, err error) {
	if err != nil && v.logger != nil {
		v.logger.LogAttrs(ctx, slog.LevelError, "authix: "+msg, slog.String("error", clip(err.Error(), maxLogError)))
	}
}

// How many bytes of a request's method and path, and of a store's error,
// a log record keeps.
const (
	maxLogMethod = 16
	maxLogPath   = 256
	maxLogError  = 512
)

// clip returns s cut to at most n bytes, at a character boundary, and
// marked with "…" when it was cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

func hasBearer(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return len(a) > 7 && strings.EqualFold(a[:7], "Bearer ")
}
