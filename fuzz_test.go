package authix_test

// Fuzz targets. Run one with
//
//	go test -run '^$' -fuzz '^FuzzFernetOpen$' -fuzztime 30s .
//
// (.ci/after.d/10-fuzz.sh runs each for 30 s). Inputs that ever failed are
// kept under testdata/fuzz/<Target>/ and replayed by every go test run.

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/fernet/fernet-go"
)

// specNow and specTTL are the Fernet specification's test clock and
// TTL, so that its vectors keep their meaning in the fuzz seeds.
var specNow = time.Date(1985, 10, 26, 8, 20, 1, 0, time.UTC)

const specTTL = 60 * time.Second

// specTokens returns every token of the specification's vectors.
func specTokens(tb testing.TB) []string {
	tb.Helper()
	var toks []string
	for _, name := range []string{"generate.json", "verify.json", "invalid.json"} {
		data, err := os.ReadFile("testdata/fernet-spec/" + name)
		if err != nil {
			tb.Fatal(err)
		}
		var vs []struct {
			Token string `json:"token"`
		}
		if err := json.Unmarshal(data, &vs); err != nil {
			tb.Fatal(err)
		}
		for _, v := range vs {
			toks = append(toks, v.Token)
		}
	}
	if len(toks) < 10 {
		tb.Fatalf("only %d spec tokens", len(toks))
	}
	return toks
}

// refResult is what the reference model says about a token.
type refResult struct {
	class error // nil, ErrInvalidToken or ErrExpiredToken
	plain []byte
	key   int
	ts    int64
}

// refOpen is an independent, plain reading of the Fernet specification
// plus authix's documented limits (MaxTokenSize, 60 s skew, strict PKCS#7),
// written with crypto/cipher's CBC mode, to check Fernet.Open against.
func refOpen(token string, keys []string, ttl time.Duration, now time.Time) refResult {
	invalid := refResult{class: authix.ErrInvalidToken, key: -1}
	if len(token) > authix.MaxTokenSize {
		return invalid
	}
	raw, err := base64.URLEncoding.DecodeString(token)
	if err != nil || len(raw) < 1+8+16+16+32 || raw[0] != 0x80 || (len(raw)-1-8-16-32)%16 != 0 {
		return invalid
	}
	body := raw[:len(raw)-32]
	key := -1
	var enc []byte
	for i, k := range keys {
		kb, _ := base64.URLEncoding.DecodeString(k)
		mac := hmac.New(sha256.New, kb[:16])
		mac.Write(body)
		if hmac.Equal(mac.Sum(nil), raw[len(raw)-32:]) {
			key, enc = i, kb[16:]
			break
		}
	}
	if key < 0 {
		return invalid
	}
	ts := int64(binary.BigEndian.Uint64(raw[1:9]))
	nowS, ttlS := now.Unix(), int64(ttl/time.Second)
	if ts > nowS+60 {
		return refResult{class: authix.ErrInvalidToken, key: key, ts: ts}
	}
	if ts < math.MinInt64+ttlS || nowS > ts+ttlS { // now is a whole second
		return refResult{class: authix.ErrExpiredToken, key: key, ts: ts}
	}
	block, _ := aes.NewCipher(enc)
	plain := append([]byte(nil), body[25:]...)
	cipher.NewCBCDecrypter(block, raw[9:25]).CryptBlocks(plain, plain)
	pad := int(plain[len(plain)-1])
	if pad < 1 || pad > 16 {
		return invalid
	}
	for _, b := range plain[len(plain)-pad:] {
		if int(b) != pad {
			return invalid
		}
	}
	return refResult{plain: plain[:len(plain)-pad], key: key, ts: ts}
}

// unixToInternal is time's offset between year 1 and 1970, in seconds.
const unixToInternal = (1969*365 + 1969/4 - 1969/100 + 1969/400) * 24 * 60 * 60

