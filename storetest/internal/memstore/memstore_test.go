// The conformance suite on authix's memory store. It is a module of its
// own so that storetest requires nothing: a store that runs the suite does
// not depend on authix, nor on the Go version authix needs.
package memstore_test

import (
	"testing"
	"time"

	"github.com/authix-go/authix"
	"github.com/authix-go/authix/storetest"
)

// The memory store satisfies the suite's interfaces as it satisfies
// authix's own.
var (
	_ storetest.RevocationStore = (*authix.MemoryStore)(nil)
	_ storetest.SubjectStore    = (*authix.MemoryStore)(nil)
	_ storetest.DeviceStore     = (*authix.MemoryStore)(nil)
)

func TestMemoryStore(t *testing.T) {
	storetest.Run(t, storetest.Harness{
		New: func(t *testing.T, now func() time.Time) storetest.RevocationStore {
			return authix.NewMemoryStore(now)
		},
		// It keeps expiries as whole Unix seconds, rounded up, and compares
		// them with now cut to the second: a record can last up to 2s past
		// its instant.
		Slack: 2 * time.Second,
	})
}
