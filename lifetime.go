package authix

import (
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
// Tokens without that member, such as those fastapi-authix seals, keep the
// reader's TTL. Python readers see "_authix" as one more key of the payload
// dict (pydantic models ignore it) and apply their own TTL.

// sealedPrefix opens every plaintext authix seals.
const sealedPrefix = `{"_authix":{"exp":`

var (
	errPayloadNotObject = fmt.Errorf("%w: payload must encode as a JSON object, as fastapi-authix payloads do", ErrUnsupportedPayload)
	errSealedMeta       = fmt.Errorf("%w: malformed sealed lifetime", ErrInvalidToken)
)

// appendSealed appends to dst the plaintext for a payload object encoded as
// payload, expiring at exp (Unix seconds).
func appendSealed(dst []byte, exp int64, payload []byte) ([]byte, error) {
	if len(payload) < 2 || payload[0] != '{' {
		return dst, errPayloadNotObject
	}
	dst = append(dst, sealedPrefix...)
	dst = strconv.AppendInt(dst, exp, 10)
	dst = append(dst, '}')
	if len(payload) == 2 { // {}
		return append(dst, '}'), nil
	}
	dst = append(dst, ',')
	return append(dst, payload[1:]...), nil
}

// splitSealed returns the expiry sealed in plain, if any, and the payload
// object without it. It may rewrite plain in place. Only the leading member
// counts, and only in the exact form appendSealed writes.
func splitSealed(plain []byte) (exp int64, payload []byte, sealed bool, err error) {
	if len(plain) < len(sealedPrefix) || string(plain[:len(sealedPrefix)]) != sealedPrefix {
		return 0, plain, false, nil
	}
	i := len(sealedPrefix)
	start := i
	for i < len(plain) && i-start < 18 && plain[i] >= '0' && plain[i] <= '9' {
		exp = exp*10 + int64(plain[i]-'0')
		i++
	}
	if i == start || i+1 >= len(plain) || plain[i] != '}' {
		return 0, nil, true, errSealedMeta
	}
	switch plain[i+1] {
	case ',':
		plain[i+1] = '{'
		return exp, plain[i+1:], true, nil
	case '}':
		if i+2 == len(plain) {
			plain[i] = '{'
			return exp, plain[i : i+2], true, nil
		}
	}
	return 0, nil, true, errSealedMeta
}

// openToken opens token at now and finds its payload and lifetime: the
// sealed expiry when there is one, else the cipher's. An authentic token
// past its expiry fails with ErrExpiredToken and a filled-in TokenInfo.
func (v *Vault[T]) openToken(dst []byte, token string, now time.Time) (plain, payload []byte, info TokenInfo, err error) {
	plain, info, err = v.cipher.Open(dst, token, now)
	if err != nil {
		return plain, nil, info, err
	}
	exp, payload, sealed, err := splitSealed(plain[len(dst):])
	if err != nil {
		return plain, nil, TokenInfo{}, err
	}
	if sealed {
		info.ExpiresAt = time.Unix(exp, 0)
	}
	if now.After(info.ExpiresAt) {
		return plain, nil, info, errTokenExpired
	}
	return plain, payload, info, nil
}
