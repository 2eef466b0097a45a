package authix

import (
	"bytes"
	"cmp"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// A codec decodes and encodes one Go type as JSON, by a plan built once by
// reflection. It is the vault's default payload encoding: stricter than
// encoding/json on decode, byte for byte the same on encode.
//
// Decoding matches object keys exactly (after unescaping), refuses a
// duplicate key in any object, keeps integers exact (json.Number in an
// interface), ignores unknown fields, refuses trailing data and nesting
// deeper than maxDepth, and otherwise follows encoding/json: field rules
// (tags, "-", omitempty, omitzero, embedded structs and their dominance),
// base64 []byte, json.Unmarshaler and encoding.TextUnmarshaler leaves
// (null included), string unescaping, integer range checks; embedded
// pointers to structs are followed, and allocated on decode. It assumes the
// destination is a zero value, as the vault's always is.
//
// Types the plan does not cover go to encoding/json whole, after the codec
// has checked their bytes (syntax, duplicate keys): structs with a
// ",string" field, maps whose key type has text methods, and kinds JSON
// cannot carry (which encoding/json then refuses). Keys inside such a type
// match as encoding/json matches them, case-insensitively.
type codec struct {
	dec decFunc
	enc encFunc
	typ reflect.Type
}

// A decFunc decodes the value at d into *p.
type decFunc = func(d *decoder, p unsafe.Pointer) error

// An encFunc appends *p's JSON to b; addr tells whether the value is
// addressable where json.Marshal would see it, which decides whether
// pointer-receiver MarshalJSON and MarshalText methods are called.
type encFunc = func(e *encoder, b []byte, p unsafe.Pointer, addr bool) ([]byte, error)

// maxDepth bounds nesting on decode; encoding/json allows 10000, which no
// payload needs.
const maxDepth = 1000

var (
	codecs  sync.Map // reflect.Type → *codec
	buildMu sync.Mutex

	numberType    = reflect.TypeFor[json.Number]()
	isZeroerType  = reflect.TypeFor[interface{ IsZero() bool }]()
	anyType       = reflect.TypeFor[any]()
	stringType    = reflect.TypeFor[string]()
	errDuplicate  = errors.New("duplicate key")
	errTooDeep    = fmt.Errorf("nesting deeper than %d", maxDepth)
	errEndOfInput = errors.New("unexpected end of JSON input")
)

// newCodec returns the codec of t, building it on first use.
func newCodec(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	b := builder{building: map[reflect.Type]*codec{}, plans: map[reflect.Type]*structPlan{}}
	c := b.codec(t)
	// Publish only complete plans: a recursive type's codecs refer to each other.
	for t, c := range b.building {
		codecs.Store(t, c)
	}
	return c
}

type builder struct {
	building map[reflect.Type]*codec
	plans    map[reflect.Type]*structPlan
}

func (b *builder) codec(t reflect.Type) *codec {
	if c, ok := codecs.Load(t); ok {
		return c.(*codec)
	}
	if c, ok := b.building[t]; ok {
		return c // recursive: filled in below before anyone runs it
	}
	c := &codec{typ: t}
	b.building[t] = c
	if b.needsFallback(t) {
		c.dec, c.enc = fallbackDecoder(t), fallbackEncoder(t)
		return c
	}
	c.dec = b.decoder(t)
	c.enc = b.encoder(t)
	return c
}

func (b *builder) needsFallback(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Struct:
		for _, f := range typeFields(t) {
			if f.quoted {
				return true
			}
		}
	case reflect.Map:
		k := t.Key()
		pk := reflect.PointerTo(k)
		if k.Implements(textMarshalerType) || pk.Implements(textMarshalerType) || pk.Implements(textUnmarshalerType) {
			return true
		}
		switch k.Kind() {
		case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		default:
			return true
		}
	case reflect.Interface:
		return t.NumMethod() > 0
	case reflect.Complex64, reflect.Complex128, reflect.Chan, reflect.Func, reflect.UnsafePointer, reflect.Invalid:
		return true
	}
	return false
}

// decode reads data, one JSON value, into *p, which must be a zero value
// of the codec's type.
func (c *codec) decode(data []byte, p unsafe.Pointer) error {
	d := decoders.Get().(*decoder)
	d.data, d.i, d.depth = data, 0, 0
	err := c.dec(d, p)
	if err == nil {
		d.ws()
		if d.i < len(d.data) {
			err = d.syntax("after top-level value")
		}
	}
	clear(d.keys)
	d.keys, d.data = d.keys[:0], nil
	if cap(d.buf) > 4096 {
		d.buf = nil
	}
	decoders.Put(d)
	return err
}

// encode appends the JSON of *p, as json.Marshal(*p) writes it.
func (c *codec) encode(dst []byte, p unsafe.Pointer) ([]byte, error) {
	e := encoders.Get().(*encoder)
	b, err := c.enc(e, dst, p, false)
	e.depth = 0
	clear(e.seen)
	encoders.Put(e)
	return b, err
}

// ---- decoding ----

type decoder struct {
	data  []byte
	i     int
	depth int
	buf   []byte   // unescaped strings, reused
	keys  []string // unknown keys of the open objects; may alias data
}

var decoders = sync.Pool{New: func() any { return new(decoder) }}

func (d *decoder) ws() {
	for d.i < len(d.data) {
		switch d.data[d.i] {
		case ' ', '\t', '\n', '\r':
			d.i++
		default:
			return
		}
	}
}

// peek skips whitespace and returns the next byte, or 0 at the end.
func (d *decoder) peek() byte {
	d.ws()
	if d.i < len(d.data) {
		return d.data[d.i]
	}
	return 0
}

func (d *decoder) syntax(what string) error {
	if d.i >= len(d.data) {
		return errEndOfInput
	}
	return fmt.Errorf("invalid character %q %s at offset %d", d.data[d.i], what, d.i)
}

