package authix

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"hash"
	"io"
	"strings"
	"sync"
	"time"
	"unsafe"

	"github.com/fernet/fernet-go"
)

// MaxTokenSize is the longest token, in bytes, that authix seals or opens.
// Browsers keep cookies of up to 4096 bytes; a longer incoming token is
// rejected before any cryptographic work.
const MaxTokenSize = 4096

// DefaultTTL is how long a token stays valid when no TTL is configured, as in
// fastapi-authix.
const DefaultTTL = time.Hour

// Cipher turns plaintext into tokens and back. Implementations must be safe
// for concurrent use, must authenticate a token before reporting anything
// about it, and must never panic on malformed input. A Vault holds a token
// to the expiry it sealed inside the plaintext, and a token without one to
// the vault's TTL; the cipher's TTL bounds them all.
type Cipher interface {
	// Seal appends to dst a token for plaintext, issued at now, and says
	// what Open would say of it: its ID, IssuedAt and ExpiresAt.
	Seal(dst, plaintext []byte, now time.Time) ([]byte, TokenInfo, error)

	// Open authenticates token at time now and appends its plaintext to dst.
	// It fails with an error wrapping ErrInvalidToken for anything that is not
	// an authentic token, and with one wrapping ErrExpiredToken for an
	// authentic token past its TTL; in that case the TokenInfo is filled in.
	Open(dst []byte, token string, now time.Time) ([]byte, TokenInfo, error)

	// TTL reports how long a sealed token stays valid.
	TTL() time.Duration
}

// TokenInfo describes a token that Cipher.Open authenticated.
type TokenInfo struct {
	// ID identifies the token for revocation. It is the same for every
	// encoding of one token, and differs between tokens.
	ID TokenID
	// IssuedAt is when the token was sealed, as the token itself says.
	IssuedAt time.Time
	// ExpiresAt is IssuedAt plus the cipher's TTL. A Vault replaces it with
	// the expiry sealed inside the token, when the token has one.
	ExpiresAt time.Time
	// KeyIndex is the position, in the cipher's key list, of the key that
	// opened the token.
	KeyIndex int

	// The Vault fills in the rest; a Cipher leaves them zero.

	// Source is where the request carried the token; empty for a token
	// that did not come with a request.
	Source TokenSource
	// SessionExpiresAt is when the token's session ends whatever renewals
	// do (WithSessionLifetime); zero when the token has no session limit.
	SessionExpiresAt time.Time
	// Remembered reports that the token was issued with RememberMe(true):
	// its cookie is persistent and it lives for the remember-me lifetime.
	Remembered bool
	// AuthenticatedAt is when the user last proved who they are: the login,
	// or a later Confirm; zero for a token that does not say: fastapi-authix's,
	// or a session's sealed before authix recorded it.
	AuthenticatedAt time.Time
}

// TokenSource is where a request carried its token.
type TokenSource string

// The token sources a Vault reads, in the order it tries them.
const (
	SourceCookie TokenSource = "cookie" // the token cookie
	SourceHeader TokenSource = "header" // the WithHeader header
	SourceBearer TokenSource = "bearer" // Authorization: Bearer
)

// Fernet layout: version | timestamp | IV | AES-128-CBC ciphertext | HMAC-SHA256.
const (
	fernetVersion  = 0x80
	fernetTSOff    = 1
	fernetIVOff    = fernetTSOff + 8
	fernetCTOff    = fernetIVOff + aes.BlockSize
	fernetOverhead = fernetCTOff + sha256.Size
	fernetMinRaw   = fernetOverhead + aes.BlockSize
	fernetMaxSkew  = 60 * time.Second
	fernetMaxRaw   = MaxTokenSize / 4 * 3
)

var b64 = base64.URLEncoding

