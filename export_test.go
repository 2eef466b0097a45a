package authix

import (
	"reflect"
	"unsafe"
)

// Held reports how many entries m holds, expired or not, without sweeping:
// the memory the store uses, which the model test bounds.
func (m *MemoryStore) Held() int {
	n := 0
	for i := range m.shards {
		s := &m.shards[i]
		s.mu.RLock()
		n += s.count
		s.mu.RUnlock()
	}
	return n
}

// RaceEnabled reports whether the tests run under the race detector.
const RaceEnabled = raceEnabled

// Codec is the vault's default payload codec for T.
type Codec[T any] struct{ c *codec }

// NewCodec returns T's codec.
func NewCodec[T any]() Codec[T] { return Codec[T]{newCodec(reflect.TypeFor[T]())} }

// Decode decodes data into *v, which must be zero.
func (c Codec[T]) Decode(data []byte, v *T) error { return c.c.decode(data, unsafe.Pointer(v)) }

// Encode appends v's JSON to dst, as the vault seals a payload.
func (c Codec[T]) Encode(dst []byte, v *T) ([]byte, error) { return c.c.encode(dst, unsafe.Pointer(v)) }

// EncodeValue encodes *p with the codec of its type.
func EncodeValue(p reflect.Value) ([]byte, error) {
	return newCodec(p.Type().Elem()).encode(nil, p.UnsafePointer())
}
