package detectors

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// oneDetector feeds one detector from a tracker and records the largest
// table (of host pairs, links) it held after a connection ended.
type oneDetector struct {
	d        SegmentDetector
	size     func() int
	maxTable int
}

func (o *oneDetector) Segment(c *flows.Conn, s *flows.Segment) { o.d.Segment(c, s) }
func (o *oneDetector) Done(c *flows.Conn) {
	o.d.ConnDone(c)
	o.maxTable = max(o.maxTable, o.size())
}

// foldTraffic runs n short connections through o, each from its own client
// host (its own host pair): every tenth loses its last eight segments and
// resends them after an RTO, and sends one 4,000-byte super-segment. Two
// connections run at a time, so folding meets pairs with a connection
// still open. It returns the capture's Env.
func foldTraffic(n int, o *oneDetector) *Env {
	tr := flows.NewTracker(flows.DefaultConfig(), o)
	srv := netip.MustParseAddrPort("10.0.0.2:80")
	ts, frame := int64(1_700_000_000e9), int64(0)
	send := func(src, dst netip.AddrPort, fl decode.TCPFlags, seq, ack uint32, size int) {
		frame++
		p := &decode.Packet{Frame: frame, TS: ts, Src: src, Dst: dst, Flags: fl, Seq: seq, Ack: ack, Window: 65535, PayloadLen: size}
		p.Opts.WScale = -1
		if fl.Has(decode.FlagSYN) {
			p.Opts.MSS = 1460
		}
		tr.Add(p)
	}
	type conn struct {
		cli      netip.AddrPort
		cs, ss   uint32
		lossy    bool
		finished bool
	}
	open := func(i int) *conn {
		c := &conn{cli: netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 2, byte(i >> 8), byte(i)}), 40000), cs: 1000, ss: 5000, lossy: i%10 == 0}
		send(c.cli, srv, decode.FlagSYN, c.cs, 0, 0)
		ts += 1e6
		send(srv, c.cli, decode.FlagSYN|decode.FlagACK, c.ss, c.cs+1, 0)
		ts += 1e6
		c.cs++
		c.ss++
		send(c.cli, srv, decode.FlagACK, c.cs, c.ss, 0)
		return c
	}
	data := func(c *conn) {
		for k := 0; k < 20; k++ {
			ts += 1e6
			size := 1000
			if c.lossy && k == 3 {
				size = 4000
			}
			send(srv, c.cli, decode.FlagACK, c.ss, c.cs, size)
			c.ss += uint32(size)
			if !c.lossy || k < 12 {
				send(c.cli, srv, decode.FlagACK, c.cs, c.ss, 0)
			}
		}
		if c.lossy {
			ts += 300e6
			for k := 8; k > 0; k-- {
				send(srv, c.cli, decode.FlagACK, c.ss-uint32(k*1000), c.cs, 1000)
				ts += 1e6
			}
			send(c.cli, srv, decode.FlagACK, c.cs, c.ss, 0)
		}
	}
	closeConn := func(c *conn) {
		ts += 1e6
		send(c.cli, srv, decode.FlagFIN|decode.FlagACK, c.cs, c.ss, 0)
		send(srv, c.cli, decode.FlagFIN|decode.FlagACK, c.ss, c.cs+1, 0)
		send(c.cli, srv, decode.FlagACK, c.cs+1, c.ss+1, 0)
	}
	var prev *conn
	for i := 0; i < n; i++ {
		c := open(i)
		if prev != nil {
			closeConn(prev)
		}
		data(c)
		prev = c
		ts += 2e9 // past the tracker's linger, so closed connections are done
	}
	closeConn(prev)
	tr.Flush()
	return &Env{Start: 1_700_000_000e9, End: ts, Packets: frame}
}

// foldCapture runs foldTraffic through a retrans detector with the given
// pair cap.
func foldCapture(t *testing.T, n, pairCap int) (*oneDetector, []Finding) {
	t.Helper()
	cfg := DefaultConfig()
	d := newRetrans(&cfg)
	d.pairCap, d.nextFold = pairCap, pairCap
	o := &oneDetector{d: d, size: func() int { return len(d.pairs) }}
	env := foldTraffic(n, o)
	return o, d.Finish(env)
}