// Errors that Open wraps; prepared once so that rejecting a token costs no
// allocation.
var (
	errTokenLength  = fmt.Errorf("%w: token longer than %d bytes", ErrInvalidToken, MaxTokenSize)
	errTokenBase64  = fmt.Errorf("%w: not URL-safe base64", ErrInvalidToken)
	errTokenShort   = fmt.Errorf("%w: token too short", ErrInvalidToken)
	errTokenVersion = fmt.Errorf("%w: unknown version byte", ErrInvalidToken)
	errTokenBlocks  = fmt.Errorf("%w: ciphertext is not whole blocks", ErrInvalidToken)
	errTokenMAC     = fmt.Errorf("%w: MAC does not verify with any key", ErrInvalidToken)
	errTokenFuture  = fmt.Errorf("%w: issued too far in the future", ErrInvalidToken)
	errTokenPadding = fmt.Errorf("%w: bad padding", ErrInvalidToken)
	errTokenExpired = fmt.Errorf("%w: older than the TTL", ErrExpiredToken)
	errSessionOver  = fmt.Errorf("%w: its session reached its absolute lifetime; the user logs in again", ErrExpiredToken)
	errSealTooLarge = fmt.Errorf("%w: sealed token would exceed %d bytes", ErrTokenTooLarge, MaxTokenSize)
)

// Fernet is the default Cipher: the Fernet specification, so its tokens open
// with Python's cryptography.fernet and with fernet-go, and theirs here. It
// prepares each key's AES and HMAC state once, opens without allocating, and
// is safe for concurrent use.
type Fernet struct {
	ttl     time.Duration
	keys    []fernetKey
	scratch sync.Pool // *fernetScratch
}

type fernetKey struct {
	block   cipher.Block
	signKey []byte
}

type fernetScratch struct {
	raw  [fernetMaxRaw]byte
	sum  [sha256.Size]byte
	macs []hash.Hash // one HMAC state per key, reset between uses
}

// NewFernet returns a Fernet cipher whose tokens live for ttl, under keys as
// WithKeys takes them (the first seals, all open), or under one random key
// when there are none.
func NewFernet(ttl time.Duration, keys ...string) (*Fernet, error) {
	if ttl < time.Second {
		return nil, fmt.Errorf("%w: NewFernet: TTL must be at least one second, got %v", ErrInvalidOption, ttl)
	}
	parsed, err := parseKeys(keys)
	if err != nil {
		return nil, err
	}
	return newFernet(ttl, parsed), nil
}

// parseKeys decodes keys as NewFernet takes them, or makes one random key
// when there are none.
func parseKeys(keys []string) ([]*fernet.Key, error) {
	if len(keys) == 0 {
		k := new(fernet.Key)
		if err := k.Generate(); err != nil {
			return nil, fmt.Errorf("authix: generating a key: %w", err)
		}
		return []*fernet.Key{k}, nil
	}
	list := splitKeys(keys)
	if len(list) == 0 {
		return nil, fmt.Errorf("%w: NewFernet: no keys given (is AUTHIX_KEYS empty?); generate one with authix.GenerateKey", ErrInvalidOption)
	}
	parsed := make([]*fernet.Key, 0, len(list))
	for i, s := range list {
		k, ok := decodeKey(s)
		if !ok {
			// The key itself is never echoed.
			return nil, fmt.Errorf("%w: NewFernet: key %d of %d is not 32 bytes of URL-safe base64 (44 characters, as Python's Fernet.generate_key() prints; hex and standard base64 are refused); generate one with authix.GenerateKey", ErrInvalidOption, i+1, len(list))
		}
		parsed = append(parsed, k)
	}
	return parsed, nil
}

// purposeKeys derives from each key another one for purpose, with
// HKDF-SHA256, so that vaults bound to different purposes share no key and
// never open each other's tokens.
func purposeKeys(keys []*fernet.Key, purpose string) ([]*fernet.Key, error) {
	out := make([]*fernet.Key, len(keys))
	for i, k := range keys {
		d, err := hkdf.Key(sha256.New, k[:], nil, "authix purpose\x00"+purpose, len(k))
		if err != nil {
			return nil, fmt.Errorf("authix: deriving the keys of purpose %q: %w", purpose, err)
		}
		out[i] = new(fernet.Key)
		copy(out[i][:], d)
	}
	return out, nil
}

// decodeKey reads a key only in the form Python's Fernet writes it: 32
// bytes in padded URL-safe base64. fernet-go also takes hex and standard
// base64, which a Python service sharing the keys would refuse.
func decodeKey(s string) (*fernet.Key, bool) {
	if len(s) != b64.EncodedLen(32) {
		return nil, false
	}
	k := new(fernet.Key)
	if n, err := b64.Strict().Decode(k[:], []byte(s)); err != nil || n != len(k) {
		return nil, false
	}
	return k, true
}

