package render

import (
	"bytes"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/detectors"
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