// mismatch reports a JSON value that cannot go into t, or the syntax error
// that starts it.
func (d *decoder) mismatch(t reflect.Type) error {
	var what string
	switch d.peek() {
	case '{':
		what = "object"
	case '[':
		what = "array"
	case '"':
		what = "string"
	case 't', 'f':
		what = "bool"
	case 'n':
		what = "null"
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		what = "number"
	default:
		return d.syntax("looking for beginning of value")
	}
	return fmt.Errorf("cannot decode JSON %s at offset %d into %v", what, d.i, t)
}

func (d *decoder) literal(lit string) error {
	if !bytes.HasPrefix(d.data[d.i:], []byte(lit)) {
		for k := 0; k < len(lit) && d.i < len(d.data) && d.data[d.i] == lit[k]; k++ {
			d.i++
		}
		return d.syntax("in literal " + lit)
	}
	d.i += len(lit)
	return nil
}

// open enters an object or array at d.i.
func (d *decoder) open() error {
	if d.depth++; d.depth > maxDepth {
		return errTooDeep
	}
	d.i++
	return nil
}

// next ends a member or element: true for another one, false at close.
func (d *decoder) next(close byte) (bool, error) {
	switch d.peek() {
	case ',':
		d.i++
		return true, nil
	case close:
		d.i++
		d.depth--
		return false, nil
	}
	if close == '}' {
		return false, d.syntax("after object key:value pair")
	}
	return false, d.syntax("after array element")
}

// first reports whether an object or array just opened has a first member.
func (d *decoder) first(close byte) bool {
	if d.peek() == close {
		d.i++
		d.depth--
		return false
	}
	return true
}

// key reads an object key and its colon. The bytes are valid until the
// next string is read; escaped tells whether they are d.buf's.
func (d *decoder) key() (key []byte, escaped bool, err error) {
	if d.peek() != '"' {
		return nil, false, d.syntax("looking for beginning of object key string")
	}
	key, escaped, err = d.str()
	if err != nil {
		return nil, false, err
	}
	if d.peek() != ':' {
		return nil, false, d.syntax("after object key")
	}
	d.i++
	return key, escaped, nil
}

// unknownKey records a key no field took, refusing one seen before in the
// object whose keys start at d.keys[from]. Payloads are small: a linear
// scan beats a map.
func (d *decoder) unknownKey(key []byte, escaped bool, from int) error {
	for _, k := range d.keys[from:] {
		if k == string(key) {
			return fmt.Errorf("%w %q", errDuplicate, key)
		}
	}
	s := ""
	switch {
	case escaped:
		s = string(key)
	case len(key) > 0:
		s = unsafe.String(&key[0], len(key)) // cleared before decode returns
	}
	d.keys = append(d.keys, s)
	return nil
}

// str reads the string at d.i. Without escapes or invalid UTF-8 the bytes
// are data's; otherwise they are unescaped into d.buf.
func (d *decoder) str() ([]byte, bool, error) {
	data := d.data
	start := d.i + 1
	for i := start; i < len(data); i++ {
		switch c := data[i]; {
		case c == '"':
			d.i = i + 1
			return data[start:i], false, nil
		case c == '\\' || c >= utf8.RuneSelf:
			return d.slowStr(start, i)
		case c < ' ':
			d.i = i
			return nil, false, d.syntax("in string literal")
		}
	}
	d.i = len(data)
	return nil, false, errEndOfInput
}

// slowStr unescapes as encoding/json does: invalid UTF-8 and lone
// surrogates become U+FFFD.
func (d *decoder) slowStr(start, i int) ([]byte, bool, error) {
	data := d.data
	b := append(d.buf[:0], data[start:i]...)
	for i < len(data) {
		c := data[i]
		switch {
		case c == '"':
			d.i, d.buf = i+1, b
			return b, true, nil
		case c == '\\':
			if i+1 >= len(data) {
				d.i = len(data)
				return nil, false, errEndOfInput
			}
			switch e := data[i+1]; e {
			case '"', '\\', '/':
				b = append(b, e)
			case 'b':
				b = append(b, '\b')
			case 'f':
				b = append(b, '\f')
			case 'n':
				b = append(b, '\n')
			case 'r':
				b = append(b, '\r')
			case 't':
				b = append(b, '\t')
			case 'u':
				r := hex4(data[i+2:])
				if r < 0 {
					d.i = min(i+2+badHex(data[i+2:]), len(data))
					return nil, false, d.syntax("in \\u hexadecimal character escape")
				}
				i += 6
				if utf16.IsSurrogate(r) {
					if len(data) > i+1 && data[i] == '\\' && data[i+1] == 'u' {
						if r2 := hex4(data[i+2:]); r2 >= 0 {
							if dec := utf16.DecodeRune(r, r2); dec != unicode.ReplacementChar {
								b = utf8.AppendRune(b, dec)
								i += 6
								continue
							}
						}
					}
					r = unicode.ReplacementChar
				}
				b = utf8.AppendRune(b, r)
				continue
			default:
				d.i = i + 1
				return nil, false, d.syntax("in string escape code")
			}
			i += 2
		case c < ' ':
			d.i = i
			return nil, false, d.syntax("in string literal")
		case c < utf8.RuneSelf:
			b = append(b, c)
			i++
		default:
			r, size := utf8.DecodeRune(data[i:])
			if r == utf8.RuneError && size == 1 {
				b = utf8.AppendRune(b, unicode.ReplacementChar)
			} else {
				b = append(b, data[i:i+size]...)
			}
			i += size
		}
	}
	d.i = len(data)
	return nil, false, errEndOfInput
}

func hexVal(c byte) rune {
	switch {
	case '0' <= c && c <= '9':
		return rune(c - '0')
	case 'a' <= c && c <= 'f':
		return rune(c - 'a' + 10)
	case 'A' <= c && c <= 'F':
		return rune(c - 'A' + 10)
	}
	return -1
}

// hex4 is the value of four hex digits at the start of s, or -1.
func hex4(s []byte) rune {
	if len(s) < 4 {
		return -1
	}
	var r rune
	for _, c := range s[:4] {
		v := hexVal(c)
		if v < 0 {
			return -1
		}
		r = r<<4 | v
	}
	return r
}

