package render

import (
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// maxFilterFrames caps the frame numbers listed in one display filter.
const maxFilterFrames = 64

// flowFilter returns a Wireshark/tshark display filter matching the
// connection between a and b by addresses and ports, e.g.
//
//	ip.addr==10.0.0.1 && tcp.port==40312 && ip.addr==10.0.0.2 && tcp.port==8080
//
// tcp.stream numbers are not used: they depend on what else the capture
// holds, so they do not survive trimming or a second capture point.
func flowFilter(a, b netip.AddrPort) string {
	var parts []string
	addr := func(ap netip.AddrPort) {
		ip := ap.Addr().WithZone("")
		field := "ipv6.addr"
		if ip.Is4() || ip.Is4In6() {
			field = "ip.addr"
			ip = ip.Unmap()
		}
		parts = append(parts, field+"=="+ip.String())
	}
	addr(a)
	parts = append(parts, "tcp.port=="+strconv.Itoa(int(a.Port())))
	if b.Addr().WithZone("").Unmap() != a.Addr().WithZone("").Unmap() {
		addr(b)
	}
	if b.Port() != a.Port() {
		parts = append(parts, "tcp.port=="+strconv.Itoa(int(b.Port())))
	}
	return strings.Join(parts, " && ")
}

// framesFilter returns "frame.number in {12 57 88}" for the given frames
// (sorted, duplicates removed, at most maxFilterFrames), or "" for none.
func framesFilter(frames []int64) string {
	fs := slices.Clone(frames)
	slices.Sort(fs)
	fs = slices.Compact(fs)
	if len(fs) == 0 {
		return ""
	}
	if len(fs) > maxFilterFrames {
		fs = fs[:maxFilterFrames]
	}
	var b strings.Builder
	b.WriteString("frame.number in {")
	for i, f := range fs {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strconv.FormatInt(f, 10))
	}
	b.WriteByte('}')
	return b.String()
}

// connFrames returns the frame numbers known to belong to c: its logged
// packets, FINs, RSTs, first write after the peer's FIN, TLS hellos and
// payload turns.
func connFrames(c *flows.Conn) map[int64]bool {
	m := make(map[int64]bool, len(c.Log)+8)
	for _, le := range c.Log {
		m[le.Frame] = true
	}
	add := func(f int64) {
		if f > 0 {
			m[f] = true
		}
	}
	add(c.FirstFrame)
	for _, e := range []*flows.Endpoint{&c.Orig, &c.Resp} {
		add(e.FINFrame)
		add(e.RSTFrame)
		add(e.DataAfterPeerFIN().FirstFrame)
	}
	add(c.App().TLS.ClientHelloFrame)
	add(c.App().TLS.ServerHelloFrame)
	for _, t := range c.Turns {
		add(t.Frame)
	}
	return m
}

// highlightedIn returns the frames of highlight that belong to c, sorted.
func highlightedIn(c *flows.Conn, highlight []int64) []int64 {
	if len(highlight) == 0 {
		return nil
	}
	own := connFrames(c)
	var out []int64
	for _, f := range highlight {
		if own[f] {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}
