package authix

import (
	"encoding/base64"
	"fmt"
	"strconv"
	"time"
)

// A Fernet token records when it was sealed, not how long it lives, so on
// its own each reader's TTL would decide: a fleet redeployed with a longer
// TTL would accept again tokens whose revocation entries had run out. So
// authix seals the expiry inside the plaintext, as the payload object's
// first member, and every reader holds a token to it:
//
//	{"_authix":{"exp":1767229200},"id":7,"name":"John"}
//
// Under WithSubject a token also carries the subject's cut-off it was
// issued under ("sv", Unix microseconds, 0 for none), read from the store at
// login and kept by every renewal, so a later LogoutEverywhere refuses it
// whichever replica renewed it and whatever that replica's clock says. A
// token of a sliding session carries the session's absolute expiry, its id,
// and whether the user asked to be remembered; in that order:
//
//	{"_authix":{"exp":1767229200,"sv":0,"abs":1767268800,"sid":"…16 characters…","rem":1},"id":7}
//
// Tokens sealed before "sv" carry "us" instead, the microseconds of their
// issue time, and keep the issue-time rule. Tokens without the member, such
// as those fastapi-authix seals, keep the reader's TTL. Python readers see
// "_authix" as one more key of the payload dict (pydantic models ignore it)
// and apply their own TTL. A reader never lets a sealed expiry give a token
// more than its own lifetime for a token of that kind from its issue time,
// so a Python payload that begins with an "_authix" key gains nothing.

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
}

// sessionID names a session: 96 random bits, drawn at login, whose 16
// base64 characters keep a session token one AES block shorter than 128
// bits would.
type sessionID [12]byte

const sidLen = 16 // base64 of 12 bytes

func (m sealed) hasSession() bool { return m.sid != sessionID{} }

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

// sessionKey is the revocation id of a whole session: its random id, then
// a label. A token's id is a SHA-256 output, so the two never meet.
func sessionKey(sid sessionID) TokenID {
	var id TokenID
	copy(id[:], sid[:])
	copy(id[len(sid):], "authix session\x00\x00\x00\x00\x00\x00")
	return id
}

// openToken opens token at now and finds its payload and lifetime: the
// sealed expiry when there is one, else the vault's TTL. An authentic token
// past its expiry fails with ErrExpiredToken, and info and m are filled in
// as far as the token could be read.
func (v *Vault[T]) openToken(dst []byte, token string, now time.Time) (plain, payload []byte, info TokenInfo, m sealed, err error) {
	plain, info, err = v.cipher.Open(dst, token, now)
	if err != nil {
		return plain, nil, info, m, err
	}
	m, payload, ok, err := splitSealed(plain[len(dst):])
	if err != nil {
		return plain, nil, TokenInfo{}, m, err
	}
	if ok {
		// The writer decides, up to what this reader grants a token of its
		// kind: a payload that merely looks sealed gains nothing.
		lim := info.IssuedAt.Unix() + int64((v.lifetime(m)+time.Second-1)/time.Second)
		m.exp = min(m.exp, lim)
		info.ExpiresAt = time.Unix(m.exp, 0)
		if m.abs != 0 {
			info.SessionExpiresAt = time.Unix(m.abs, 0)
		}
		info.Remembered = m.rem
	} else {
		info.ExpiresAt = info.IssuedAt.Add(v.ttl)
	}
	if now.After(info.ExpiresAt) {
		return plain, nil, info, m, errTokenExpired
	}
	return plain, payload, info, m, nil
}
