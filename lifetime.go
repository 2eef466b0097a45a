package authix

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
)

// The sealed lifetime (see "Lifetimes" in the package doc) is the payload
// object's first member, in exactly this form and order; each member but
// "exp" is optional:
//
//	{"_authix":{"exp":1767229200,"sv":0,"abs":1767268800,"sid":"…16 characters…","rem":1,"at":1767225600},"id":7}
//
// "sv" is the subject's cut-off the token was issued under (Unix µs, under
// WithSubject); "abs", "sid", "rem" and "at" are a session's absolute end,
// id, remember-me and last real authentication (step-up). Tokens sealed before "sv" carry "us", the microseconds of
// their issue time, in its place. Python readers see one more dict key.

// sealedPrefix opens every plaintext authix seals.
const sealedPrefix = `{"_authix":{"exp":`

// sealed is what a token says about its own life.
type sealed struct {
	exp   int64 // when the token expires, Unix seconds
	us    int64 // tokens sealed before sv: the microseconds past the issue second
	sv    int64 // under WithSubject, the subject cut-off the token was issued under, Unix µs
	hasSV bool
	abs   int64     // when its session ends whatever renewals do; 0: no session limit
	sid   sessionID // the session the token belongs to; zero: none
	rem   bool      // the user asked to be remembered: a persistent cookie
	auth  int64     // a session's last real authentication (login, Confirm), Unix seconds; 0: unknown
}

// sessionID names a session: 96 random bits, drawn at login, whose 16
// base64 characters keep a session token one AES block shorter than 128
// bits would.
type sessionID [12]byte

const sidLen = 16 // base64 of 12 bytes

func (m sealed) hasSession() bool { return m.sid != sessionID{} }

// authenticatedAt is when the user of a token issued at issued last
// authenticated: "at", else the issue time of a token outside a session,
// which is never renewed. A session token sealed before "at" may be a
// renewal, so it does not say.
func authenticatedAt(m sealed, issued time.Time) time.Time {
	switch {
	case m.auth != 0:
		return time.Unix(m.auth, 0)
	case m.hasSession():
		return time.Time{}
	}
	return issued
}

var (
	errPayloadNotObject = fmt.Errorf("%w: payload must encode as a JSON object, as fastapi-authix payloads do", ErrUnsupportedPayload)
	errSealedMeta       = fmt.Errorf("%w: malformed sealed lifetime", ErrInvalidToken)
	sidEncoding         = base64.RawURLEncoding
)

// appendSealed appends to dst the plaintext for a payload object encoded as
// payload, with m sealed in front of it.
func appendSealed(dst []byte, m sealed, payload []byte) ([]byte, error) {
	if len(payload) < 2 || payload[0] != '{' {
		return dst, errPayloadNotObject
	}
	dst = append(dst, sealedPrefix...)
	dst = strconv.AppendInt(dst, m.exp, 10)
	if m.us != 0 {
		dst = append(dst, `,"us":`...)
		dst = strconv.AppendInt(dst, m.us, 10)
	}
	if m.hasSV {
		dst = append(dst, `,"sv":`...)
		dst = strconv.AppendInt(dst, m.sv, 10)
	}
	if m.abs != 0 {
		dst = append(dst, `,"abs":`...)
		dst = strconv.AppendInt(dst, m.abs, 10)
	}
	if m.hasSession() {
		dst = append(dst, `,"sid":"`...)
		dst = sidEncoding.AppendEncode(dst, m.sid[:])
		dst = append(dst, '"')
	}
	if m.rem {
		dst = append(dst, `,"rem":1`...)
	}
	if m.auth != 0 {
		dst = append(dst, `,"at":`...)
		dst = strconv.AppendInt(dst, m.auth, 10)
	}
	dst = append(dst, '}')
	if len(payload) == 2 { // {}
		return append(dst, '}'), nil
	}
	dst = append(dst, ',')
	return append(dst, payload[1:]...), nil
}

// splitSealed returns what plain seals about the token, if anything, and
// the payload object without it. It may rewrite plain in place. Only the
// leading member counts, and only in the exact form appendSealed writes.
func splitSealed(plain []byte) (m sealed, payload []byte, ok bool, err error) {
	if len(plain) < len(sealedPrefix) || string(plain[:len(sealedPrefix)]) != sealedPrefix {
		return m, plain, false, nil
	}
	p := metaParser{b: plain, i: len(sealedPrefix)}
	m.exp = p.number()
	if p.take(`,"us":`) {
		if m.us = p.number(); m.us >= 1e6 {
			p.bad = true
		}
	}
	if p.take(`,"sv":`) {
		m.sv, m.hasSV = p.number(), true
	}
	if p.take(`,"abs":`) {
		m.abs = p.number()
	}
	if p.take(`,"sid":"`) {
		if p.i+sidLen+1 > len(plain) || plain[p.i+sidLen] != '"' {
			return m, nil, true, errSealedMeta
		}
		if n, err := sidEncoding.Decode(m.sid[:], plain[p.i:p.i+sidLen]); err != nil || n != len(m.sid) {
			return m, nil, true, errSealedMeta
		}
		p.i += sidLen + 1
	}
	m.rem = p.take(`,"rem":1`)
	if p.take(`,"at":`) {
		m.auth = p.number()
	}
	if p.bad || !p.take("}") || p.i >= len(plain) {
		return m, nil, true, errSealedMeta
	}
	switch plain[p.i] {
	case ',':
		plain[p.i] = '{'
		return m, plain[p.i:], true, nil
	case '}':
		if p.i+1 == len(plain) {
			plain[p.i-1] = '{'
			return m, plain[p.i-1 : p.i+1], true, nil
		}
	}
	return m, nil, true, errSealedMeta
}

type metaParser struct {
	b   []byte
	i   int
	bad bool
}

func (p *metaParser) take(s string) bool {
	if len(p.b)-p.i >= len(s) && string(p.b[p.i:p.i+len(s)]) == s {
		p.i += len(s)
		return true
	}
	return false
}

// number reads up to 18 digits, so that it cannot overflow.
func (p *metaParser) number() int64 {
	var n int64
	start := p.i
	for p.i < len(p.b) && p.i-start < 18 && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		n = n*10 + int64(p.b[p.i]-'0')
		p.i++
	}
	if p.i == start {
		p.bad = true
	}
	return n
}
