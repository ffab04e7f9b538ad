package hugepages

import (
	"bytes"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"syscall"
)

// Start starts an Advisor over the Go heap of this process, with room for
// about reserve bytes of heap mapped and advised from the start. Call Stop
// when the work that needed it is done.
//
// Unless the system leaves huge pages to madvise (Mode), Start does nothing.
// Otherwise it first makes the runtime map reserve bytes of heap at once,
// through an allocation it drops at once (untouched: no page of it becomes
// resident), advises the heap, and hands all of it back (debug.FreeOSMemory,
// a collection of the small heap of a program that just started): the
// pages the analysis touches afterwards are faulted in as huge pages from
// the start. The runtime otherwise maps its heap in steps of a few MiB and
// uses each step at once, so its first pages were already in place, on
// small pages, by the time any look advised the step. (Collapsing them
// afterwards, MADV_COLLAPSE, cost more system time than it saved, and made
// pages the runtime had handed back resident again: the bounded capture of
// bench/memory.sh peaked at 254 MB instead of 120.) The reserve is at most a
// quarter of the memory available, and none under strict overcommit
// (vm.overcommit_memory=2) or a limit on the address space (ulimit -v),
// where mapping it could fail or starve the runtime; the heap that grows
// past it is advised by the looks.
func Start(reserve int64) *Advisor {
	a := &Advisor{stop: make(chan struct{}), done: make(chan struct{}), advised: map[uintptr]uintptr{}}
	if Mode() != "madvise" {
		close(a.done)
		return a
	}
	anchor := new(heapAnchor)
	look := func(extra uintptr) bool {
		data, err := os.ReadFile("/proc/self/maps")
		if err != nil {
			return false
		}
		ms := ParseMaps(data)
		acted := a.advise(HeapMappings(ms, anchor.addr()), madviseHuge)
		if extra != 0 {
			acted = a.advise(HeapMappings(ms, extra), madviseHuge) || acted
		}
		return acted
	}
	if n := reserveBytes(reserve); n > 0 {
		// No collection while the ballast is live: one would count it as
		// live heap, and pace the next ones from it.
		gc := debug.SetGCPercent(-1)
		ballast := make([]byte, n)
		look(sliceAddr(ballast)) // the ballast's mapping, should it not adjoin the anchor's
		runtime.KeepAlive(ballast)
		debug.FreeOSMemory()
		debug.SetGCPercent(gc)
	}
	go a.run(func() bool { return look(0) })
	return a
}

// Mode returns the system's transparent huge page mode ("always",
// "madvise" or "never"), or "" when it cannot be read.
func Mode() string {
	data, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil {
		return ""
	}
	_, after, ok := bytes.Cut(data, []byte{'['})
	if !ok {
		return ""
	}
	mode, _, ok := bytes.Cut(after, []byte{']'})
	if !ok {
		return ""
	}
	return string(mode)
}

// reserveBytes bounds the reserve: a quarter of MemAvailable and half the
// soft memory limit; none on a 32-bit platform, under strict overcommit or a
// limit on the address space, or when the memory available cannot be read.
func reserveBytes(want int64) int64 {
	if want <= 0 || strconv.IntSize < 64 {
		return 0 // a 32-bit address space has no room to spare
	}
	if data, err := os.ReadFile("/proc/sys/vm/overcommit_memory"); err != nil || string(bytes.TrimSpace(data)) == "2" {
		return 0
	}
	// Under a limit on the address space (ulimit -v), mapping the reserve
	// might take what the runtime needs later, and it aborts when it cannot
	// map its heap.
	var as syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_AS, &as); err != nil || as.Cur != rlimInfinity {
		return 0
	}
	data, err := os.ReadFile("/proc/meminfo")
	if err != nil {
		return 0
	}
	// Under a soft memory limit (GOMEMLIMIT), the ballast must leave room
	// below it, or the runtime would collect at once.
	return min(want, memAvailable(data)/4, debug.SetMemoryLimit(-1)/2)
}

// memAvailable reads MemAvailable (bytes) from /proc/meminfo's text, or 0.
func memAvailable(meminfo []byte) int64 {
	for line := range bytes.SplitSeq(meminfo, []byte{'\n'}) {
		rest, ok := bytes.CutPrefix(line, []byte("MemAvailable:"))
		if !ok {
			continue
		}
		f := bytes.Fields(rest)
		if len(f) != 2 || string(f[1]) != "kB" {
			return 0
		}
		kb, err := strconv.ParseInt(string(f[0]), 10, 64)
		if err != nil || kb < 0 || kb > 1<<40 {
			return 0
		}
		return kb << 10
	}
	return 0
}

// rlimInfinity is RLIM_INFINITY, an unlimited resource.
const rlimInfinity = ^uint64(0)

// madviseHuge gives m the advice MADV_HUGEPAGE.
func madviseHuge(m Mapping) error {
	_, _, errno := syscall.Syscall(syscall.SYS_MADVISE, m.Start, m.End-m.Start, syscall.MADV_HUGEPAGE)
	if errno != 0 {
		return errno
	}
	return nil
}
