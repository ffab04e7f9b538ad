package render

import (
	"bytes"
	"fmt"
	"io"
	"math/rand"
	"os"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// storeSummaries builds n summaries whose sizes vary from a few bytes to
// more than the read window, so that records straddle window boundaries.
func storeSummaries(n int) []ConnSummary {
	r := rand.New(rand.NewSource(7))
	out := make([]ConnSummary, n)
	for i := range out {
		c := &out[i]
		c.ID = int64(i + 1)
		c.Client = fmt.Sprintf("10.0.%d.%d:%d", i/250, i%250, 1024+i)
		c.Server = "10.9.9.9:443"
		c.Packets = int64(r.Intn(1000))
		c.ClientState = flows.StateTimeWait.String()
		c.ServerState = flows.StateClosed.String()
		c.History = strings.Repeat("ShAD", r.Intn(8))
		if i%97 == 0 {
			c.HTTPRequest = strings.Repeat("x", windowSize+r.Intn(windowSize))
		}
		if i%3 == 0 {
			rtt := float64(i) / 7
			c.HandshakeRTTMS = &rtt
			c.TLSVersion = "TLS 1.3"
		}
	}
	return out
}

// TestConnStoreOrderAndSpill adds summaries in the shuffled order in which
// connections finish and reads them back in ID order, equal to what went in,
// from memory and from the spill file (the path large captures take).
//
// With a small index chunk the index goes to the spill file too, most IDs
// arriving after their chunk went (shuffled) or a few of them (nearly in
// order, as connections finish).
func TestConnStoreOrderAndSpill(t *testing.T) {
	type variant struct {
		spillAt, chunk int
		nearly         bool
	}
	for _, v := range []variant{{memLimit, indexChunk, false}, {64 << 10, indexChunk, false}, {64 << 10, 64, false}, {64 << 10, 64, true}} {
		t.Run(fmt.Sprintf("spillAt=%d,chunk=%d,nearly=%v", v.spillAt, v.chunk, v.nearly), func(t *testing.T) {
			spillAt := v.spillAt
			want := storeSummaries(3000)
			s, err := NewConnStore(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			s.spillAt, s.idxChunk = spillAt, v.chunk
			order := rand.New(rand.NewSource(1)).Perm(len(want))
			if v.nearly {
				// In ID order but for one in fifty, which finishes last.
				order = order[:0]
				var last []int
				for i := range want {
					if i%50 == 7 {
						last = append(last, i)
					} else {
						order = append(order, i)
					}
				}
				order = append(order, last...)
			}
			for _, i := range order {
				// Connection 5 entered TIME_WAIT long before the end.
				tw := [2]int64{}
				if want[i].ID == 5 {
					tw[0] = 1
				}
				c := want[i]
				if err := s.Add(&c, tw); err != nil {
					t.Fatal(err)
				}
			}
			s.SetCaptureEnd(1 + flows.TimeWaitDuration)
			if spilled := s.file != nil; spilled != (spillAt < memLimit) {
				t.Fatalf("spilled = %v with spillAt %d", spilled, spillAt)
			}
			if v.chunk < indexChunk && (len(s.chunks) < 10 || len(s.offsets) > 2*v.chunk || len(s.late) == 0) {
				t.Fatalf("index: %d chunks on disk, %d entries in memory, %d late", len(s.chunks), len(s.offsets), len(s.late))
			}
			want[4].ClientState = flows.StateClosed.String()
			var got []ConnSummary
			if err := s.Each(func(c *ConnSummary) error { got = append(got, *c); return nil }); err != nil {
				t.Fatal(err)
			}
			if len(got) != len(want) || s.Len() != len(want) {
				t.Fatalf("got %d summaries (Len %d), want %d", len(got), s.Len(), len(want))
			}
			for i := range want {
				if !reflect.DeepEqual(got[i], want[i]) {
					t.Fatalf("summary %d:\n got %+v\nwant %+v", i, got[i], want[i])
				}
			}
			if s.file != nil {
				name := s.file.Name()
				if err := s.Close(); err != nil {
					t.Fatal(err)
				}
				if _, err := os.Stat(name); !os.IsNotExist(err) {
					t.Errorf("spill file %s left behind (%v)", name, err)
				}
			}
		})
	}
}

// TestConnStoreLocation checks the packed record location, including a
// record too large for the size field (read through its header instead).
func TestConnStoreLocation(t *testing.T) {
	for _, tc := range []struct {
		off        int64
		size, want int
	}{{0, 20, 20}, {1<<locOffBits - 1, locMaxSize, locMaxSize}, {12345, locMaxSize + 1, 0}} {
		off, size := unpackLoc(packLoc(tc.off, tc.size))
		if off != tc.off || size != tc.want {
			t.Errorf("packLoc(%d, %d) unpacks to (%d, %d), want (%d, %d)", tc.off, tc.size, off, size, tc.off, tc.want)
		}
	}
}

// countingReader is a growing file in memory that counts what is read.
type countingReader struct {
	b            []byte
	reads, bytes int
}

func (r *countingReader) ReadAt(p []byte, off int64) (int, error) {
	r.reads++
	if off >= int64(len(r.b)) {
		return 0, io.EOF
	}
	n := copy(p, r.b[off:])
	r.bytes += n
	if n < len(p) {
		return n, io.EOF
	}
	return n, nil
}

// TestReadWindow reads records of a file in an order that jumps back and
// forth by up to 256 KiB, as records written in the order connections
// finished are read in the order they opened: every byte comes back right,
// and the file is read about once, not once per record. It also reads
// across window boundaries, past the end, and after the file grew past a
// window read at its old end.
func TestReadWindow(t *testing.T) {
	const size = 4 << 20
	f := &countingReader{b: make([]byte, size)}
	rnd := rand.New(rand.NewSource(3))
	rnd.Read(f.b)
	var w readWindow
	check := func(off int64, n int) {
		t.Helper()
		b, err := w.read(f, off, n)
		if err != nil || !bytes.Equal(b, f.b[off:off+int64(n)]) {
			t.Fatalf("read(%d, %d): %v, or not the file's bytes", off, n, err)
		}
	}
	const rec = 200
	for i := int64(0); i < size/rec-1; i++ {
		off := i*rec + int64(rnd.Intn(256<<10)) - 128<<10
		check(min(max(off, 0), size-rec), rec)
	}
	if f.bytes > 2*size || f.reads > 3*size/windowSize { // a window each, and the records across their boundaries
		t.Errorf("read %d bytes in %d reads for a file of %d bytes", f.bytes, f.reads, size)
	}
	check(windowSize-10, 30)          // across a boundary
	check(3*windowSize, 2*windowSize) // larger than a window
	f.b = f.b[:size-windowSize/2]     // the file was shorter...
	w = readWindow{}
	check(size-windowSize, 100)
	if _, err := w.read(f, size-100, 50); err != io.ErrUnexpectedEOF {
		t.Errorf("read past the end: %v, want io.ErrUnexpectedEOF", err)
	}
	f.b = f.b[:size] // ...then grew
	check(size-100, 50)
	if _, err := w.read(f, size+1, 10); err != io.ErrUnexpectedEOF {
		t.Errorf("read past the end: %v", err)
	}
}

// TestConnStoreReadAllocations: reading the summaries back, as the report's
// connection table does, allocates a few strings per connection (its
// addresses and start), not a summary and a string per field each: a table
// of 150,000 rows allocated 60 MB in the report's last half second, and
// the collector's goal set the run's peak there. The summaries' fields vary
// from one connection to the next, so a summary reused without being reset
// fails TestConnStoreOrderAndSpill.
func TestConnStoreReadAllocations(t *testing.T) {
	want := storeSummaries(3000)
	s, err := NewConnStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range want {
		c := want[i]
		c.Client = fmt.Sprintf("[2001:db8::%x]:%d", i, 1024+i)
		c.Start = fmt.Sprintf("2026-12-07T17:%02d:%02d.%06dZ", i/60%60, i%60, i)
		c.End = "fin"
		c.DirectionFrom = "syn"
		if err := s.Add(&c, [2]int64{}); err != nil {
			t.Fatal(err)
		}
	}
	var n int
	allocs := testing.AllocsPerRun(3, func() {
		n = 0
		if err := eachAhead(s, func(c *ConnSummary) error { n++; return nil }); err != nil {
			t.Fatal(err)
		}
	})
	if n != len(want) {
		t.Fatalf("read %d summaries, want %d", n, len(want))
	}
	// Client, Server and Start, the round-trip time of one in three, and
	// the long HTTP requests.
	if per := allocs / float64(len(want)); per > 3.5 {
		t.Errorf("%.2f allocations per summary read, want at most 3.5", per)
	}
}