func splitKeys(keys []string) []string {
	var out []string
	for _, arg := range keys {
		for s := range strings.SplitSeq(arg, ",") {
			if s = strings.TrimSpace(s); s != "" {
				out = append(out, s)
			}
		}
	}
	return out
}

// newFernet builds the cipher from decoded keys. A ttl <= 0 turns off the
// time checks, which only the specification's test vectors need.
func newFernet(ttl time.Duration, keys []*fernet.Key) *Fernet {
	f := &Fernet{ttl: ttl, keys: make([]fernetKey, len(keys))}
	for i, k := range keys {
		// A Fernet key is the signing key followed by the encryption key.
		block, _ := aes.NewCipher(k[16:]) // 16 bytes: cannot fail
		f.keys[i] = fernetKey{block: block, signKey: append([]byte(nil), k[:16]...)}
	}
	f.scratch.New = func() any {
		s := &fernetScratch{macs: make([]hash.Hash, len(f.keys))}
		for i := range f.keys {
			s.macs[i] = hmac.New(sha256.New, f.keys[i].signKey)
		}
		return s
	}
	return f
}

// GenerateKey returns a new random Fernet key in URL-safe base64, the format
// NewFernet, WithKeys and Python's Fernet take.
func GenerateKey() string {
	var k fernet.Key
	if err := k.Generate(); err != nil {
		// crypto/rand does not fail on supported platforms.
		panic("authix: crypto/rand failed: " + err.Error())
	}
	return k.Encode()
}

// TTL reports how long the tokens this cipher seals stay valid.
func (f *Fernet) TTL() time.Duration { return f.ttl }

// String describes the cipher without revealing any key.
func (f *Fernet) String() string {
	return fmt.Sprintf("authix.Fernet{keys: %d, ttl: %v}", len(f.keys), f.ttl)
}

// Format prints String for every verb, so that no verb reveals key bytes.
func (f *Fernet) Format(s fmt.State, _ rune) { _, _ = io.WriteString(s, f.String()) }

// Seal appends to dst a Fernet token for plaintext, issued at now, under
// the first key.
func (f *Fernet) Seal(dst, plaintext []byte, now time.Time) ([]byte, TokenInfo, error) {
	if b64.EncodedLen(fernetOverhead+len(plaintext)/aes.BlockSize*aes.BlockSize+aes.BlockSize) > MaxTokenSize {
		return dst, TokenInfo{}, errSealTooLarge
	}
	s := f.scratch.Get().(*fernetScratch)
	defer f.scratch.Put(s)
	iv := s.raw[fernetIVOff:fernetCTOff]
	if _, err := rand.Read(iv); err != nil {
		return dst, TokenInfo{}, fmt.Errorf("authix: reading random IV: %w", err)
	}
	n := f.seal(s, plaintext, now.Unix())
	info := TokenInfo{ID: sha256.Sum256(s.raw[n-sha256.Size : n]), IssuedAt: time.Unix(now.Unix(), 0)}
	info.ExpiresAt = info.IssuedAt.Add(f.ttl)
	return b64.AppendEncode(dst, s.raw[:n]), info, nil
}

// seal is the deterministic core: it writes the raw token for msg into
// s.raw, with the IV already in place, and returns its length.
func (f *Fernet) seal(s *fernetScratch, msg []byte, ts int64) int {
	k := &f.keys[0]
	raw := s.raw[:]
	raw[0] = fernetVersion
	binary.BigEndian.PutUint64(raw[fernetTSOff:], uint64(ts))
	padLen := aes.BlockSize - len(msg)%aes.BlockSize
	ct := raw[fernetCTOff : fernetCTOff+len(msg)+padLen]
	copy(ct, msg)
	for i := len(msg); i < len(ct); i++ {
		ct[i] = byte(padLen)
	}
	prev := raw[fernetIVOff:fernetCTOff]
	for i := 0; i < len(ct); i += aes.BlockSize {
		blk := ct[i : i+aes.BlockSize]
		xorBlock(blk, prev)
		k.block.Encrypt(blk, blk)
		prev = blk
	}
	n := fernetCTOff + len(ct)
	mac := s.macs[0]
	mac.Reset()
	mac.Write(raw[:n])
	mac.Sum(raw[n:n])
	return n + sha256.Size
}

