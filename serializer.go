package authix

import (
	"bytes"
	"encoding"
	stdjson "encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
	jsonv1 "github.com/go-json-experiment/json/v1"
)

// Payloads are read by json/v2's rules (see the package doc): names match
// exactly, a repeated name is refused, invalid UTF-8 is refused both ways,
// unknown names are ignored. What a payload looks like on the wire stays
// what encoding/json wrote, so that tokens in flight open into the same
// values and Python services read the same JSON.
var wireOptions = json.JoinOptions(
	json.Deterministic(true), // sorted map keys
	json.FormatNilSliceAsNull(true),
	json.FormatNilMapAsNull(true),
	jsontext.EscapeForHTML(true),
	jsontext.EscapeForJS(true),
	jsonv1.FormatByteArrayAsArray(true),
	jsonv1.FormatBytesWithLegacySemantics(true),
	jsonv1.FormatDurationAsNano(true),
	jsonv1.OmitEmptyWithLegacySemantics(true),
	jsonv1.CallMethodsWithLegacySemantics(true),
	jsonv1.StringifyWithLegacySemantics(true),
	jsonv1.ParseTimeWithLooseRFC3339(true),
)

// numberOptions are wireOptions for types that hold an interface or a
// json.Number: numbers in an interface stay exact as json.Number, as
// Python's int stays exact. Other types keep json/v2's fast path.
var numberOptions = json.JoinOptions(wireOptions,
	json.WithMarshalers(json.MarshalToFunc(marshalNumber)),
	json.WithUnmarshalers(json.JoinUnmarshalers(
		json.UnmarshalFromFunc(unmarshalAnyNumber),
		json.UnmarshalFromFunc(unmarshalNumber),
	)),
)

func unmarshalAnyNumber(dec *jsontext.Decoder, v *any) error {
	if dec.PeekKind() != '0' {
		return errors.ErrUnsupported
	}
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	*v = stdjson.Number(val)
	return nil
}

// unmarshalNumber reads a json.Number as encoding/json does: a number, or
// a string that holds one.
func unmarshalNumber(dec *jsontext.Decoder, n *stdjson.Number) error {
	switch dec.PeekKind() {
	case 'n':
		_, err := dec.ReadToken()
		return err
	case '0':
		val, err := dec.ReadValue()
		*n = stdjson.Number(val)
		return err
	case '"':
		tok, err := dec.ReadToken()
		if err != nil {
			return err
		}
		if v := jsontext.Value(tok.String()); v.Kind() != '0' || !v.IsValid() {
			return fmt.Errorf("json: invalid number literal %q", tok.String())
		}
		*n = stdjson.Number(tok.String())
		return nil
	}
	return fmt.Errorf("json: cannot read a %v into json.Number", dec.PeekKind())
}

// marshalNumber writes n as the number it holds, as encoding/json does.
func marshalNumber(enc *jsontext.Encoder, n stdjson.Number) error {
	if n == "" {
		n = "0"
	}
	if jsontext.Value(n).Kind() != '0' {
		return fmt.Errorf("json: invalid number literal %q", string(n))
	}
	return enc.WriteValue(jsontext.Value(n))
}

var numberType = reflect.TypeFor[stdjson.Number]()

// payloadOptions are the options for payloads of type t.
func payloadOptions(t reflect.Type) json.Options {
	if holdsNumbers(t, map[reflect.Type]bool{}) {
		return numberOptions
	}
	return wireOptions
}

