package redisstore

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/authix-go/authix/redisstore/mirror"
)

const (
	// subjectInfix follows the key prefix in a subject key, before the
	// subject id in lowercase hex.
	subjectInfix = "subject:"
	// subjectAnnouncement starts the announcement of a subject cut-off,
	// "subject <cutoff µs> <until ms> <hex id>". A store of an earlier
	// version reads an announcement as "<expiry ms> <hex id>", split at the
	// first space: "subject" is no number and what follows is no 64-digit
	// hex id, so it ignores this one as malformed.
	subjectAnnouncement = "subject "
)

// subjectScript reads, announces and stores a subject cut-off, and returns
// the value it stored. The cutoff moves strictly forward: when the subject
// already has one at or after the requested cutoff, it stores that one plus
// one microsecond instead, so a store whose clock runs behind still cuts off
// every token issued before its call. The until keeps the later. The value
// is "<cutoff µs> <until ms>", both by the writing store's clock; the key is
// kept for a duration (PX) computed from that clock, or for what it had left
// if that is longer, so Redis's clock plays no part. The numbers are
// compared with tonumber (exact below 2^53, that is for any date within 285
// years of 1970); a bumped cutoff is written with '%.0f', since Lua would
// print a large number in exponent form, and the others as the strings they
// came as.
//
// As in revokeScript, the log entry and then PUBLISH come before the write,
// and both reads come before them, so a failure leaves nothing, or a log
// entry (and perhaps an announcement) without the key: the other stores then
// hold the cut-off until its until (fail closed), and the script's error
// makes RevokeSubject fail so the caller retries. The entry and the
// announcement carry the stored value, so a store that missed an earlier one
// learns the whole record.
//
// KEYS[1] is the subject key and KEYS[2], when given, the log (see
// logAppend). ARGV[1] is the cutoff in Unix microseconds, ARGV[2] the until
// in Unix milliseconds, ARGV[3] how long Redis must keep the key in
// milliseconds, ARGV[4] the channel, ARGV[5] the subject id in lowercase hex
// and ARGV[6] the log's retention in milliseconds.
var subjectScript = redis.NewScript(logAppend + `
local cutoff, untl = ARGV[1], ARGV[2]
local keep = tonumber(ARGV[3])
local have = redis.call('GET', KEYS[1])
if have then
	local c, u = string.match(have, '^(-?%d+) (-?%d+)$')
	if c and tonumber(c) >= tonumber(cutoff) then cutoff = string.format('%.0f', tonumber(c) + 1) end
	if u and tonumber(u) > tonumber(untl) then untl = u end
end
local left = redis.call('PTTL', KEYS[1])
if left > keep then keep = left end
local value = cutoff .. ' ' .. untl
local entry = 'subject ' .. value .. ' ' .. ARGV[5]
if KEYS[2] then append(KEYS[2], entry, ARGV[6]) end
redis.call('PUBLISH', ARGV[4], entry)
redis.call('SET', KEYS[1], value, 'PX', keep)
return value
`)

