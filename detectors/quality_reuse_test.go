package detectors

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// qualityProbe is capture-quality that also records, per ConnDone, which
// struct the connection was in and its client port (read before the pool
// overwrites it).
type qualityProbe struct {
	*quality
	done []qualityProbeDone
}

type qualityProbeDone struct {
	c    *flows.Conn
	port uint16
}

func (p *qualityProbe) ConnDone(c *flows.Conn) {
	p.done = append(p.done, qualityProbeDone{c, c.Orig.Addr.Port()})
	p.quality.ConnDone(c)
}

// TestQualityForgetsReusedDupConn guards quality.ConnDone forgetting
// lastDupC, the last connection with a packet captured twice: with a
// flows.ConnPool the tracker puts later connections in that connection's
// struct. Connections A (copies), B (healthy) and C (copies) run one after
// the other, B and C in A's struct (checked). B must not be listed as a
// connection with copies (nor be an exemplar), and C's copies must count C
// among the connections with copies (dupConns, which the finding does not
// show): 2, as without reuse. The finding must be the same with and
// without reuse.
func TestQualityForgetsReusedDupConn(t *testing.T) {
	const portA, portB, portC = 40001, 40002, 40003
	var b strings.Builder
	// L lives throughout: its segment after each connection lets the
	// tracker hand that one on (to the pool) before the next one opens.
	b.WriteString("conn L client 10.7.0.9:50000 server 10.7.0.2:80\n" +
		"0.000000 C>S SYN mss=1460 ws=7 sackok\n0.020000 S>C SYN,ACK mss=1460 ws=7 sackok\n0.040000 C>S ACK\n")
	for i, copies := range []bool{true, false, true} {
		t0 := float64(i)
		fmt.Fprintf(&b, "conn c%d client 10.7.0.1:%d server 10.7.0.2:80\n", i, portA+i)
		fmt.Fprintf(&b, "%.6f C>S SYN mss=1460 ws=7 sackok\n", t0)
		fmt.Fprintf(&b, "%.6f S>C SYN,ACK mss=1460 ws=7 sackok\n", t0+0.020)
		fmt.Fprintf(&b, "%.6f C>S ACK\n", t0+0.040)
		fmt.Fprintf(&b, "%.6f C>S PSH,ACK data=\"GET / HTTP/1.1\\r\\n\\r\\n\"\n", t0+0.041)
		for k := range 3 {
			at := t0 + 0.061 + 0.001*float64(k)
			fmt.Fprintf(&b, "%.6f S>C ACK len=1448\n", at)
			if copies { // the same frame again 200 µs later: a mirror port's copy
				fmt.Fprintf(&b, "%.6f S>C ACK retrans\n", at+0.0002)
			}
		}
		fmt.Fprintf(&b, "%.6f C>S ACK\n", t0+0.083)
		fmt.Fprintf(&b, "%.6f S>C FIN,ACK\n", t0+0.100)
		fmt.Fprintf(&b, "%.6f C>S FIN,ACK\n", t0+0.120)
		fmt.Fprintf(&b, "%.6f S>C ACK\n", t0+0.140)
		fmt.Fprintf(&b, "conn L\n%.6f C>S PSH,ACK len=10\n%.6f S>C ACK\n", t0+0.500, t0+0.520)
	}
	path := writeScript(t, "quality-reuse", b.String())

	churn := flows.Config{Linger: 1, MaxConns: 8, MaxHalfOpen: 4}
	analyze := func(reuse bool) (*qualityProbe, Finding) {
		t.Helper()
		var p *qualityProbe
		spec := *qualitySpec()
		spec.New = func(cfg *Config) Detector {
			p = &qualityProbe{quality: newQuality(cfg)}
			return p
		}
		run := runCaptureWith(t, path, nil, runOptions{tracker: churn, reuse: reuse}, &spec)
		if len(p.done) != 4 || p.done[3].port != 50000 {
			t.Fatalf("reuse=%v: %d connections handed on, want A, B, C, then L", reuse, len(p.done))
		}
		if len(run.Findings) != 1 || run.Findings[0].Kind != KindCaptureQuality {
			t.Fatalf("reuse=%v: findings %s, want one capture-quality", reuse, findingsOutline(run.Findings))
		}
		return p, run.Findings[0]
	}
	plain, want := analyze(false)
	reused, got := analyze(true)

	// The premise: with the pool, B and C were put in A's struct.
	for i, d := range reused.done[:3] {
		if d.c != reused.done[0].c || d.port != uint16(portA+i) {
			t.Fatalf("with reuse, connection %d (port %d) is in %p, want port %d in A's struct %p",
				i, d.port, d.c, portA+i, reused.done[0].c)
		}
	}
	if plain.done[0].c == plain.done[1].c {
		t.Fatal("without reuse, A and B share a struct")
	}

	for _, r := range []struct {
		name string
		p    *qualityProbe
		f    Finding
	}{{"without reuse", plain, want}, {"with reuse", reused, got}} {
		var ports []uint16
		for _, ref := range r.f.Flows {
			ports = append(ports, ref.Client.Port())
		}
		if !reflect.DeepEqual(ports, []uint16{portA, portC}) || r.f.FlowCount != 2 {
			t.Errorf("%s: flows %v (count %d), want A and C only: %v", r.name, ports, r.f.FlowCount, []uint16{portA, portC})
		}
		for _, c := range r.f.Exemplars {
			if c.Orig.Addr.Port() == portB {
				t.Errorf("%s: healthy connection B is an exemplar", r.name)
			}
		}
		if r.p.dups != 6 || r.p.dupConns != 2 {
			t.Errorf("%s: %d copies in %d connections, want 6 in 2 (A and C)", r.name, r.p.dups, r.p.dupConns)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("the finding changes when connections are reused:\n got %s\nwant %s",
			findingsOutline([]Finding{got}), findingsOutline([]Finding{want}))
	}
}

// TestQualitySharesRetransDups checks that capture-quality reading
// retransmission-storm's duplicate tracker (retransmission-storm first)
// reports exactly what it reports with a tracker of its own (itself
// first), on the test captures and on a script where a SYN|ACK with SACK
// blocks comes back after the client's data: a hole report that only
// capture-quality's tracker sees, after which a copy of that data is no
// longer one.
func TestQualitySharesRetransDups(t *testing.T) {
	script := "conn a client 10.7.1.1:40000 server 10.7.1.2:80\n" +
		"0.000000 C>S SYN mss=1460 ws=7 sackok\n0.020000 S>C SYN,ACK mss=1460 ws=7 sackok\n0.040000 C>S ACK\n" +
		"0.050000 C>S PSH,ACK len=100\n" +
		"0.050200 S>C SYN,ACK sack=1-2\n" + // hostile: a SYN|ACK reporting a hole
		"0.050400 C>S PSH,ACK retrans\n" + // within the copy window, after the hole report
		"0.060000 S>C ACK len=1448\n0.060200 S>C ACK retrans\n" + // a mirror's copy
		"0.080000 C>S ACK\n0.100000 S>C FIN,ACK\n0.120000 C>S FIN,ACK\n0.140000 S>C ACK\n"
	paths, _ := filepath.Glob("../testdata/captures/*.pcap*")
	paths = append(paths, writeScript(t, "quality-syn-sack", script))
	if e := NewEngine(&Config{}, []*Spec{retransSpec(), qualitySpec()}); e.dupsTo == nil {
		t.Fatal("capture-quality after retransmission-storm does not share its tracker")
	}
	if e := NewEngine(&Config{}, []*Spec{qualitySpec(), retransSpec()}); e.dupsTo != nil {
		t.Fatal("capture-quality before retransmission-storm shares its tracker")
	}
	for _, path := range paths {
		if r, err := decode.Open(path, decode.ReaderOptions{}); err != nil {
			continue // the unreadable test captures
		} else {
			r.Close()
		}
		shared := runCapture(t, path, nil, false, retransSpec(), qualitySpec()).Findings
		own := runCapture(t, path, nil, false, qualitySpec(), retransSpec()).Findings
		if !reflect.DeepEqual(shared, own) {
			t.Errorf("%s: findings differ with the shared tracker:\n%+v\nwant\n%+v", path, shared, own)
		}
		if path != paths[len(paths)-1] {
			continue
		}
		// The script: the server's copy is one; the client's resend, after
		// the hole report, is not.
		var expl string
		for _, f := range own {
			if f.Kind == KindCaptureQuality {
				expl = f.Explanation
			}
		}
		if !strings.Contains(expl, "1 of 3 segments that look like retransmissions came within half a round trip") {
			t.Errorf("the script's capture-quality finding: %q", expl)
		}
	}
}

// TestQualityKeepsOwnTrackersWhenRetransFails checks that when
// retransmission-storm is disabled (it panicked), capture-quality stops
// reading its tracker and keeps trackers of its own from then on, while a
// failure of another detector leaves the link alone.
func TestQualityKeepsOwnTrackersWhenRetransFails(t *testing.T) {
	e := NewEngine(&Config{}, []*Spec{retransSpec(), tsoSpec(), qualitySpec()})
	q := e.dupsTo
	if q == nil || q.rs == nil {
		t.Fatal("capture-quality does not share retransmission-storm's tracker")
	}
	e.disable(1, "boom") // tso-super-segments
	if q.rs == nil {
		t.Fatal("another detector's failure cut capture-quality off retransmission-storm's tracker")
	}
	e.disable(e.dupsFrom, "boom")
	if q.rs != nil {
		t.Fatal("capture-quality still reads the tracker of a failed retransmission-storm")
	}
}
