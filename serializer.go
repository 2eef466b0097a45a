package authix

import (
	"encoding"
	"encoding/json"
	"fmt"
	"reflect"
)

// Serializer turns payloads into bytes and back. Implementations must be safe
// for concurrent use. Unmarshal receives a pointer to the value to fill.
type Serializer interface {
	Marshal(v any) ([]byte, error)
	Unmarshal(data []byte, v any) error
}

// JSON is the default Serializer: authix's payload codec, which writes the
// bytes json.Marshal writes and reads them as Python's json module does:
// keys match exactly, an object that repeats a key is refused, integers in
// an interface stay exact (json.Number), and unknown fields are ignored (see
// New). It plans each type once and is safe for concurrent use. Unmarshal
// expects v to point to a zero value, as a vault passes it. A Serializer
// that calls encoding/json restores that package's looser reading
// (case-insensitive keys, the last of repeated keys).
type JSON struct{}

// Marshal encodes v as json.Marshal does.
func (JSON) Marshal(v any) ([]byte, error) {
	rv := reflect.ValueOf(v)
	if !rv.IsValid() {
		return []byte("null"), nil
	}
	p := reflect.New(rv.Type())
	p.Elem().Set(rv)
	return newCodec(rv.Type()).encode(nil, p.UnsafePointer())
}

// Unmarshal decodes data into v, a non-nil pointer to a zero value.
func (JSON) Unmarshal(data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return &json.InvalidUnmarshalError{Type: reflect.TypeOf(v)}
	}
	return newCodec(rv.Type().Elem()).decode(data, rv.UnsafePointer())
}

var (
	jsonMarshalerType   = reflect.TypeFor[json.Marshaler]()
	jsonUnmarshalerType = reflect.TypeFor[json.Unmarshaler]()
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

// holdsInterface reports whether decoding into t can fill an interface,
// where JSON numbers would otherwise become float64.
func holdsInterface(t reflect.Type) bool {
	return walkHolds(t, map[reflect.Type]bool{})
}

func walkHolds(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return walkHolds(t.Elem(), seen)
	case reflect.Map:
		return walkHolds(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if walkHolds(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
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
	case reflect.Struct:
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				// json only promotes the fields of an unexported embedded struct.
				ft := f.Type
				if ft.Kind() == reflect.Pointer {
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
	}
	return nil
}