// holdsNumbers reports whether t can hold an interface or a json.Number.
func holdsNumbers(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array, reflect.Map:
		return holdsNumbers(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsNumbers(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return t == numberType
}

var (
	jsonMarshalerType   = reflect.TypeFor[stdjson.Marshaler]()
	jsonUnmarshalerType = reflect.TypeFor[stdjson.Unmarshaler]()
	textMarshalerType   = reflect.TypeFor[encoding.TextMarshaler]()
	textUnmarshalerType = reflect.TypeFor[encoding.TextUnmarshaler]()
)

// checkPayloadType reports, wrapping ErrUnsupportedPayload, the first place
// in t that JSON cannot carry both ways, named by its field path, or a t
// that cannot encode as a JSON object. An interface with no methods is
// checked at seal time, when the payload's dynamic type is known.
func checkPayloadType(t reflect.Type) error {
	if t.Kind() == reflect.Interface {
		if t.NumMethod() == 0 {
			return nil
		}
		return checkType(t, typeName(t), map[reflect.Type]bool{})
	}
	ot := t
	for ot.Kind() == reflect.Pointer {
		ot = ot.Elem()
	}
	if k := ot.Kind(); k != reflect.Struct && k != reflect.Map && !customJSON(ot) {
		return fmt.Errorf("%w: %s is a %s; a payload is a JSON object: use a struct or a map", ErrUnsupportedPayload, t, k)
	}
	return checkType(t, typeName(t), map[reflect.Type]bool{})
}

func typeName(t reflect.Type) string {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Name() != "" {
		return t.Name()
	}
	return t.String()
}

func customJSON(t reflect.Type) bool {
	pt := reflect.PointerTo(t)
	marshals := t.Implements(jsonMarshalerType) || pt.Implements(jsonMarshalerType) ||
		t.Implements(textMarshalerType) || pt.Implements(textMarshalerType)
	unmarshals := pt.Implements(jsonUnmarshalerType) || pt.Implements(textUnmarshalerType)
	return marshals && unmarshals
}

func checkType(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	if seen[t] || customJSON(t) {
		return nil
	}
	seen[t] = true
	defer delete(seen, t)
	switch t.Kind() {
	case reflect.Func, reflect.Chan, reflect.Complex64, reflect.Complex128, reflect.UnsafePointer, reflect.Invalid:
		return fmt.Errorf("%w: %s has type %s, which JSON cannot carry", ErrUnsupportedPayload, path, t)
	case reflect.Interface:
		if t.NumMethod() > 0 {
			return fmt.Errorf("%w: %s has interface type %s, which JSON cannot decode into; use a concrete type", ErrUnsupportedPayload, path, t)
		}
	case reflect.Pointer:
		return checkType(t.Elem(), path, seen)
	case reflect.Slice, reflect.Array:
		return checkType(t.Elem(), path+"[]", seen)
	case reflect.Map:
		return checkMap(t, path, seen)
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				// json only promotes the fields of an unexported embedded struct.
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
					if f.Anonymous {
						return fmt.Errorf("%w: %s embeds *%s, whose fields JSON can seal but never set; embed the struct itself", ErrUnsupportedPayload, path, ft.Elem())
					}
					ft = ft.Elem()
				}
				if !f.Anonymous || ft.Kind() != reflect.Struct {
					continue
				}
			}
			if f.Tag.Get("json") == "-" {
				continue
			}
			if err := checkType(f.Type, path+"."+f.Name, seen); err != nil {
				return err
			}
		}
		return checkTags(t, path)
	}
	return nil
}

// checkTags refuses a struct whose json tags json/v2 will not use, which
// encoding/json read or ignored: found by sealing and reading its zero
// value, so that the error comes from New, not from every login.
func checkTags(t reflect.Type, path string) error {
	err := json.Unmarshal([]byte("{}"), reflect.New(t).Interface(), wireOptions)
	if err == nil {
		_, err = json.Marshal(reflect.Zero(t).Interface(), wireOptions)
	}
	if err != nil {
		return fmt.Errorf("%w: %s: %w", ErrUnsupportedPayload, path, err)
	}
	return nil
}

func checkMap(t reflect.Type, path string, seen map[reflect.Type]bool) error {
	k := t.Key()
	switch k.Kind() {
	case reflect.String, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
	default:
		if !reflect.PointerTo(k).Implements(textUnmarshalerType) || !(k.Implements(textMarshalerType) || reflect.PointerTo(k).Implements(textMarshalerType)) {
			return fmt.Errorf("%w: %s has map key type %s, which JSON cannot carry", ErrUnsupportedPayload, path, k)
		}
	}
	return checkType(t.Elem(), path+"[key]", seen)
}

// fieldNames returns the JSON names of a struct payload type's fields,
// promoted ones included, or nil for other types.
func fieldNames(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t.Kind() != reflect.Struct {
		return nil
	}
	names := map[string]bool{}
	addFieldNames(t, names, map[reflect.Type]bool{})
	return names
}

func addFieldNames(t reflect.Type, names map[string]bool, seen map[reflect.Type]bool) {
	if seen[t] {
		return
	}
	seen[t] = true
	for i := range t.NumField() {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		name, _, _ := strings.Cut(tag, ",")
		ft := f.Type
		for ft.Kind() == reflect.Pointer {
			ft = ft.Elem()
		}
		switch {
		case tag == "-":
		case f.Anonymous && name == "" && ft.Kind() == reflect.Struct:
			addFieldNames(ft, names, seen)
		case !f.IsExported():
		case name != "":
			names[name] = true
		default:
			names[f.Name] = true
		}
	}
}

// setsAField reports whether the payload object is empty or names one of
// names at its top level. Only a payload that decoded into the zero value
// is read again.
func setsAField(payload []byte, names map[string]bool) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(payload))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	empty := true
	for dec.PeekKind() == '"' {
		empty = false
		tok, err := dec.ReadToken()
		if err != nil {
			return false
		}
		if names[tok.String()] {
			return true
		}
		if dec.SkipValue() != nil {
			return false
		}
	}
	return empty
}
