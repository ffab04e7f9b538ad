package render

import (
	"fmt"
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
