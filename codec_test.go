package authix_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The payload types of the codec tests, beside User.

type codecInner struct {
	Label string `json:"label"`
	N     uint16 `json:"n,omitempty"`
}

type CodecEmbedded struct {
	Tag  string `json:"tag"`
	Note string `json:"note,omitempty"`
}

type CodecPtrEmbedded struct {
	Deep  bool    `json:"deep"`
	Ratio float64 `json:"ratio"`
}

// codecNested has every shape the codec plans for.
type codecNested struct {
	CodecEmbedded
	*CodecPtrEmbedded
	ID      int64              `json:"id"`
	U       uint64             `json:"u"`
	U8      uint8              `json:"u8"`
	I8      int8               `json:"i8"`
	F32     float32            `json:"f32"`
	F64     float64            `json:"f64"`
	Ptr     *codecInner        `json:"ptr"`
	PP      **int              `json:"pp"`
	Tags    map[string]string  `json:"tags"`
	IntKeys map[int]bool       `json:"int_keys"`
	List    []codecInner       `json:"list"`
	Arr     [2]int             `json:"arr"`
	Raw     []byte             `json:"raw"`
	Any     any                `json:"any"`
	When    time.Time          `json:"when"`
	WhenP   *time.Time         `json:"when_p"`
	Num     json.Number        `json:"num"`
	Addr    netip.Addr         `json:"addr"`  // text methods
	Big     *big.Int           `json:"big"`   // JSON methods on the pointer
	Hosts   map[netip.Addr]int `json:"hosts"` // text keys: encoding/json's
	Skip    string             `json:"-"`
	//lint:ignore SA5008 a field named "-" is a rule under test
	Dash    string    `json:"-,"`
	Omit    []string  `json:"omit,omitempty"`
	Zero    time.Time `json:"zero,omitzero"`
	NoTag   string
	private int
}

// codecQuoted has a ",string" field, which the codec leaves to
// encoding/json.
type codecQuoted struct {
	N int `json:"n,string"`
}

// codecKey is a map key with text methods, which the codec leaves to
// encoding/json.
type codecKey string

func (k *codecKey) UnmarshalText(b []byte) error {
	*k = codecKey(strings.ToUpper(string(b)))
	return nil
}

// ptrMarshaler marshals through its pointer only, so json.Marshal calls
// it only where the value is addressable.
type ptrMarshaler struct{ N int }

func (*ptrMarshaler) MarshalJSON() ([]byte, error) { return []byte(`"ptr"`), nil }

type codecNode struct {
	Next *codecNode `json:"next"`
}

func decodeInto[T any](data []byte) (any, error) {
	var v T
	err := authix.NewCodec[T]().Decode(data, &v)
	return v, err
}

