package flows

import (
	"math/rand"
	"net/netip"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

func tableConn(a, b netip.AddrPort) *Conn {
	c := &Conn{}
	c.Orig.Addr, c.Resp.Addr = a, b
	return c
}

func TestConnTableSymmetricAndFamilyAware(t *testing.T) {
	v4 := netip.MustParseAddrPort("10.0.0.1:80")
	mapped := netip.MustParseAddrPort("[::ffff:10.0.0.1]:80")
	v6 := netip.MustParseAddrPort("[fd00::1]:443")
	other := netip.MustParseAddrPort("10.0.0.2:40000")
	tab := newConnTable()
	for _, pair := range [][2]netip.AddrPort{{v4, other}, {v4, v6}, {mapped, v4}, {v6, mapped}, {v4, v4}} {
		if tab.hash(pair[0], pair[1]) != tab.hash(pair[1], pair[0]) {
			t.Errorf("hash of %v-%v depends on the direction", pair[0], pair[1])
		}
		if tab.get(pair[0], pair[1]) != nil {
			t.Fatalf("%v-%v found before it was added", pair[0], pair[1])
		}
		want := tableConn(pair[0], pair[1])
		tab.put(want)
		if got := tab.get(pair[1], pair[0]); got != want {
			t.Errorf("%v-%v not found the other way round", pair[0], pair[1])
		}
	}
	if tab.get(mapped, other) != nil {
		t.Error("IPv4-mapped IPv6 endpoint found the IPv4 endpoint's connection")
	}
}

// TestConnTableAgainstMap drives the table and a Go map with the same random
// puts, gets and removes, with a tiny port range so that probe runs are long
// and deletions shift entries across the table's wrap-around.
func TestConnTableAgainstMap(t *testing.T) {
	r := rand.New(rand.NewSource(3))
	tab := newConnTable()
	model := map[[2]netip.AddrPort]*Conn{}
	key := func(a, b netip.AddrPort) [2]netip.AddrPort {
		if b.Compare(a) < 0 {
			a, b = b, a
		}
		return [2]netip.AddrPort{a, b}
	}
	ep := func() netip.AddrPort {
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 0, 0, byte(r.Intn(40))}), uint16(r.Intn(60)))
	}
	for i := 0; i < 200000; i++ {
		a, b := ep(), ep()
		got := tab.get(a, b)
		if want := model[key(a, b)]; got != want {
			t.Fatalf("step %d: get(%v, %v) = %p, want %p", i, a, b, got, want)
		}
		// Without a collision of whole hashes, Warm's hint is the same.
		if h := tab.hash(a, b); tab.hinted(h) != got {
			t.Fatalf("step %d: hinted(%v, %v) = %p, want %p", i, a, b, tab.hinted(h), got)
		}
		switch {
		case got == nil && r.Intn(3) > 0:
			c := tableConn(a, b)
			tab.put(c)
			model[key(a, b)] = c
		case got != nil && r.Intn(2) == 0:
			if !tab.remove(got) {
				t.Fatalf("step %d: remove(%v-%v) found nothing", i, a, b)
			}
			delete(model, key(a, b))
			if tab.remove(got) {
				t.Fatalf("step %d: removed %v-%v twice", i, a, b)
			}
		}
		if tab.n != len(model) {
			t.Fatalf("step %d: %d entries, want %d", i, tab.n, len(model))
		}
	}
	for k, c := range model {
		if !tab.holds(c) {
			t.Errorf("%v lost", k)
		}
	}
	if len(model) < 100 {
		t.Fatalf("only %d connections at the end: the test did not fill the table", len(model))
	}
	tab.reset()
	if tab.get(netip.AddrPort{}, netip.AddrPort{}) != nil || tab.n != 0 {
		t.Error("reset kept entries")
	}
}

func BenchmarkConnTableGet(b *testing.B) {
	tab := newConnTable()
	eps := make([][2]netip.AddrPort, 50000)
	for i := range eps {
		eps[i][0] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(30000+i%20000))
		eps[i][1] = netip.MustParseAddrPort("10.2.0.1:8080")
		tab.put(tableConn(eps[i][0], eps[i][1]))
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		e := &eps[i%len(eps)]
		if tab.get(e[1], e[0]) == nil {
			b.Fatal("missing")
		}
	}
}

// TestAddKeyed checks that a key computed by the tracker's keyer finds the
// same connections as Add, and that a key from another tracker's keyer, or
// the zero Key, is not trusted.
func TestAddKeyed(t *testing.T) {
	a1, a2 := netip.MustParseAddrPort("10.0.0.1:40000"), netip.MustParseAddrPort("10.0.0.1:40001")
	srv, srv6 := netip.MustParseAddrPort("10.0.0.2:80"), netip.MustParseAddrPort("[fd00::2]:80")
	c6 := netip.MustParseAddrPort("[fd00::1]:40000")
	pairs := [][2]netip.AddrPort{{a1, srv}, {a2, srv}, {c6, srv6}}
	var pkts []decode.Packet
	for i := range 30 {
		pr := pairs[i%len(pairs)]
		p := decode.Packet{Frame: int64(i + 1), TS: int64(i+1) * 1e6, Src: pr[0], Dst: pr[1],
			Flags: decode.FlagACK, Seq: uint32(1000 + i), Ack: 5000}
		if i/len(pairs)%2 == 1 { // the other way
			p.Src, p.Dst, p.Seq, p.Ack = p.Dst, p.Src, 5000, uint32(1000+i)
		}
		pkts = append(pkts, p)
	}
	run := func(add func(tr *Tracker, p *decode.Packet)) *recorder {
		tr, r := newTestTracker(Config{})
		for i := range pkts {
			p := pkts[i]
			add(tr, &p)
		}
		tr.Flush()
		return r
	}
	other := NewTracker(Config{}, &recorder{}).Keyer()
	want := run(func(tr *Tracker, p *decode.Packet) { tr.Add(p) })
	if len(want.done) != len(pairs) {
		t.Fatalf("Add: %d connections, want %d", len(want.done), len(pairs))
	}
	for name, add := range map[string]func(tr *Tracker, p *decode.Packet){
		"own keyer": func(tr *Tracker, p *decode.Packet) {
			k := tr.Keyer()
			key := k.Key(p)
			if key.h != tr.table.hash(p.Src, p.Dst) {
				t.Fatalf("the keyer's key %#x is not the table's hash", key.h)
			}
			tr.AddKeyed(p, key)
		},
		"other tracker's keyer": func(tr *Tracker, p *decode.Packet) { tr.AddKeyed(p, other.Key(p)) },
		"zero key":              func(tr *Tracker, p *decode.Packet) { tr.AddKeyed(p, Key{}) },
	} {
		got := run(add)
		if len(got.done) != len(want.done) {
			t.Fatalf("%s: %d connections, want %d", name, len(got.done), len(want.done))
		}
		for i, c := range got.done {
			if w := want.done[i]; c.Orig.Addr != w.Orig.Addr || c.Resp.Addr != w.Resp.Addr || c.Packets != w.Packets {
				t.Fatalf("%s: connection %d is %v→%v with %d packets, want %v→%v with %d", name, i,
					c.Orig.Addr, c.Resp.Addr, c.Packets, w.Orig.Addr, w.Resp.Addr, w.Packets)
			}
		}
	}
}
