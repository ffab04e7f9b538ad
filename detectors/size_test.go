package detectors

import (
	"math"
	"testing"
	"unsafe"
)

// TestPerConnectionStateSizes guards the per-connection states the
// transport detectors keep for every live connection (44,000 at once on
// h1g, the headers-only benchmark capture, whose peak RSS stays under the
// performance issue's 256 MB with little to spare: docs/performance.md,
// item 12): each must stay in its size class of Go's allocator.
func TestPerConnectionStateSizes(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the cache-line layout is tuned for 64-bit platforms; pointers take 4 bytes here")
	}

	if n := unsafe.Sizeof(rsConn{}); n > 192 {
		t.Errorf("retransmission-storm's rsConn takes %d bytes, over its size class of 192", n)
	}
	if n := unsafe.Sizeof(tsoConn{}); n != 128 {
		t.Errorf("tso-super-segments' tsoConn takes %d bytes, want 128: two cache lines exactly", n)
	}
}

// TestAddSat32 checks the saturating sum of tsoDir.burstBytes.
func TestAddSat32(t *testing.T) {
	for _, c := range []struct {
		b    int32
		n    int
		want int32
	}{{0, 1448, 1448}, {math.MaxInt32 - 10, 10, math.MaxInt32}, {math.MaxInt32 - 10, 11, math.MaxInt32},
		{math.MaxInt32, 65535, math.MaxInt32}, {5, math.MaxInt - 2, math.MaxInt32}} {
		if got := addSat32(c.b, c.n); got != c.want {
			t.Errorf("addSat32(%d, %d) = %d, want %d", c.b, c.n, got, c.want)
		}
	}
}

func TestFormatCount(t *testing.T) {
	for n, want := range map[int64]string{
		0: "0", 7: "7", 999: "999", 1000: "1,000", -1000: "-1,000", 12345: "12,345", 123456: "123,456",
		1234567: "1,234,567", -999: "-999", math.MaxInt64: "9,223,372,036,854,775,807", math.MinInt64: "-9,223,372,036,854,775,808",
	} {
		if got := FormatCount(n); got != want {
			t.Errorf("FormatCount(%d) = %q, want %q", n, got, want)
		}
	}
}
