package authix

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"time"
	"unicode/utf8"
)

// Sessions: a sliding session is one id and one absolute end, sealed at
// login and kept by every renewal; Logout revokes it until that end, and
// LogoutEverywhere moves the subject's cut-off, which every token carries
// the version of.

// lifetime is how long each token of a login lives.
func (v *Vault[T]) lifetime(m sealed) time.Duration {
	if m.rem {
		return v.remember
	}
	return v.ttl
}

// longest is how long a token or a session the vault issues can last.
func (v *Vault[T]) longest() time.Duration {
	if v.sliding {
		return max(v.cipher.TTL(), v.session)
	}
	return v.cipher.TTL()
}

// newSession gives m a fresh session id, and the absolute lifetime of a
// session that started at start.
func (v *Vault[T]) newSession(m *sealed, start time.Time) error {
	if _, err := rand.Read(m.sid[:]); err != nil {
		return fmt.Errorf("authix: reading a random session id: %w", err)
	}
	m.abs = start.Add(max(v.session, v.lifetime(*m))).Unix()
	return nil
}

// sessionKey is the revocation id of a whole session: its random id, then
// a label. A token's id is a SHA-256 output, so the two never meet.
func sessionKey(sid sessionID) TokenID {
	var id TokenID
	copy(id[:], sid[:])
	copy(id[len(sid):], "authix session\x00\x00\x00\x00\x00\x00")
	return id
}

// renewAge is how old a token must be before it is renewed: WithSliding's
// renewAfter, or half the token's lifetime.
func (v *Vault[T]) renewAge(info TokenInfo) time.Duration {
	if v.renewAt != 0 {
		return v.renewAt
	}
	return info.ExpiresAt.Sub(info.IssuedAt) / 2
}

// renewal is what the token after o seals, issued at now, and whether it
// would live at all.
func (v *Vault[T]) renewal(o opened, now time.Time) (sealed, bool) {
	next := o.m
	next.exp = now.Add(v.lifetime(o.m)).Unix()
	if v.subject != nil {
		// The session stays under the cut-off it started with.
		next.sv, next.hasSV, next.us = subjectVersion(o), true, 0
	}
	if o.m.abs != 0 {
		next.exp = min(next.exp, o.m.abs)
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
	tok, info, err := v.seal(data, next, now)
	return data, tok, info, err
}

// renewCookie renews the sliding cookie session of a request that c
// admitted, once its token is past the renewal age, and sets the new
// token on w. A failed seal keeps the valid token the request came with.
func (v *Vault[T]) renewCookie(w http.ResponseWriter, r *http.Request, c *dataContext[T], o opened, now time.Time) error {
	if now.Sub(c.info.IssuedAt) < v.renewAge(c.info) {
		return nil
	}
	next, ok := v.renewal(o, now)
	// A renewal that cannot move the expiry (a remembered login, whose
	// expiry is its session's end) still reloads the payload.
	if !ok || next.exp <= o.m.exp && v.reload == nil {
		return nil
	}
	data, tok, fresh, err := v.reseal(r.Context(), c.data, next, now)
	switch {
	case errors.Is(err, ErrSessionEnded):
		v.RemoveAccessToken(w)
		return err
	case err != nil || v.setCookie(w, tok, fresh, now) != nil:
		return nil
	}
	fresh.Source = c.info.Source
	c.data, c.info = data, fresh
	return nil
}

// RenewAccessToken exchanges a valid token past its renewal age for a fresh
// one of the same session and revokes the old one: the cookie renewal of
// WithSliding, for header and Bearer clients. A younger token comes back as
// it is, so a client calling fast causes no writes. It fails as Authenticate
// does, with ErrExpiredToken past the session's absolute end, and with
// ErrSessionEnded when the WithRenewal reload fails.
func (v *Vault[T]) RenewAccessToken(ctx context.Context, token string) (string, TokenInfo, error) {
	now := v.now()
	var data T
	o, err := v.authenticate(ctx, token, now, &data)
	if err != nil {
		return "", TokenInfo{}, err
	}
	if now.Sub(o.info.IssuedAt) < v.renewAge(o.info) {
		// The revocations a session causes are bounded by its lifetime,
		// not by how fast a client calls.
		return token, o.info, nil
	}
	if !o.m.hasSession() {
		// A token sealed outside a session starts one, bounded from its
		// issue time as a login would be.
		if err := v.newSession(&o.m, o.info.IssuedAt); err != nil {
			return "", TokenInfo{}, err
		}
	}
	next, ok := v.renewal(o, now)
	if !ok {
		return "", TokenInfo{}, fmt.Errorf("%w: the session's absolute lifetime has passed", ErrExpiredToken)
	}
	_, tok, fresh, err := v.reseal(ctx, data, next, now)
	if err != nil {
		return "", TokenInfo{}, err
	}
	if err := v.revoke(ctx, o.info.ID, o.info.ExpiresAt); err != nil {
		return "", TokenInfo{}, err
	}
	return tok, fresh, nil
}

// Logout revokes the token r carries and its session until the session's
// absolute end, whether the token is valid or expired, and clears the
// cookie; it writes no status or body and is idempotent. A cookie request
// from another site is refused whatever its method (ErrCrossOrigin); a store
// failure wraps ErrRevocationStore, and the cookie is cleared all the same.
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
	o, expired, err := v.openInfo(tok, now)
	if err != nil {
		return nil
	}
	ctx := r.Context()
	var errs []error
	if !expired {
		errs = append(errs, v.revoke(ctx, o.info.ID, o.info.ExpiresAt))
	}
	errs = append(errs, v.endSession(ctx, o.m, now))
	return errors.Join(errs...)
}

