package analyze

import (
	"runtime"
	"testing"
)

// TestHeapHeldSeesTheHeap: the metrics heapHeld reads exist and count
// what the heap holds, so that a large pass's memory is still handed back
// before its report (freeOSMemoryAbove): with a misspelt metric it would
// read 0 and never be.
func TestHeapHeldSeesTheHeap(t *testing.T) {
	held := make([]byte, 2*freeOSMemoryAbove)
	for i := range held {
		held[i] = byte(i)
	}
	if n := heapHeld(); n < uint64(len(held)) {
		t.Errorf("heapHeld = %d bytes with %d bytes live", n, len(held))
	}
	runtime.KeepAlive(held)
}