// RevokeSubject records that every token of subject issued at or before
// cutoff is revoked, and keeps that record while the clock's now is not
// after until, that instant included. When the subject already has a
// cut-off at or after cutoff, it records that one plus one microsecond
// instead, so that every call moves the cut-off forward whatever the
// caller's clock; the later until stays. When until is before the clock's
// now, RevokeSubject does nothing and returns nil. It satisfies authix's
// SubjectStore interface (authix.SubjectID is an alias of [32]byte).
//
// The key is prefix followed by "subject:" and the subject id in lowercase
// hex; its value is the cutoff in Unix microseconds (cut to the microsecond,
// the precision at which tokens carry their issue time, so the same tokens
// are revoked) and the until in Unix milliseconds (rounded up), separated by
// a space. Redis keeps it until ClockMargin (60s) after until, measured as a
// duration from the clock's now.
//
// As with Revoke, the write and its announcement to the other stores are one
// Lua script, and ctx bounds that one call. RevokeSubject returns nil only
// when Redis ran the whole script; the cut-off Redis stored is then visible
// to SubjectCutoff on this Store at once. Otherwise it returns an error
// wrapping ErrRevokeFailed, and calling it again is safe. RevokeSubject is
// safe for concurrent use.
func (s *Store) RevokeSubject(ctx context.Context, subject [32]byte, cutoff, until time.Time) error {
	if s.closed.Load() {
		return ErrClosed
	}
	now := s.clock()
	if until.Before(now) {
		return nil
	}
	c := mirror.Cut{At: cutoff.UnixMicro(), Until: mirror.CeilMilli(until)}
	keepMs := c.Until - now.UnixMilli() + ClockMargin.Milliseconds()
	hexID := hex.EncodeToString(subject[:])
	key := s.prefix + subjectInfix + hexID
	asked := strconv.FormatInt(c.At, 10) + " " + strconv.FormatInt(c.Until, 10)
	keys, err := s.logFirst(ctx, key, subjectAnnouncement+asked+" "+hexID)
	var v string
	if err == nil {
		v, err = subjectScript.Run(ctx, s.client, keys, strconv.FormatInt(c.At, 10), strconv.FormatInt(c.Until, 10),
			keepMs, s.channel, hexID, s.retention.Milliseconds()).Text()
	}
	if err == nil && s.split && v != asked {
		// On Cluster the log got the cut-off asked for, before the script
		// moved it forward: log the stored one too.
		_, err = s.logFirst(ctx, key, subjectAnnouncement+v+" "+hexID)
	}
	if err != nil {
		return fmt.Errorf("%w: write %q, log it in %q and announce it on channel %q: %w", ErrRevokeFailed, key, s.log, s.channel, err)
	}
	stored, ok := parseSubjectCut(v)
	if !ok {
		return fmt.Errorf("%w: write %q: the script returned %q, not the value it stored", ErrRevokeFailed, key, v)
	}
	s.mirror.CutSubject(subject, stored, now.UnixMilli())
	return nil
}

// SubjectCutoff returns the cutoff recorded for subject, or the zero time
// when there is none or its until has passed by the clock's now. While the
// local mirror is confirmed current within the staleness bound
// (WithStalenessBound, default 3s) it answers from the mirror alone, at the
// cost of a map lookup, so it may be asked on every request. Past the bound
// it asks Redis (GET, honouring ctx) for every subject, since a cut-off the
// mirror holds may have been superseded, and returns the later of the two;
// when that fails it returns an error wrapping ErrUnavailable, so the caller
// can fail closed. A value under a subject key that this package did not
// write is ignored, here and by full syncs. SubjectCutoff is safe for
// concurrent use.
func (s *Store) SubjectCutoff(ctx context.Context, subject [32]byte) (time.Time, error) {
	if s.closed.Load() {
		return time.Time{}, ErrClosed
	}
	c, ok := s.mirror.SubjectCut(subject)
	ok = ok && s.clock().UnixMilli() <= c.Until
	if s.fresh.Fresh() {
		return mirror.CutoffTime(c, ok), nil
	}
	v, err := s.client.Get(ctx, s.prefix+subjectInfix+hex.EncodeToString(subject[:])).Result()
	if err != nil && !errors.Is(err, redis.Nil) {
		return time.Time{}, fmt.Errorf("%w: local mirror unconfirmed for %v (bound %v) and GET failed: %w",
			ErrUnavailable, s.fresh.Age().Round(time.Millisecond), s.staleness, err)
	}
	r, found := parseSubjectCut(v)
	return mirror.CutoffTime(mirror.Later(c, ok, r, found, s.clock().UnixMilli())), nil
}

// applySubject records an announcement "<cutoff µs> <until ms> <hex id>",
// the part after subjectAnnouncement, in the mirror. Malformed payloads are
// ignored.
func (s *Store) applySubject(payload string) {
	i := strings.LastIndexByte(payload, ' ')
	if i < 0 {
		return
	}
	id, ok := parseID(payload[i+1:])
	if !ok {
		return
	}
	c, ok := parseSubjectCut(payload[:i])
	if !ok {
		return
	}
	s.mirror.CutSubject(id, c, s.clock().UnixMilli())
}

// parseSubjectCut decodes a subject key's value, "<cutoff µs> <until ms>".
func parseSubjectCut(v string) (mirror.Cut, bool) {
	cs, us, ok := strings.Cut(v, " ")
	if !ok {
		return mirror.Cut{}, false
	}
	cutoff, err1 := strconv.ParseInt(cs, 10, 64)
	until, err2 := strconv.ParseInt(us, 10, 64)
	if err1 != nil || err2 != nil {
		return mirror.Cut{}, false
	}
	return mirror.Cut{At: cutoff, Until: until}, true
}
