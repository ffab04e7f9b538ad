package flows

import (
	"reflect"
	"testing"
	"unsafe"
)

// TestPerConnectionSizes guards what a live connection costs: h1g, the
// headers-only benchmark capture, holds 44,000 connections at once, and its
// peak RSS stays under the performance issue's 256 MB with little to spare
// (docs/performance.md, item 12). A Conn must stay in the 1,536-byte size
// class of Go's allocator and a transmission history in the 576-byte one;
// a field that pushes either over costs 256 or 64 bytes per connection.
// Move rarely used fields behind a pointer (as App, DataAfterPeerFIN and
// Backoff) rather than raising these bounds.
func TestPerConnectionSizes(t *testing.T) {

	for _, c := range []struct {
		typ reflect.Type
		max uintptr
	}{
		{reflect.TypeFor[Conn](), 1536},
		{reflect.TypeFor[txHistory](), 576},
		{reflect.TypeFor[[logTail]LogEntry](), 576},
	} {
		if got := c.typ.Size(); got > c.max {
			t.Errorf("%s takes %d bytes, over its size class of %d", c.typ, got, c.max)
		}
	}
}

// TestSlotsOwnCacheLine checks that Conn.Slots fill one cache line that no
// field the tracker writes shares: the detectors read them on another core
// (cmd/analysis's pipeline), and sharing the line with the per-segment
// counters cost 7 % of the run on h300. Conns of the 1,536-byte size class
// start on a 64-byte boundary.
func TestSlotsOwnCacheLine(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the cache-line layout is tuned for 64-bit platforms; pointers take 4 bytes here")
	}

	f, _ := reflect.TypeFor[Conn]().FieldByName("Slots")
	if f.Offset%64 != 0 || f.Type.Size() != 64 {
		t.Fatalf("Conn.Slots at byte %d, %d bytes: want one whole cache line", f.Offset, f.Type.Size())
	}
}

// TestEndpointHotLines checks that the fields a segment reads or writes of
// its sender fill the endpoint's first four cache lines, that those it reads
// or writes of its peer are all in the first two, and that both endpoints
// start a line: a segment then touches six lines of the endpoints, where
// an endpoint across a line boundary cost it more (BenchmarkTrackerManyConnsHeadersOnly,
// docs/performance.md items 16 and 20).
func TestEndpointHotLines(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the cache-line layout is tuned for 64-bit platforms; pointers take 4 bytes here")
	}

	conn, ep := reflect.TypeFor[Conn](), reflect.TypeFor[Endpoint]()
	for _, name := range []string{"Orig", "Resp"} {
		if f, _ := conn.FieldByName(name); f.Offset%64 != 0 {
			t.Errorf("Conn.%s at byte %d: want it to start a cache line", name, f.Offset)
		}
	}
	if ep.Size()%64 != 0 {
		t.Errorf("Endpoint takes %d bytes: want whole cache lines", ep.Size())
	}
	within := func(lines uintptr, names []string) {
		for _, name := range names {
			f, ok := ep.FieldByName(name)
			if !ok {
				t.Fatalf("no field Endpoint.%s", name)
			}
			if f.Offset+f.Type.Size() > 64*lines {
				t.Errorf("Endpoint.%s at byte %d: want it in the first %d cache lines", name, f.Offset, lines)
			}
		}
	}
	// The peer's: the lookup's address, what ACKs, FINs and RSTs change or
	// compare with (Tracker.update, classify, advanceState, connClosed),
	// the RTT sample's record, the MSS that data is checked against.
	peer := []string{"Addr", "FINTS", "RSTTS", "lastTx", "txN", "FINAckedTS", "afterFIN", "ISN", "nextSeq",
		"lastWin", "ackedUpTo", "lastAck", "lastKind", "dupAckRun", "State", "HasISN", "hasNext", "hasWin",
		"hasAcked", "winScale", "MSS"}
	within(2, peer)
	within(4, append(peer, "Packets", "Bytes", "UniqueBytes", "DataSegments", "Truncated", "FirstTS", "LastTS",
		"LastDataTS", "FirstDataTS", "MaxSegment", "MinWindow", "MaxWindow", "lastSegTS", "hist"))
}

// TestWarmLines checks that the fields Tracker.Warm reads of a connection
// fall on the lines a segment touches, one field a line: the Conn's first,
// second and fourth (not the third, Slots, which the observers write on
// another core), each endpoint's first two, and the sender's third and
// fourth (TestEndpointHotLines). A field moved to another line leaves that
// line to miss again.
func TestWarmLines(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the cache-line layout is tuned for 64-bit platforms; pointers take 4 bytes here")
	}

	conn, ep := reflect.TypeFor[Conn](), reflect.TypeFor[Endpoint]()
	line := func(typ reflect.Type, name string) uintptr {
		f, ok := typ.FieldByName(name)
		if !ok {
			t.Fatalf("no field %s.%s", typ.Name(), name)
		}
		if f.Offset/64 != (f.Offset+f.Type.Size()-1)/64 {
			t.Fatalf("%s.%s straddles two lines", typ.Name(), name)
		}
		return f.Offset / 64
	}
	got := map[uintptr]bool{}
	for _, name := range []string{"Packets", "closedTS", "RTTMin"} {
		got[line(conn, name)] = true
	}
	orig, _ := conn.FieldByName("Orig")
	resp, _ := conn.FieldByName("Resp")
	for _, side := range []reflect.StructField{orig, resp} {
		for _, name := range []string{"FINTS", "txN"} {
			got[side.Offset/64+line(ep, name)] = true
		}
	}
	slots := line(conn, "Slots")
	want := map[uintptr]bool{0: true, 1: true, 3: true}
	for i := range uintptr(2) {
		want[orig.Offset/64+i] = true
		want[resp.Offset/64+i] = true
	}
	if got[slots] || !reflect.DeepEqual(got, want) {
		t.Fatalf("Warm reads lines %v of a Conn, want %v (Slots on line %d)", got, want, slots)
	}
	sender := map[uintptr]bool{}
	for _, name := range []string{"Packets", "FirstDataTS"} {
		sender[line(ep, name)] = true
	}
	if !reflect.DeepEqual(sender, map[uintptr]bool{2: true, 3: true}) {
		t.Fatalf("Warm reads lines %v of the sender's endpoint after the first two, want 2 and 3", sender)
	}
}