func badHex(s []byte) int {
	for k, c := range s[:min(4, len(s))] {
		if hexVal(c) < 0 {
			return k
		}
	}
	return len(s)
}

// number reads a number literal at d.i, by JSON's grammar.
func (d *decoder) number() ([]byte, error) {
	data, start := d.data, d.i
	i := start
	digits := func() bool {
		k := i
		for i < len(data) && '0' <= data[i] && data[i] <= '9' {
			i++
		}
		return i > k
	}
	if i < len(data) && data[i] == '-' {
		i++
	}
	switch {
	case i < len(data) && data[i] == '0':
		i++
	case !digits():
		d.i = i
		return nil, d.syntax("in numeric literal")
	}
	if i < len(data) && data[i] == '.' {
		i++
		if !digits() {
			d.i = i
			return nil, d.syntax("after decimal point in numeric literal")
		}
	}
	if i < len(data) && (data[i] == 'e' || data[i] == 'E') {
		i++
		if i < len(data) && (data[i] == '+' || data[i] == '-') {
			i++
		}
		if !digits() {
			d.i = i
			return nil, d.syntax("in exponent of numeric literal")
		}
	}
	d.i = i
	return data[start:i], nil
}

func validNumber(s []byte) bool {
	d := decoder{data: s}
	_, err := d.number()
	return err == nil && d.i == len(s)
}

// skip checks the value at d.i and returns its bytes.
func (d *decoder) skip() ([]byte, error) {
	c := d.peek()
	start := d.i
	var err error
	switch c {
	case '{':
		if err = d.open(); err != nil {
			return nil, err
		}
		from := len(d.keys)
		for more := d.first('}'); more; more, err = d.next('}') {
			key, escaped, err := d.key()
			if err == nil {
				err = d.unknownKey(key, escaped, from)
			}
			if err == nil {
				_, err = d.skip()
			}
			if err != nil {
				return nil, err
			}
		}
		clear(d.keys[from:])
		d.keys = d.keys[:from]
	case '[':
		if err = d.open(); err != nil {
			return nil, err
		}
		for more := d.first(']'); more; more, err = d.next(']') {
			if _, err := d.skip(); err != nil {
				return nil, err
			}
		}
	case '"':
		_, _, err = d.str()
	case 't':
		err = d.literal("true")
	case 'f':
		err = d.literal("false")
	case 'n':
		err = d.literal("null")
	default:
		_, err = d.number()
	}
	if err != nil {
		return nil, err
	}
	return d.data[start:d.i], nil
}

// anyValue decodes a value as encoding/json does into an empty interface
// with UseNumber.
func (d *decoder) anyValue() (any, error) {
	switch d.peek() {
	case '{':
		m := map[string]any{}
		return m, d.mapAny(m)
	case '[':
		if err := d.open(); err != nil {
			return nil, err
		}
		s := []any{}
		var err error
		for more := d.first(']'); more; more, err = d.next(']') {
			v, err := d.anyValue()
			if err != nil {
				return nil, err
			}
			s = append(s, v)
		}
		return s, err
	case '"':
		s, _, err := d.str()
		return string(s), err
	case 't':
		return true, d.literal("true")
	case 'f':
		return false, d.literal("false")
	case 'n':
		return nil, d.literal("null")
	}
	n, err := d.number()
	return json.Number(n), err
}

func (d *decoder) mapAny(m map[string]any) error {
	if err := d.open(); err != nil {
		return err
	}
	var err error
	for more := d.first('}'); more; more, err = d.next('}') {
		key, _, err := d.key()
		if err != nil {
			return err
		}
		k := string(key)
		if _, dup := m[k]; dup {
			return fmt.Errorf("%w %q", errDuplicate, k)
		}
		v, err := d.anyValue()
		if err != nil {
			return err
		}
		m[k] = v
	}
	return err
}