func TestRetransPairTableIsBounded(t *testing.T) {
	const n = 300
	free, want := foldCapture(t, n, 1<<30)
	if free.d.(*retrans).foldedPairs != 0 || free.maxTable < n-1 {
		t.Fatalf("unbounded run: %d pairs folded, at most %d held", free.d.(*retrans).foldedPairs, free.maxTable)
	}
	if len(want) < n/10/2 {
		t.Fatalf("the lossy pairs made %d findings, want most of %d", len(want), n/10)
	}
	const pairCap = 16
	bounded, got := foldCapture(t, n, pairCap)
	// The lossy pairs stay; the rest is folded to half the cap, and the
	// table may then double before the next fold.
	if lossy := n / 10; bounded.maxTable > 2*(pairCap/2+lossy) {
		t.Errorf("the pair table grew to %d with a cap of %d and %d lossy pairs", bounded.maxTable, pairCap, lossy)
	}
	if bounded.d.(*retrans).foldedPairs < n/2 {
		t.Errorf("only %d pairs folded", bounded.d.(*retrans).foldedPairs)
	}
	// The totals, the baseline of every pair's rate, are the same.
	total := func(d *retrans) rsCounts {
		tot := d.folded
		for _, pr := range d.pairs {
			tot.add(pr.counts)
		}
		return tot
	}
	if a, b := total(free.d.(*retrans)), total(bounded.d.(*retrans)); a != b {
		t.Errorf("totals differ: %+v unbounded, %+v bounded", a, b)
	}
	// Every lossy pair keeps its finding, with a caveat saying why it may
	// not be alone.
	if len(got) != len(want) {
		t.Fatalf("%d findings bounded, %d unbounded", len(got), len(want))
	}
	for i := range got {
		if got[i].Caveat == "" {
			t.Errorf("finding %d has no caveat about the folded pairs", i)
		}
		got[i].Caveat = want[i].Caveat
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("finding %d differs:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

func TestTSOLinkTableIsBounded(t *testing.T) {
	const n, linkCap = 300, 16
	run := func(linkCap int) (*tso, *oneDetector, []Finding) {
		cfg := DefaultConfig()
		d := newTSO(&cfg)
		d.linkCap, d.nextFold = linkCap, linkCap
		o := &oneDetector{d: d, size: func() int { return len(d.links) }}
		env := foldTraffic(n, o)
		return d, o, d.Finish(env)
	}
	free, freeRun, want := run(1 << 30)
	if free.foldedLinks != 0 || freeRun.maxTable < n {
		t.Fatalf("unbounded run: %d links folded, at most %d held", free.foldedLinks, freeRun.maxTable)
	}
	if len(want) < n/10/2 {
		t.Fatalf("the super-segments made %d findings, want most of %d", len(want), n/10)
	}
	bounded, boundedRun, got := run(linkCap)
	// The links with super-segments stay, the rest is folded to half the
	// cap.
	if super := n / 10; boundedRun.maxTable > 2*(linkCap/2+super) {
		t.Errorf("the link table grew to %d with a cap of %d and %d links with super-segments", boundedRun.maxTable, linkCap, super)
	}
	if bounded.foldedLinks < n/2 {
		t.Errorf("only %d links folded", bounded.foldedLinks)
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings bounded, %d unbounded", len(got), len(want))
	}
	for i := range got {
		if !strings.Contains(got[i].Caveat, "dropped") {
			t.Errorf("finding %d has no caveat about the dropped links: %q", i, got[i].Caveat)
		}
		got[i].Caveat = want[i].Caveat
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("finding %d differs:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
}

// listenerTraffic runs a port scan through o (one client probing n ports of
// one host, each refused), interleaved with n successful connections to n
// other listeners, and one listener whose SYNs go unanswered five times.
func listenerTraffic(n int, o *oneDetector) *Env {
	tr := flows.NewTracker(flows.DefaultConfig(), o)
	ts, frame := int64(1_700_000_000e9), int64(0)
	send := func(src, dst netip.AddrPort, fl decode.TCPFlags, seq, ack uint32) {
		frame++
		p := &decode.Packet{Frame: frame, TS: ts, Src: src, Dst: dst, Flags: fl, Seq: seq, Ack: ack, Window: 65535}
		p.Opts.WScale = -1
		tr.Add(p)
		ts += 1e6
	}
	scanner := netip.MustParseAddrPort("10.9.0.1:50000")
	silent := netip.MustParseAddrPort("10.0.2.1:443")
	for i := 0; i < n; i++ {
		// A probe, refused.
		port := netip.AddrPortFrom(netip.MustParseAddr("10.0.0.5"), uint16(1+i))
		send(scanner, port, decode.FlagSYN, 100, 0)
		send(port, scanner, decode.FlagRST|decode.FlagACK, 0, 101)
		// A connection that works, to a listener of its own.
		cli := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 3, byte(i >> 8), byte(i)}), 40000)
		srv := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), 80)
		send(cli, srv, decode.FlagSYN, 1000, 0)
		send(srv, cli, decode.FlagSYN|decode.FlagACK, 5000, 1001)
		send(cli, srv, decode.FlagACK, 1001, 5001)
		send(cli, srv, decode.FlagFIN|decode.FlagACK, 1001, 5001)
		send(srv, cli, decode.FlagFIN|decode.FlagACK, 5001, 1002)
		send(cli, srv, decode.FlagACK, 1002, 5002)
		if i%(n/5) == 0 {
			// Unanswered SYNs, sent three times.
			c := netip.AddrPortFrom(netip.MustParseAddr("10.4.0.1"), uint16(30000+i))
			for k := 0; k < 3; k++ {
				send(c, silent, decode.FlagSYN, 7000, 0)
				ts += 1e9
			}
		}
		ts += 100e6
	}
	ts += 60e9
	tr.Flush()
	return &Env{Start: 1_700_000_000e9, End: ts, Packets: frame}
}

