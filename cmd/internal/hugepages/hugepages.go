// Package hugepages asks the kernel to back the Go heap with transparent
// huge pages (Linux's MADV_HUGEPAGE) while an analysis runs.
//
// An analysis of a busy capture keeps tens of thousands of connections
// live, each a few kilobytes in scattered places, and almost every packet
// touches lines of a connection no cache holds: on 4 KiB pages nearly each
// such line is also a TLB miss, and in a virtual machine a TLB miss walks two
// sets of page tables. With 2 MiB pages the whole live state fits in the
// TLB's reach (docs/performance.md, item 22).
//
// Most distributions leave transparent huge pages to "madvise"
// (/sys/kernel/mm/transparent_hugepage/enabled): only memory a program
// asked for gets them, and the Go runtime no longer asks for its heap. The
// runtime maps its heap in steps as it grows, each a new mapping that does
// not inherit an advice given before it, and uses each step at once. So
// Start first has the runtime map, in one step, room for the heap the work
// will need, and advises it before any of it is used; an Advisor then looks
// at the process's mappings (/proc/self/maps) now and then and advises what
// the heap grows past it. Nothing a program computes changes: the advice
// only decides what size of page backs the memory. Under "always" and
// "never", and elsewhere than Linux, Start does nothing.
package hugepages

import (
	"bytes"
	"strconv"
	"sync"
	"time"
)

// Mapping is one line of /proc/self/maps: [Start, End), its permissions
// ("rw-p"...), and whether it is anonymous (no file behind it).
type Mapping struct {
	Start, End uintptr
	Perms      [4]byte
	Anon       bool
}

// writable reports a private mapping that can be read and written.
func (m Mapping) writable() bool {
	return m.Perms == [4]byte{'r', 'w', '-', 'p'}
}

// ParseMaps reads the lines of a /proc/PID/maps file, in order. A line it
// cannot read is skipped: the caller advises fewer mappings, never a wrong
// one.
func ParseMaps(data []byte) []Mapping {
	var ms []Mapping
	for len(data) > 0 {
		line := data
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			line, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		if m, ok := parseLine(line); ok {
			ms = append(ms, m)
		}
	}
	return ms
}

// parseLine reads "start-end perms offset dev inode [path]".
func parseLine(line []byte) (Mapping, bool) {
	var m Mapping
	fields := bytes.Fields(line)
	if len(fields) < 5 {
		return m, false
	}
	lo, hi, ok := bytes.Cut(fields[0], []byte{'-'})
	if !ok || len(fields[1]) != 4 {
		return m, false
	}
	start, err1 := strconv.ParseUint(string(lo), 16, 64)
	end, err2 := strconv.ParseUint(string(hi), 16, 64)
	if err1 != nil || err2 != nil || end <= start || uint64(uintptr(end)) != end {
		return m, false
	}
	m.Start, m.End = uintptr(start), uintptr(end)
	copy(m.Perms[:], fields[1])
	// Anonymous: no inode, and no path but a bracketed name such as
	// "[anon: Go: heap]" (named mappings) or none; "[heap]" (brk) and
	// "[stack]" are anonymous too, but never adjoin the Go heap.
	m.Anon = string(fields[4]) == "0" && (len(fields) == 5 || fields[5][0] == '[')
	return m, true
}

// HeapMappings returns the writable mappings of the region holding address
// p: the run of anonymous mappings around the one containing p, each
// starting where the one before it ends. The Go runtime reserves its heap
// as such a run (reserved parts without access, mapped parts read-write),
// so with p the address of any heap object that run is the heap. ms must
// be in address order, as /proc/PID/maps lists them.
func HeapMappings(ms []Mapping, p uintptr) []Mapping {
	at := -1
	for i, m := range ms {
		if m.Start <= p && p < m.End {
			at = i
			break
		}
	}
	if at < 0 || !ms[at].Anon {
		return nil
	}
	lo, hi := at, at
	for lo > 0 && ms[lo-1].Anon && ms[lo-1].End == ms[lo].Start {
		lo--
	}
	for hi+1 < len(ms) && ms[hi+1].Anon && ms[hi+1].Start == ms[hi].End {
		hi++
	}
	var out []Mapping
	for _, m := range ms[lo : hi+1] {
		if m.writable() {
			out = append(out, m)
		}
	}
	return out
}

// The Advisor looks at the mappings every so often: at first every
// minInterval, then, while nothing new shows up, half as often each time,
// down to once every maxInterval. The heap grows fastest at the start of a
// pass; whatever it gained between two looks stays on small pages.
const (
	minInterval = 5 * time.Millisecond
	maxInterval = 160 * time.Millisecond
)

// Advisor advises the heap's mappings until Stop.
type Advisor struct {
	stop chan struct{}
	done chan struct{}
	once sync.Once

	// advised are the ends of the mappings advised so far, by start.
	advised map[uintptr]uintptr
	// advisedN counts the mappings advised, refused the advice the kernel
	// refused (one built without transparent huge pages); for tests, after
	// Stop.
	advisedN, refused int
}

// Stop ends the advisor and waits for it. The advice already given stays.
// Stop on a nil Advisor does nothing, and a second Stop is harmless.
func (a *Advisor) Stop() {
	if a == nil {
		return
	}
	a.once.Do(func() { close(a.stop) })
	<-a.done
}

// run looks at the mappings until Stop, with look doing one look and
// reporting whether it advised anything.
func (a *Advisor) run(look func() bool) {
	defer close(a.done)
	wait := minInterval
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-a.stop:
			return
		case <-t.C:
		}
		if look() {
			wait = minInterval
		} else {
			wait = min(2*wait, maxInterval)
		}
		t.Reset(wait)
	}
}

// advise calls do on each of ms not advised before with the same start and
// end, and remembers it; it reports whether it called do. A mapping that
// grew or merged with a neighbour is advised again: the advice is cheap,
// and covers only what it is given.
func (a *Advisor) advise(ms []Mapping, do func(Mapping) error) bool {
	acted := false
	for _, m := range ms {
		if end, ok := a.advised[m.Start]; ok && end == m.End {
			continue
		}
		a.advised[m.Start] = m.End
		acted = true
		if err := do(m); err != nil {
			a.refused++
			continue
		}
		a.advisedN++
	}
	return acted
}
