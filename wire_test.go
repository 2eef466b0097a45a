package authix_test

import (
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The wire format: tokens sealed before payloads moved to json/v2 (by
// fd7fc32, in testdata/wire/tokens.json) open into the same values, and the
// same values seal the same payload bytes, so tokens in flight and Python
// readers see no change.

// wireEpoch is when the fixture tokens were sealed.
var wireEpoch = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// Embedded is promoted into Wire, as encoding/json promotes it.
type Embedded struct {
	Team string `json:"team"`
}

// Wire holds the Go types whose JSON form json/v2 writes differently from
// encoding/json unless told otherwise.
type Wire struct {
	Embedded
	NilSlice   []int             `json:"nil_slice"`
	NilMap     map[string]int    `json:"nil_map"`
	EmptySlice []string          `json:"empty_slice"`
	Bytes      []byte            `json:"bytes"`
	NilBytes   []byte            `json:"nil_bytes"`
	Array      [4]byte           `json:"array"`
	Duration   time.Duration     `json:"duration"`
	Time       time.Time         `json:"time"`
	ZeroTime   time.Time         `json:"zero_time"`
	String     sql.NullString    `json:"null_string"`
	Int        sql.NullInt64     `json:"null_int"`
	NoInt      sql.NullInt64     `json:"no_int"`
	When       sql.NullTime      `json:"null_time"`
	Big        int64             `json:"big"`
	Small      int64             `json:"small"`
	Huge       uint64            `json:"huge"`
	Float      float64           `json:"float"`
	Any        any               `json:"any"`
	Ptr        *int              `json:"ptr"`
	Omitted    string            `json:"omitted,omitempty"`
	Untagged   bool              //nolint:tagliatelle // the Go name is the key
	Escaped    string            `json:"escaped"`
	IntKeys    map[int]string    `json:"int_keys"`
	Nested     map[string][]bool `json:"nested"`
}

func wireValues() map[string]any {
	seven := 7
	return map[string]any{
		"struct": Wire{
			Embedded: Embedded{Team: "core"}, EmptySlice: []string{}, Bytes: []byte("hi\x00\xff"),
			Array: [4]byte{1, 2, 3, 4}, Duration: 90 * time.Second,
			Time:   time.Date(2026, 11, 30, 8, 15, 0, 123456789, time.FixedZone("", 3600)),
			String: sql.NullString{String: "s", Valid: true}, Int: sql.NullInt64{Int64: -3, Valid: true},
			When: sql.NullTime{Time: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC), Valid: true},
			Big:  math.MaxInt64, Small: math.MinInt64, Huge: math.MaxUint64, Float: 0.1,
			Any: map[string]any{"n": json.Number("9007199254740993"), "l": []any{json.Number("1"), "x", nil, true}},
			Ptr: &seven, Untagged: true, Escaped: "<a href=\"x\">&\u2028</a>",
			IntKeys: map[int]string{-1: "minus", 10: "ten", 2: "two"}, Nested: map[string][]bool{"b": nil, "a": {true}},
		},
		"zero struct": Wire{},
		"map": map[string]any{
			"big": json.Number("9007199254740993"), "neg": json.Number("-9223372036854775808"),
			"list": []any{json.Number("1"), json.Number("2.5"), "x", nil, map[string]any{}},
			"obj":  map[string]any{"a": json.Number("1e3")},
		},
		"dict": map[string]string{"user": "John", "role": "admin", "<": ">"},
	}
}

// wireToken is one fixture: a token and the payload bytes sealed in it.
type wireToken struct {
	Token   string `json:"token"`
	Payload string `json:"payload"`
}

// openWire opens tok as a vault of the fixture's type would, at the
// fixtures' time, and seals the value again.
func openWire(t *testing.T, name, tok string) (got any, payload []byte) {
	t.Helper()
	clock := authix.WithClock(func() time.Time { return wireEpoch })
	switch name {
	case "struct", "zero struct":
		return openAs[Wire](t, tok, clock)
	case "map":
		return openAs[map[string]any](t, tok, clock)
	case "dict":
		return openAs[map[string]string](t, tok, clock)
	}
	t.Fatalf("no fixture %q", name)
	return nil, nil
}

func openAs[T any](t *testing.T, tok string, opts ...authix.Option) (any, []byte) {
	t.Helper()
	v, err := authix.New[T](append([]authix.Option{authix.WithKeys(keyA)}, opts...)...)
	require.NoError(t, err)
	got, err := v.DecodeAccessToken(tok)
	require.NoError(t, err)
	again, err := v.CreateAccessToken(got)
	require.NoError(t, err)
	return got, payloadOf(t, again)
}

// payloadOf is the payload object a token seals, without its lifetime.
func payloadOf(t *testing.T, tok string) []byte {
	t.Helper()
	plain, _, err := mustFernet(t, authix.DefaultRememberMe, keyA).Open(nil, tok, wireEpoch)
	require.NoError(t, err)
	_, rest, ok := strings.Cut(string(plain), "},")
	require.True(t, ok, "%s", plain)
	return []byte("{" + rest)
}

func TestWireFormatKept(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("testdata/wire/tokens.json")
	require.NoError(t, err)
	var fixtures map[string]wireToken
	require.NoError(t, json.Unmarshal(raw, &fixtures))
	want := wireValues()
	require.Len(t, fixtures, len(want))
	for name, fx := range fixtures {
		t.Run(name, func(t *testing.T) {
			got, payload := openWire(t, name, fx.Token)
			assert.Equal(t, want[name], got, "the value sealed before")
			assert.Equal(t, fx.Payload, string(payload), "sealed again, the same bytes")
		})
	}
}
