//go:build !386 && !arm && !mips && !mipsle

// The captured maps hold 64-bit addresses.

package hugepages

import (
	"errors"
	"reflect"
	"sync/atomic"
	"testing"
	"time"
)

// maps is a /proc/PID/maps of a Go program: its binary, a heap reserved
// with parts mapped (the runtime's steps, not merged), a file mapped right
// after it, a thread stack elsewhere, and lines no parser should accept.
const maps = `00400000-007a7000 r-xp 00000000 00:1f 1234                               /usr/bin/pcapsleuth
007a7000-00cc9000 r--p 003a7000 00:1f 1234                               /usr/bin/pcapsleuth
2599c000-259bd000 rw-p 00000000 00:00 0                                  [heap]
3ed038000000-3ed038c00000 ---p 00000000 00:00 0 
3ed038c00000-3ed039000000 rw-p 00000000 00:00 0 
3ed039000000-3ed039400000 rw-p 00000000 00:00 0                          [anon: Go: heap]
3ed039400000-3ed044000000 ---p 00000000 00:00 0 
3ed044000000-3ed044100000 rw-p 00000000 00:1f 99                         /tmp/a file with spaces
3ed045000000-3ed045400000 rw-p 00000000 00:00 0 
7f4c20c5d000-7f4c2145d000 rw-p 00000000 00:00 0 
garbage
7f4c3-7f4c2 rw-p 00000000 00:00 0
7f4c5cba0000-7f4c5cba1000 rwxp 00000000 00:00 0
zz-7f4c5cba1000 rw-p 00000000 00:00 0
7fffc1000000-7fffc1021000 rw-p 00000000 00:00 0                          [stack]`

func TestParseMaps(t *testing.T) {
	ms := ParseMaps([]byte(maps))
	if len(ms) != 12 {
		t.Fatalf("%d mappings, want 12 (the three bad lines skipped): %+v", len(ms), ms)
	}
	for i, want := range []struct {
		start, end uintptr
		perms      string
		anon       bool
	}{
		{0x400000, 0x7a7000, "r-xp", false},
		{0x2599c000, 0x259bd000, "rw-p", true},
		{0x3ed038c00000, 0x3ed039000000, "rw-p", true},
		{0x3ed039000000, 0x3ed039400000, "rw-p", true},
		{0x3ed044000000, 0x3ed044100000, "rw-p", false},
		{0x7f4c5cba0000, 0x7f4c5cba1000, "rwxp", true},
	} {
		idx := []int{0, 2, 4, 5, 7, 10}[i]
		m := ms[idx]
		if m.Start != want.start || m.End != want.end || string(m.Perms[:]) != want.perms || m.Anon != want.anon {
			t.Errorf("mapping %d = %x-%x %s anon=%v, want %x-%x %s anon=%v", idx, m.Start, m.End, m.Perms, m.Anon,
				want.start, want.end, want.perms, want.anon)
		}
	}
}

func TestHeapMappings(t *testing.T) {
	ms := ParseMaps([]byte(maps))
	heap := []Mapping{ms[4], ms[5]} // the run's two read-write parts, not its reservations
	for _, c := range []struct {
		name string
		p    uintptr
		want []Mapping
	}{
		{"in a mapped part", 0x3ed038c00010, heap},
		{"in the other mapped part", 0x3ed0393fffff, heap},
		{"in a reservation", 0x3ed038000000, heap},
		{"in the file after the run", 0x3ed044000000, nil},
		{"in a mapping past a gap", 0x3ed045000000, []Mapping{ms[8]}},
		{"in the brk heap", 0x2599c000, []Mapping{ms[2]}},
		{"nowhere", 0x1000, nil},
	} {
		if got := HeapMappings(ms, c.p); !reflect.DeepEqual(got, c.want) {
			t.Errorf("%s (%x): %+v, want %+v", c.name, c.p, got, c.want)
		}
	}
}

func TestAdviseEachMappingOnce(t *testing.T) {
	a := &Advisor{advised: map[uintptr]uintptr{}}
	var got []uintptr
	do := func(m Mapping) error {
		got = append(got, m.Start)
		if m.Start == 0x3000 {
			return errors.New("refused")
		}
		return nil
	}
	first := []Mapping{{Start: 0x1000, End: 0x2000}, {Start: 0x3000, End: 0x4000}}
	if !a.advise(first, do) || a.advisedN != 1 || a.refused != 1 {
		t.Fatalf("first look: advised %d, errors %d", a.advisedN, a.refused)
	}
	if a.advise(first, do) {
		t.Fatalf("second look at the same mappings advised again: %x", got)
	}
	grown := []Mapping{{Start: 0x1000, End: 0x2800}, {Start: 0x3000, End: 0x4000}, {Start: 0x5000, End: 0x6000}}
	if !a.advise(grown, do) {
		t.Fatal("a grown mapping and a new one were not advised")
	}
	if want := []uintptr{0x1000, 0x3000, 0x1000, 0x5000}; !reflect.DeepEqual(got, want) {
		t.Errorf("advised %x, want %x", got, want)
	}
}

// TestRunLooksUntilStop checks that the advisor looks at once, again and
// again while looks find something, and never after Stop returns.
func TestRunLooksUntilStop(t *testing.T) {
	a := &Advisor{stop: make(chan struct{}), done: make(chan struct{})}
	var looks atomic.Int32
	three := make(chan struct{})
	go a.run(func() bool {
		if looks.Add(1) == 3 {
			close(three)
		}
		return true
	})
	select {
	case <-three:
	case <-time.After(10 * time.Second):
		t.Fatalf("%d looks in 10 s, want 3 at %v apart", looks.Load(), minInterval)
	}
	a.Stop()
	a.Stop() // harmless
	n := looks.Load()
	time.Sleep(3 * minInterval)
	if looks.Load() != n {
		t.Errorf("looked after Stop: %d looks, then %d", n, looks.Load())
	}
	var none *Advisor
	none.Stop()
}

func FuzzParseMaps(f *testing.F) {
	f.Add([]byte(maps))
	f.Add([]byte("0-1 rw-p 0 0:0 0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ms := ParseMaps(data)
		for _, m := range ms {
			if m.Start >= m.End {
				t.Fatalf("mapping %x-%x is empty", m.Start, m.End)
			}
		}
		for _, m := range ms {
			for _, h := range HeapMappings(ms, m.Start) {
				if !h.Anon || !h.writable() {
					t.Fatalf("HeapMappings returned %+v", h)
				}
			}
		}
	})
}
