package render

import (
	"runtime"
	"testing"
	"unsafe"
)

// TestWriteHTMLAllocationsPerConnection bounds what the HTML writer itself
// allocates for each connection of the table: writing the report of 20,000
// connections against that of 5,000, the difference per connection. The
// summaries come from memory (memConns), so this is the table's walk, its
// rows and strings, and their JSON, not the connection store's read-back
// (TestConnStoreReadAllocations). The hosts are all distinct, so each
// connection brings a new host string into the table (about 260 bytes of
// interning); the rest must not grow with the connections: formatting
// each address again, building each application note again, or copying
// the rows once more would.
func TestWriteHTMLAllocationsPerConnection(t *testing.T) {
	small, large := 5000, 20000
	if testing.Short() {
		small, large = 2000, 8000
	}
	bytesS, allocsS := writeHTMLCost(t, small)
	bytesL, allocsL := writeHTMLCost(t, large)
	n := float64(large - small)
	perBytes, perAllocs := float64(int64(bytesL)-int64(bytesS))/n, float64(int64(allocsL)-int64(allocsS))/n
	t.Logf("per connection: %.0f bytes, %.3f allocations (%d and %d connections: %d and %d bytes)",
		perBytes, perAllocs, small, large, bytesS, bytesL)
	if perAllocs > 0.5 {
		t.Errorf("%.2f allocations per connection, want at most 0.5", perAllocs)
	}
	if perBytes > 1024 {
		t.Errorf("%.0f bytes allocated per connection, want at most 1024", perBytes)
	}
}

// writeHTMLCost returns the bytes and objects WriteHTML allocates for
// floodReport(n), the lesser of two runs.
func writeHTMLCost(t *testing.T, n int) (bytes, allocs uint64) {
	r := floodReport(t, n)
	for i := range 2 {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		var cw countingWriter
		if err := WriteHTML(&cw, r); err != nil {
			t.Fatal(err)
		}
		runtime.ReadMemStats(&after)
		b, a := after.TotalAlloc-before.TotalAlloc, after.Mallocs-before.Mallocs
		if i == 0 || b < bytes {
			bytes = b
		}
		if i == 0 || a < allocs {
			allocs = a
		}
	}
	return bytes, allocs
}

// TestSplitAddrReusesCanonicalHosts: splitAddr gives what formatting the
// parsed address gives, and a substring of its input when that input is
// already written as netip writes it.
func TestSplitAddrReusesCanonicalHosts(t *testing.T) {
	for _, tc := range []struct {
		in, host string
		port     int
		shared   bool
	}{
		{"10.0.0.1:80", "10.0.0.1", 80, true},
		{"[2001:db8::1]:443", "[2001:db8::1]", 443, true},
		{"[2001:DB8::1]:443", "[2001:db8::1]", 443, false},
		{"[2001:db8:0:0::1]:443", "[2001:db8::1]", 443, false},
		{"[::ffff:10.0.0.1]:80", "::ffff:10.0.0.1", 80, false},
		{"[fe80::1%eth0]:22", "[fe80::1%eth0]", 22, true},
		{"10.0.0.1", "10.0.0.1", 0, true},
		{"not an address\x1b", `not an address\x1b`, 0, false},
	} {
		host, port := splitAddr(tc.in)
		if host != tc.host || port != tc.port {
			t.Errorf("splitAddr(%q) = %q, %d; want %q, %d", tc.in, host, port, tc.host, tc.port)
			continue
		}
		in := unsafe.StringData(tc.in)
		if shared := unsafe.StringData(host) == in; shared != tc.shared {
			t.Errorf("splitAddr(%q): host shares the input's bytes: %v, want %v", tc.in, shared, tc.shared)
		}
	}
}