func TestCodecDecode(t *testing.T) {
	t.Parallel()
	one := 1
	onePtr := &one
	type embedA struct {
		V int
		Y int
	}
	type embedB struct {
		V int
		Y int `json:"Y"` // a tag dominates
	}
	type embedded struct {
		embedA
		embedB
		Z int `json:"z"`
	}
	type unexportedPtr struct {
		*embedA
	}
	type withRaw struct {
		Raw json.RawMessage `json:"raw"`
	}
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
		in     string
		decode func([]byte) (any, error)
		want   any // nil: refused
	}{
		{"exact keys", `{"id":1,"is_admin":false,"IS_ADMIN":true}`, decodeInto[User], User{ID: 1}},
		{"other case ignored", `{"ID":1,"Name":"x","IS_ADMIN":true}`, decodeInto[User], User{}},
		{"escaped key matches", `{"\u0069d":7,"n\u0061me":"J"}`, decodeInto[User], User{ID: 7, Name: "J"}},
		{"unknown fields ignored", `{"id":1,"role":{"a":[1,{"b":null}]},"x":"y"}`, decodeInto[User], User{ID: 1}},
		{"duplicate field", `{"id":1,"id":2}`, decodeInto[User], nil},
		{"duplicate field, escaped", `{"id":1,"\u0069d":2}`, decodeInto[User], nil},
		{"duplicate unknown key", `{"x":1,"id":1,"x":2}`, decodeInto[User], nil},
		{"duplicate unknown key, escaped", `{"x":1,"\u0078":2}`, decodeInto[User], nil},
		{"duplicate inside an unknown value", `{"x":{"a":1,"a":2}}`, decodeInto[User], nil},
		{"same key in sibling objects", `{"x":{"a":1},"y":{"a":2}}`, decodeInto[User], User{}},
		{"duplicate map key", `{"a":1,"\u0061":2}`, decodeInto[map[string]int], nil},
		{"duplicate map[string]any key", `{"a":{"b":1,"b":2}}`, decodeInto[map[string]any], nil},
		{"duplicate map[string]string key", `{"a":"1","a":"2"}`, decodeInto[map[string]string], nil},
		{"duplicate after invalid UTF-8", "{\"\xff\":1,\"\xfe\":2}", decodeInto[map[string]any], nil},

		{"int64 above 2^53", `{"id":9007199254740993}`, decodeInto[int64s], int64s{ID: 9007199254740993}},
		{"int64 min", `{"id":-9223372036854775808}`, decodeInto[int64s], int64s{ID: math.MinInt64}},
		{"int64 overflow", `{"id":9223372036854775808}`, decodeInto[int64s], nil},
		{"int fraction", `{"id":1.0}`, decodeInto[User], nil},
		{"int exponent", `{"id":1e2}`, decodeInto[User], nil},
		{"int from string", `{"id":"1"}`, decodeInto[User], nil},
		{"minus zero into int", `{"id":-0}`, decodeInto[User], User{}},
		{"uint8 overflow", `{"u8":256}`, decodeInto[smalls], nil},
		{"uint8 max", `{"u8":255}`, decodeInto[smalls], smalls{U8: 255}},
		{"int8 min", `{"i8":-128}`, decodeInto[smalls], smalls{I8: -128}},
		{"int8 overflow", `{"i8":128}`, decodeInto[smalls], nil},
		{"negative uint", `{"u":-1}`, decodeInto[smalls], nil},
		{"minus zero into uint", `{"u":-0}`, decodeInto[smalls], nil},
		{"uint64 max", `{"u":18446744073709551615}`, decodeInto[map[string]uint64], map[string]uint64{"u": math.MaxUint64}},
		{"uint64 overflow", `{"u":18446744073709551616}`, decodeInto[map[string]uint64], nil},
		{"float32 overflow", `{"f32":1e39}`, decodeInto[smalls], nil},
		{"float64 overflow", `{"a":1e400}`, decodeInto[map[string]float64], nil},
		{"any keeps integers exact", `{"id":9007199254740993,"l":[1.5,true,null,"s"],"o":{}}`, decodeInto[map[string]any],
			map[string]any{"id": json.Number("9007199254740993"), "l": []any{json.Number("1.5"), true, nil, "s"}, "o": map[string]any{}}},
		{"any at top level", `[1,{"a":-2e-3}]`, decodeInto[any], []any{json.Number("1"), map[string]any{"a": json.Number("-2e-3")}}},
		{"bad number", `{"id":01}`, decodeInto[User], nil},
		{"bad number in any", `[1.]`, decodeInto[any], nil},
		{"bad exponent", `[1e+]`, decodeInto[any], nil},

		{"null field", `{"name":null,"id":null}`, decodeInto[User], User{}},
		{"null top level map", `null`, decodeInto[map[string]string], map[string]string(nil)},
		{"null top level pointer", `null`, decodeInto[*User], (*User)(nil)},
		{"null time.Time", `{"when":null}`, decodeInto[codecNested], codecNested{}},
		{"null pointer to pointer", `{"pp":null}`, decodeInto[codecNested], codecNested{}},
		{"pointer to pointer", `{"pp":1}`, decodeInto[codecNested], codecNested{PP: &onePtr}},

		{"surrogate pair", `["\ud83d\ude00"]`, decodeInto[[]string], []string{"😀"}},
		{"lone surrogate", `["\ud800x"]`, decodeInto[[]string], []string{"\ufffdx"}},
		{"surrogate then letter escape", `["\ud800\u0041"]`, decodeInto[[]string], []string{"\ufffdA"}},
		{"two high surrogates", `["\ud800\ud83d\ude00"]`, decodeInto[[]string], []string{"\ufffd😀"}},
		{"invalid UTF-8", "[\"a\xffb\"]", decodeInto[[]string], []string{"a\ufffdb"}},
		{"escapes", `["\"\\\/\b\f\n\r\t\u00e9"]`, decodeInto[[]string], []string{"\"\\/\b\f\n\r\té"}},
		{"raw control character", "[\"a\x01\"]", decodeInto[[]string], nil},
		{"raw newline", "[\"a\n\"]", decodeInto[[]string], nil},
		{"bad escape", `["\x"]`, decodeInto[[]string], nil},
		{"single quote escape", `["\'"]`, decodeInto[[]string], nil},
		{"short unicode escape", `["\u12"]`, decodeInto[[]string], nil},
		{"unterminated string", `["abc`, decodeInto[[]string], nil},

		{"JSON whitespace", " \t\n\r{ \"id\" : 1 , \"name\" :\"x\" } \n", decodeInto[User], User{ID: 1, Name: "x"}},
		{"vertical tab", "\v{}", decodeInto[User], nil},
		{"byte order mark", "\xef\xbb\xbf{}", decodeInto[User], nil},
		{"trailing data", `{}x`, decodeInto[User], nil},
		{"two values", `{} {}`, decodeInto[User], nil},
		{"trailing comma", `{"id":1,}`, decodeInto[User], nil},
		{"missing colon", `{"id" 1}`, decodeInto[User], nil},
		{"unclosed", `{"id":1`, decodeInto[User], nil},
		{"empty", ``, decodeInto[User], nil},
		{"array into struct", `[]`, decodeInto[User], nil},
		{"object into slice", `{}`, decodeInto[[]int], nil},
		{"bad literal", `{"is_admin":tru}`, decodeInto[User], nil},
		{"nesting at the bound", strings.Repeat("[", 1000) + strings.Repeat("]", 1000), decodeInto[any], nestedArrays(1000)},
		{"nesting past the bound", strings.Repeat("[", 1001) + strings.Repeat("]", 1001), decodeInto[any], nil},

		{"embedded struct, dominance", `{"V":1,"Y":2,"z":3}`, decodeInto[embedded], embedded{embedB: embedB{Y: 2}, Z: 3}},
		{"embedded pointer allocated", `{"deep":true,"tag":"t"}`, decodeInto[codecNested],
			codecNested{CodecEmbedded: CodecEmbedded{Tag: "t"}, CodecPtrEmbedded: &CodecPtrEmbedded{Deep: true}}},
		{"embedded pointer to unexported struct", `{"Y":1}`, decodeInto[unexportedPtr], nil},
		{"ignored tags", `{"Skip":"a","-":"b","NoTag":"c","private":1}`, decodeInto[codecNested], codecNested{Dash: "b", NoTag: "c"}},

		{"base64 bytes", `{"raw":"aGk="}`, decodeInto[codecNested], codecNested{Raw: []byte("hi")}},
		{"bytes as numbers", `{"raw":[104,105]}`, decodeInto[codecNested], codecNested{Raw: []byte("hi")}},
		{"empty bytes", `{"raw":""}`, decodeInto[codecNested], codecNested{Raw: []byte{}}},
		{"bad base64", `{"raw":"a"}`, decodeInto[codecNested], nil},
		{"array truncated", `{"arr":[1,2,3]}`, decodeInto[codecNested], codecNested{Arr: [2]int{1, 2}}},
		{"array short", `{"arr":[1]}`, decodeInto[codecNested], codecNested{Arr: [2]int{1, 0}}},
		{"empty slice", `{"list":[]}`, decodeInto[codecNested], codecNested{List: []codecInner{}}},
		{"int keys", `{"int_keys":{"-3":true,"12":false}}`, decodeInto[codecNested], codecNested{IntKeys: map[int]bool{-3: true, 12: false}}},
		{"bad int key", `{"int_keys":{"x":true}}`, decodeInto[codecNested], nil},
		{"json.Number from number", `{"num":-1.5e3}`, decodeInto[codecNested], codecNested{Num: "-1.5e3"}},
		{"json.Number from string", `{"num":"12"}`, decodeInto[codecNested], codecNested{Num: "12"}},
		{"json.Number from bad string", `{"num":"12x"}`, decodeInto[codecNested], nil},
		{"time.Time", `{"when":"2026-03-01T12:00:00Z"}`, decodeInto[codecNested], codecNested{When: testEpoch}},
		{"bad time.Time", `{"when":"yesterday"}`, decodeInto[codecNested], nil},
		{"time.Time from number", `{"when":5}`, decodeInto[codecNested], nil},
		{"RawMessage leaf", `{"raw": [1, {"a":2}] }`, decodeInto[withRaw], withRaw{Raw: json.RawMessage(`[1, {"a":2}]`)}},
		{"RawMessage null", `{"raw":null}`, decodeInto[withRaw], withRaw{Raw: json.RawMessage(`null`)}},

		{"fallback ,string", `{"n":"5"}`, decodeInto[codecQuoted], codecQuoted{N: 5}},
		{"fallback keeps duplicates out", `{"n":"5","n":"6"}`, decodeInto[codecQuoted], nil},
		{"fallback text keys", `{"a":1}`, decodeInto[map[codecKey]int], map[codecKey]int{"A": 1}},
		{"fallback text keys, duplicate", `{"a":1,"a":2}`, decodeInto[map[codecKey]int], nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := c.decode([]byte(c.in))
			if c.want == nil {
				require.Error(t, err, "decoded %#v", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, c.want, got)
		})
	}
}