// TestFernetFarFutureTimestamp: stamps near the int64 limit, where time.Unix
// arithmetic would overflow, are refused as from the future, not as expired.
func TestFernetFarFutureTimestamp(t *testing.T) {
	fern, err := authix.NewFernet(time.Hour, keyA)
	if err != nil {
		t.Fatal(err)
	}
	for _, ts := range []int64{math.MaxInt64, math.MaxInt64 - unixToInternal + 1, 1 << 62, testEpoch.Unix() + 61} {
		tok := sealRaw(t, keyA, time.Unix(ts, 0), pkcs7Pad([]byte("{}")))
		_, _, err := fern.Open(nil, tok, testEpoch)
		if !errors.Is(err, authix.ErrInvalidToken) {
			t.Errorf("timestamp %d: %v, want ErrInvalidToken", ts, err)
		}
	}
}

// FuzzFernetOpen opens arbitrary token strings with a two-key Fernet
// cipher and compares every outcome with the reference model. With resign
// set, the decoded bytes get a valid MAC under the first key first, so the
// fuzzer also explores what happens after authentication (timestamps,
// padding, lengths).
func FuzzFernetOpen(f *testing.F) {
	keys := []string{keyA, keySpec}
	fern, err := authix.NewFernet(specTTL, keys...)
	if err != nil {
		f.Fatal(err)
	}
	fernetGoKeys := fernet.MustDecodeKeys(keys...)
	signA, _ := keyHalves(f, keyA)
	now := specNow

	for _, tok := range specTokens(f) {
		f.Add(tok, false)
		f.Add(tok, true)
	}
	other, err := authix.NewFernet(specTTL, keyOther)
	if err != nil {
		f.Fatal(err)
	}
	for _, c := range []*authix.Fernet{fern, other} {
		for _, msg := range []string{"", "x", strings.Repeat("a", 15), strings.Repeat("b", 16), strings.Repeat("c", 17), `{"id":1,"name":"John","is_admin":true}`} {
			for _, at := range []time.Duration{0, -specTTL, -specTTL - time.Second, 60 * time.Second, 61 * time.Second} {
				tok, _, err := c.Seal(nil, []byte(msg), now.Add(at))
				if err != nil {
					f.Fatal(err)
				}
				f.Add(string(tok), false)
			}
		}
	}
	f.Add("", false)
	f.Add("gAAAAA==", true)
	f.Add(strings.Repeat("A", authix.MaxTokenSize+1), false)
	f.Add(sealRaw(f, keyA, now, nil), false)
	f.Add(sealRaw(f, keyA, now, make([]byte, 16)), false)
	f.Add(sealRaw(f, keyA, time.Unix(math.MaxInt64, 0), pkcs7Pad([]byte("far"))), false)

	f.Fuzz(func(t *testing.T, token string, resign bool) {
		if resign {
			if raw, err := base64.URLEncoding.DecodeString(token); err == nil && len(raw) >= sha256.Size {
				token = base64.URLEncoding.EncodeToString(resignTag(raw, signA))
			}
		}
		want := refOpen(token, keys, specTTL, now)

		dst := append(make([]byte, 0, 64), "prefix"...)
		out, info, err := fern.Open(dst, token, now)
		if !bytes.HasPrefix(out, []byte("prefix")) {
			t.Fatalf("Open lost dst: %q", out)
		}
		plain := out[len("prefix"):]

		if err != nil {
			if !isOneOf(err, authix.ErrInvalidToken, authix.ErrExpiredToken) {
				t.Fatalf("error %v wraps neither ErrInvalidToken nor ErrExpiredToken", err)
			}
			if len(plain) != 0 {
				t.Fatalf("failed Open appended %q", plain)
			}
		}
		switch {
		case want.class == nil && err != nil:
			t.Fatalf("authentic, valid token refused: %v", err)
		case want.class != nil && err == nil:
			t.Fatalf("token accepted; the reference says %v", want.class)
		case want.class != nil && !errors.Is(err, want.class):
			t.Fatalf("error %v; the reference says %v", err, want.class)
		}
		if errors.Is(err, authix.ErrExpiredToken) {
			// Only authentic tokens are reported as expired, with their info.
			if info.KeyIndex != want.key || info.IssuedAt.Unix() != want.ts || !info.ExpiresAt.Equal(info.IssuedAt.Add(specTTL)) {
				t.Fatalf("expired token's info %+v; want key %d, issued %d", info, want.key, want.ts)
			}
			if !info.ExpiresAt.Before(now) {
				t.Fatalf("expired token expires at %v, after now %v", info.ExpiresAt, now)
			}
		}
		if err != nil {
			return
		}

		if !bytes.Equal(plain, want.plain) {
			t.Fatalf("plaintext %q; the reference says %q", plain, want.plain)
		}
		if info.KeyIndex != want.key || info.IssuedAt.Unix() != want.ts || !info.ExpiresAt.Equal(info.IssuedAt.Add(specTTL)) {
			t.Fatalf("info %+v; want key %d, issued at %d", info, want.key, want.ts)
		}
		if info.ID == ([32]byte{}) {
			t.Fatal("zero token ID")
		}
		// The ID is the same for the canonical encoding of the same bytes.
		raw, _ := base64.URLEncoding.DecodeString(token)
		_, info2, err := fern.Open(nil, base64.URLEncoding.EncodeToString(raw), now)
		if err != nil || info2.ID != info.ID {
			t.Fatalf("canonical encoding: %v, ID %x vs %x", err, info2.ID, info.ID)
		}
		// fernet-go, without its clock check, reads the same plaintext.
		if got := fernet.VerifyAndDecrypt([]byte(token), 0, fernetGoKeys); !bytes.Equal(got, plain) {
			t.Fatalf("fernet-go reads %q, authix %q", got, plain)
		}
	})
}