func (b *builder) decoder(t reflect.Type) decFunc {
	pt := reflect.PointerTo(t)
	switch {
	case t.Kind() == reflect.Pointer:
		return b.ptrDecoder(t)
	// encoding/json looks for pointer methods on named types only.
	case t.Name() != "" && pt.Implements(jsonUnmarshalerType):
		return func(d *decoder, p unsafe.Pointer) error {
			raw, err := d.skip()
			if err != nil {
				return err
			}
			return reflect.NewAt(t, p).Interface().(json.Unmarshaler).UnmarshalJSON(bytes.Clone(raw))
		}
	case t.Name() != "" && pt.Implements(textUnmarshalerType):
		return func(d *decoder, p unsafe.Pointer) error {
			switch d.peek() {
			case 'n':
				return d.literal("null")
			case '"':
				s, _, err := d.str()
				if err != nil {
					return err
				}
				return reflect.NewAt(t, p).Interface().(encoding.TextUnmarshaler).UnmarshalText(bytes.Clone(s))
			}
			return d.mismatch(t)
		}
	case t == numberType:
		return func(d *decoder, p unsafe.Pointer) error {
			switch d.peek() {
			case 'n':
				return d.literal("null")
			case '"':
				s, _, err := d.str()
				if err == nil && !validNumber(s) {
					err = fmt.Errorf("invalid number literal %q into json.Number", s)
				}
				*(*json.Number)(p) = json.Number(s)
				return err
			case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
				n, err := d.number()
				*(*json.Number)(p) = json.Number(n)
				return err
			}
			return d.mismatch(t)
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(d *decoder, p unsafe.Pointer) error {
			switch d.peek() {
			case 't':
				*(*bool)(p) = true
				return d.literal("true")
			case 'f':
				return d.literal("false")
			case 'n':
				return d.literal("null")
			}
			return d.mismatch(t)
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return intDecoder(t)
	case reflect.Float32, reflect.Float64:
		bits := t.Bits()
		return func(d *decoder, p unsafe.Pointer) error {
			n, err := d.numberFor(t)
			if n == nil || err != nil {
				return err
			}
			// The string does not outlive ParseFloat: its error is dropped.
			f, err := strconv.ParseFloat(unsafe.String(&n[0], len(n)), bits)
			if err != nil {
				return fmt.Errorf("number %s overflows %v", n, t)
			}
			if bits == 32 {
				*(*float32)(p) = float32(f)
			} else {
				*(*float64)(p) = f
			}
			return nil
		}
	case reflect.String:
		return func(d *decoder, p unsafe.Pointer) error {
			switch d.peek() {
			case '"':
				s, _, err := d.str()
				if err != nil {
					return err
				}
				*(*string)(p) = string(s)
				return nil
			case 'n':
				return d.literal("null")
			}
			return d.mismatch(t)
		}
	case reflect.Interface:
		return func(d *decoder, p unsafe.Pointer) error {
			v, err := d.anyValue()
			*(*any)(p) = v
			return err
		}
	case reflect.Struct:
		return b.structDecoder(t)
	case reflect.Map:
		return b.mapDecoder(t)
	case reflect.Slice:
		return b.sliceDecoder(t)
	case reflect.Array:
		return b.arrayDecoder(t)
	}
	return fallbackDecoder(t)
}

func (b *builder) ptrDecoder(t reflect.Type) decFunc {
	elem := t.Elem()
	var ec *codec
	methods := t.Implements(jsonUnmarshalerType) || t.Implements(textUnmarshalerType)
	if !methods {
		ec = b.codec(elem)
	}
	return func(d *decoder, p unsafe.Pointer) error {
		if d.peek() == 'n' {
			return d.literal("null") // the pointer stays nil
		}
		np := reflect.New(elem)
		*(*unsafe.Pointer)(p) = np.UnsafePointer()
		if !methods {
			return ec.dec(d, np.UnsafePointer())
		}
		if u, ok := np.Interface().(json.Unmarshaler); ok {
			raw, err := d.skip()
			if err != nil {
				return err
			}
			return u.UnmarshalJSON(bytes.Clone(raw))
		}
		if d.peek() != '"' {
			return d.mismatch(t)
		}
		s, _, err := d.str()
		if err != nil {
			return err
		}
		return np.Interface().(encoding.TextUnmarshaler).UnmarshalText(bytes.Clone(s))
	}
}

// opens reports whether the next value begins with delim, which a value
// of type t needs; null and a mismatch end the value with their error.
func (d *decoder) opens(delim byte, t reflect.Type) (bool, error) {
	switch d.peek() {
	case delim:
		return true, nil
	case 'n':
		return false, d.literal("null")
	}
	return false, d.mismatch(t)
}

// numberFor reads the number a field of type t holds: nil for null, and
// a mismatch for any other kind of value.
func (d *decoder) numberFor(t reflect.Type) ([]byte, error) {
	switch d.peek() {
	case 'n':
		return nil, d.literal("null")
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		return d.number()
	}
	return nil, d.mismatch(t)
}

func intDecoder(t reflect.Type) decFunc {
	k, bits := t.Kind(), t.Bits()
	signed := k >= reflect.Int && k <= reflect.Int64
	return func(d *decoder, p unsafe.Pointer) error {
		n, err := d.numberFor(t)
		if n == nil || err != nil {
			return err
		}
		u, neg, ok := parseInt(n)
		if !ok || (neg && !signed) {
			return fmt.Errorf("number %s does not fit %v", n, t)
		}
		if signed {
			limit := uint64(1) << (bits - 1)
			if u > limit || (!neg && u == limit) {
				return fmt.Errorf("number %s overflows %v", n, t)
			}
			v := int64(u)
			if neg {
				v = -v
			}
			switch k {
			case reflect.Int:
				*(*int)(p) = int(v)
			case reflect.Int8:
				*(*int8)(p) = int8(v)
			case reflect.Int16:
				*(*int16)(p) = int16(v)
			case reflect.Int32:
				*(*int32)(p) = int32(v)
			default:
				*(*int64)(p) = v
			}
			return nil
		}
		if bits < 64 && u >= 1<<bits {
			return fmt.Errorf("number %s overflows %v", n, t)
		}
		switch k {
		case reflect.Uint:
			*(*uint)(p) = uint(u)
		case reflect.Uint8:
			*(*uint8)(p) = uint8(u)
		case reflect.Uint16:
			*(*uint16)(p) = uint16(u)
		case reflect.Uint32:
			*(*uint32)(p) = uint32(u)
		case reflect.Uintptr:
			*(*uintptr)(p) = uintptr(u)
		default:
			*(*uint64)(p) = u
		}
		return nil
	}
}

// parseInt reads an integer literal's magnitude; fractions and exponents
// are refused, as strconv.ParseInt refuses them for encoding/json.
func parseInt(n []byte) (u uint64, neg, ok bool) {
	if len(n) > 0 && n[0] == '-' {
		neg, n = true, n[1:]
	}
	for _, c := range n {
		if c < '0' || c > '9' {
			return 0, neg, false
		}
		if u > (math.MaxUint64-9)/10 {
			// Near the limit: let strconv decide exactly.
			v, err := strconv.ParseUint(string(n), 10, 64)
			return v, neg, err == nil
		}
		u = u*10 + uint64(c-'0')
	}
	return u, neg, len(n) > 0
}

// ---- structs ----

type field struct {
	name      string
	nameJSON  []byte // `"name":`, HTML-escaped as encoding/json writes it
	index     []int
	tag       bool
	typ       reflect.Type // after an unnamed pointer, for embedding
	omitEmpty bool
	omitZero  bool
	quoted    bool
	isZero    func(reflect.Value) bool

	steps  []embedStep // embedded pointers on the way, outermost first
	offset uintptr     // from the last struct reached
	ftype  reflect.Type
	codec  *codec
}

// An embedStep follows an embedded pointer at offset.
type embedStep struct {
	offset     uintptr
	elem       reflect.Type
	unexported bool
}

type structPlan struct {
	typ    reflect.Type
	fields []field
	index  map[string]int // only for structs with many fields
}

func (b *builder) structDecoder(t reflect.Type) decFunc {
	s := b.structPlan(t)
	return s.decode
}

func (b *builder) structPlan(t reflect.Type) *structPlan {
	if s, ok := b.plans[t]; ok {
		return s
	}
	fields := typeFields(t)
	for i := range fields {
		f := &fields[i]
		cur, off := t, uintptr(0)
		for k, x := range f.index {
			sf := cur.Field(x)
			if k == len(f.index)-1 {
				f.offset, f.ftype = off+sf.Offset, sf.Type
				break
			}
			if sf.Type.Kind() == reflect.Pointer {
				f.steps = append(f.steps, embedStep{offset: off + sf.Offset, elem: sf.Type.Elem(), unexported: !sf.IsExported()})
				cur, off = sf.Type.Elem(), 0
			} else {
				cur, off = sf.Type, off+sf.Offset
			}
		}
		f.codec = b.codec(f.ftype)
		f.nameJSON = append(appendString(nil, f.name), ':')
	}
	s := &structPlan{typ: t, fields: fields}
	b.plans[t] = s
	if len(fields) > 8 {
		s.index = make(map[string]int, len(fields))
		for i, f := range fields {
			s.index[f.name] = i
		}
	}
	return s
}

func (s *structPlan) lookup(key []byte) int {
	if s.index != nil {
		if i, ok := s.index[string(key)]; ok {
			return i
		}
		return -1
	}
	for i := range s.fields {
		if s.fields[i].name == string(key) {
			return i
		}
	}
	return -1
}

func (s *structPlan) decode(d *decoder, p unsafe.Pointer) error {
	switch d.peek() {
	case '{':
	case 'n':
		return d.literal("null")
	default:
		return d.mismatch(s.typ)
	}
	if err := d.open(); err != nil {
		return err
	}
	var seen0 uint64
	var seen []bool
	if len(s.fields) > 64 {
		seen = make([]bool, len(s.fields))
	}
	from := len(d.keys)
	var err error
	for more := d.first('}'); more; more, err = d.next('}') {
		key, escaped, err := d.key()
		if err != nil {
			return err
		}
		i := s.lookup(key)
		if i < 0 {
			if err = d.unknownKey(key, escaped, from); err == nil {
				_, err = d.skip()
			}
			if err != nil {
				return err
			}
			continue
		}
		if seen != nil {
			if seen[i] {
				return fmt.Errorf("%w %q", errDuplicate, key)
			}
			seen[i] = true
		} else {
			if seen0&(1<<i) != 0 {
				return fmt.Errorf("%w %q", errDuplicate, key)
			}
			seen0 |= 1 << i
		}
		f := &s.fields[i]
		fp := p
		for _, st := range f.steps {
			pp := (*unsafe.Pointer)(unsafe.Add(fp, st.offset))
			if *pp == nil {
				if st.unexported {
					return fmt.Errorf("cannot set embedded pointer to unexported struct: %v", st.elem)
				}
				*pp = reflect.New(st.elem).UnsafePointer()
			}
			fp = *pp
		}
		if err = f.codec.dec(d, unsafe.Add(fp, f.offset)); err != nil {
			return err
		}
	}
	clear(d.keys[from:])
	d.keys = d.keys[:from]
	return err
}

// ---- maps, slices, arrays ----

func (b *builder) mapDecoder(t reflect.Type) decFunc {
	kt, et := t.Key(), t.Elem()
	if kt == stringType && et == anyType {
		return func(d *decoder, p unsafe.Pointer) error {
			if ok, err := d.opens('{', t); !ok {
				return err
			}
			m := map[string]any{}
			*(*map[string]any)(p) = m
			return d.mapAny(m)
		}
	}
	ec := b.codec(et)
	return func(d *decoder, p unsafe.Pointer) error {
		if ok, err := d.opens('{', t); !ok {
			return err
		}
		if err := d.open(); err != nil {
			return err
		}
		m := reflect.MakeMap(t)
		reflect.NewAt(t, p).Elem().Set(m)
		var err error
		for more := d.first('}'); more; more, err = d.next('}') {
			key, _, err := d.key()
			if err != nil {
				return err
			}
			kv := reflect.New(kt).Elem()
			if kt.Kind() == reflect.String {
				kv.SetString(string(key))
			} else if err := setIntKey(kv, key); err != nil {
				return err
			}
			if m.MapIndex(kv).IsValid() {
				return fmt.Errorf("%w %q", errDuplicate, key)
			}
			ev := reflect.New(et)
			if err := ec.dec(d, ev.UnsafePointer()); err != nil {
				return err
			}
			m.SetMapIndex(kv, ev.Elem())
		}
		return err
	}
}

func setIntKey(kv reflect.Value, key []byte) error {
	switch kv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n, err := strconv.ParseInt(string(key), 10, 64)
		if err != nil || kv.OverflowInt(n) {
			return fmt.Errorf("cannot decode key %q into %v", key, kv.Type())
		}
		kv.SetInt(n)
	default:
		n, err := strconv.ParseUint(string(key), 10, 64)
		if err != nil || kv.OverflowUint(n) {
			return fmt.Errorf("cannot decode key %q into %v", key, kv.Type())
		}
		kv.SetUint(n)
	}
	return nil
}

func (b *builder) sliceDecoder(t reflect.Type) decFunc {
	et := t.Elem()
	ec := b.codec(et)
	bytesOK := et.Kind() == reflect.Uint8
	return func(d *decoder, p unsafe.Pointer) error {
		switch c := d.peek(); {
		case c == '[':
		case c == 'n':
			return d.literal("null")
		case c == '"' && bytesOK:
			s, _, err := d.str()
			if err != nil {
				return err
			}
			buf := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(buf, s)
			if err != nil {
				return err
			}
			*(*[]byte)(p) = buf[:n]
			return nil
		default:
			return d.mismatch(t)
		}
		if err := d.open(); err != nil {
			return err
		}
		v := reflect.NewAt(t, p).Elem()
		v.Set(reflect.MakeSlice(t, 0, 0))
		var err error
		for more := d.first(']'); more; more, err = d.next(']') {
			n := v.Len()
			if n == v.Cap() {
				v.Grow(1) // zeroes the new room
			}
			v.SetLen(n + 1)
			if err := ec.dec(d, v.Index(n).Addr().UnsafePointer()); err != nil {
				return err
			}
		}
		return err
	}
}

func (b *builder) arrayDecoder(t reflect.Type) decFunc {
	ec, n, size := b.codec(t.Elem()), t.Len(), t.Elem().Size()
	return func(d *decoder, p unsafe.Pointer) error {
		if ok, err := d.opens('[', t); !ok {
			return err
		}
		if err := d.open(); err != nil {
			return err
		}
		var err error
		i := 0
		for more := d.first(']'); more; more, err = d.next(']') {
			if i < n {
				err = ec.dec(d, unsafe.Add(p, uintptr(i)*size))
			} else {
				_, err = d.skip() // encoding/json drops extra elements
			}
			if err != nil {
				return err
			}
			i++
		}
		return err
	}
}

// ---- fallback to encoding/json ----

func fallbackDecoder(t reflect.Type) decFunc {
	numbers := holdsInterface(t)
	return func(d *decoder, p unsafe.Pointer) error {
		raw, err := d.skip()
		if err != nil {
			return err
		}
		raw = bytes.Clone(raw) // the input buffer is reused after decode
		dst := reflect.NewAt(t, p).Interface()
		if !numbers {
			return json.Unmarshal(raw, dst)
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.UseNumber()
		return dec.Decode(dst)
	}
}

func fallbackEncoder(t reflect.Type) encFunc {
	return func(_ *encoder, b []byte, p unsafe.Pointer, addr bool) ([]byte, error) {
		v := reflect.NewAt(t, p)
		if !addr {
			v = v.Elem()
		}
		out, err := json.Marshal(v.Interface())
		return append(b, out...), err
	}
}

// ---- encoding ----

type encoder struct {
	depth int
	seen  map[seenKey]struct{} // past startCycleCheck, as encoding/json
}

type seenKey struct {
	t reflect.Type
	p unsafe.Pointer
	n int
}

// startCycleCheck is encoding/json's startDetectingCyclesAfter.
const startCycleCheck = 1000

var encoders = sync.Pool{New: func() any { return new(encoder) }}

// enter counts one level of pointer, map or slice; past startCycleCheck
// it refuses a value already on the path.
func (e *encoder) enter(t reflect.Type, p unsafe.Pointer, n int) (bool, error) {
	if e.depth++; e.depth <= startCycleCheck {
		return false, nil
	}
	k := seenKey{t, p, n}
	if _, ok := e.seen[k]; ok {
		return false, &json.UnsupportedValueError{Value: reflect.NewAt(t, p).Elem(), Str: "encountered a cycle via " + t.String()}
	}
	if e.seen == nil {
		e.seen = map[seenKey]struct{}{}
	}
	e.seen[k] = struct{}{}
	return true, nil
}

func (e *encoder) leave(tracked bool, t reflect.Type, p unsafe.Pointer, n int) {
	e.depth--
	if tracked {
		delete(e.seen, seenKey{t, p, n})
	}
}

func (b *builder) encoder(t reflect.Type) encFunc {
	pt := reflect.PointerTo(t)
	// encoding/json's order: pointer methods when addressable, then value
	// methods, JSON before text, then the kind.
	if t.Kind() != reflect.Pointer && pt.Implements(jsonMarshalerType) && !t.Implements(jsonMarshalerType) {
		return condAddr(t, b.valueEncoder(t))
	}
	if t.Implements(jsonMarshalerType) {
		return marshalerEncoder(t)
	}
	if t.Kind() != reflect.Pointer && pt.Implements(textMarshalerType) && !t.Implements(textMarshalerType) {
		return condAddr(t, b.valueEncoder(t))
	}
	return b.valueEncoder(t)
}

func condAddr(t reflect.Type, elseEnc encFunc) encFunc {
	return func(e *encoder, b []byte, p unsafe.Pointer, addr bool) ([]byte, error) {
		if !addr {
			return elseEnc(e, b, p, false)
		}
		out, err := json.Marshal(reflect.NewAt(t, p).Interface())
		return append(b, out...), err
	}
}

// marshalerEncoder lets json.Marshal call the methods, for its exact
// compaction and escaping of what they return.
func marshalerEncoder(t reflect.Type) encFunc {
	return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
		v := reflect.NewAt(t, p).Elem()
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		out, err := json.Marshal(v.Interface())
		return append(b, out...), err
	}
}

func (b *builder) valueEncoder(t reflect.Type) encFunc {
	if t.Implements(textMarshalerType) {
		return marshalerEncoder(t)
	}
	if t == numberType {
		return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			return appendNumber(b, *(*json.Number)(p))
		}
	}
	switch t.Kind() {
	case reflect.Bool:
		return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			return strconv.AppendBool(b, *(*bool)(p)), nil
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			return strconv.AppendInt(b, reflect.NewAt(t, p).Elem().Int(), 10), nil
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			return strconv.AppendUint(b, reflect.NewAt(t, p).Elem().Uint(), 10), nil
		}
	case reflect.Float32, reflect.Float64:
		bits := t.Bits()
		return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			if bits == 32 {
				return appendFloat(b, float64(*(*float32)(p)), bits, t)
			}
			return appendFloat(b, *(*float64)(p), bits, t)
		}
	case reflect.String:
		return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			return appendString(b, *(*string)(p)), nil
		}
	case reflect.Interface:
		return func(e *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			return e.anyValue(b, *(*any)(p))
		}
	case reflect.Struct:
		return b.structEncoder(t)
	case reflect.Map:
		return b.mapEncoder(t)
	case reflect.Slice:
		return b.sliceEncoder(t)
	case reflect.Array:
		ec, n, size := b.codec(t.Elem()), t.Len(), t.Elem().Size()
		return func(e *encoder, b []byte, p unsafe.Pointer, addr bool) ([]byte, error) {
			b = append(b, '[')
			var err error
			for i := range n {
				if i > 0 {
					b = append(b, ',')
				}
				if b, err = ec.enc(e, b, unsafe.Add(p, uintptr(i)*size), addr); err != nil {
					return b, err
				}
			}
			return append(b, ']'), nil
		}
	case reflect.Pointer:
		ec := b.codec(t.Elem())
		return func(e *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			ep := *(*unsafe.Pointer)(p)
			if ep == nil {
				return append(b, "null"...), nil
			}
			tracked, err := e.enter(t, ep, -1)
			if err != nil {
				return b, err
			}
			b, err = ec.enc(e, b, ep, true)
			e.leave(tracked, t, ep, -1)
			return b, err
		}
	}
	return fallbackEncoder(t)
}