func TestHandshakeListenerTableIsBounded(t *testing.T) {
	const n, listenerCap = 600, 64
	run := func(listenerCap int) (*handshake, *oneDetector, []Finding) {
		cfg := DefaultConfig()
		d := newHandshake(&cfg)
		d.listenerCap, d.nextFold = listenerCap, listenerCap
		o := &oneDetector{d: d, size: func() int { return len(d.listeners) }}
		env := listenerTraffic(n, o)
		return d, o, d.Finish(env)
	}
	free, freeRun, want := run(1 << 30)
	if free.foldedQuiet+free.scanFolded != 0 || freeRun.maxTable < 2*n {
		t.Fatalf("unbounded run: %d+%d listeners folded, at most %d held", free.foldedQuiet, free.scanFolded, freeRun.maxTable)
	}
	if len(want) != 2 {
		t.Fatalf("unbounded run: %d findings, want the scan and the silent listener: %+v", len(want), want)
	}
	bounded, boundedRun, got := run(listenerCap)
	if boundedRun.maxTable > listenerCap {
		t.Errorf("the listener table grew to %d with a cap of %d", boundedRun.maxTable, listenerCap)
	}
	if bounded.foldedQuiet < n/2 || bounded.scanFolded < n/2 {
		t.Errorf("only %d quiet and %d scan listeners folded", bounded.foldedQuiet, bounded.scanFolded)
	}
	if len(got) != len(want) {
		t.Fatalf("%d findings bounded, %d unbounded", len(got), len(want))
	}
	for i := range got {
		if !strings.Contains(got[i].Caveat, "more listeners than this detector keeps") || !strings.Contains(got[i].Caveat, "port scans were folded") {
			t.Errorf("finding %d has no caveat about the folded listeners: %q", i, got[i].Caveat)
		}
		got[i].Caveat = want[i].Caveat
		if !reflect.DeepEqual(got[i], want[i]) {
			t.Errorf("finding %d differs:\n got %+v\nwant %+v", i, got[i], want[i])
		}
	}
	// What both runs say is right: the scan lists every probe, the silent
	// listener its five connections.
	for _, f := range want {
		switch f.Subject {
		case "10.0.0.5":
			if f.FlowCount != n || len(f.Flows) != n || len(f.Exemplars) != 3 || !strings.Contains(f.Title, fmt.Sprintf("attempts to %d ports failed (0 unanswered, %d refused, from 1 client)", n, n)) {
				t.Errorf("scan: %q, %d flows (%d listed), %d exemplars", f.Title, f.FlowCount, len(f.Flows), len(f.Exemplars))
			}
		case "10.0.2.1:443":
			if f.FlowCount != 5 || len(f.Flows) != 5 {
				t.Errorf("silent listener: %q, %d flows (%d listed)", f.Title, f.FlowCount, len(f.Flows))
			}
		default:
			t.Errorf("unexpected finding %q", f.Title)
		}
	}
}