// fuzzVault builds the vault of FuzzAuthenticate and the tokens its
// seeds use.
type fuzzVault struct {
	v       *authix.Vault[User]
	store   *countingStore
	issued  map[User]bool
	revoked User
	toks    []string // john, ann, revoked, expired, other key, spec key
}

func newFuzzVault(tb testing.TB) *fuzzVault {
	tb.Helper()
	clock := newFakeClock(testEpoch)
	s := &fuzzVault{
		store:   &countingStore{inner: authix.NewMemoryStore(clock.Now)},
		issued:  map[User]bool{},
		revoked: User{ID: 99, Name: "Revoked"},
	}
	var err error
	s.v, err = authix.New[User](authix.WithKeys(keyA, keySpec), authix.WithHeader("X-API-Key"), authix.WithBearer(),
		authix.WithClock(clock.Now), authix.WithRevocationStore(s.store))
	if err != nil {
		tb.Fatal(err)
	}
	// The tokens are deterministic (fixed IV), so that the fuzzing worker
	// processes, which each run this setup, hold the same tokens as the
	// seeds and revoke the same one.
	seal := func(key string, at time.Time, u User) {
		b, err := json.Marshal(u)
		if err != nil {
			tb.Fatal(err)
		}
		s.toks = append(s.toks, sealRaw(tb, key, at, pkcs7Pad(b)))
	}
	john, ann := User{ID: 1, Name: "John", IsAdmin: true}, User{ID: 2, Name: "Ann"}
	seal(keyA, testEpoch, john)
	seal(keyA, testEpoch.Add(-time.Minute), ann)
	seal(keyA, testEpoch, s.revoked)
	seal(keyA, testEpoch.Add(-authix.DefaultTTL-time.Second), john) // expired
	seal(keyOther, testEpoch, john)                                 // unknown key
	seal(keySpec, testEpoch, ann)                                   // the second key opens
	s.issued[john], s.issued[ann] = true, true
	if err := s.v.DisableAccessToken(tb.Context(), s.toks[2]); err != nil {
		tb.Fatal(err)
	}
	return s
}