// endSession revokes every token of m's session until its sealed absolute
// end, which no token of it outlives whichever replica renewed it.
func (v *Vault[T]) endSession(ctx context.Context, m sealed, now time.Time) error {
	if !m.hasSession() {
		return nil
	}
	until := time.Unix(m.abs, 0)
	if m.abs == 0 {
		until = now.Add(v.longest())
	}
	return v.revoke(ctx, sessionKey(m.sid), until)
}

// LogoutEverywhere refuses every token of subject (as WithSubject names it)
// issued up to now, on every vault sharing the store and keys, renewed
// sessions and fastapi-authix's tokens included; a login after it works, in
// the same second too. It fails with ErrInvalidOption without WithSubject or
// for a subject that is not valid UTF-8, and wraps ErrRevocationStore.
func (v *Vault[T]) LogoutEverywhere(ctx context.Context, subject string) error {
	if v.subject == nil {
		return fmt.Errorf("%w: LogoutEverywhere needs WithSubject", ErrInvalidOption)
	}
	if !utf8.ValidString(subject) {
		return fmt.Errorf("%w: LogoutEverywhere: subject %q is not valid UTF-8, so no token carries it", ErrInvalidOption, subject)
	}
	// Renewals keep a session's tokens under the cut-off they started with
	// until the session's absolute end, so the record outlives the longest
	// session as well as the longest token.
	now := v.now()
	if err := v.subjects.RevokeSubject(ctx, subjectKey(subject), now, now.Add(v.longest())); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return nil
}

// subjectKey is the store's name for a subject: a fixed size whatever the
// subject, hashed on the stack since every request asks for it.
func subjectKey(subject string) SubjectID {
	const label = "authix subject\x00"
	var buf [64]byte
	return sha256.Sum256(append(append(buf[:0], label...), subject...))
}

var errSubjectRevoked = fmt.Errorf("%w: every token of its subject was revoked", ErrRevokedToken)

// checkSubject refuses a token issued under an older cut-off than the one
// the store holds for its subject.
func (v *Vault[T]) checkSubject(ctx context.Context, payload T, o opened) error {
	cutoff, err := v.subjects.SubjectCutoff(ctx, subjectKey(v.subject(payload)))
	switch {
	case err != nil:
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	case !cutoff.IsZero() && subjectVersion(o) < cutoff.UnixMicro():
		return errSubjectRevoked
	}
	return nil
}

// subjectVersion is the newest cut-off a token was issued under: sealed
// since "sv"; for older tokens and fastapi-authix's (which count from the
// start of their second), just before their issue time.
func subjectVersion(o opened) int64 {
	if o.m.hasSV {
		return o.m.sv
	}
	return o.info.IssuedAt.UnixMicro() + o.m.us - 1
}

// unixMicro is t in Unix microseconds, 0 for the zero time.
func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}
