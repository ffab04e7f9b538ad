package detectors

import (
	"reflect"
	"testing"
	"unsafe"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// TestConnStatesReuse checks fresh and release: a released state comes back
// zeroed from the next fresh, at most stateFree are kept, releasing nil
// does nothing, and under Config.noStateReuse none is kept.
func TestConnStatesReuse(t *testing.T) {
	s := newConnStates[rsConn](&Config{})
	a := s.fresh()
	if a == nil || *a != (rsConn{}) {
		t.Fatalf("fresh on an empty list: %+v, want a new zero state", a)
	}
	a.pair = &rsPair{}
	a.n.data, a.d[1].maxEnd, a.dups[0].seq = 7, 9, 11
	s.release(a)
	s.release(nil)
	if b := s.fresh(); b != a || *b != (rsConn{}) {
		t.Fatalf("fresh after release: %p %+v, want the released %p, zeroed", b, b, a)
	}
	if c := s.fresh(); c == a {
		t.Fatal("fresh handed out the same state twice")
	}
	for range stateFree + 10 {
		s.release(new(rsConn))
	}
	if len(s.free) != stateFree {
		t.Fatalf("%d states kept, want at most %d", len(s.free), stateFree)
	}
	never := newConnStates[rsConn](&Config{noStateReuse: true})
	never.release(never.fresh())
	if len(never.free) != 0 {
		t.Fatal("a state was kept for reuse under noStateReuse")
	}
}

// TestRsConnFirstLine checks that what retransmission-storm reads of a
// connection on most segments, the flags and maxEnd of both directions, is
// in the first cache line of its state, which warmSlots loads, and that the
// state stays in a size class whose objects start a line.
func TestRsConnFirstLine(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the cache-line layout is tuned for 64-bit platforms; pointers take 4 bytes here")
	}

	conn, dir := reflect.TypeFor[rsConn](), reflect.TypeFor[rsDir]()
	if size := conn.Size(); size%64 != 0 {
		t.Fatalf("rsConn takes %d bytes: want whole cache lines (a size class whose objects start a line)", size)
	}
	d, _ := conn.FieldByName("d")
	for i := range uintptr(2) {
		for _, name := range []string{"sent", "resent", "retxOpen", "tsWait", "maxEnd"} {
			f, _ := dir.FieldByName(name)
			if end := d.Offset + i*dir.Size() + f.Offset + f.Type.Size(); end > 64 {
				t.Errorf("rsConn.d[%d].%s ends at byte %d: want it in the first line", i, name, end)
			}
		}
	}
}

// TestSlotOf checks that slotOf returns each slot (its switch must have a
// case for every one of flows.MaxSlots).
func TestSlotOf(t *testing.T) {
	var c flows.Conn
	states := make([]rsConn, flows.MaxSlots)
	for i := range c.Slots {
		c.Slots[i] = &states[i]
	}
	for i := range c.Slots {
		if got, _ := slotOf(&c, i).(*rsConn); got != &states[i] {
			t.Errorf("slotOf(c, %d) is not c.Slots[%d]", i, i)
		}
	}
}