// FuzzAuthenticate runs the whole Authenticate path, and RequireData, on
// requests built from fuzzed Cookie, X-API-Key and Authorization values,
// with or without an unsafe cross-site method.
func FuzzAuthenticate(f *testing.F) {
	s := newFuzzVault(f)
	john, ann, revoked, expired, otherKey := s.toks[0], s.toks[1], s.toks[2], s.toks[3], s.toks[4]
	cn := authix.DefaultCookieName + "="
	for _, tok := range s.toks {
		f.Add(cn+tok, "", "", false, false)
		f.Add("", tok, "", true, true)
		f.Add("", "", "Bearer "+tok, true, true)
		f.Add(cn+tok, "", "", true, true)
	}
	for _, tok := range specTokens(f) {
		f.Add(cn+tok, tok, "Bearer "+tok, false, false)
	}
	f.Add("", "", "", false, false)
	f.Add(cn, ann, "", true, true)
	f.Add(cn+`"`+john+`"`, "", "", false, false)
	f.Add("a=1; "+cn+john+"; b=2", "", "", false, false)
	f.Add(cn+"x; "+cn+john, "", "", false, false)
	f.Add(cn+john+"; "+cn+revoked, "", "", false, false)
	f.Add(cn+" "+john, "", "bearer "+ann, false, false)
	f.Add("", "garbage", "Bearer "+john, true, true)
	f.Add(cn+expired, otherKey, "Basic "+john, false, false)
	f.Add("", "", "Bearer  "+john+" ", false, false)
	f.Add(cn+strings.TrimRight(john, "="), "", "", false, false)
	f.Add(cn+strings.Repeat("A", authix.MaxTokenSize+1), "", "", false, false)

	var (
		runs   int
		inCtx  User
		hasCtx bool
	)
	handler := s.v.RequireData(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		runs++
		inCtx, hasCtx = s.v.Data(r.Context())
	}))
	revokes := s.store.revokes.Load()

	build := func(cookie, apiKey, authz string, post, cross bool) *http.Request {
		method := "GET"
		if post {
			method = "POST"
		}
		r := httptest.NewRequest(method, "http://api.example.com/orders", nil)
		if cookie != "" {
			r.Header["Cookie"] = []string{cookie}
		}
		if apiKey != "" {
			r.Header["X-Api-Key"] = []string{apiKey}
		}
		if authz != "" {
			r.Header["Authorization"] = []string{authz}
		}
		if cross {
			r.Header.Set("Sec-Fetch-Site", "cross-site")
			r.Header.Set("Origin", "https://evil.example")
		}
		return r
	}

	f.Fuzz(func(t *testing.T, cookie, apiKey, authz string, post, cross bool) {
		r := build(cookie, apiKey, authz, post, cross)
		u, err := s.v.Authenticate(r)
		tok, found := s.v.ExtractAccessToken(r)

		if err != nil {
			if !isOneOf(err, authix.ErrMissingToken, authix.ErrInvalidToken, authix.ErrExpiredToken,
				authix.ErrRevokedToken, authix.ErrCrossOrigin) {
				t.Fatalf("error %v wraps no expected exported error", err)
			}
			if u != (User{}) {
				t.Fatalf("a failed Authenticate returned payload %+v", u)
			}
			if errors.Is(err, authix.ErrMissingToken) == found {
				t.Fatalf("ErrMissingToken is %v but ExtractAccessToken found %v", errors.Is(err, authix.ErrMissingToken), found)
			}
			if errors.Is(err, authix.ErrCrossOrigin) && !(post && cross) {
				t.Fatalf("cross-origin error for a request that is not a cross-site POST: %v", err)
			}
		} else {
			if !s.issued[u] {
				t.Fatalf("accepted a payload that was never issued: %+v", u)
			}
			if !found {
				t.Fatal("accepted a request ExtractAccessToken finds no token in")
			}
			if d, err := s.v.DecodeAccessToken(tok); err != nil || d != u {
				t.Fatalf("DecodeAccessToken of the extracted token: %+v, %v; Authenticate said %+v", d, err, u)
			}
			if post && cross {
				// The token must not have come from the cookie.
				if _, err := s.v.Authenticate(build(cookie, "", "", post, cross)); !errors.Is(err, authix.ErrMissingToken) {
					t.Fatalf("cross-site POST accepted while the cookie alone gives %v", err)
				}
			}
		}

		// RequireData agrees with Authenticate.
		before := runs
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, build(cookie, apiKey, authz, post, cross))
		switch {
		case err == nil && (rec.Code != http.StatusOK || runs != before+1):
			t.Fatalf("RequireData answered %d (handler ran %d times) to a request Authenticate accepts", rec.Code, runs-before)
		case err == nil && (!hasCtx || inCtx != u):
			t.Fatalf("the handler saw payload %+v (%v), Authenticate %+v", inCtx, hasCtx, u)
		case err != nil && runs != before:
			t.Fatalf("the handler ran for a request Authenticate refuses (%v)", err)
		case errors.Is(err, authix.ErrCrossOrigin) && rec.Code != http.StatusForbidden:
			t.Fatalf("cross-origin refusal answered %d", rec.Code)
		case err != nil && !errors.Is(err, authix.ErrCrossOrigin) && (rec.Code != http.StatusUnauthorized || rec.Body.String() != rejectBody):
			t.Fatalf("token refusal answered %d %q", rec.Code, rec.Body.String())
		}
		if got := s.store.revokes.Load(); got != revokes {
			t.Fatalf("a request wrote to the revocation store (%d writes)", got-revokes)
		}
	})
}

