package flows

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// eachSegment is an Observer that records like recorder and calls each on
// every segment's connection.
type eachSegment struct {
	*recorder
	each func(c *Conn)
}

func (o *eachSegment) Segment(c *Conn, s *Segment) {
	o.recorder.Segment(c, s)
	o.each(c)
}

// TestPackedLogRoundTrip packs every connection's log after every segment
// (a resting connection's log is packed once; this is the hardest case)
// and checks that each finished connection is exactly what it is without
// packing: the log, its tail ring's last packets, everything.
func TestPackedLogRoundTrip(t *testing.T) {
	paths := testCaptures(t)
	var conns, packs, ringed, long int
	for _, path := range paths {
		want := trackFile(t, path)
		got := trackFileWith(t, path, func(c *Conn) {
			if c.tail != nil && c.tailN > 0 {
				ringed++
			}
			c.pack(nil)
			if c.Log != nil || c.tail != nil || c.Turns != nil || c.packed == nil {
				t.Fatalf("%s: conn %d not packed", path, c.ID)
			}
			packs++
		}, nil)
		if len(got) != len(want) {
			t.Fatalf("%s: %d connections packed, %d not", path, len(got), len(want))
		}
		for i := range want {
			if !reflect.DeepEqual(got[i], want[i]) {
				t.Fatalf("%s: conn %d differs after packing:\n got %+v\nwant %+v", path, want[i].ID, got[i].Log, want[i].Log)
			}
			if len(want[i].Log) > logHead+logTail {
				long++
			}
			conns++
		}
	}
	// Long connections with resends and reordering, to fill the log past
	// its head and promote tail rings again and again.
	for k, gap := range []int{7, 13, 29} {
		each := func(c *Conn) {
			if c.tail != nil && c.tailN > 0 {
				ringed++
			}
			c.pack(nil)
			packs++
		}
		want, got := &recorder{}, &recorder{}
		longConvo(t, NewTracker(Config{}, want), gap)
		longConvo(t, NewTracker(Config{}, &eachSegment{got, each}), gap)
		if len(want.done) != 1 || len(got.done) != 1 {
			t.Fatalf("long conversation %d: %d and %d connections", k, len(want.done), len(got.done))
		}
		if w := want.done[0]; !reflect.DeepEqual(got.done[0], w) {
			t.Fatalf("long conversation %d differs after packing:\n got %+v\nwant %+v", k, got.done[0].Log, w.Log)
		} else if len(w.Log) > logHead+logTail {
			long++
		}
		conns++
	}
	if conns < 50 || packs < 1000 || ringed < 100 || long < 5 {
		t.Fatalf("too little tested: %d connections (%d with long logs), %d packs, %d with a tail ring", conns, long, packs, ringed)
	}
	t.Logf("%d connections (%d with long logs), %d packs, %d with a tail ring", conns, long, packs, ringed)
}

// TestPackedLogIsSmaller checks that packing is worth it.
func TestPackedLogIsSmaller(t *testing.T) {
	var entries, packed int
	for _, c := range trackFile(t, "../testdata/captures/demo.pcap") {
		if len(c.Log) == 0 {
			continue
		}
		entries += len(c.Log)
		c.pack(nil)
		packed += len(c.packed)
	}
	size := int(reflect.TypeFor[LogEntry]().Size())
	if entries == 0 || packed*2 > entries*size {
		t.Errorf("%d entries (%d bytes) pack into %d bytes: expected less than half", entries, entries*size, packed)
	}
	t.Logf("%d entries (%d bytes) pack into %d bytes", entries, entries*size, packed)
}

// longConvo plays one long keep-alive connection into tr: 300 request and
// response rounds, a resend every gap rounds and a reordered segment every
// 2×gap+1, then a FIN close. The same gap gives the same packets.
func longConvo(t *testing.T, tr *Tracker, gap int) { longConvoFrom(t, tr, gap, 0) }

// longConvoFrom is longConvo with frame numbers after frame.
func longConvoFrom(t *testing.T, tr *Tracker, gap int, frame int64) {
	cv := newConvo(t, tr, "10.0.0.1:40000", "10.0.0.2:80")
	cv.frame = frame
	cv.handshake(0)
	sec := 0.01
	for round := range 300 {
		cv.send(sec, true, pshack, 100)
		base := cv.seq[1]
		cv.send(sec+0.001, false, ack, 1460)
		switch {
		case round%gap == gap-1:
			cv.send(sec+0.002, false, ack, 1460)
			cv.send(sec+0.0025, false, ack, 1460, withSeq(base)) // resend
		case round%(2*gap+1) == 2*gap:
			second := cv.seq[1]
			cv.seq[1] += 1460
			cv.send(sec+0.002, false, pshack, 1460) // after the hole
			cv.send(sec+0.0021, false, ack, 1460, withSeq(second))
		default:
			cv.send(sec+0.002, false, pshack, 1460)
		}
		cv.send(sec+0.003, true, ack, 0)
		sec += 0.05
	}
	cv.send(sec, true, finack, 0)
	cv.send(sec+0.001, false, finack, 0)
	cv.send(sec+0.002, true, ack, 0)
	tr.Flush()
}

// TestTailEntryHoldsLogEntry checks what tailEntry's 32 bytes rely on: the
// segment kinds fit 16 bits, decode's TCP flags stay below the direction's
// bit, and an entry is half a cache line.
func TestTailEntryHoldsLogEntry(t *testing.T) {
	if n := len(segKindNames); n > 16 {
		t.Errorf("%d segment kinds: tailEntry.kind holds 16", n)
	}
	if decode.FlagNS<<1 > tailDir {
		t.Errorf("TCP flags reach bit %d, tailEntry's direction bit", tailDir)
	}
	if n := unsafe.Sizeof(tailEntry{}); n != 32 {
		t.Errorf("tailEntry takes %d bytes, want 32", n)
	}
}

// TestTailRingPastFrame32 runs a long conversation whose frame numbers
// pass 1<<32 while they are in the tail ring (whose entries keep the
// lower half), or start past it, packing after every segment or not, and
// checks that the log is the one of the same conversation from frame 1,
// every frame number moved by the same amount.
func TestTailRingPastFrame32(t *testing.T) {
	want := &recorder{}
	longConvo(t, NewTracker(Config{}, want), 7)
	w := want.done[0]
	for _, start := range []int64{1<<32 - w.Packets + 6, 1<<32 - 1, 3<<32 + 5} {
		for _, pack := range []bool{false, true} {
			got := &recorder{}
			var obs Observer = got
			if pack {
				obs = &eachSegment{got, func(c *Conn) { c.pack(nil) }}
			}
			longConvoFrom(t, NewTracker(Config{}, obs), 7, start)
			g := got.done[0]
			if len(g.Log) != len(w.Log) {
				t.Fatalf("start %d, pack %v: %d entries, want %d", start, pack, len(g.Log), len(w.Log))
			}
			high := 0
			for i := range g.Log {
				e := g.Log[i]
				if e.Frame >= 1<<32 {
					high++
				}
				e.Frame -= start
				if e != w.Log[i] {
					t.Fatalf("start %d, pack %v: entry %d is %+v, want %+v (frames from %d)", start, pack, i, g.Log[i], w.Log[i], start)
				}
			}
			if high == 0 {
				t.Fatalf("start %d: no frame past 1<<32 logged", start)
			}
		}
	}
}
