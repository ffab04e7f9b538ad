package render

import (
	"bytes"
	"fmt"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// maxReportBytes is the bound the issue sets for a capture of 100,000
// connections.
const maxReportBytes = 15 << 20

// floodReport is a report of n connections, as a SYN flood or a busy
// load balancer produces: many clients, a few listeners, long histories
// and application names that repeat, and one finding naming them all.
func floodReport(t testing.TB, n int) *Report {
	t.Helper()
	base := time.Unix(1700000000, 0).UTC()
	conns := make(memConns, n)
	states := []string{"ESTABLISHED", "CLOSE_WAIT", "TIME_WAIT", "FIN_WAIT_2", "CLOSED", "SYN_SENT"}
	flowRefs := make([]detectors.FlowRef, 0, 10000)
	for i := range conns {
		id := int64(i + 1)
		client := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)}), uint16(32768+i%28000))
		server := netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 200, 0, byte(i % 4)}), 443)
		rtt := 0.25 + float64(i%100)/100
		c := ConnSummary{
			ID: id, Client: client.String(), Server: server.String(), DirectionFrom: "syn",
			Packets: int64(5 + i%40), Retransmissions: int64(i % 7 / 5),
			ClientState: states[i%len(states)], ServerState: states[(i/3)%len(states)],
			Start:     base.Add(time.Duration(i) * 3 * time.Millisecond).Format(time.RFC3339Nano),
			DurationS: float64(i%900) / 10, ClientBytes: int64(i % 5000), ServerBytes: int64(i % 90000),
			HandshakeRTTMS: &rtt, History: []string{"ShADadFf", "ShADadf", "ShAFf", "ShADadR"}[i%4],
			End: "closed", TLSSNI: fmt.Sprintf("api-%d.example.com", i%50), TLSVersion: "TLS 1.3",
		}
		if i%3 == 0 {
			c.Findings = []string{"close-wait-leak"}
			if len(flowRefs) < cap(flowRefs) {
				flowRefs = append(flowRefs, detectors.FlowRef{ID: id, Client: client, Server: server})
			}
		}
		conns[i] = c
	}
	r := &Report{
		Tool:     Tool{Name: "pcapsleuth", Version: "test"},
		Captures: []Capture{{Path: "flood.pcap", Format: "pcap", Packets: int64(n) * 20, TCPPackets: int64(n) * 20, FirstTS: base.UnixNano(), LastTS: base.Add(time.Duration(n) * 3 * time.Millisecond).UnixNano()}},
		Findings: []detectors.Finding{{
			Kind: detectors.KindCloseWaitLeak, Severity: detectors.Critical,
			Title: fmt.Sprintf("%d server sockets left in CLOSE_WAIT", n/3), Explanation: "The application never closes them.",
			Flows: flowRefs, FlowCount: (n + 2) / 3,
		}},
		Conns:   conns,
		Summary: Summary{Connections: int64(n)},
	}
	return r
}

type countingWriter struct{ n int64 }

func (w *countingWriter) Write(p []byte) (int, error) { w.n += int64(len(p)); return len(p), nil }

func TestHTMLSizeBounded(t *testing.T) {
	n := 100_000
	if testing.Short() {
		n = 20_000
	}
	r := floodReport(t, n)
	start := time.Now()
	var cw countingWriter
	if err := WriteHTML(&cw, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d connections: %.1f MB in %v", n, float64(cw.n)/(1<<20), time.Since(start).Round(time.Millisecond))
	if cw.n > maxReportBytes {
		t.Errorf("report of %d connections is %d bytes, want < %d", n, cw.n, maxReportBytes)
	}
	// The table embeds every connection, one compact array each.
	var buf bytes.Buffer
	if err := WriteHTML(&buf, floodReport(t, 1000)); err != nil {
		t.Fatal(err)
	}
	if c := bytes.Count(buf.Bytes(), []byte(`"close-wait-leak"`)); c > 3 {
		t.Errorf("the detector name is repeated %d times: rows are not interned", c)
	}
}

// longConnScript is one connection of 600 packets with retransmissions
// throughout, so its packet log is as long as the tracker keeps.
func longConnScript() string {
	var b strings.Builder
	b.WriteString("0.000 C>S SYN mss=1460 ws=7\n0.001 S>C SYN,ACK mss=1460 ws=7\n0.002 C>S ACK\n")
	t := 0.01
	for i := 0; i < 200; i++ {
		fmt.Fprintf(&b, "%.4f S>C ACK len=1460\n", t)
		if i%3 == 0 {
			fmt.Fprintf(&b, "%.4f S>C ACK len=1460 retrans\n", t+0.2)
		}
		fmt.Fprintf(&b, "%.4f C>S ACK\n", t+0.21)
		t += 0.3
	}
	return b.String()
}

// TestHTMLBoundedFindings floods the report with findings, each with the
// longest ladders and big charts, on top of 100,000 connections: the page
// must stay under the bound.
func TestHTMLBoundedFindings(t *testing.T) {
	n, nf := 100_000, 3000
	if testing.Short() {
		n, nf = 20_000, 600
	}
	a := analyze(t, "long", longConnScript())
	long := a.conns[0]
	if len(long.Log) < 100 {
		t.Fatalf("log of %d packets, want a long one", len(long.Log))
	}
	r := floodReport(t, n)
	var pts []detectors.Point
	for i := 0; i < 10000; i++ {
		pts = append(pts, detectors.Point{X: float64(i), Y: float64(i % 17), Label: "a label of some length"})
	}
	base := r.Findings[0]
	for i := 0; i < nf; i++ {
		f := base
		f.Title = fmt.Sprintf("finding %d: %s", i, strings.Repeat("words ", 30))
		f.Explanation = strings.Repeat("A long explanation. ", 1000)
		f.Exemplars = []*flows.Conn{long, long, long}
		f.Charts = []detectors.Chart{{ID: "c", Title: fmt.Sprintf("chart %d", i), Type: detectors.ChartScatter,
			Series: []detectors.Series{{Name: "s", Points: pts}}}}
		r.Findings = append(r.Findings, f)
	}
	var cw countingWriter
	start := time.Now()
	if err := WriteHTML(&cw, r); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d connections, %d findings: %.1f MB in %v", n, nf, float64(cw.n)/(1<<20), time.Since(start).Round(time.Millisecond))
	if cw.n > maxReportBytes {
		t.Errorf("report is %d bytes, want < %d", cw.n, maxReportBytes)
	}
	var md, txt countingWriter
	if err := WriteMarkdown(&md, r); err != nil {
		t.Fatal(err)
	}
	if err := WriteText(&txt, r); err != nil {
		t.Fatal(err)
	}
	if md.n > 200<<10 || txt.n > 200<<10 {
		t.Errorf("markdown %d bytes, text %d bytes: want both under 200 KB", md.n, txt.n)
	}
}