// FuzzDecodePayload seals fuzzed plaintext with a Fernet cipher the vaults
// share (WithCipher), so every token is authentic, and decodes it into a
// struct, a pointer to a struct, a map, and any (before and after the auto
// mode recorded a type). No payload panics or escapes the error model: a
// refusal wraps ErrInvalidToken and leaves the zero value, and what is
// accepted seals again into the same value. What encoding/json refuses is
// refused too; what is accepted repeats no key and reads as encoding/json
// reads it, unless a key matches a field in another case only.
func FuzzDecodePayload(f *testing.F) {
	fern, err := authix.NewFernet(time.Hour, keyA)
	if err != nil {
		f.Fatal(err)
	}
	clock := newFakeClock(testEpoch)
	opts := []authix.Option{authix.WithCipher(fern), authix.WithClock(clock.Now)}
	vStruct, err := authix.New[User](opts...)
	if err != nil {
		f.Fatal(err)
	}
	vPtr, err := authix.New[*User](opts...)
	if err != nil {
		f.Fatal(err)
	}
	vMap, err := authix.New[map[string]string](opts...)
	if err != nil {
		f.Fatal(err)
	}
	vAny, err := authix.New[any](opts...)
	if err != nil {
		f.Fatal(err)
	}
	vAnyRec, err := authix.New[any](opts...)
	if err != nil {
		f.Fatal(err)
	}
	// Auto mode records the first payload's type.
	if _, err := vAnyRec.CreateAccessToken(User{ID: 1}); err != nil {
		f.Fatal(err)
	}

	// Seeds: the spec's plaintext, real payloads, and JSON edge cases.
	f.Add([]byte("hello"))
	for _, v := range []any{User{ID: 1, Name: "John", IsAdmin: true}, map[string]string{"user": "john", "role": "admin"}, map[string]any{"n": 1.5, "l": []any{true, nil}}} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", " null\n", "\vnull", "[]", `""`, "0", "true",
		`{"id":1.5}`, `{"id":"1"}`, `{"id":1e400}`, `{"id":9223372036854775808}`, `{"ID":5,"NAME":"x"}`, `{"id":1,"is_admin":false,"IS_ADMIN":true}`, `{"a":1,"\u0061":2}`,
		`{"id":1,"id":2}`, `{"name":"\ud800"}`, "{\"name\":\"\xff\"}", `{"a":null}`, `{"a":"b"`, `{"a":"b"}x`,
		"\xef\xbb\xbf{}", `{"is_admin":"true"}`, `{"x":[{"a":1,"\u0061":2}]}`, `{"name":"\ud800\u0041"}`, `{"\u00e9":1,"é":2}`,
		// Deep, but within a Fernet token (TestPayloadNestingBounded).
		`{"x":` + strings.Repeat("[", 1400) + strings.Repeat("]", 1400) + `}`, strings.Repeat("[", 1400) + strings.Repeat("]", 1400)} {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, plain []byte) {
		sealed, _, err := fern.Seal(nil, plain, clock.Now())
		if err != nil {
			if !errors.Is(err, authix.ErrTokenTooLarge) {
				t.Fatalf("Seal: %v", err)
			}
			return
		}
		tok := string(sealed)
		if bytes.HasPrefix(plain, []byte(`{"_authix":`)) {
			return // a sealed lifetime, not a payload: TestSealedLifetimeForms covers it
		}
		// What is accepted has no repeated key, and reads as encoding/json
		// reads it, but where a key matches a field in another case only:
		// encoding/json reads {"iD":0.0} into the int field id and refuses
		// it, where a vault ignores "iD".
		keys := inspectKeys(plain, "id", "name", "is_admin")
		check := func(name string, err error, jsonErr error) {
			t.Helper()
			if err != nil && !errors.Is(err, authix.ErrInvalidToken) {
				t.Fatalf("%s: error %v does not wrap ErrInvalidToken", name, err)
			}
			var syntax *json.SyntaxError
			if err == nil && jsonErr != nil && (!keys.folded || errors.As(jsonErr, &syntax)) {
				t.Fatalf("%s: accepted %q, which encoding/json refuses: %v", name, plain, jsonErr)
			}
		}
		same := func(name string, got, want any) {
			t.Helper()
			if keys.repeated {
				t.Fatalf("%s: accepted %q, which repeats a key", name, plain)
			}
			if !keys.folded && !reflect.DeepEqual(got, want) {
				t.Fatalf("%s: read %q as %#v; encoding/json: %#v", name, plain, got, want)
			}
		}

		var user User
		jsonUserErr := json.Unmarshal(plain, &user)
		gotUser, err := vStruct.DecodeAccessToken(tok)
		check("struct", err, jsonUserErr)
		if err != nil && gotUser != (User{}) {
			t.Fatalf("struct: failed decode returned %+v", gotUser)
		}
		if err == nil {
			same("struct", gotUser, user)
			checkReseal(t, vStruct, gotUser)
		}

		gotPtr, err := vPtr.DecodeAccessToken(tok)
		check("pointer", err, jsonUserErr)
		if (err == nil) != (gotPtr != nil) || (gotPtr != nil && *gotPtr != gotUser) {
			t.Fatalf("pointer: %+v, %v; the struct vault read %+v", gotPtr, err, gotUser)
		}

		var m map[string]string
		gotMap, err := vMap.DecodeAccessToken(tok)
		check("map", err, json.Unmarshal(plain, &m))
		if err == nil {
			same("map", gotMap, m)
			checkReseal(t, vMap, gotMap)
		}

		var a map[string]any
		gotAny, err := vAny.DecodeAccessToken(tok)
		check("any", err, unmarshalNumbers(plain, &a))
		if err == nil {
			if _, ok := gotAny.(map[string]any); !ok {
				t.Fatalf("any: decoded into %T, want map[string]any", gotAny)
			}
			same("any", gotAny, any(a))
			checkReseal(t, vAny, gotAny)
		}

		gotRec, err := vAnyRec.DecodeAccessToken(tok)
		check("any, recorded User", err, jsonUserErr)
		if u, ok := gotRec.(User); err == nil && (!ok || u != gotUser) {
			t.Fatalf("any, recorded User: %#v; the struct vault read %+v", gotRec, gotUser)
		}
	})
}

