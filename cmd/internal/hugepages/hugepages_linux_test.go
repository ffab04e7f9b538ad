package hugepages

import (
	"bufio"
	"bytes"
	"os"
	"runtime"
	"runtime/metrics"
	"strings"
	"syscall"
	"testing"
)

// TestStartAdvisesTheHeap checks, where the system leaves huge pages to
// madvise, that after Start both an allocation made before it and one made
// after it lie in mappings the kernel marks as advised ("hg" in their
// VmFlags); before the process's first Start, nothing else advises them.
func TestStartAdvisesTheHeap(t *testing.T) {
	if mode := Mode(); mode != "madvise" {
		t.Skipf("transparent huge pages are %q here, not madvise: Start does nothing", mode)
	}
	if reserveBytes(64<<20) == 0 {
		t.Skip("no reserve here (32-bit, strict overcommit or ulimit -v): only the looks advise, later")
	}
	before := make([]byte, 1<<20)
	switch flags := vmFlags(t, sliceAddr(before)); {
	case flags == nil:
		t.Fatal("no mapping holds a heap allocation")
	case flags["hg"]:
		// Only a Start earlier in this process (go test -count=2, or
		// another test) advises the heap.
		t.Log("the heap was advised before this test's Start: an earlier Start in this process")
	}
	a := Start(64 << 20)
	defer a.Stop()
	after := make([]byte, 16<<20)
	for i := range after {
		after[i] = 1
	}
	for name, p := range map[string]uintptr{"allocation before Start": sliceAddr(before), "allocation after Start": sliceAddr(after)} {
		if flags := vmFlags(t, p); !flags["hg"] {
			t.Errorf("the %s lies in a mapping not advised (VmFlags %v)", name, flags)
		}
	}
	if a.refused != 0 {
		t.Errorf("%d advice refused", a.refused)
	}
}

// vmFlags returns the VmFlags of the mapping holding p, from
// /proc/self/smaps, or nil when no mapping holds it.
func vmFlags(t *testing.T, p uintptr) map[string]bool {
	t.Helper()
	data, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skipf("no /proc/self/smaps: %v", err)
	}
	in := false
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := sc.Text()
		if m, ok := parseLine([]byte(line)); ok {
			in = m.Start <= p && p < m.End
			continue
		}
		if rest, ok := strings.CutPrefix(line, "VmFlags:"); ok && in {
			flags := map[string]bool{}
			for _, f := range strings.Fields(rest) {
				flags[f] = true
			}
			return flags
		}
	}
	return nil
}

func TestMemAvailable(t *testing.T) {
	for in, want := range map[string]int64{
		"MemTotal:       24683520 kB\nMemFree:        21415424 kB\nMemAvailable:   24227840 kB\n": 24227840 << 10,
		"MemAvailable: 12 MB\n": 0,
		"MemAvailable: x kB\n":  0,
		"MemFree: 12 kB\n":      0,
		"":                      0,
	} {
		if got := memAvailable([]byte(in)); got != want {
			t.Errorf("memAvailable(%q) = %d, want %d", in, got, want)
		}
	}
}

// TestNoReserveUnderAddressLimit checks that a limit on the address space
// (ulimit -v), however high, leaves no reserve: the runtime aborts when it
// cannot map its heap, and the reserve would take address space from it.
func TestNoReserveUnderAddressLimit(t *testing.T) {
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &old); err != nil {
		t.Skipf("getrlimit: %v", err)
	}
	if old.Cur != rlimInfinity {
		if got := reserveBytes(64 << 20); got != 0 {
			t.Fatalf("under ulimit -v %d, a reserve of %d bytes", old.Cur, got)
		}
		return
	}
	if got := reserveBytes(64 << 20); got == 0 {
		t.Skip("no reserve even without a limit here (strict overcommit, or no /proc/meminfo)")
	}
	high := syscall.Rlimit{Cur: 1 << 46, Max: old.Max}
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &high); err != nil {
		t.Skipf("setrlimit: %v", err)
	}
	got := reserveBytes(64 << 20)
	if err := syscall.Setrlimit(syscall.RLIMIT_AS, &old); err != nil {
		t.Fatalf("restoring the address space limit: %v", err)
	}
	if got != 0 {
		t.Errorf("under ulimit -v of 64 TiB, a reserve of %d bytes", got)
	}
}

// TestReserveCollectsOnce checks that Start collects exactly once, after the
// ballast is dropped (debug.FreeOSMemory): a collection while the ballast
// was live would count it as live heap and pace the next ones from it
// (GODEBUG=gctrace=1 showed 232 MB live at the start of a run).
func TestReserveCollectsOnce(t *testing.T) {
	if mode := Mode(); mode != "madvise" {
		t.Skipf("transparent huge pages are %q here, not madvise: Start does nothing", mode)
	}
	if reserveBytes(256<<20) == 0 {
		t.Skip("no reserve here (32-bit, strict overcommit or ulimit -v)")
	}
	cycles := func() uint64 {
		s := []metrics.Sample{{Name: "/gc/cycles/total:gc-cycles"}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	runtime.GC() // the test binary's heap is small: a 256 MiB allocation would start a collection
	before := cycles()
	a := Start(256 << 20)
	after := cycles()
	a.Stop()
	if after-before != 1 {
		t.Errorf("Start ran %d collections, want 1 (the one after the ballast is dropped)", after-before)
	}
}
