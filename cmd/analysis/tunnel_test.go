package analysis

import (
	"net/netip"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// TestRecordedTunnels analyzes real-tunnels.pcap (testdata/record/record.sh
// tunnels): HTTP over the kernel's tunnel devices, captured on the underlay,
// where every TCP segment is inside a tunnel. The recording machine's kernel
// had VXLAN and no Geneve or ERSPAN devices (the decoder's tests cover
// those), so the file holds one connection in VXLAN on port 4789 (inner
// 10.98.1.0/24) and one in VXLAN on Linux's port 8472 (10.98.5.0/24); a
// recording on a kernel with more tunnel types adds theirs to want. Each
// connection must come out whole, with the tunnel's inner addresses, its two
// requests and no finding.
func TestRecordedTunnels(t *testing.T) {
	rep := analyzeFile(t, "../../testdata/captures/real-tunnels.pcap")
	if len(rep.Findings) != 0 {
		t.Errorf("findings on healthy traffic: %v", rep.Findings)
	}
	if c := rep.Captures[0]; !reflect.DeepEqual(c.Decode.Tunneled, map[string]int64{"VXLAN": c.TCPPackets}) {
		t.Errorf("tunneled %v, want all %d TCP segments in VXLAN", c.Decode.Tunneled, c.TCPPackets)
	}
	want := map[string]bool{"10.98.1.0/24": true, "10.98.5.0/24": true}
	got := map[string]bool{}
	err := rep.Conns.Each(func(c *render.ConnSummary) error {
		cl, sv := netip.MustParseAddrPort(c.Client), netip.MustParseAddrPort(c.Server)
		inner, _ := cl.Addr().Prefix(24)
		if !inner.Contains(sv.Addr()) || sv.Port() != 8090 {
			t.Errorf("connection %d: %s -> %s, want the tunnel's inner addresses", c.ID, c.Client, c.Server)
		}
		got[inner.String()] = true
		if c.DirectionFrom != "syn" || !strings.HasPrefix(c.History, "Sh") || !strings.ContainsAny(c.History, "Ff") ||
			!strings.HasPrefix(c.HTTPRequest, "GET /item/0/0") || c.HTTPStatus != 200 {
			t.Errorf("connection %d: direction from %s, history %q, request %q, status %d: want a whole HTTP exchange",
				c.ID, c.DirectionFrom, c.History, c.HTTPRequest, c.HTTPStatus)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("connections in the tunnels %v, want one in each of %v", got, want)
	}
}

// TestRecordedTunnelsOnAnyInterface analyzes real-tunnels-any.pcap: the
// same traffic as real-tunnels.pcap captured with `tcpdump -i any` in the
// server's namespace, as on a Kubernetes node, so every segment is there
// twice, in its tunnel on the veth and plain on the tunnel device. The
// copies are capture-quality's to report; they are no SYN retries and no
// retransmission storm.
func TestRecordedTunnelsOnAnyInterface(t *testing.T) {
	rep := analyzeFile(t, "../../testdata/captures/real-tunnels-any.pcap")
	c := rep.Captures[0]
	if n := c.Decode.Tunneled["VXLAN"]; n == 0 || 2*n != c.TCPPackets {
		t.Errorf("%d of %d TCP segments out of VXLAN, want half", n, c.TCPPackets)
	}
	if rep.Summary.Connections != 2 {
		t.Errorf("%d connections, want the 2 of the tunnels, each copy in it", rep.Summary.Connections)
	}
	var quality bool
	for _, f := range rep.Findings {
		switch f.Kind {
		case detectors.KindCaptureQuality:
			for _, m := range f.Evidence {
				quality = quality || m.Name == "capture_duplicates" && m.Value > 0
			}
			if f.FlowCount != 2 {
				t.Errorf("capture-quality lists %d connections, want both, each with its copies", f.FlowCount)
			}
		default:
			t.Errorf("finding on healthy traffic captured twice: %s", f.Title)
		}
	}
	if !quality {
		t.Error("no capture-quality finding with the duplicates")
	}
}

// analyzeFile analyzes one capture with the default options and returns
// its report, whose connection store t's end closes.
func analyzeFile(t *testing.T, path string) *render.Report {
	t.Helper()
	res, err := Run(Options{Paths: []string{path}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Close() })
	return res.Report
}