// unmarshalNumbers is json.Unmarshal with numbers kept as json.Number,
// as authix decodes payloads that hold an interface.
func unmarshalNumbers(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the value: %v", err)
	}
	return nil
}

// jsonKeys is what inspectKeys finds in the objects of a document.
type jsonKeys struct {
	repeated bool // an object repeats a key, compared after unescaping
	folded   bool // a key matches a name case-insensitively only
}

// inspectKeys walks data with encoding/json's tokenizer, independent of
// the json/v2 reader under test. Its result means nothing for data that
// encoding/json refuses.
func inspectKeys(data []byte, names ...string) jsonKeys {
	var r jsonKeys
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	type frame struct {
		keys    map[string]bool // nil in an array
		wantKey bool
	}
	var stack []*frame
	valueDone := func() {
		if len(stack) > 0 && stack[len(stack)-1].keys != nil {
			stack[len(stack)-1].wantKey = true
		}
	}
	for {
		tok, err := dec.Token()
		if err != nil {
			return r
		}
		if n := len(stack); n > 0 && stack[n-1].wantKey {
			if k, ok := tok.(string); ok {
				r.repeated = r.repeated || stack[n-1].keys[k]
				stack[n-1].keys[k] = true
				for _, name := range names {
					r.folded = r.folded || (k != name && strings.EqualFold(k, name))
				}
				stack[n-1].wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}

// checkReseal seals a decoded payload again and checks it comes back equal.
func checkReseal[T any](t *testing.T, v *authix.Vault[T], payload T) {
	t.Helper()
	tok, err := v.CreateAccessToken(payload)
	if errors.Is(err, authix.ErrTokenTooLarge) {
		return // JSON escaping can make the second encoding longer
	}
	if err != nil {
		t.Fatalf("sealing a decoded payload again: %v", err)
	}
	back, err := v.DecodeAccessToken(tok)
	if err != nil || !reflect.DeepEqual(back, payload) {
		t.Fatalf("round trip: %+v, %v; want %+v", back, err, payload)
	}
}