func appendNumber(b []byte, n json.Number) ([]byte, error) {
	if n == "" {
		n = "0"
	}
	if !validNumber([]byte(n)) {
		return b, fmt.Errorf("json: invalid number literal %q", n)
	}
	return append(b, n...), nil
}

// anyValue encodes an interface's dynamic value, which is not addressable.
func (e *encoder) anyValue(b []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x), nil
	case bool:
		return strconv.AppendBool(b, x), nil
	case json.Number:
		return appendNumber(b, x)
	case float64:
		return appendFloat(b, x, 64, reflect.TypeFor[float64]())
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return e.mapAny(b, x)
	}
	rv := reflect.ValueOf(v)
	c := newCodec(rv.Type())
	tmp := reflect.New(rv.Type())
	tmp.Elem().Set(rv)
	return c.enc(e, b, tmp.UnsafePointer(), false)
}

var mapAnyType = reflect.TypeFor[map[string]any]()

func (e *encoder) mapAny(b []byte, m map[string]any) ([]byte, error) {
	mp := *(*unsafe.Pointer)(unsafe.Pointer(&m))
	tracked, err := e.enter(mapAnyType, mp, -1)
	if err != nil {
		return b, err
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(appendString(b, k), ':')
		if b, err = e.anyValue(b, m[k]); err != nil {
			break
		}
	}
	e.leave(tracked, mapAnyType, mp, -1)
	return append(b, '}'), err
}

