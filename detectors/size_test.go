package detectors

import (
	"testing"
	"unsafe"
)

// TestPerConnectionStateSizes guards the per-connection states the
// transport detectors keep for every live connection (44,000 at once on
// h1g, the headers-only benchmark capture, whose peak RSS stays under the
// performance issue's 256 MB with little to spare: docs/performance.md,
// item 12): each must stay in its size class of Go's allocator.
func TestPerConnectionStateSizes(t *testing.T) {
	if n := unsafe.Sizeof(rsConn{}); n > 192 {
		t.Errorf("retransmission-storm's rsConn takes %d bytes, over its size class of 192", n)
	}
	if n := unsafe.Sizeof(tsoConn{}); n > 144 {
		t.Errorf("tso-super-segments' tsoConn takes %d bytes, over its size class of 144", n)
	}
}