func nestedArrays(n int) any {
	var v any = []any{}
	for range n - 1 {
		v = []any{v}
	}
	return v
}

// The input buffer is the vault's and is reused: nothing decoded may
// point into it.
func TestCodecDoesNotAliasInput(t *testing.T) {
	t.Parallel()
	type leaves struct {
		Name string          `json:"name"`
		Raw  json.RawMessage `json:"raw"`
		Any  any             `json:"any"`
		B    []byte          `json:"b"`
		M    map[string]string
	}
	in := []byte(`{"name":"John","raw":{"k":"v"},"any":{"s":"str","n":12},"b":"aGk=","M":{"key":"val"}}`)
	var got leaves
	require.NoError(t, authix.NewCodec[leaves]().Decode(in, &got))
	want := leaves{Name: "John", Raw: json.RawMessage(`{"k":"v"}`), Any: map[string]any{"s": "str", "n": json.Number("12")},
		B: []byte("hi"), M: map[string]string{"key": "val"}}
	require.Equal(t, want, got)
	for i := range in {
		in[i] = 'X'
	}
	assert.Equal(t, want, got)
}

func TestCodecEncode(t *testing.T) {
	t.Parallel()
	when := testEpoch.Add(1500 * time.Millisecond)
	n := 3
	np := &n
	cyclic := map[string]any{}
	cyclic["self"] = cyclic
	loop := &codecNode{}
	loop.Next = loop
	nested := codecNested{
		CodecEmbedded:    CodecEmbedded{Tag: "<tag>&"},
		CodecPtrEmbedded: &CodecPtrEmbedded{Deep: true, Ratio: 1e-7},
		ID:               -9007199254740993, U: math.MaxUint64, U8: 255, I8: -128, F32: 3.4e38, F64: 1e21,
		Ptr: &codecInner{Label: "\u2028\u2029", N: 7}, PP: &np,
		Tags: map[string]string{"b": "2", "a": "1", "\xff": "bad"}, IntKeys: map[int]bool{10: true, -1: false, 2: true},
		List: []codecInner{{Label: "x"}, {}}, Arr: [2]int{1, 2}, Raw: []byte{0, 1, 254, 255},
		Any:  map[string]any{"n": json.Number("1e400"), "l": []any{1.5, "s", nil, true, map[string]any{}}},
		When: when, WhenP: &when, Num: "12.5", Skip: "skip", Dash: "dash", private: 1, NoTag: "\x01\b\f\n\r\t\"\\",
	}
	values := map[string]any{
		"user":                   User{ID: 1, Name: "John", IsAdmin: true},
		"user pointer":           &User{ID: 2},
		"nil pointer":            (*User)(nil),
		"nested":                 nested,
		"nested zero":            codecNested{},
		"nested pointer":         &nested,
		"map any":                map[string]any{"z": 1, "a": []any{int8(-1), uint(2), float32(0.1), "x"}, "m": map[string]int{"k": 1}},
		"nil map":                map[string]string(nil),
		"empty slice":            []string{},
		"nil slice":              []string(nil),
		"floats":                 []float64{0, math.Copysign(0, -1), 0.1, 1e20, 1e21, 1e-6, 1e-7, 123456789.125, math.MaxFloat64, math.SmallestNonzeroFloat64},
		"float32s":               []float32{0.1, 1e-7, 1e21, math.MaxFloat32, 16777217},
		"strings":                []string{"<>&", "\u2028", "a\xffb", "\x00\x1f\x7f", "é😀", "\xed\xa0\x80"},
		"omitempty and omitzero": codecNested{Omit: []string{}, Zero: time.Time{}},
		"omitzero set":           codecNested{Zero: when},
		"json.Number":            map[string]json.Number{"a": "", "b": "-0.5e+3"},
		"RawMessage compacted":   map[string]json.RawMessage{"r": json.RawMessage(" [ 1 , \"<\" ] ")},
		"text keys":              map[codecKey]int{"b": 1, "a": 2},
		"quoted":                 codecQuoted{N: 5},
		"ptr marshaler by value": struct{ A ptrMarshaler }{},
		"ptr marshaler in slice": []ptrMarshaler{{}},
		"ptr marshaler in map":   map[string]ptrMarshaler{"k": {}},
		"ptr marshaler via ptr":  &struct{ A ptrMarshaler }{},
		"NaN":                    map[string]float64{"x": math.NaN()},
		"Inf":                    []float32{float32(math.Inf(1))},
		"NaN in any":             []any{math.Inf(-1)},
		"bad json.Number":        json.Number("1x"),
		"map cycle":              cyclic,
		"pointer cycle":          loop,
		"unsupported":            map[string]any{"f": func() {}},
	}
	for name, v := range values {
		t.Run(name, func(t *testing.T) {
			want, wantErr := json.Marshal(v)
			got, err := marshalCodec(v)
			if wantErr != nil {
				require.Error(t, err, "encoded %s", got)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, string(want), string(got))
		})
	}
}