func (b *builder) structEncoder(t reflect.Type) encFunc {
	s := b.structPlan(t)
	return func(e *encoder, b []byte, p unsafe.Pointer, addr bool) ([]byte, error) {
		b = append(b, '{')
		first := true
	fields:
		for i := range s.fields {
			f := &s.fields[i]
			fp, faddr := p, addr
			for _, st := range f.steps {
				fp = *(*unsafe.Pointer)(unsafe.Add(fp, st.offset))
				if fp == nil {
					continue fields
				}
				faddr = true
			}
			fp = unsafe.Add(fp, f.offset)
			if f.omitEmpty || f.omitZero {
				fv := reflect.NewAt(f.ftype, fp).Elem()
				if f.omitEmpty && isEmptyValue(fv) ||
					f.omitZero && (f.isZero == nil && fv.IsZero() || f.isZero != nil && f.isZero(fv)) {
					continue
				}
			}
			if !first {
				b = append(b, ',')
			}
			first = false
			b = append(b, f.nameJSON...)
			var err error
			if b, err = f.codec.enc(e, b, fp, faddr); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

func (b *builder) mapEncoder(t reflect.Type) encFunc {
	if t == mapAnyType {
		return func(e *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
			m := *(*map[string]any)(p)
			if m == nil {
				return append(b, "null"...), nil
			}
			return e.mapAny(b, m)
		}
	}
	ec := b.codec(t.Elem())
	type entry struct {
		key string
		val reflect.Value
	}
	return func(e *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
		m := reflect.NewAt(t, p).Elem()
		if m.IsNil() {
			return append(b, "null"...), nil
		}
		mp := m.UnsafePointer()
		tracked, err := e.enter(t, mp, -1)
		if err != nil {
			return b, err
		}
		defer e.leave(tracked, t, mp, -1)
		entries := make([]entry, 0, m.Len())
		for it := m.MapRange(); it.Next(); {
			k := it.Key()
			var ks string
			switch k.Kind() {
			case reflect.String:
				ks = k.String()
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				ks = strconv.FormatInt(k.Int(), 10)
			default:
				ks = strconv.FormatUint(k.Uint(), 10)
			}
			entries = append(entries, entry{ks, it.Value()})
		}
		slices.SortFunc(entries, func(a, b entry) int { return strings.Compare(a.key, b.key) })
		tmp := reflect.New(t.Elem()) // map values are not addressable: encode a copy
		b = append(b, '{')
		for i, en := range entries {
			if i > 0 {
				b = append(b, ',')
			}
			b = append(appendString(b, en.key), ':')
			tmp.Elem().Set(en.val)
			if b, err = ec.enc(e, b, tmp.UnsafePointer(), false); err != nil {
				return b, err
			}
		}
		return append(b, '}'), nil
	}
}

func (b *builder) sliceEncoder(t reflect.Type) encFunc {
	et := t.Elem()
	if et.Kind() == reflect.Uint8 {
		pe := reflect.PointerTo(et)
		if !pe.Implements(jsonMarshalerType) && !pe.Implements(textMarshalerType) {
			return func(_ *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
				s := *(*[]byte)(p)
				if s == nil {
					return append(b, "null"...), nil
				}
				b = append(b, '"')
				b = base64.StdEncoding.AppendEncode(b, s)
				return append(b, '"'), nil
			}
		}
	}
	ec, size := b.codec(et), et.Size()
	return func(e *encoder, b []byte, p unsafe.Pointer, _ bool) ([]byte, error) {
		h := (*struct {
			data unsafe.Pointer
			n    int
			c    int
		})(p)
		if h.data == nil {
			return append(b, "null"...), nil
		}
		tracked, err := e.enter(t, h.data, h.n)
		if err != nil {
			return b, err
		}
		b = append(b, '[')
		for i := range h.n {
			if i > 0 {
				b = append(b, ',')
			}
			// Slice elements are addressable.
			if b, err = ec.enc(e, b, unsafe.Add(h.data, uintptr(i)*size), true); err != nil {
				break
			}
		}
		e.leave(tracked, t, h.data, h.n)
		return append(b, ']'), err
	}
}

// appendFloat formats f as encoding/json's floatEncoder does.
func appendFloat(b []byte, f float64, bits int, t reflect.Type) ([]byte, error) {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return b, &json.UnsupportedValueError{Value: reflect.ValueOf(f), Str: strconv.FormatFloat(f, 'g', -1, bits) + " in " + t.String()}
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 {
		if bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21) {
			format = 'e'
		}
	}
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		// e-09 → e-9
		n := len(b)
		if n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b, nil
}

const hexDigits = "0123456789abcdef"

// appendString quotes s as json.Marshal does, escaping HTML.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= ' ' && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			b = append(b, s[start:i]...)
			switch c {
			case '\\', '"':
				b = append(b, '\\', c)
			case '\b':
				b = append(b, '\\', 'b')
			case '\f':
				b = append(b, '\\', 'f')
			case '\n':
				b = append(b, '\\', 'n')
			case '\r':
				b = append(b, '\\', 'r')
			case '\t':
				b = append(b, '\\', 't')
			default:
				b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			b = append(append(b, s[start:i]...), `\ufffd`...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			b = append(append(b, s[start:i]...), '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(append(b, s[start:]...), '"')
}

// ---- encoding/json's field rules (typeFields in encode.go) ----

func typeFields(t reflect.Type) []field {
	current := []field{}
	next := []field{{typ: t}}
	var count, nextCount map[reflect.Type]int
	visited := map[reflect.Type]bool{}
	var fields []field

	for len(next) > 0 {
		current, next = next, current[:0]
		count, nextCount = nextCount, map[reflect.Type]int{}
		for _, f := range current {
			if visited[f.typ] {
				continue
			}
			visited[f.typ] = true
			for i := range f.typ.NumField() {
				sf := f.typ.Field(i)
				if sf.Anonymous {
					t := sf.Type
					if t.Kind() == reflect.Pointer {
						t = t.Elem()
					}
					if !sf.IsExported() && t.Kind() != reflect.Struct {
						continue
					}
				} else if !sf.IsExported() {
					continue
				}
				tag := sf.Tag.Get("json")
				if tag == "-" {
					continue
				}
				name, opts, _ := strings.Cut(tag, ",")
				if !isValidTag(name) {
					name = ""
				}
				index := append(slices.Clip(f.index), i)
				ft := sf.Type
				if ft.Name() == "" && ft.Kind() == reflect.Pointer {
					ft = ft.Elem()
				}
				quoted := false
				if hasOpt(opts, "string") {
					switch ft.Kind() {
					case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
						reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
						reflect.Float32, reflect.Float64, reflect.String:
						quoted = true
					}
				}
				if name != "" || !sf.Anonymous || ft.Kind() != reflect.Struct {
					tagged := name != ""
					if name == "" {
						name = sf.Name
					}
					fl := field{name: name, tag: tagged, index: index, typ: ft, quoted: quoted,
						omitEmpty: hasOpt(opts, "omitempty"), omitZero: hasOpt(opts, "omitzero")}
					if fl.omitZero {
						fl.isZero = isZeroFunc(sf.Type)
					}
					fields = append(fields, fl)
					if count[f.typ] > 1 {
						// A second copy, so that dominance sees the conflict.
						fields = append(fields, fields[len(fields)-1])
					}
					continue
				}
				nextCount[ft]++
				if nextCount[ft] == 1 {
					next = append(next, field{name: ft.Name(), index: index, typ: ft})
				}
			}
		}
	}

	slices.SortFunc(fields, func(a, b field) int {
		if c := strings.Compare(a.name, b.name); c != 0 {
			return c
		}
		if c := cmp.Compare(len(a.index), len(b.index)); c != 0 {
			return c
		}
		if a.tag != b.tag {
			if a.tag {
				return -1
			}
			return +1
		}
		return slices.Compare(a.index, b.index)
	})
	// Go's rules for embedded fields, except that tagged fields win.
	out := fields[:0]
	for advance, i := 0, 0; i < len(fields); i += advance {
		fi := fields[i]
		for advance = 1; i+advance < len(fields) && fields[i+advance].name == fi.name; advance++ {
		}
		if advance == 1 {
			out = append(out, fi)
			continue
		}
		if fj := fields[i+1]; len(fi.index) == len(fj.index) && fi.tag == fj.tag {
			continue // ambiguous: neither
		}
		out = append(out, fi)
	}
	slices.SortFunc(out, func(a, b field) int { return slices.Compare(a.index, b.index) })
	return out
}

func hasOpt(opts, name string) bool {
	for opts != "" {
		var o string
		o, opts, _ = strings.Cut(opts, ",")
		if o == name {
			return true
		}
	}
	return false
}

func isValidTag(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		switch {
		case strings.ContainsRune("!#$%&()*+-./:;<=>?@[]^_{|}~ ", c):
		case !unicode.IsLetter(c) && !unicode.IsDigit(c):
			return false
		}
	}
	return true
}

// isZeroFunc is encoding/json's use of an IsZero method for omitzero.
func isZeroFunc(t reflect.Type) func(reflect.Value) bool {
	type isZeroer interface{ IsZero() bool }
	switch {
	case t.Kind() == reflect.Interface && t.Implements(isZeroerType):
		return func(v reflect.Value) bool {
			return v.IsNil() || (v.Elem().Kind() == reflect.Pointer && v.Elem().IsNil()) || v.Interface().(isZeroer).IsZero()
		}
	case t.Kind() == reflect.Pointer && t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.IsNil() || v.Interface().(isZeroer).IsZero() }
	case t.Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.Interface().(isZeroer).IsZero() }
	case reflect.PointerTo(t).Implements(isZeroerType):
		return func(v reflect.Value) bool { return v.Addr().Interface().(isZeroer).IsZero() }
	}
	return nil
}
