package authix_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// recordLog is a slog.Handler that keeps every record as text.
type recordLog struct {
	mu   sync.Mutex
	recs []map[string]string
}

func (h *recordLog) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordLog) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h *recordLog) WithGroup(string) slog.Handler            { return h }
func (h *recordLog) Handle(_ context.Context, r slog.Record) error {
	m := map[string]string{"msg": r.Message, "level": r.Level.String()}
	r.Attrs(func(a slog.Attr) bool { m[a.Key] = a.Value.String(); return true })
	h.mu.Lock()
	h.recs = append(h.recs, m)
	h.mu.Unlock()
	return nil
}

func (h *recordLog) take() []map[string]string {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.recs
	h.recs = nil
	return r
}

// Every refusal reaches the logger with its reason, and neither the log
// nor the errors the error handler sees hold token or key material.
func TestRejectionsAreObservable(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	logs := &recordLog{}
	var errs []error
	var mu sync.Mutex
	opts := []authix.Option{authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithBearer(),
		authix.WithLogger(slog.New(logs)),
		authix.WithErrorHandler(func(w http.ResponseWriter, r *http.Request, err error) {
			mu.Lock()
			errs = append(errs, err)
			mu.Unlock()
			authix.DefaultErrorHandler(w, r, err)
		})}
	v, err := authix.New[User](opts...)
	require.NoError(t, err)
	down, err := authix.New[User](append(opts, authix.WithRevocationStore(failingStore{}))...)
	require.NoError(t, err)
	ending, err := authix.New[User](append(opts, authix.WithSliding(0),
		authix.WithRenewal(func(context.Context, User) (User, error) { return User{}, errors.New("user deleted") }))...)
	require.NoError(t, err)

	everywhere, err := authix.New[User](append(opts, authix.WithSubject(userSubject))...)
	require.NoError(t, err)
	valid, revoked, expired := lifeCycleTokens(t, v, clk)
	ousted, err := everywhere.CreateAccessToken(User{ID: 5})
	require.NoError(t, err)
	clk.Advance(time.Millisecond)
	require.NoError(t, everywhere.LogoutEverywhere(context.Background(), "5"))
	session, err := ending.CreateAccessToken(User{ID: 9})
	require.NoError(t, err)
	tokens := []string{valid, revoked, expired, session, ousted}
	bad := corrupted(t, valid)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	cross := cookieRequest(valid)
	cross.Method = http.MethodPost
	cross.Header.Set("Sec-Fetch-Site", "cross-site")

	for _, tc := range []struct {
		name   string
		h      http.Handler
		req    func() *http.Request
		reason authix.RejectReason
		level  string
	}{
		{"missing", v.RequireData(ok), func() *http.Request { return httptest.NewRequest(http.MethodGet, "/", nil) }, authix.ReasonMissing, "DEBUG"},
		{"invalid", v.RequireData(ok), func() *http.Request { return cookieRequest(bad) }, authix.ReasonInvalid, "INFO"},
		{"expired", v.RequireData(ok), func() *http.Request { return cookieRequest(expired) }, authix.ReasonExpired, "INFO"},
		{"revoked", v.RequireData(ok), func() *http.Request { return cookieRequest(revoked) }, authix.ReasonRevoked, "INFO"},
		{"cross-origin", v.RequireData(ok), func() *http.Request { return cross }, authix.ReasonCrossOrigin, "INFO"},
		{"forbidden", v.Require(isAdmin)(ok), func() *http.Request { return cookieRequest(valid) }, authix.ReasonForbidden, "INFO"},
		{"subject revoked", everywhere.RequireData(ok), func() *http.Request { return cookieRequest(ousted) }, authix.ReasonSubject, "INFO"},
		{"store error", down.RequireData(ok), func() *http.Request { return cookieRequest(valid) }, authix.ReasonStoreError, "ERROR"},
		{"store error behind OptionalData", down.OptionalData(ok), func() *http.Request { return cookieRequest(valid) }, authix.ReasonStoreError, "ERROR"},
		{"session ended", ending.RequireData(ok), func() *http.Request {
			clk.Advance(31 * time.Minute)
			return cookieRequest(session)
		}, authix.ReasonSessionEnded, "INFO"},
		{"redirected", v.RedirectToLogin("/login")(ok), func() *http.Request { return cookieRequest(expired) }, authix.ReasonExpired, "INFO"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			tc.h.ServeHTTP(httptest.NewRecorder(), tc.req())
			recs := logs.take()
			require.Len(t, recs, 1)
			assert.Equal(t, string(tc.reason), recs[0]["reason"])
			assert.Equal(t, tc.level, recs[0]["level"])
			assert.Equal(t, "/", recs[0]["path"])
		})
	}
	clk.Advance(-31 * time.Minute)

	// No token or key material anywhere.
	raw, err := base64.URLEncoding.DecodeString(keyA)
	require.NoError(t, err)
	secrets := []string{keyA, hex.EncodeToString(raw), base64.StdEncoding.EncodeToString(raw),
		hex.EncodeToString(raw[:16]), hex.EncodeToString(raw[16:]),
		base64.RawURLEncoding.EncodeToString(raw[:16]), base64.RawURLEncoding.EncodeToString(raw[16:])}
	var texts []string
	for _, e := range errs {
		texts = append(texts, e.Error())
	}
	v.RequireData(ok).ServeHTTP(httptest.NewRecorder(), cookieRequest(bad))
	for _, rec := range logs.take() {
		for _, val := range rec {
			texts = append(texts, val)
		}
	}
	require.NotEmpty(t, texts)
	for _, text := range texts {
		for _, s := range secrets {
			assert.NotContains(t, text, s)
		}
		for _, tok := range tokens {
			for i := 0; i+16 <= len(tok); i += 4 {
				assert.NotContains(t, text, tok[i:i+16], "a piece of a token")
			}
		}
	}
	assert.False(t, strings.Contains(strings.Join(texts, " "), "gAAAAA"), "no token prefix")

	_, err = authix.New[User](authix.WithLogger(nil))
	assert.ErrorIs(t, err, authix.ErrInvalidOption)
}

