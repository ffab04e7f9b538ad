package detectors

import (
	"reflect"
	"testing"
)

// TestPerConnectionStateSizes guards the per-connection states the
// transport detectors keep for every live connection (44,000 at once on
// h1g, the headers-only benchmark capture, whose peak RSS stays under the
// performance issue's 256 MB with little to spare: docs/performance.md,
// item 12): each must stay in its size class of Go's allocator.
func TestPerConnectionStateSizes(t *testing.T) {
	for _, c := range []struct {
		typ reflect.Type
		max uintptr
	}{
		{reflect.TypeFor[rsConn](), 192},
		{reflect.TypeFor[tsoConn](), 144},
	} {
		if got := c.typ.Size(); got > c.max {
			t.Errorf("%s takes %d bytes, over its size class of %d", c.typ, got, c.max)
		}
	}
}
