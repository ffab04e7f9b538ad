package detectors

import (
	"net/netip"
	"reflect"
	"testing"
)

func TestRefPackRoundTrip(t *testing.T) {
	refs := []FlowRef{
		{ID: 7, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:443")},
		{ID: 3, Client: netip.MustParseAddrPort("[2001:db8::1]:1"), Server: netip.MustParseAddrPort("[::ffff:10.1.2.3]:80")},
		{ID: 1 << 40, Client: netip.AddrPort{}, Server: netip.MustParseAddrPort("0.0.0.0:0")},
		{ID: -5},
	}
	var p refPack
	for _, r := range refs {
		p.add(r)
	}
	if p.len() != len(refs) {
		t.Fatalf("len %d, want %d", p.len(), len(refs))
	}
	if got := p.all(); !reflect.DeepEqual(got, refs) {
		t.Errorf("round trip:\n got %v\nwant %v", got, refs)
	}
	if per := len(refPackOf(refs[:1]).b); per > 20 {
		t.Errorf("an IPv4 reference takes %d bytes", per)
	}
}

func TestRefPackDropsZone(t *testing.T) {
	zoned := netip.AddrPortFrom(netip.MustParseAddr("fe80::1").WithZone("eth0"), 22)
	got := refPackOf([]FlowRef{{ID: 1, Client: zoned}}).all()
	if len(got) != 1 || got[0].Client != netip.MustParseAddrPort("[fe80::1]:22") {
		t.Errorf("got %v", got)
	}
}

func TestFlowListKeepsFirstMax(t *testing.T) {
	l := NewFlowList(2)
	for _, id := range []int64{9, 4, 6} {
		l.addRef(FlowRef{ID: id, Client: netip.MustParseAddrPort("10.0.0.1:1")})
	}
	if l.Count() != 3 || l.kept() != 2 {
		t.Fatalf("count %d kept %d", l.Count(), l.kept())
	}
	if got := l.Refs(); len(got) != 2 || got[0].ID != 4 || got[1].ID != 9 {
		t.Errorf("refs %v, want IDs 4 and 9 in ID order", got)
	}
}

func refPackOf(refs []FlowRef) *refPack {
	var p refPack
	for _, r := range refs {
		p.add(r)
	}
	return &p
}

func TestRefTabReadsEachAlone(t *testing.T) {
	refs := []FlowRef{
		{ID: 7, Client: netip.MustParseAddrPort("10.0.0.1:40000"), Server: netip.MustParseAddrPort("10.0.0.2:443")},
		{ID: 3, Client: netip.MustParseAddrPort("[2001:db8::1]:1"), Server: netip.MustParseAddrPort("[::ffff:10.1.2.3]:80")},
		{ID: 1 << 40, Server: netip.MustParseAddrPort("0.0.0.0:0")},
		{ID: -5},
	}
	var tab refTab
	offs := make([]uint32, len(refs))
	for i, r := range refs {
		if !tab.room() {
			t.Fatal("no room in an empty table")
		}
		offs[i] = tab.put(r)
	}
	// Out of order, and one twice: every reference stands alone.
	for _, i := range []int{2, 0, 3, 1, 2} {
		if got := tab.at(offs[i]); got != refs[i] {
			t.Errorf("at(%d) = %v, want %v", offs[i], got, refs[i])
		}
	}
	if got := tab.at(uint32(len(tab.b))); got != (FlowRef{}) {
		t.Errorf("an offset past the end gave %v", got)
	}
	if per := offs[1] - offs[0]; per > 20 {
		t.Errorf("an IPv4 reference takes %d bytes", per)
	}
}
