package authix

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/go-json-experiment/json"
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
	m.auth = start.Unix()
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
	v.logError(r.Context(), "device not recorded", v.touchDevice(r.Context(), data, next, now))
	return nil
}

// RenewAccessToken exchanges a valid token past its renewal age for a fresh
// one of the same session and revokes the old one: the cookie renewal of
// WithSliding, for header and Bearer clients. A younger token comes back as
// it is, so a client calling fast causes no writes. It fails as Authenticate
// does, with ErrExpiredToken past the session's absolute end, and with
// ErrSessionEnded when the WithRenewal reload fails.
func (v *Vault[T]) RenewAccessToken(ctx context.Context, token string) (string, TokenInfo, error) {
	return v.exchange(ctx, token, v.now(), false)
}

// exchange seals the token that follows token in its session, revokes
// token, and records the device's activity; confirm refreshes the
// authentication time, else a token younger than its renewal age is kept.
func (v *Vault[T]) exchange(ctx context.Context, token string, now time.Time, confirm bool) (string, TokenInfo, error) {
	var data T
	o, err := v.authenticate(ctx, token, now, &data)
	switch {
	case err != nil:
		return "", TokenInfo{}, err
	case !confirm && now.Sub(o.info.IssuedAt) < v.renewAge(o.info):
		return token, o.info, nil // so each token is exchanged once at most
	case !o.m.hasSession():
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
	if confirm {
		next.auth = now.Unix()
	}
	data, tok, info, err := v.reseal(ctx, data, next, now)
	if err == nil {
		err = v.revoke(ctx, o.info.ID, o.info.ExpiresAt)
	}
	if err != nil {
		return "", TokenInfo{}, err
	}
	v.logError(ctx, "device not recorded", v.touchDevice(ctx, data, next, now))
	return tok, info, nil
}

// checkChange applies the cross-origin check to a cookie request that
// changes state whatever its method: a link on another site must not log
// the user out.
func (v *Vault[T]) checkChange(r *http.Request, src source) error {
	if src != fromCookie {
		return nil
	}
	post := *r
	post.Method = http.MethodPost
	return v.checkOrigin(&post)
}

// Logout revokes the token r carries and its session until the session's
// absolute end, whether the token is valid or expired, and clears the
// cookie; it writes no status or body and is idempotent. A cookie request
// from another site is refused whatever its method (ErrCrossOrigin); a store
// failure wraps ErrRevocationStore, and the cookie is cleared all the same.
func (v *Vault[T]) Logout(w http.ResponseWriter, r *http.Request) error {
	tok, src := v.extract(r)
	if err := v.checkChange(r, src); err != nil {
		return err
	}
	v.RemoveAccessToken(w)
	if src == fromNone {
		return nil
	}
	now := v.now()
	var data T
	o, decoded, err := v.openInfo(tok, now, &data)
	if err != nil {
		return nil
	}
	ctx := r.Context()
	var errs []error
	if !o.expired {
		errs = append(errs, v.revoke(ctx, o.info.ID, o.info.ExpiresAt))
	}
	errs = append(errs, v.endSession(ctx, o.m, now))
	if decoded && v.devices != nil && o.m.hasSession() {
		errs = append(errs, v.forgetDevice(ctx, subjectKey(v.subject(data)), o.m.sid))
	}
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
	now, key := v.now(), subjectKey(subject)
	if err := v.subjects.RevokeSubject(ctx, key, now, now.Add(v.longest())); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	if v.devices == nil {
		return nil
	}
	recs, err := v.deviceRecords(ctx, key)
	if err != nil {
		return err
	}
	for _, r := range recs {
		var sid sessionID
		if decodeSID(&sid, r.ID) != nil {
			continue
		}
		if err := v.forgetDevice(ctx, key, sid); err != nil {
			return err
		}
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

// unixTime is the time of Unix seconds s, the zero time for 0.
func unixTime(s int64) time.Time {
	if s == 0 {
		return time.Time{}
	}
	return time.Unix(s, 0)
}

// unixMicro is t in Unix microseconds, 0 for the zero time.
func unixMicro(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMicro()
}

// Device is one live session of a subject, as a "your devices" page lists
// it.
type Device struct {
	ID         string    // the session, for EndDevice
	Label      string    // DeviceLabel at login
	Started    time.Time // the login; zero for a session begun before login times were sealed
	LastActive time.Time // the login or its latest renewal
	Ends       time.Time // the session's absolute end
	Remembered bool
	Current    bool // the session of the request
}

// deviceRecord is a Device as the store keeps it.
type deviceRecord struct {
	ID      string `json:"id"`
	Label   string `json:"label,omitempty"`
	Started int64  `json:"started"`
	Seen    int64  `json:"seen"`
	Ends    int64  `json:"ends"`
	Rem     bool   `json:"rem,omitempty"`
}

var errNoDevices = fmt.Errorf("%w: devices need WithSliding, WithSubject and a store that implements DeviceStore", ErrInvalidOption)

// saveDevice records rec for session sid of payload's subject.
func (v *Vault[T]) saveDevice(ctx context.Context, payload T, sid sessionID, rec deviceRecord) error {
	rec.ID = sidEncoding.EncodeToString(sid[:])
	b, err := json.Marshal(rec)
	if err == nil {
		err = v.devices.SaveDevice(ctx, subjectKey(v.subject(payload)), sessionKey(sid), b, time.Unix(rec.Ends, 0))
	}
	if err != nil {
		return fmt.Errorf("%w: recording the device: %w", ErrRevocationStore, err)
	}
	return nil
}

// touchDevice records that session m of payload was active at now: at a
// renewal or a Confirm, never on other requests.
func (v *Vault[T]) touchDevice(ctx context.Context, payload T, m sealed, now time.Time) error {
	if v.devices == nil || !m.hasSession() {
		return nil
	}
	recs, err := v.deviceRecords(ctx, subjectKey(v.subject(payload)))
	if err != nil {
		return err
	}
	rec := deviceRecord{Started: m.auth, Ends: m.abs, Rem: m.rem}
	id := sidEncoding.EncodeToString(m.sid[:])
	for _, r := range recs {
		if r.ID == id {
			rec = r
		}
	}
	rec.Seen = now.Unix()
	return v.saveDevice(ctx, payload, m.sid, rec)
}

// deviceRecords returns the records of subject's sessions that can still
// be used: the last token of each, sealed when it was last active, lives
// one lifetime.
func (v *Vault[T]) deviceRecords(ctx context.Context, subject SubjectID) ([]deviceRecord, error) {
	raw, err := v.devices.Devices(ctx, subject)
	if err != nil {
		return nil, fmt.Errorf("%w: listing devices: %w", ErrRevocationStore, err)
	}
	now := v.now()
	recs := make([]deviceRecord, 0, len(raw))
	for _, b := range raw {
		var r deviceRecord
		if json.Unmarshal(b, &r) == nil && !now.After(time.Unix(r.Seen, 0).Add(v.lifetime(sealed{rem: r.Rem}))) {
			recs = append(recs, r)
		}
	}
	return recs, nil
}

// forgetDevice removes the record of session sid of subject.
func (v *Vault[T]) forgetDevice(ctx context.Context, subject SubjectID, sid sessionID) error {
	if err := v.devices.DeleteDevice(ctx, subject, sessionKey(sid)); err != nil {
		return fmt.Errorf("%w: %w", ErrRevocationStore, err)
	}
	return nil
}

// Devices lists the live sessions of the subject whose request ctx is, as
// RequireData put it there, most recently active first, and marks the
// request's own. It needs WithSliding, WithSubject and a DeviceStore (the
// memory store, redisstore and pgstore are).
func (v *Vault[T]) Devices(ctx context.Context) ([]Device, error) {
	c := v.dataOf(ctx)
	switch {
	case v.devices == nil || !v.sliding:
		return nil, errNoDevices
	case c == nil:
		return nil, ErrMissingToken
	}
	recs, err := v.deviceRecords(ctx, subjectKey(v.subject(c.data)))
	current := sidEncoding.EncodeToString(c.sid[:])
	out := make([]Device, len(recs))
	for i, r := range recs {
		out[i] = Device{ID: r.ID, Label: r.Label, Started: unixTime(r.Started), LastActive: time.Unix(r.Seen, 0),
			Ends: time.Unix(r.Ends, 0), Remembered: r.Rem, Current: r.ID == current}
	}
	slices.SortFunc(out, func(a, b Device) int { return b.LastActive.Compare(a.LastActive) })
	return out, err
}

// EndDevice ends one session of the subject whose request ctx is, on every
// replica that shares the store, as a Logout of it would; a session not in
// the subject's list is left alone. It fails as Devices does, and wraps
// ErrRevocationStore.
func (v *Vault[T]) EndDevice(ctx context.Context, id string) error {
	return v.endDevices(ctx, func(d Device) bool { return d.ID == id })
}

// EndOtherDevices ends every session of the subject whose request ctx is
// but the request's own, as EndDevice does.
func (v *Vault[T]) EndOtherDevices(ctx context.Context) error {
	return v.endDevices(ctx, func(d Device) bool { return !d.Current })
}

func (v *Vault[T]) endDevices(ctx context.Context, end func(Device) bool) error {
	list, err := v.Devices(ctx)
	if err != nil {
		return err
	}
	subject := subjectKey(v.subject(v.dataOf(ctx).data))
	for _, d := range list {
		var sid sessionID
		if !end(d) || decodeSID(&sid, d.ID) != nil {
			continue
		}
		if err := errors.Join(v.revoke(ctx, sessionKey(sid), d.Ends), v.forgetDevice(ctx, subject, sid)); err != nil {
			return err
		}
	}
	return nil
}

func decodeSID(sid *sessionID, s string) error {
	if n, err := sidEncoding.Decode(sid[:], []byte(s)); err != nil || n != len(sid) || len(s) != sidLen {
		return errSealedMeta
	}
	return nil
}

// Confirm records that the user of request r proved who they are again
// (the app checked the password): the session keeps its id and absolute
// end, and gets a token whose authentication time is now, set as the
// cookie when r carried one and returned for other clients. The old token
// is revoked. It fails as Authenticate does; a cookie request from
// another site is refused whatever its method.
func (v *Vault[T]) Confirm(w http.ResponseWriter, r *http.Request) (string, error) {
	tok, src := v.extract(r)
	if src == fromNone {
		return "", ErrMissingToken
	}
	if err := v.checkChange(r, src); err != nil {
		return "", err
	}
	now := v.now()
	tok, info, err := v.exchange(r.Context(), tok, now, true)
	if err == nil && src == fromCookie {
		err = v.setCookie(w, tok, info, now)
	}
	if err != nil {
		return "", err
	}
	return tok, nil
}
