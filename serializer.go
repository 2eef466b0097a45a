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

// JSON is encoding/json as a Serializer, for vaults that want its rules:
// keys match case-insensitively, and a repeated key takes the last value.
// A vault given JSON keeps integers in interfaces exact (json.Number) and
// ignores unknown fields. Without WithSerializer a vault uses its own
// codec, which writes the same bytes but reads more strictly (see New).
type JSON struct{}

// Marshal encodes v with json.Marshal.
func (JSON) Marshal(v any) ([]byte, error) { return json.Marshal(v) }

// Unmarshal decodes data into v with json.Unmarshal.
func (JSON) Unmarshal(data []byte, v any) error { return json.Unmarshal(data, v) }

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
