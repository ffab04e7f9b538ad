package detectors

import (
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// counting is a SegmentDetector that counts what it is handed and can be
// told to panic on a given segment or connection.
type counting struct {
	segs, dones     int
	panicAt, doneAt int // 1-based call that panics; 0 = never
}

func (d *counting) Segment(*flows.Conn, *flows.Segment) {
	d.segs++
	if d.segs == d.panicAt {
		panic("segment boom")
	}
}

func (d *counting) ConnDone(*flows.Conn) {
	d.dones++
	if d.dones == d.doneAt {
		panic("done boom")
	}
}

func (d *counting) Finish(*Env) []Finding { return nil }

// TestEngineSegmentPanicDisablesOnlyThatDetector checks that a detector
// panicking in Segment (or in ConnDone) is disabled alone, reported as a
// KindInternal finding, and that the detectors before and after it still
// see every segment and connection, the panicking one included.
func TestEngineSegmentPanicDisablesOnlyThatDetector(t *testing.T) {
	for _, tc := range []struct {
		name             string
		panicAt, doneAt  int
		wantSegs, wantDn int // calls the panicking detector got
	}{
		{"segment", 2, 0, 2, 0},
		{"done", 0, 1, 3, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			first, bad, last := &counting{}, &counting{panicAt: tc.panicAt, doneAt: tc.doneAt}, &counting{}
			specs := []*Spec{
				{Kind: KindZeroWindowStall, New: func(*Config) Detector { return first }},
				{Kind: KindTSOSuperSegments, New: func(*Config) Detector { return bad }},
				{Kind: KindCaptureQuality, New: func(*Config) Detector { return last }},
			}
			e := NewEngine(&Config{}, specs)
			c := &flows.Conn{ID: 1}
			s := &flows.Segment{P: &decode.Packet{}}
			for i := 0; i < 3; i++ {
				e.Segment(c, s)
			}
			e.Done(c)
			for i := 0; i < 3; i++ {
				e.Segment(c, s)
			}
			e.Done(c)
			for _, d := range []*counting{first, last} {
				if d.segs != 6 || d.dones != 2 {
					t.Errorf("a healthy detector saw %d segments and %d connections, want 6 and 2", d.segs, d.dones)
				}
			}
			if bad.segs != tc.wantSegs || bad.dones != tc.wantDn {
				t.Errorf("the panicking detector saw %d segments and %d connections, want %d and %d", bad.segs, bad.dones, tc.wantSegs, tc.wantDn)
			}
			got := e.Finish(&Env{})
			if len(got) != 1 || got[0].Kind != KindInternal || got[0].Subject != "tso-super-segments" ||
				!strings.Contains(got[0].Explanation, "boom") {
				t.Fatalf("findings = %+v", got)
			}
		})
	}
}

// TestEngineSegmentNoAllocs checks that handing a segment to the detectors
// allocates nothing when none panics.
func TestEngineSegmentNoAllocs(t *testing.T) {
	d := &counting{}
	e := NewEngine(&Config{}, []*Spec{{Kind: KindZeroWindowStall, New: func(*Config) Detector { return d }}})
	c := &flows.Conn{ID: 1}
	s := &flows.Segment{P: &decode.Packet{}}
	if n := testing.AllocsPerRun(100, func() { e.Segment(c, s) }); n != 0 {
		t.Errorf("Engine.Segment allocates %v times per call", n)
	}
}
