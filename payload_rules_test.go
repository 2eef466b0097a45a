package authix_test

// The rules a vault reads and writes payloads by, as users rely on them:
// each test seals a plaintext with a Fernet cipher the vault shares
// (WithCipher), so that any bytes are an authentic token, and reads it with
// DecodeAccessToken; or seals a value with CreateAccessToken and compares
// the payload bytes with what encoding/json's json.Marshal writes. Where
// json/v2 reads otherwise than the codec before it, a comment beginning
// "Changed:" says how and why the new rule is kept.

import (
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Extra is embedded by pointer in Shapes: decoding one of its fields
// allocates it.
type Extra struct {
	Deep  bool    `json:"deep"`
	Ratio float64 `json:"ratio"`
}

// Shapes is the payload of the rule tests that User and Wire do not cover:
// an embedded pointer, numbers of every size, pointers to pointers,
// json.Number, types with text or JSON methods, and tags that skip, rename
// or omit.
type Shapes struct {
	Embedded
	*Extra
	ID      int64              `json:"id"`
	U       uint64             `json:"u"`
	U8      uint8              `json:"u8"`
	I8      int8               `json:"i8"`
	F32     float32            `json:"f32"`
	F64     float64            `json:"f64"`
	Ptr     *User              `json:"ptr"`
	PP      **int              `json:"pp"`
	Tags    map[string]string  `json:"tags"`
	IntKeys map[int]bool       `json:"int_keys"`
	List    []User             `json:"list"`
	Arr     [2]int             `json:"arr"`
	Raw     []byte             `json:"raw"`
	RawJSON json.RawMessage    `json:"raw_json"`
	Any     any                `json:"any"`
	When    time.Time          `json:"when"`
	WhenP   *time.Time         `json:"when_p"`
	Num     json.Number        `json:"num"`
	Addr    netip.Addr         `json:"addr"`  // text methods
	Big     *big.Int           `json:"big"`   // JSON methods on the pointer
	Hosts   map[netip.Addr]int `json:"hosts"` // text keys
	Skip    string             `json:"-"`
	Omit    []string           `json:"omit,omitempty"`
	Zero    time.Time          `json:"zero,omitzero"`
	NoTag   string             //nolint:tagliatelle // the Go name is the key
	private int
}

// embedA and embedB are embedded in dominated at one depth: their fields
// V cancel out, and the tagged Y dominates the untagged one, as
// encoding/json's rules of embedding say.
type embedA struct {
	V int
	Y int
}

type embedB struct {
	V int
	Y int `json:"Y"`
}

type dominated struct {
	embedA
	embedB
	Z int `json:"z"`
}

// unexportedPtr embeds a pointer to an unexported struct: encoding/json
// writes the fields of a non-nil one, and cannot set them when reading.
type unexportedPtr struct {
	*embedA
}

// node is a recursive payload type.
type node struct {
	Next *node `json:"next"`
}

// openAsPayload returns a function that seals a plaintext as it is, with a
// Fernet cipher, and decodes it with a vault of payload type T.
func openAsPayload[T any]() func(*testing.T, string) (any, error) {
	return func(t *testing.T, plain string) (any, error) {
		t.Helper()
		return sealAndOpen[T](t, mustFernet(t, time.Hour, keyA), plain)
	}
}

// sealAndOpen seals plain as it is with c, and decodes it with a vault of
// payload type T that shares c (WithCipher).
func sealAndOpen[T any](t *testing.T, c authix.Cipher, plain string) (T, error) {
	t.Helper()
	clock := newFakeClock(testEpoch)
	v, err := authix.New[T](authix.WithCipher(c), authix.WithClock(clock.Now))
	require.NoError(t, err)
	tok, _, err := c.Seal(nil, []byte(plain), clock.Now())
	require.NoError(t, err)
	return v.DecodeAccessToken(string(tok))
}

// refused is a want of TestPayloadDecodeRules: the vault refuses the
// token with ErrInvalidToken and returns the zero payload.
var refused = struct{ refused bool }{true}

// A vault reads a payload as encoding/json does, but strictly: keys match
// exactly, a repeated key is refused wherever it is, integers are exact,
// invalid UTF-8 is refused, and one JSON object is all there is.
func TestPayloadDecodeRules(t *testing.T) {
	t.Parallel()
	one := 1
	onePtr := &one
	type int64s struct {
		ID int64 `json:"id"`
	}
	type smalls struct {
		U8  uint8   `json:"u8"`
		U   uint    `json:"u"`
		I8  int8    `json:"i8"`
		F32 float32 `json:"f32"`
	}
	cases := []struct {
		name   string
		decode func(*testing.T, string) (any, error)
		plain  string
		want   any // or refused
	}{
		// Keys match exactly, at every level; unknown keys are ignored.
		{"exact keys", openAsPayload[User](), `{"id":1,"is_admin":false,"IS_ADMIN":true}`, User{ID: 1}},
		{"other case ignored", openAsPayload[User](), `{"id":2,"ID":1,"Name":"x","IS_ADMIN":true}`, User{ID: 2}},
		// A payload that names none of a struct's fields is another vault's
		// token: refused, unless it is empty (every field omitted).
		{"no field named", openAsPayload[User](), `{"ID":1,"Name":"x","IS_ADMIN":true}`, refused},
		{"no field at all", openAsPayload[User](), `{}`, User{}},
		{"zero values named", openAsPayload[User](), `{"id":0}`, User{}},
		{"other case ignored in a nested struct", openAsPayload[Shapes](), `{"ptr":{"id":1,"IS_ADMIN":true}}`, Shapes{Ptr: &User{ID: 1}}},
		{"other case ignored in an embedded struct", openAsPayload[Shapes](), `{"TEAM":"x","Deep":true}`, refused},
		{"escaped key matches", openAsPayload[User](), `{"\u0069d":7,"n\u0061me":"J"}`, User{ID: 7, Name: "J"}},
		{"unknown fields ignored", openAsPayload[User](), `{"id":1,"role":{"a":[1,{"b":null}]},"x":"y"}`, User{ID: 1}},
		{"same key in sibling objects", openAsPayload[User](), `{"id":1,"x":{"a":1},"y":{"a":2}}`, User{ID: 1}},

		// A repeated key is refused, wherever it is and however it is spelled.
		{"repeated field", openAsPayload[User](), `{"id":1,"id":2}`, refused},
		{"repeated field, escaped", openAsPayload[User](), `{"id":1,"\u0069d":2}`, refused},
		{"repeated field in a nested struct", openAsPayload[Shapes](), `{"ptr":{"id":1,"id":2}}`, refused},
		{"repeated unknown key", openAsPayload[User](), `{"x":1,"id":1,"x":2}`, refused},
		{"repeated unknown key, escaped", openAsPayload[User](), `{"x":1,"\u0078":2}`, refused},
		{"repeated key inside an unknown value", openAsPayload[User](), `{"x":{"a":1,"a":2}}`, refused},
		{"repeated key deep inside an unknown value", openAsPayload[User](), `{"x":[{"y":{"a":1,"\u0061":2}}]}`, refused},
		{"repeated map key", openAsPayload[map[string]int](), `{"a":1,"\u0061":2}`, refused},
		{"repeated map key, escaped twice", openAsPayload[map[string]string](), `{"\u00e9":"1","\u00E9":"2"}`, refused},
		{"repeated map key, escaped and raw UTF-8", openAsPayload[map[string]string](), `{"é":"1","\u00e9":"2"}`, refused},
		{"repeated map[string]string key", openAsPayload[map[string]string](), `{"a":"1","a":"2"}`, refused},
		{"repeated map[string]any key, nested", openAsPayload[map[string]any](), `{"a":{"b":1,"b":2}}`, refused},
		{"repeated key, auto mode", openAsPayload[any](), `{"a":1,"a":1}`, refused},
		{"repeated int map key", openAsPayload[Shapes](), `{"int_keys":{"1":true,"1":false}}`, refused},
		{"repeated int map key, escaped", openAsPayload[Shapes](), `{"int_keys":{"1":true,"\u0031":false}}`, refused},
		{"one int map key spelled 1 and 01", openAsPayload[Shapes](), `{"int_keys":{"1":true,"01":false}}`, refused},
		{"one int map key spelled +1 and 1", openAsPayload[Shapes](), `{"int_keys":{"+1":true,"1":false}}`, refused},
		{"one int map key spelled -0 and 0", openAsPayload[Shapes](), `{"int_keys":{"-0":true,"0":false}}`, refused},
		{"repeated text map key", openAsPayload[Shapes](), `{"hosts":{"::1":1,"::1":2}}`, refused},
		{"repeated ,string field", openAsPayload[StringID](), `{"id":"5","id":"6"}`, refused},

		// Integers are exact: in their Go type, or as json.Number in an
		// interface.
		{"int64 above 2^53", openAsPayload[int64s](), `{"id":9007199254740993}`, int64s{ID: 9007199254740993}},
		{"int64 min", openAsPayload[int64s](), `{"id":-9223372036854775808}`, int64s{ID: math.MinInt64}},
		{"int64 max", openAsPayload[int64s](), `{"id":9223372036854775807}`, int64s{ID: math.MaxInt64}},
		{"int64 overflow", openAsPayload[int64s](), `{"id":9223372036854775808}`, refused},
		{"int64 underflow", openAsPayload[int64s](), `{"id":-9223372036854775809}`, refused},
		{"int fraction", openAsPayload[User](), `{"id":1.0}`, refused},
		{"int exponent", openAsPayload[User](), `{"id":1e2}`, refused},
		{"int from string", openAsPayload[User](), `{"id":"1"}`, refused},
		{"minus zero into int", openAsPayload[User](), `{"id":-0}`, User{}},
		{"uint8 max", openAsPayload[smalls](), `{"u8":255}`, smalls{U8: 255}},
		{"uint8 overflow", openAsPayload[smalls](), `{"u8":256}`, refused},
		{"int8 min", openAsPayload[smalls](), `{"i8":-128}`, smalls{I8: -128}},
		{"int8 overflow", openAsPayload[smalls](), `{"i8":128}`, refused},
		{"negative uint", openAsPayload[smalls](), `{"u":-1}`, refused},
		{"minus zero into uint", openAsPayload[smalls](), `{"u":-0}`, refused},
		{"uint64 max", openAsPayload[map[string]uint64](), `{"u":18446744073709551615}`, map[string]uint64{"u": math.MaxUint64}},
		{"uint64 overflow", openAsPayload[map[string]uint64](), `{"u":18446744073709551616}`, refused},
		{"float32 overflow", openAsPayload[smalls](), `{"f32":1e39}`, refused},
		{"float64 overflow", openAsPayload[map[string]float64](), `{"a":1e400}`, refused},
		{"map[string]any keeps numbers exact", openAsPayload[map[string]any](), `{"id":9007199254740993,"l":[1.5,true,null,"s"],"o":{}}`,
			map[string]any{"id": json.Number("9007199254740993"), "l": []any{json.Number("1.5"), true, nil, "s"}, "o": map[string]any{}}},
		{"auto mode keeps numbers exact", openAsPayload[any](), `{"a":[1,{"b":-2e-3}],"m":-9223372036854775809}`,
			map[string]any{"a": []any{json.Number("1"), map[string]any{"b": json.Number("-2e-3")}}, "m": json.Number("-9223372036854775809")}},
		{"interface field keeps numbers exact", openAsPayload[Shapes](), `{"any":18446744073709551617}`, Shapes{Any: json.Number("18446744073709551617")}},
		{"huge number in an interface", openAsPayload[map[string]any](), `{"a":1e400}`, map[string]any{"a": json.Number("1e400")}},
		{"bad number", openAsPayload[User](), `{"id":01}`, refused},
		{"bad number in any", openAsPayload[map[string]any](), `{"a":1.}`, refused},
		{"bad exponent", openAsPayload[map[string]any](), `{"a":1e+}`, refused},

		// A null payload is refused whatever the type; a null field is left
		// zero.
		{"null payload", openAsPayload[User](), `null`, refused},
		{"null payload with spaces", openAsPayload[User](), " null\n", refused},
		{"null map payload", openAsPayload[map[string]string](), `null`, refused},
		{"null pointer payload", openAsPayload[*User](), `null`, refused},
		{"null auto payload", openAsPayload[any](), `null`, refused},
		{"null field", openAsPayload[User](), `{"name":null,"id":null}`, User{}},
		{"null time.Time", openAsPayload[Shapes](), `{"when":null}`, Shapes{}},
		{"null pointer to pointer", openAsPayload[Shapes](), `{"pp":null}`, Shapes{}},
		{"pointer to pointer", openAsPayload[Shapes](), `{"pp":1}`, Shapes{PP: &onePtr}},

		// Strings are unescaped as encoding/json unescapes them.
		{"surrogate pair", openAsPayload[map[string]string](), `{"s":"\ud83d\ude00"}`, map[string]string{"s": "😀"}},
		{"escapes", openAsPayload[map[string]string](), `{"s":"\"\\\/\b\f\n\r\t\u00e9\u2028"}`, map[string]string{"s": "\"\\/\b\f\n\r\té\u2028"}},
		{"escaped NUL", openAsPayload[map[string]string](), `{"s":"\u0000"}`, map[string]string{"s": "\x00"}},
		{"escaped key", openAsPayload[map[string]string](), `{"\u003ck\u003e":"v"}`, map[string]string{"<k>": "v"}},
		{"raw control character", openAsPayload[map[string]string](), "{\"s\":\"a\x01\"}", refused},
		{"raw newline", openAsPayload[map[string]string](), "{\"s\":\"a\n\"}", refused},
		{"bad escape", openAsPayload[map[string]string](), `{"s":"\x"}`, refused},
		{"single quote escape", openAsPayload[map[string]string](), `{"s":"\'"}`, refused},
		{"short unicode escape", openAsPayload[map[string]string](), `{"s":"\u12"}`, refused},
		{"unterminated string", openAsPayload[map[string]string](), `{"s":"abc`, refused},

		// Changed: encoding/json, and the codec before json/v2, read invalid
		// UTF-8 and lone surrogates as U+FFFD. json/v2 refuses them, as
		// Python's json module refuses invalid UTF-8: two different byte
		// strings no longer read as one name, and a vault only seals valid
		// UTF-8 (TestSealRefusesInvalidUTF8), so no token it wrote is lost.
		{"invalid UTF-8", openAsPayload[map[string]string](), "{\"s\":\"a\xffb\"}", refused},
		{"invalid UTF-8 in a key", openAsPayload[User](), "{\"id\":1,\"\xff\":2}", refused},
		{"invalid UTF-8 in an unknown value", openAsPayload[User](), "{\"id\":1,\"x\":[\"\xed\xa0\x80\"]}", refused},
		{"two keys that were both U+FFFD", openAsPayload[map[string]any](), "{\"\xff\":1,\"\xfe\":2}", refused},
		{"lone surrogate", openAsPayload[map[string]string](), `{"s":"\ud800x"}`, refused},
		{"surrogate then letter escape", openAsPayload[map[string]string](), `{"s":"\ud800\u0041"}`, refused},
		{"two high surrogates", openAsPayload[map[string]string](), `{"s":"\ud800\ud83d\ude00"}`, refused},
		{"lone low surrogate", openAsPayload[map[string]string](), `{"s":"\udc00"}`, refused},

		// One JSON object, and nothing after it.
		{"JSON whitespace", openAsPayload[User](), " \t\n\r{ \"id\" : 1 , \"name\" :\"x\" } \n", User{ID: 1, Name: "x"}},
		{"vertical tab", openAsPayload[User](), "\v{}", refused},
		{"byte order mark", openAsPayload[User](), "\xef\xbb\xbf{}", refused},
		{"trailing data", openAsPayload[User](), `{}x`, refused},
		{"trailing data after a map", openAsPayload[map[string]any](), `{"a":1}]`, refused},
		{"two values", openAsPayload[User](), `{} {}`, refused},
		{"trailing comma", openAsPayload[User](), `{"id":1,}`, refused},
		{"missing colon", openAsPayload[User](), `{"id" 1}`, refused},
		{"unclosed", openAsPayload[User](), `{"id":1`, refused},
		{"empty", openAsPayload[User](), ``, refused},
		{"array into struct", openAsPayload[User](), `[]`, refused},
		{"array into auto mode", openAsPayload[any](), `[1]`, refused},
		{"object into slice", openAsPayload[Shapes](), `{"list":{}}`, refused},
		{"bad literal", openAsPayload[User](), `{"is_admin":tru}`, refused},

		// Struct fields are named as encoding/json names them.
		{"embedded struct, dominance", openAsPayload[dominated](), `{"V":1,"Y":2,"z":3}`, dominated{embedB: embedB{Y: 2}, Z: 3}},
		{"embedded pointer allocated", openAsPayload[Shapes](), `{"deep":true,"team":"t"}`,
			Shapes{Embedded: Embedded{Team: "t"}, Extra: &Extra{Deep: true}}},
		{"ignored tags", openAsPayload[Shapes](), `{"Skip":"a","-":"b","NoTag":"c","private":1}`, Shapes{NoTag: "c"}},
		{",string field", openAsPayload[StringID](), `{"id":"5"}`, StringID{ID: 5}},
		{",string field unquoted", openAsPayload[StringID](), `{"id":5}`, refused},
		{",string field, bad number", openAsPayload[StringID](), `{"id":"5x"}`, refused},

		// Leaf types, as encoding/json reads them.
		{"base64 bytes", openAsPayload[Shapes](), `{"raw":"aGk="}`, Shapes{Raw: []byte("hi")}},
		{"bytes as numbers", openAsPayload[Shapes](), `{"raw":[104,105]}`, Shapes{Raw: []byte("hi")}},
		{"empty bytes", openAsPayload[Shapes](), `{"raw":""}`, Shapes{Raw: []byte{}}},
		{"bad base64", openAsPayload[Shapes](), `{"raw":"a"}`, refused},
		{"empty slice", openAsPayload[Shapes](), `{"list":[]}`, Shapes{List: []User{}}},
		{"int keys", openAsPayload[Shapes](), `{"int_keys":{"-3":true,"12":false}}`, Shapes{IntKeys: map[int]bool{-3: true, 12: false}}},
		{"int key with a plus", openAsPayload[Shapes](), `{"int_keys":{"+1":true}}`, Shapes{IntKeys: map[int]bool{1: true}}},
		{"bad int key", openAsPayload[Shapes](), `{"int_keys":{"x":true}}`, refused},
		{"time.Time", openAsPayload[Shapes](), `{"when":"2026-03-01T12:00:00Z"}`, Shapes{When: testEpoch}},
		{"bad time.Time", openAsPayload[Shapes](), `{"when":"yesterday"}`, refused},
		{"time.Time from number", openAsPayload[Shapes](), `{"when":5}`, refused},
		{"RawMessage", openAsPayload[Shapes](), `{"raw_json": [1, {"a":2}] }`, Shapes{RawJSON: json.RawMessage(`[1, {"a":2}]`)}},
		{"RawMessage null", openAsPayload[Shapes](), `{"raw_json":null}`, Shapes{RawJSON: json.RawMessage(`null`)}},
		{"text methods", openAsPayload[Shapes](), `{"addr":"10.0.0.1"}`, Shapes{Addr: netip.MustParseAddr("10.0.0.1")}},
		{"bad text", openAsPayload[Shapes](), `{"addr":"10.0.0.256"}`, refused},
		{"text keys", openAsPayload[Shapes](), `{"hosts":{"::1":1}}`, Shapes{Hosts: map[netip.Addr]int{netip.MustParseAddr("::1"): 1}}},
		{"bad text key", openAsPayload[Shapes](), `{"hosts":{"x":1}}`, refused},
		{"JSON methods", openAsPayload[Shapes](), `{"big":123456789012345678901234567890}`, Shapes{Big: mustBig("123456789012345678901234567890")}},
		{"JSON method refuses", openAsPayload[Shapes](), `{"big":"12"}`, refused},

		// Changed: encoding/json, and the codec before json/v2, dropped the
		// extra elements of a JSON array longer than a Go array and zeroed
		// the rest of a shorter one. json/v2 refuses both: a vault seals a
		// Go array at its length, so only a token written elsewhere can
		// differ, and refusing it loses nothing silently.
		{"array of the length", openAsPayload[Shapes](), `{"arr":[1,2]}`, Shapes{Arr: [2]int{1, 2}}},
		{"array too long", openAsPayload[Shapes](), `{"arr":[1,2,3]}`, refused},
		{"array too short", openAsPayload[Shapes](), `{"arr":[1]}`, refused},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := c.decode(t, c.plain)
			if c.want == refused {
				require.ErrorIs(t, err, authix.ErrInvalidToken, "decoded %#v", got)
				assert.Zero(t, got, "a refused token gives the zero payload")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

// mustBig is the big.Int a decimal literal of the tests spells.
func mustBig(s string) *big.Int {
	n, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return n
}

// clearCipher is a Cipher that does not encrypt: a token is its
// plaintext, of any length. It gives a vault payloads longer than a Fernet
// token can hold.
type clearCipher struct{}

func (clearCipher) Seal(dst, plaintext []byte, now time.Time) ([]byte, authix.TokenInfo, error) {
	at := now.Truncate(time.Second)
	info := authix.TokenInfo{ID: sha256.Sum256(plaintext), IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
	return append(dst, plaintext...), info, nil
}

func (clearCipher) Open(dst []byte, token string, now time.Time) ([]byte, authix.TokenInfo, error) {
	at := now.Truncate(time.Second)
	info := authix.TokenInfo{ID: sha256.Sum256([]byte(token)), IssuedAt: at, ExpiresAt: at.Add(time.Hour)}
	return append(dst, token...), info, nil
}

func (clearCipher) TTL() time.Duration { return time.Hour }

// deepPayload is a payload object whose member "x" holds depth-1 nested
// arrays, so that the whole is depth levels deep.
func deepPayload(depth int) string {
	return `{"x":` + strings.Repeat("[", depth-1) + strings.Repeat("]", depth-1) + `}`
}

// nestedArrays is what deepPayload's "x" decodes into in an interface.
func nestedArrays(n int) any {
	var v any = []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

// Nesting is bounded by json/v2's limit of 10,000 levels, which refuses
// deeper payloads without a panic or a stack overflow. A Fernet token
// (MaxTokenSize) holds about 1,500 levels, so only a Cipher of the
// caller's can carry more.
//
// Changed: the codec before json/v2 refused payloads deeper than 1,000
// levels. Every nesting a Fernet token can hold now decodes; the bound
// that stops an attacker's depth is now the token size, and json/v2's
// limit still bounds a reader that takes longer tokens.
func TestPayloadNestingBounded(t *testing.T) {
	t.Parallel()
	fern := mustFernet(t, time.Hour, keyA)
	for _, depth := range []int{1001, 1400} {
		t.Run(fmt.Sprintf("Fernet, depth %d", depth), func(t *testing.T) {
			u, err := sealAndOpen[User](t, fern, `{"id":1,`+deepPayload(depth)[1:])
			require.NoError(t, err, "skipped as an unknown field")
			assert.Equal(t, User{ID: 1}, u)
			m, err := sealAndOpen[map[string]any](t, fern, deepPayload(depth))
			require.NoError(t, err)
			assert.Equal(t, map[string]any{"x": nestedArrays(depth - 1)}, m)
		})
	}
	_, _, err := fern.Seal(nil, []byte(deepPayload(2000)), testEpoch)
	require.ErrorIs(t, err, authix.ErrTokenTooLarge, "a Fernet token holds fewer than 2,000 levels")

	deepNodes := func(depth int) string {
		return strings.Repeat(`{"next":`, depth-1) + "{}" + strings.Repeat("}", depth-1)
	}
	for _, c := range []struct {
		name  string
		depth int
		ok    bool
	}{
		{"at the limit", 10_000, true},
		{"past the limit", 10_001, false},
		{"far past the limit", 1_000_000, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			check := func(what string, got any, err error) {
				t.Helper()
				if c.ok {
					assert.NoError(t, err, what)
					return
				}
				assert.ErrorIs(t, err, authix.ErrInvalidToken, what)
				assert.Zero(t, got, what)
			}
			u, err := sealAndOpen[User](t, clearCipher{}, `{"id":1,`+deepPayload(c.depth)[1:])
			check("an unknown field", u, err)
			m, err := sealAndOpen[map[string]any](t, clearCipher{}, deepPayload(c.depth))
			check("map[string]any", m, err)
			a, err := sealAndOpen[any](t, clearCipher{}, deepPayload(c.depth))
			check("auto mode", a, err)
			n, err := sealAndOpen[node](t, clearCipher{}, deepNodes(c.depth))
			check("a recursive struct", n, err)
		})
	}
}

// sealing returns a case of TestPayloadEncodesAsEncodingJSON: v, and a
// function that seals it with a vault of payload type T and returns the
// payload bytes the token carries.
func sealing[T any](v T) encodeCase {
	return encodeCase{value: v, seal: func(t *testing.T) ([]byte, error) {
		t.Helper()
		clock := newFakeClock(testEpoch)
		fern := mustFernet(t, time.Hour, keyA)
		vault, err := authix.New[T](authix.WithCipher(fern), authix.WithClock(clock.Now))
		require.NoError(t, err)
		tok, err := vault.CreateAccessToken(v)
		if err != nil {
			return nil, err
		}
		plain, _, err := fern.Open(nil, tok, clock.Now())
		require.NoError(t, err)
		return withoutLifetime(t, plain), nil
	}}
}

type encodeCase struct {
	value any
	seal  func(*testing.T) ([]byte, error)
}

// withoutLifetime is the payload object of a token's plaintext, without
// the lifetime the vault leads it with.
func withoutLifetime(t *testing.T, plain []byte) []byte {
	t.Helper()
	const lead = `{"_authix":{`
	require.True(t, strings.HasPrefix(string(plain), lead), "%s", plain)
	end := strings.IndexByte(string(plain[len(lead):]), '}') + len(lead) + 1
	if string(plain[end:]) == "}" {
		return []byte("{}")
	}
	return append([]byte("{"), plain[end+1:]...)
}

// ptrMarshaler marshals through its pointer only, so json.Marshal calls
// it only where the value is addressable; json.Marshal compacts and
// escapes what it returns.
type ptrMarshaler struct{ N int }

func (*ptrMarshaler) MarshalJSON() ([]byte, error) { return []byte(` { "p" : "<ptr>" } `), nil }

// A vault seals the payload bytes json.Marshal writes, for every shape of
// payload, so that Python services and older replicas read the same JSON;
// what json.Marshal refuses, the vault refuses with ErrUnsupportedPayload.
func TestPayloadEncodesAsEncodingJSON(t *testing.T) {
	t.Parallel()
	when := testEpoch.Add(1500 * time.Millisecond)
	n := 3
	np := &n
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	loop := &node{}
	loop.Next = loop
	shapes := Shapes{
		Embedded: Embedded{Team: "<team>&"},
		Extra:    &Extra{Deep: true, Ratio: 1e-7},
		ID:       -9007199254740993, U: math.MaxUint64, U8: 255, I8: -128, F32: 3.4e38, F64: 1e21,
		Ptr: &User{ID: 7, Name: "\u2028\u2029"}, PP: &np,
		Tags: map[string]string{"b": "2", "a": "1", "é": "e", "B": "big"}, IntKeys: map[int]bool{10: true, -1: false, 2: true},
		List: []User{{Name: "x"}, {}}, Arr: [2]int{1, 2}, Raw: []byte{0, 1, 254, 255}, RawJSON: json.RawMessage(` { "k" : "<v>" } `),
		Any:  map[string]any{"n": json.Number("1e400"), "l": []any{1.5, "s", nil, true, map[string]any{}}},
		When: when, WhenP: &when, Num: "12.5", Addr: netip.MustParseAddr("2001:db8::1"), Big: mustBig("-123456789012345678901234567890"),
		Hosts: map[netip.Addr]int{netip.MustParseAddr("10.0.0.2"): 2, netip.MustParseAddr("10.0.0.10"): 10, netip.MustParseAddr("::1"): 1},
		Skip:  "skip", private: 1, NoTag: "\x01\b\f\n\r\t\"\\",
	}
	cases := map[string]encodeCase{
		"user":                   sealing(User{ID: 1, Name: "John", IsAdmin: true}),
		"user pointer":           sealing(&User{ID: 2}),
		"shapes":                 sealing(shapes),
		"shapes, zero":           sealing(Shapes{}),
		"shapes pointer":         sealing(&shapes),
		"shapes in auto mode":    sealing[any](shapes),
		"embedded, dominance":    sealing(dominated{embedA{V: 1, Y: 2}, embedB{V: 3, Y: 4}, 5}),
		"wire":                   sealing(wireValues()["struct"].(Wire)),
		"wire, zero":             sealing(Wire{}),
		"map any":                sealing(map[string]any{"z": 1, "a": []any{int8(-1), uint(2), float32(0.1), "x"}, "m": map[string]int{"k": 1}}),
		"map any in auto mode":   sealing[any](map[string]any{"z": 1, "a": []any{uint64(math.MaxUint64), math.Copysign(0, -1)}}),
		"uint keys":              sealing(map[uint64]bool{math.MaxUint64: true, 0: false, 10: true}),
		"nil and empty":          sealing(map[string][]string{"nil": nil, "empty": {}}),
		"floats":                 sealing(map[string][]float64{"f": {0, math.Copysign(0, -1), 0.1, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64}}),
		"float32s":               sealing(map[string][]float32{"f": {0.1, 1e-7, 1e21, math.MaxFloat32, 16777217}}),
		"HTML and JS escaping":   sealing(map[string]string{"<k>": "<>&", "line": "\u2028\u2029", "ctl": "\x00\x1f\x7f", "wide": "é😀"}),
		"omitempty and omitzero": sealing(Shapes{Omit: []string{}, Zero: time.Time{}}),
		"omitzero set":           sealing(Shapes{Zero: when}),
		"json.Number":            sealing(map[string]json.Number{"a": "", "b": "-0.5e+3"}),
		"RawMessage compacted":   sealing(map[string]json.RawMessage{"r": json.RawMessage(" [ 1 , \"<\" ] ")}),
		",string":                sealing(StringID{ID: 5, Role: "<r>"}),
		"ptr marshaler by value": sealing(struct{ A ptrMarshaler }{}),
		"ptr marshaler in slice": sealing(map[string][]ptrMarshaler{"s": {{}}}),
		"ptr marshaler in map":   sealing(map[string]ptrMarshaler{"k": {}}),
		"ptr marshaler via ptr":  sealing(&struct{ A ptrMarshaler }{}),

		"NaN":             sealing(map[string]float64{"x": math.NaN()}),
		"Inf":             sealing(map[string][]float32{"f": {float32(math.Inf(1))}}),
		"Inf in any":      sealing(map[string]any{"f": math.Inf(-1)}),
		"bad json.Number": sealing(map[string]json.Number{"n": "1x"}),
		"map cycle":       sealing(cyclic),
		"pointer cycle":   sealing(loop),
		"func":            sealing(map[string]any{"f": func() {}}),
	}
	// Changed: json.Marshal, and the codec before json/v2, write invalid
	// UTF-8 as U+FFFD, so that a token reads back other than it was sealed
	// and two map keys can become one. The vault refuses to seal it
	// (TestSealRefusesInvalidUTF8), as it refuses to read it.
	notUTF8 := map[string]encodeCase{
		"invalid UTF-8":                 sealing(map[string]string{"s": "a\xffb"}),
		"UTF-8 of a surrogate":          sealing(map[string]string{"s": "\xed\xa0\x80"}),
		"invalid UTF-8 in a key":        sealing(map[string]int{"\xff": 1}),
		"invalid UTF-8 in a field":      sealing(User{Name: "\xfe"}),
		"invalid UTF-8 in an interface": sealing(map[string]any{"l": []any{"\xff"}}),
	}
	for name, c := range notUTF8 {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			_, err := json.Marshal(c.value)
			require.NoError(t, err, "json.Marshal writes U+FFFD")
			got, err := c.seal(t)
			require.ErrorIs(t, err, authix.ErrUnsupportedPayload, "sealed %s", got)
		})
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			want, wantErr := json.Marshal(c.value)
			got, err := c.seal(t)
			if wantErr != nil {
				require.ErrorIs(t, err, authix.ErrUnsupportedPayload, "sealed %s; json.Marshal: %v", got, wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

// The bytes a token opens into are the vault's, reused by later requests:
// nothing a payload keeps may point into them. (It replaces
// TestPayloadOwnsItsBytes, which checked a RawMessage only.)
func TestPayloadDoesNotAliasBuffer(t *testing.T) {
	t.Parallel()
	type leaves struct {
		Name string          `json:"name"`
		Raw  json.RawMessage `json:"raw"`
		Any  any             `json:"any"`
		B    []byte          `json:"b"`
		M    map[string]string
		Addr netip.Addr `json:"addr"`
	}
	v, err := authix.New[leaves](authix.WithKeys(keyA))
	require.NoError(t, err)
	seal := func(p leaves) string {
		tok, err := v.CreateAccessToken(p)
		require.NoError(t, err)
		return tok
	}
	// Two payloads of the same length, so that the second lands on every
	// byte of the first.
	john := leaves{Name: "John", Raw: json.RawMessage(`{"k":"v"}`), Any: map[string]any{"s": "str", "n": json.Number("12")},
		B: []byte("hi"), M: map[string]string{"key": "val"}, Addr: netip.MustParseAddr("10.0.0.1")}
	mary := leaves{Name: "Mary", Raw: json.RawMessage(`{"q":"w"}`), Any: map[string]any{"t": "xyz", "m": json.Number("34")},
		B: []byte("yo"), M: map[string]string{"kez": "vol"}, Addr: netip.MustParseAddr("10.0.0.2")}
	johnTok, maryTok := seal(john), seal(mary)
	require.Equal(t, len(johnTok), len(maryTok))

	got, err := v.DecodeAccessToken(johnTok)
	require.NoError(t, err)
	require.Equal(t, john, got)
	for range 10 {
		other, err := v.DecodeAccessToken(maryTok)
		require.NoError(t, err)
		require.Equal(t, mary, other)
	}
	assert.Equal(t, john, got, "a later decode changed an earlier payload")
}

// Many goroutines that build vaults and use a payload type for the first
// time together each read and seal it whole; in auto mode, the first
// payloads sealed at once record one type, and every other type is
// refused.
func TestPayloadConcurrentFirstUse(t *testing.T) {
	t.Parallel()
	const goroutines = 8
	t.Run("recursive type", func(t *testing.T) {
		t.Parallel()
		type tree struct {
			Name     string           `json:"name"`
			Children []tree           `json:"children"`
			ByName   map[string]*tree `json:"by_name"`
		}
		plain := `{"name":"a","children":[{"name":"b","children":null}],"by_name":{"c":{"name":"c"}}}`
		want := tree{Name: "a", Children: []tree{{Name: "b"}}, ByName: map[string]*tree{"c": {Name: "c"}}}
		wantJSON, err := json.Marshal(want)
		require.NoError(t, err)
		fern := mustFernet(t, time.Hour, keyA)
		clock := newFakeClock(testEpoch)
		tok, _, err := fern.Seal(nil, []byte(plain), clock.Now())
		require.NoError(t, err)
		// No require in the goroutines: FailNow must run on the test's own.
		firstUse := func() error {
			v, err := authix.New[tree](authix.WithCipher(fern), authix.WithClock(clock.Now))
			if err != nil {
				return err
			}
			got, err := v.DecodeAccessToken(string(tok))
			if err != nil || !reflect.DeepEqual(got, want) {
				return fmt.Errorf("decoded %+v, %v", got, err)
			}
			again, err := v.CreateAccessToken(got)
			if err != nil {
				return err
			}
			sealed, _, err := fern.Open(nil, again, clock.Now())
			if err != nil || !strings.HasSuffix(string(sealed), ","+string(wantJSON[1:])) {
				return fmt.Errorf("sealed %s, %v", sealed, err)
			}
			return nil
		}
		start := make(chan struct{})
		errs := make(chan error, goroutines)
		for range goroutines {
			go func() {
				<-start
				errs <- firstUse()
			}()
		}
		close(start)
		for range goroutines {
			assert.NoError(t, <-errs)
		}
	})
	t.Run("auto mode records one type", func(t *testing.T) {
		t.Parallel()
		v, err := authix.New[any](authix.WithKeys(keyA))
		require.NoError(t, err)
		payloads := []any{User{ID: 1}, map[string]string{"id": "1"}}
		start := make(chan struct{})
		errs := make(chan error, goroutines)
		for i := range goroutines {
			go func() {
				<-start
				_, err := v.CreateAccessToken(payloads[i%2])
				errs <- err
			}()
		}
		close(start)
		var sealed, refused int
		for range goroutines {
			switch err := <-errs; {
			case err == nil:
				sealed++
			case errors.Is(err, authix.ErrPayloadType):
				refused++
			default:
				t.Errorf("unexpected error: %v", err)
			}
		}
		assert.Equal(t, goroutines/2, sealed, "the payloads of the recorded type")
		assert.Equal(t, goroutines/2, refused, "the payloads of the other type")
	})
}

// A token a vault seals opens into the payload it sealed: a payload that
// seals but does not open locks its user out right after login.
func TestPayloadOpensWhatItSeals(t *testing.T) {
	t.Parallel()
	type numbers struct {
		N json.Number            `json:"n"`
		M map[string]json.Number `json:"m"`
	}
	cases := []struct {
		name string
		run  func(t *testing.T)
	}{
		{"json.Number field", opensAgain(numbers{N: "12.5", M: map[string]json.Number{"k": "-1e3"}})},
		{"json.Number in an interface", opensAgain(map[string]any{"n": json.Number("12.5")})},
		// json.Marshal writes its fields, which json.Unmarshal cannot set:
		// New refuses the type.
		{"embedded pointer to an unexported struct", func(t *testing.T) {
			_, err := authix.New[unexportedPtr](authix.WithKeys(keyA))
			assert.ErrorIs(t, err, authix.ErrUnsupportedPayload)
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t)
		})
	}

	// What json.Unmarshal refuses in a json.Number field, the vault
	// refuses too: it could not seal the value again.
	t.Run("json.Number field holds numbers only", func(t *testing.T) {
		t.Parallel()
		var want numbers
		require.Error(t, json.Unmarshal([]byte(`{"n":"12x"}`), &want))
		got, err := openAsPayload[numbers]()(t, `{"n":"12x"}`)
		require.ErrorIs(t, err, authix.ErrInvalidToken, "decoded %#v", got)
	})
}

// opensAgain returns a test that logs in with v on a vault of its type
// and requires that the next request's handler sees v (roundTrip).
func opensAgain[T any](v T) func(*testing.T) {
	return func(t *testing.T) {
		vault, err := authix.New[T](authix.WithKeys(keyA))
		require.NoError(t, err)
		got, ok := roundTrip(t, vault, v)
		require.True(t, ok)
		assert.Equal(t, v, got)
	}
}

// A payload type that New accepts is one the vault can seal and open:
// a struct tag that encoding/json reads, or ignores, but json/v2 refuses
// is an error of New, naming the field, rather than of every login.
// (Accepting the type and sealing json.Marshal's bytes would do too.) Two
// more such tags, a tag on an unexported field and two fields of one
// name, are left out: go vet reports them, here as in users' code.
func TestPayloadTypeRefusedByNewOrCarried(t *testing.T) {
	t.Parallel()
	// The tags are the rule under test; staticcheck (SA5008) reports all
	// but the last, and New does not.
	type trailingComma struct {
		//lint:ignore SA5008 encoding/json reads it as "name"
		Name string `json:"name,"`
	}
	type dashName struct {
		//lint:ignore SA5008 encoding/json's documented spelling of the key "-"
		D string `json:"-,"`
	}
	type repeatedOption struct {
		//lint:ignore SA5008 encoding/json reads it as "name,omitempty"
		Name string `json:"name,omitempty,omitempty"`
	}
	type quoteInName struct {
		//lint:ignore SA5008 encoding/json ignores a name it cannot use
		Name string `json:"it's"`
	}
	type stringSlice struct {
		//lint:ignore SA5008 encoding/json ignores ",string" where it does not apply
		IDs []int `json:"ids,string"`
	}
	type formatOption struct {
		At time.Time `json:"at,format:unix"`
	}
	cases := map[string]func(*testing.T){
		`a trailing comma`:         newOrCarried(trailingComma{Name: "x"}),
		`the key "-" spelled "-,"`: newOrCarried(dashName{D: "x"}),
		`a repeated option`:        newOrCarried(repeatedOption{Name: "x"}),
		`a quote in a name`:        newOrCarried(quoteInName{Name: "x"}),
		`",string" on a slice`:     newOrCarried(stringSlice{IDs: []int{1}}),
		`a json/v2 format option`:  newOrCarried(formatOption{At: testEpoch}),
	}
	for name, check := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t)
		})
	}
}

// newOrCarried returns a test that New refuses v's type with
// ErrUnsupportedPayload, or seals v as json.Marshal does and opens the
// token again.
func newOrCarried[T any](v T) func(*testing.T) {
	return func(t *testing.T) {
		if _, err := authix.New[T](authix.WithKeys(keyA)); err != nil {
			require.ErrorIs(t, err, authix.ErrUnsupportedPayload)
			return
		}
		want, err := json.Marshal(v)
		require.NoError(t, err)
		got, err := sealing(v).seal(t)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got))
		opened, err := sealAndOpen[T](t, mustFernet(t, time.Hour, keyA), string(got))
		require.NoError(t, err)
		var back T
		require.NoError(t, json.Unmarshal(got, &back))
		assert.Equal(t, back, opened, "read as json.Unmarshal reads it")
	}
}