// verboseStore fails as failingStore does, with an error text of 1 MiB.
type verboseStore struct{ failingStore }

func (verboseStore) IsRevoked(context.Context, authix.TokenID) (bool, error) {
	return false, fmt.Errorf("%w: %s", errStoreDown, strings.Repeat("x", 1<<20))
}

// A refusal writes a log record of bounded size, whatever the request's
// path and method or the store's error, and still gives its reason.
func TestRejectionLogIsBounded(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(testEpoch)
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	opts := []authix.Option{authix.WithKeys(keyA), authix.WithClock(clk.Now), authix.WithLogger(logger)}
	v, err := authix.New[User](opts...)
	require.NoError(t, err)
	down, err := authix.New[User](append(opts, authix.WithRevocationStore(verboseStore{}))...)
	require.NoError(t, err)
	tok, err := v.CreateAccessToken(User{ID: 1})
	require.NoError(t, err)
	long := "/" + strings.Repeat("a", 1<<20)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})

	for _, tc := range []struct {
		name   string
		h      http.Handler
		req    func() *http.Request
		reason authix.RejectReason
		cut    string // the attribute cut short
	}{
		{"long path", v.RequireData(ok), func() *http.Request { return httptest.NewRequest(http.MethodGet, long, nil) }, authix.ReasonMissing, "path"},
		{"long path, invalid token", v.RequireData(ok), func() *http.Request {
			r := cookieRequest("x" + tok)
			r.URL.Path = long
			return r
		}, authix.ReasonInvalid, "path"},
		{"long method", v.RequireData(ok), func() *http.Request {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Method = strings.Repeat("M", 1<<20)
			return r
		}, authix.ReasonMissing, "method"},
		{"long store error", down.RequireData(ok), func() *http.Request { return cookieRequest(tok) }, authix.ReasonStoreError, "error"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			buf.Reset()
			tc.h.ServeHTTP(httptest.NewRecorder(), tc.req())
			require.NotZero(t, buf.Len(), "a record")
			assert.Less(t, buf.Len(), 4<<10, "a bounded record")
			var rec map[string]any
			require.NoError(t, json.Unmarshal(buf.Bytes(), &rec), "one JSON record")
			assert.Equal(t, string(tc.reason), rec["reason"])
			assert.True(t, strings.HasSuffix(fmt.Sprint(rec[tc.cut]), "…"), "the cut is marked: %.40q", rec[tc.cut])
		})
	}
}