// marshalCodec encodes v with its type's codec, as the vault seals a
// payload of that type.
func marshalCodec(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return authix.EncodeValue(p)
}

// FuzzCodecDifferential decodes the same bytes with the codec and with
// encoding/json into several payload types: the codec must never panic,
// accept only what encoding/json accepts without duplicate keys, and
// decode the same values, which it must then encode as json.Marshal does.
// Inputs with a key that matches a field only case-insensitively are
// where the two differ by design, and only the panic check applies.
func FuzzCodecDifferential(f *testing.F) {
	for _, v := range []any{
		User{ID: 1, Name: "John", IsAdmin: true},
		codecNested{CodecEmbedded: CodecEmbedded{Tag: "t", Note: "n"}, CodecPtrEmbedded: &CodecPtrEmbedded{Ratio: 0.5},
			ID: 1 << 60, U: 1<<64 - 1, F32: 1.5, F64: -2e-9, Ptr: &codecInner{Label: "l", N: 1}, Tags: map[string]string{"a": "b"},
			IntKeys: map[int]bool{1: true}, List: []codecInner{{Label: "x"}}, Raw: []byte("raw"), Any: map[string]any{"k": []any{1, "2"}},
			When: testEpoch, WhenP: &testEpoch, Num: "3.25", Omit: []string{"o"}, Zero: testEpoch, NoTag: "<&>"},
		map[string]any{"n": 9007199254740993, "l": []any{true, nil, 1.5, "\u2028"}, "o": map[string]any{"a": map[string]any{}}},
		map[string]string{"user": "john", "role": "admin"},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", "null", "[]", `""`, "0", "-0", "true", " {\"id\" : 1 }\n", "\v{}",
		`{"id":1,"is_admin":false,"IS_ADMIN":true}`, `{"id":1,"id":2}`, `{"a":1,"\u0061":2}`, `{"x":{"a":1,"a":2}}`,
		`{"id":1.0}`, `{"id":1e2}`, `{"id":"1"}`, `{"id":9223372036854775808}`, `{"u":-0}`, `{"u8":256}`, `{"f32":1e39}`,
		`{"name":"\ud800"}`, `{"name":"\ud83d\ude00\ud800\u0041"}`, "{\"name\":\"\xff\xed\xa0\x80\"}", "{\"name\":\"\x01\"}",
		`{"name":"\'"}`, `{"a":null}`, `{"a":"b"`, `{"a":"b"}x`, `{"a":"b"} {}`, "\xef\xbb\xbf{}",
		strings.Repeat("[", 1001) + strings.Repeat("]", 1001), `{"raw":"aGk="}`, `{"raw":[104,105]}`, `{"raw":"a"}`,
		`{"arr":[1,2,3]}`, `{"int_keys":{"01":true,"1":false}}`, `{"int_keys":{"+1":true}}`, `{"num":"1x"}`, `{"num":-0.0e-0}`,
		`{"when":"2026-03-01T12:00:00+01:00"}`, `{"when":null,"when_p":null}`, `{"pp":5}`, `{"deep":true}`, `{"Deep":true}`,
		`{"any":{"a":[{"b":1e400}]}}`, `{"-":"x","Skip":"y"}`, `{"list":[{"label":"a","n":70000}]}`, `{"f64":1e308}`,
		`{"addr":"10.0.0.1","big":123456789012345678901234567890,"hosts":{"::1":1}}`, `{"addr":null,"big":null}`,
		`{"addr":1}`, `{"big":"12"}`, `{"hosts":{"x":1}}`, `{"hosts":{"::1":1,"::1":2}}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		checkCodec[User](t, data, false)
		checkCodec[codecNested](t, data, true)
		checkCodec[map[string]any](t, data, false)
		checkCodec[map[string]string](t, data, false)
	})
}

// checkCodec runs the differential check for T. intKeys tells that T has
// maps with integer keys, where "1" and "01" are one key to the codec.
func checkCodec[T any](t *testing.T, data []byte, intKeys bool) {
	t.Helper()
	var got, want T
	err := authix.NewCodec[T]().Decode(data, &got)
	jsonErr := unmarshalNumbers(data, &want)
	keys := inspectKeys(data, fieldNames(reflect.TypeFor[T]()))
	if keys.folded {
		return
	}
	switch {
	case err == nil && jsonErr != nil:
		t.Fatalf("%T: accepted %q, which encoding/json refuses: %v", got, data, jsonErr)
	case err == nil && keys.dup:
		t.Fatalf("%T: accepted a duplicate key in %q", got, data)
	case err != nil && jsonErr == nil && !keys.dup && keys.depth <= 1000 && !(intKeys && isDuplicate(err)):
		t.Fatalf("%T: refused %q, which encoding/json decodes: %v", got, data, err)
	case err != nil:
		return
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%T: decoded %q as %#v; encoding/json: %#v", got, data, got, want)
	}
	enc, err := authix.NewCodec[T]().Encode(nil, &got)
	jsonEnc, jsonErr := json.Marshal(got)
	if (err == nil) != (jsonErr == nil) || !bytes.Equal(enc, jsonEnc) {
		t.Fatalf("%T: encoded %#v as %s (%v); json.Marshal: %s (%v)", got, got, enc, err, jsonEnc, jsonErr)
	}
}

func isDuplicate(err error) bool { return strings.Contains(err.Error(), "duplicate key") }

// jsonKeys is what inspectKeys finds in a document's objects.
type jsonKeys struct {
	dup    bool // an object repeats a key, compared after unescaping
	folded bool // a key matches a name case-insensitively only
	depth  int
}

// inspectKeys walks data with encoding/json's tokenizer. Its result is
// meaningless for data encoding/json refuses.
func inspectKeys(data []byte, names []string) jsonKeys {
	var r jsonKeys
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []*keyFrame
	for {
		tok, err := dec.Token()
		if err != nil {
			return r
		}
		var top *keyFrame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if tok == json.Delim('}') {
				stack = stack[:len(stack)-1]
				valueDone(stack)
				continue
			}
			k, _ := tok.(string)
			r.dup = r.dup || top.keys[k]
			top.keys[k] = true
			for _, n := range names {
				r.folded = r.folded || (k != n && foldName(k) == foldName(n))
			}
			top.wantKey = false
			continue
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &keyFrame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &keyFrame{})
		case json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone(stack)
		default:
			valueDone(stack)
		}
		r.depth = max(r.depth, len(stack))
	}
}

type keyFrame struct {
	keys    map[string]bool // nil in an array
	wantKey bool
}

// valueDone ends a member's value: an object then wants a key.
func valueDone(stack []*keyFrame) {
	if len(stack) > 0 && stack[len(stack)-1].keys != nil {
		stack[len(stack)-1].wantKey = true
	}
}

// foldName is encoding/json's case folding of keys (fold.go).
func foldName(s string) string {
	var b []byte
	for _, r := range s {
		if r < utf8.RuneSelf {
			if 'a' <= r && r <= 'z' {
				r -= 'a' - 'A'
			}
			b = append(b, byte(r))
			continue
		}
		for {
			r2 := unicode.SimpleFold(r)
			if r2 <= r {
				r = r2
				break
			}
			r = r2
		}
		b = utf8.AppendRune(b, r)
	}
	return string(b)
}

// fieldNames lists the JSON names of every struct field in t, at any
// depth.
func fieldNames(t reflect.Type) []string {
	var names []string
	seen := map[reflect.Type]bool{}
	var walk func(reflect.Type)
	walk = func(t reflect.Type) {
		if seen[t] {
			return
		}
		seen[t] = true
		switch t.Kind() {
		case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
			walk(t.Elem())
		case reflect.Struct:
			for i := range t.NumField() {
				sf := t.Field(i)
				name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
				if name == "" {
					name = sf.Name
				}
				names = append(names, name)
				walk(sf.Type)
			}
		}
	}
	walk(t)
	return names
}

func BenchmarkCodec(b *testing.B) {
	plain := []byte(`{"id":1,"is_admin":true,"name":"John"}`)
	codec := authix.NewCodec[User]()
	b.Run("decode/codec", func(b *testing.B) {
		var u User
		b.ReportAllocs()
		for b.Loop() {
			u = User{}
			if err := codec.Decode(plain, &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decode/json", func(b *testing.B) {
		var u User
		b.ReportAllocs()
		for b.Loop() {
			u = User{}
			if err := json.Unmarshal(plain, &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/codec", func(b *testing.B) {
		u := benchUser
		dst := make([]byte, 0, 64)
		b.ReportAllocs()
		for b.Loop() {
			if _, err := codec.Encode(dst[:0], &u); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encode/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(benchUser); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// Vaults built at once share the codec cache: a recursive type planned
// by many goroutines together must come out whole for each of them.
func TestCodecConcurrentBuild(t *testing.T) {
	t.Parallel()
	type tree struct {
		Name     string           `json:"name"`
		Children []tree           `json:"children"`
		ByName   map[string]*tree `json:"by_name"`
	}
	in := []byte(`{"name":"a","children":[{"name":"b","children":null}],"by_name":{"c":{"name":"c"}}}`)
	want := tree{Name: "a", Children: []tree{{Name: "b"}}, ByName: map[string]*tree{"c": {Name: "c"}}}
	wantJSON, err := json.Marshal(want)
	require.NoError(t, err)
	errs := make(chan error, 8)
	for range 8 {
		go func() {
			var got tree
			err := authix.NewCodec[tree]().Decode(in, &got)
			if err == nil && !reflect.DeepEqual(got, want) {
				err = errors.New("decoded a different tree")
			}
			if err == nil {
				var enc []byte
				enc, err = authix.NewCodec[tree]().Encode(nil, &got)
				if err == nil && !bytes.Equal(enc, wantJSON) {
					err = errors.New("encoded " + string(enc))
				}
			}
			errs <- err
		}()
	}
	for range 8 {
		require.NoError(t, <-errs)
	}
}