// xorBlock XORs the AES block src into dst, a word at a time:
// subtle.XORBytes costs a call and a length dispatch for each block.
func xorBlock(dst, src []byte) {
	_, _ = dst[aes.BlockSize-1], src[aes.BlockSize-1]
	binary.LittleEndian.PutUint64(dst, binary.LittleEndian.Uint64(dst)^binary.LittleEndian.Uint64(src))
	binary.LittleEndian.PutUint64(dst[8:], binary.LittleEndian.Uint64(dst[8:])^binary.LittleEndian.Uint64(src[8:]))
}

// Open authenticates token at time now and appends its plaintext to dst.
// It checks, in order: size, encoding, version, the MAC under each key, then
// the timestamp (no more than 60 seconds in the future, no older than the
// TTL), then the padding. Nothing is decrypted before the MAC verifies.
func (f *Fernet) Open(dst []byte, token string, now time.Time) ([]byte, TokenInfo, error) {
	if len(token) > MaxTokenSize {
		return dst, TokenInfo{}, errTokenLength
	}
	s := f.scratch.Get().(*fernetScratch)
	defer f.scratch.Put(s)
	// Decode reads src only, so viewing the string's bytes is safe.
	n, err := b64.Decode(s.raw[:], unsafe.Slice(unsafe.StringData(token), len(token)))
	if err != nil {
		return dst, TokenInfo{}, errTokenBase64
	}
	return f.open(dst, s, s.raw[:n], now)
}

func (f *Fernet) open(dst []byte, s *fernetScratch, raw []byte, now time.Time) ([]byte, TokenInfo, error) {
	var info TokenInfo
	if len(raw) < fernetMinRaw {
		return dst, info, errTokenShort
	}
	if raw[0] != fernetVersion {
		return dst, info, errTokenVersion
	}
	body := len(raw) - sha256.Size
	if (body-fernetCTOff)%aes.BlockSize != 0 {
		return dst, info, errTokenBlocks
	}
	key := -1
	for i := range f.keys {
		mac := s.macs[i]
		mac.Reset()
		mac.Write(raw[:body])
		if hmac.Equal(mac.Sum(s.sum[:0]), raw[body:]) {
			key = i
			break
		}
	}
	if key < 0 {
		return dst, info, errTokenMAC
	}
	// The tag identifies the token whatever its encoding; hashing it keeps
	// token bytes out of revocation stores.
	info.ID = sha256.Sum256(raw[body:])
	info.KeyIndex = key
	// Compared as integers first: a stamp near the int64 limit would
	// overflow time.Time arithmetic.
	ts := int64(binary.BigEndian.Uint64(raw[fernetTSOff:]))
	if f.ttl > 0 && ts > now.Unix()+int64(fernetMaxSkew/time.Second) {
		return dst, TokenInfo{}, errTokenFuture
	}
	info.IssuedAt = time.Unix(ts, 0)
	info.ExpiresAt = info.IssuedAt.Add(f.ttl)
	if f.ttl > 0 {
		if now.After(info.ExpiresAt) {
			return dst, info, errTokenExpired
		}
	}
	ct := raw[fernetCTOff:body]
	start := len(dst)
	dst = append(dst, ct...)
	out := dst[start:]
	block := f.keys[key].block
	prev := raw[fernetIVOff:fernetCTOff]
	for i := 0; i < len(out); i += aes.BlockSize {
		blk := out[i : i+aes.BlockSize]
		block.Decrypt(blk, blk)
		xorBlock(blk, prev)
		prev = ct[i : i+aes.BlockSize]
	}
	pad := int(out[len(out)-1])
	if pad == 0 || pad > aes.BlockSize {
		return dst[:start], TokenInfo{}, errTokenPadding
	}
	for _, b := range out[len(out)-pad:] {
		if int(b) != pad {
			return dst[:start], TokenInfo{}, errTokenPadding
		}
	}
	return dst[:len(dst)-pad], info, nil
}
