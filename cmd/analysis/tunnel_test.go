package analysis

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/render"
)

// TestRecordedTunnels analyzes real-tunnels.pcap (testdata/record/record.sh
// tunnels): HTTP over the kernel's tunnel devices, captured on the underlay,
// where every TCP segment is inside a tunnel (VXLAN on the recording
// machine, whose kernel had no Geneve or ERSPAN devices; the decoder's
// tests cover those). Each connection must come out whole, with the
// tunnel's inner addresses (10.98.N.1 to 10.98.N.2:8090), its two
// requests and no finding.
func TestRecordedTunnels(t *testing.T) {
	res, err := Run(Options{Paths: []string{"../../testdata/captures/real-tunnels.pcap"}})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	rep := res.Report
	if n := rep.Summary.Connections; n < 1 {
		t.Fatalf("%d connections, want one per tunnel", n)
	}
	if len(rep.Findings) != 0 {
		t.Errorf("findings on healthy traffic: %v", rep.Findings)
	}
	inner := netip.MustParsePrefix("10.98.0.0/16")
	err = rep.Conns.Each(func(c *render.ConnSummary) error {
		cl, sv := netip.MustParseAddrPort(c.Client), netip.MustParseAddrPort(c.Server)
		if !inner.Contains(cl.Addr()) || !inner.Contains(sv.Addr()) || sv.Port() != 8090 {
			t.Errorf("connection %d: %s -> %s, want the tunnel's inner addresses", c.ID, c.Client, c.Server)
		}
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
}
