package decode

import (
	"bytes"
	"encoding/binary"
	"net/netip"
	"testing"
	"unsafe"
)

// seg is the TCP segment most decoder tests carry.
var seg = tcpSeg{sport: 40000, dport: 443, seq: 0x01020304, ack: 0x0A0B0C0D, flags: FlagACK | FlagPSH, win: 4096, payload: []byte("payload!")}

var (
	ip4TCP = ipv4Pkt(protoTCP, seg.bytes(), -1)
	ip6TCP = ipv6Pkt(protoTCP, seg.bytes())
)

// verdictCount returns the Stats counter a verdict increments.
func verdictCount(s *Stats, v verdict, lt LinkType) int64 {
	switch v {
	case vTCP:
		return s.TCP
	case vNonIP:
		return s.NonIP
	case vNonTCP:
		return s.NonTCP
	case vFragment:
		return s.IPFragments
	case vMalformed:
		return s.Malformed
	case vSnapTruncated:
		return s.SnapTruncated
	case vUnsupportedLink:
		return s.UnsupportedLink[lt]
	}
	return -1
}

type decodeCase struct {
	name string
	lt   LinkType
	data []byte
	wire int // 0: len(data)
	want verdict
	v6   bool // addresses are the IPv6 test addresses
	// tunnel is the outermost tunnel of a TCP frame (Packet.Tunnel,
	// Stats.Tunneled).
	tunnel Tunnel
}

// decodeOne decodes one frame with a fresh Decoder and checks the verdict
// and the fields every frame gets.
func decodeOne(t *testing.T, tc decodeCase) *Packet {
	t.Helper()
	wire := tc.wire
	if wire == 0 {
		wire = len(tc.data)
	}
	f := Frame{Number: 7, TS: 99, WireLen: wire, Data: tc.data, LinkType: tc.lt, Iface: 3}
	d := NewDecoder()
	p := &Packet{}
	ok := d.Decode(&f, p)
	if ok != (tc.want == vTCP) || verdictCount(&d.Stats, tc.want, tc.lt) != 1 || d.Stats.Frames != 1 {
		t.Fatalf("Decode = %v, stats %+v, want verdict %d", ok, d.Stats, tc.want)
	}
	if p.Frame != 7 || p.TS != 99 || p.Iface != 3 || p.WireLen != uint32(wire) || p.CapLen != uint32(len(tc.data)) {
		t.Errorf("frame fields = %+v", p)
	}
	if ok {
		var want [NumTunnels]int64
		if tc.tunnel != TunnelNone {
			want[tc.tunnel] = 1
		}
		if p.Tunnel != tc.tunnel || d.Stats.Tunneled != want {
			t.Errorf("tunnel %v, counted %v; want %v", p.Tunnel, d.Stats.Tunneled, tc.tunnel)
		}
	}
	return p
}

// pppoe builds a PPPoE session header and PPP protocol field for payload.
func pppoe(proto uint16, payload []byte) []byte {
	b := []byte{0x11, 0, 0, 1}
	b = binary.BigEndian.AppendUint16(b, uint16(2+len(payload)))
	b = binary.BigEndian.AppendUint16(b, proto)
	return append(b, payload...)
}

func TestDecodeLinkTypes(t *testing.T) {
	sll := concat([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, []byte{0x08, 0x00}, ip4TCP)
	sll2 := concat([]byte{0x86, 0xDD, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ip6TCP)
	le := func(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
	be := func(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
	nflogTLV := func(o byteOrder, typ uint16, val []byte) []byte {
		b := put16(o, nil, uint16(4+len(val)))
		b = put16(o, b, typ)
		b = append(b, val...)
		for len(b)%4 != 0 {
			b = append(b, 0)
		}
		return b
	}
	udp := func(sport, dport uint16, payload []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, sport)
		b = binary.BigEndian.AppendUint16(b, dport)
		b = binary.BigEndian.AppendUint16(b, uint16(8+len(payload)))
		return append(append(b, 0, 0), payload...)
	}
	gtp := concat([]byte{0x30, 0xFF}, binary.BigEndian.AppendUint16(nil, uint16(len(ip4TCP))), []byte{0, 0, 0, 1}, ip4TCP)
	gtpExt := concat([]byte{0x34, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85}, []byte{1, 0x10, 0x05, 0}, ip4TCP)
	arp := ether(0x0806, make([]byte, 28))

	for _, tc := range []decodeCase{
		{name: "ethernet ipv4", lt: LinkTypeEthernet, data: ether(etherIPv4, ip4TCP), want: vTCP},
		{name: "ethernet ipv6", lt: LinkTypeEthernet, data: ether(etherIPv6, ip6TCP), want: vTCP, v6: true},
		{name: "802.1Q", lt: LinkTypeEthernet, data: ether(etherIPv4, ip4TCP, etherVLAN), want: vTCP},
		{name: "802.1ad QinQ", lt: LinkTypeEthernet, data: ether(etherIPv6, ip6TCP, etherQinQ, etherVLAN), want: vTCP, v6: true},
		{name: "three tags", lt: LinkTypeEthernet, data: ether(etherIPv4, ip4TCP, etherQinQOld, etherVLAN, etherVLAN), want: vTCP},
		{name: "pppoe ipv4", lt: LinkTypeEthernet, data: ether(etherPPPoE, pppoe(0x21, ip4TCP)), want: vTCP},
		{name: "pppoe over qinq ipv6", lt: LinkTypeEthernet, data: ether(etherPPPoE, pppoe(0x57, ip6TCP), etherQinQ, etherVLAN), want: vTCP, v6: true},
		{name: "pppoe length 0 ignored", lt: LinkTypeEthernet, data: ether(etherPPPoE, concat([]byte{0x11, 0, 0, 1, 0, 0, 0, 0x21}, ip4TCP)), want: vTCP},
		{name: "pppoe discovery", lt: LinkTypeEthernet, data: ether(etherPPPoE, []byte{0x11, 0x09, 0, 0, 0, 0}), want: vNonIP},
		{name: "mpls two labels", lt: LinkTypeEthernet, data: ether(etherMPLS, concat([]byte{0, 1, 0, 64, 0, 2, 1, 64}, ip4TCP)), want: vTCP},
		{name: "llc snap", lt: LinkTypeEthernet, data: concat(ether(uint16(8+len(ip4TCP)), []byte{0xAA, 0xAA, 3, 0, 0, 0, 0x08, 0x00}), ip4TCP), want: vTCP},
		{name: "802.3 stp", lt: LinkTypeEthernet, data: ether(38, make([]byte, 38)), want: vNonIP},
		{name: "arp", lt: LinkTypeEthernet, data: arp, want: vNonIP},
		{name: "linux sll", lt: LinkTypeLinuxSLL, data: sll, want: vTCP},
		{name: "linux sll2", lt: LinkTypeLinuxSLL2, data: sll2, want: vTCP, v6: true},
		{name: "raw 101 v4", lt: LinkTypeRaw, data: ip4TCP, want: vTCP},
		{name: "raw 101 v6", lt: LinkTypeRaw, data: ip6TCP, want: vTCP, v6: true},
		{name: "raw dlt 12", lt: LinkTypeRawDLT12, data: ip4TCP, want: vTCP},
		{name: "dlt 12 as openbsd loop", lt: LinkTypeRawDLT12, data: concat(be(24), ip6TCP), want: vTCP, v6: true},
		{name: "raw dlt 14", lt: LinkTypeRawDLT14, data: ip6TCP, want: vTCP, v6: true},
		{name: "ipv4 only", lt: LinkTypeIPv4, data: ip4TCP, want: vTCP},
		{name: "ipv6 only", lt: LinkTypeIPv6, data: ip6TCP, want: vTCP, v6: true},
		{name: "raw not ip", lt: LinkTypeRaw, data: []byte{0x50, 1, 2, 3}, want: vNonIP},
		{name: "null le inet", lt: LinkTypeNull, data: concat(le(2), ip4TCP), want: vTCP},
		{name: "null be inet", lt: LinkTypeNull, data: concat(be(2), ip4TCP), want: vTCP},
		{name: "null inet6 24", lt: LinkTypeNull, data: concat(le(24), ip6TCP), want: vTCP, v6: true},
		{name: "null inet6 28", lt: LinkTypeNull, data: concat(le(28), ip6TCP), want: vTCP, v6: true},
		{name: "null inet6 30", lt: LinkTypeNull, data: concat(le(30), ip6TCP), want: vTCP, v6: true},
		{name: "loop inet6 24", lt: LinkTypeLoop, data: concat(be(24), ip6TCP), want: vTCP, v6: true},
		{name: "loop inet", lt: LinkTypeLoop, data: concat(be(2), ip4TCP), want: vTCP},
		{name: "null unknown family", lt: LinkTypeNull, data: concat(le(99), ip4TCP), want: vNonIP},
		{name: "ppp with address", lt: LinkTypePPP, data: concat([]byte{0xFF, 0x03, 0x00, 0x21}, ip4TCP), want: vTCP},
		{name: "ppp bare ipv6", lt: LinkTypePPP, data: concat([]byte{0x00, 0x57}, ip6TCP), want: vTCP, v6: true},
		{name: "ppp compressed protocol", lt: LinkTypePPP, data: concat([]byte{0x21}, ip4TCP), want: vTCP},
		{name: "ppp mpls", lt: LinkTypePPP, data: concat([]byte{0xFF, 0x03, 0x02, 0x81, 0, 1, 1, 64}, ip4TCP), want: vTCP},
		{name: "ppp lcp", lt: LinkTypePPP, data: []byte{0xFF, 0x03, 0xC0, 0x21, 1, 1, 0, 4}, want: vNonIP},
		{name: "ppp-hdlc", lt: LinkTypePPPHDLC, data: concat([]byte{0xFF, 0x03, 0x00, 0x21}, ip4TCP), want: vTCP},
		{name: "ppp-hdlc carrying cisco hdlc", lt: LinkTypePPPHDLC, data: concat([]byte{0x0F, 0x00, 0x08, 0x00}, ip4TCP), want: vTCP},
		{name: "cisco hdlc", lt: LinkTypeCHDLC, data: concat([]byte{0x8F, 0x00, 0x86, 0xDD}, ip6TCP), want: vTCP, v6: true},
		{name: "arcnet rfc1201", lt: LinkTypeARCNETLinux, data: concat([]byte{1, 2, 0, 0, 212, 0, 0, 1}, ip4TCP), want: vTCP},
		{name: "arcnet exception", lt: LinkTypeARCNETLinux, data: concat([]byte{1, 2, 0, 0, 212, 0xFF, 0xFF, 0xFF, 212, 0, 0, 1}, ip4TCP), want: vTCP},
		{name: "arcnet rfc1051", lt: LinkTypeARCNETLinux, data: concat([]byte{1, 2, 0, 0, 240}, ip4TCP), want: vTCP},
		{name: "arcnet ipv6", lt: LinkTypeARCNETLinux, data: concat([]byte{1, 2, 0, 0, 196, 0, 0, 1}, ip6TCP), want: vTCP, v6: true},
		{name: "arcnet arp", lt: LinkTypeARCNETLinux, data: []byte{1, 2, 0, 0, 213, 0, 0, 1, 0, 7}, want: vNonIP},
		{name: "nflog le", lt: LinkTypeNFLOG, data: concat([]byte{2, 0, 0, 42}, nflogTLV(littleEndian, 1, []byte{8, 0, 1, 0}), nflogTLV(littleEndian, 9, ip4TCP)), want: vTCP},
		{name: "nflog be ipv6", lt: LinkTypeNFLOG, data: concat([]byte{10, 0, 0, 42}, nflogTLV(bigEndian, 10, []byte("prefix")), nflogTLV(bigEndian, 9, ip6TCP)), want: vTCP, v6: true},
		{name: "nflog no payload", lt: LinkTypeNFLOG, data: concat([]byte{2, 0, 0, 42}, nflogTLV(littleEndian, 1, []byte{8, 0, 1, 0})), want: vNonIP},
		{name: "gre", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0, 0, 0x08, 0}, ip4TCP), -1), want: vTCP, tunnel: TunnelGRE},
		{name: "gre key and sequence", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0xB0, 0, 0x86, 0xDD}, make([]byte, 12), ip6TCP), -1), want: vTCP, v6: true, tunnel: TunnelGRE},
		{name: "gre ethernet", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0, 0, 0x65, 0x58}, ether(etherIPv4, ip4TCP)), -1), want: vTCP, tunnel: TunnelGRE},
		{name: "pptp gre ppp", lt: LinkTypeEthernet, data: ether(etherIPv4, ipv4Pkt(protoGRE, concat([]byte{0x30, 0x81, 0x88, 0x0B}, make([]byte, 12), []byte{0xFF, 0x03, 0x00, 0x21}, ip4TCP), -1)), want: vTCP, tunnel: TunnelGRE},
		{name: "ipip", lt: LinkTypeRaw, data: ipv4Pkt(protoIPIP, ip4TCP, -1), want: vTCP, tunnel: TunnelIPinIP},
		{name: "6in4", lt: LinkTypeRaw, data: ipv4Pkt(protoIPv6, ip6TCP, -1), want: vTCP, v6: true, tunnel: TunnelIPinIP},
		{name: "4in6", lt: LinkTypeRaw, data: ipv6Pkt(protoIPIP, ip4TCP), want: vTCP, tunnel: TunnelIPinIP},
		{name: "gtp-u", lt: LinkTypeEthernet, data: ether(etherIPv4, ipv4Pkt(protoUDP, udp(2152, 2152, gtp), -1)), want: vTCP, tunnel: TunnelGTPU},
		{name: "gtp-u extension header", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(2152, 2152, gtpExt), -1), want: vTCP, tunnel: TunnelGTPU},
		{name: "gtp-c", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(2152, 2152, []byte{0x32, 0x01, 0, 4, 0, 0, 0, 0}), -1), want: vNonTCP},
		{name: "vxlan", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(5555, 4789, concat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))), -1), want: vTCP, tunnel: TunnelVXLAN},
		{name: "geneve ethernet", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(5555, 6081, concat([]byte{0, 0, 0x65, 0x58, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))), -1), want: vTCP, tunnel: TunnelGeneve},
		{name: "geneve ip with options", lt: LinkTypeEthernet, data: ether(etherIPv4, ipv4Pkt(protoUDP, udp(5555, 6081, concat([]byte{2, 0, 0x86, 0xDD, 0, 0, 1, 0}, make([]byte, 8), ip6TCP)), -1)), want: vTCP, v6: true, tunnel: TunnelGeneve},
		{name: "geneve control message", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(5555, 6081, concat([]byte{0, 0x80, 0x65, 0x58, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))), -1), want: vNonTCP},
		{name: "geneve options cut", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(5555, 6081, []byte{0x3F, 0, 0x65, 0x58, 0, 0, 1, 0, 0, 0}), -1), want: vMalformed},
		{name: "erspan type I", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0, 0, 0x88, 0xBE}, ether(etherIPv4, ip4TCP)), -1), want: vTCP, tunnel: TunnelERSPAN},
		{name: "erspan type II", lt: LinkTypeEthernet, data: ether(etherIPv4, ipv4Pkt(protoGRE, concat([]byte{0x10, 0, 0x88, 0xBE}, []byte{0, 0, 0, 7}, []byte{0x10, 0x64, 0, 1, 0, 0, 0, 0}, ether(etherVLAN, concat([]byte{0, 5, 0x08, 0x00}, ip4TCP))), -1)), want: vTCP, tunnel: TunnelERSPAN},
		{name: "erspan type II wrong version", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0x10, 0, 0x88, 0xBE}, []byte{0, 0, 0, 7}, []byte{0x20, 0x64, 0, 1, 0, 0, 0, 0}, ether(etherIPv4, ip4TCP)), -1), want: vNonTCP},
		{name: "erspan type III", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0x10, 0, 0x22, 0xEB}, []byte{0, 0, 0, 7}, []byte{0x20, 0x64, 0, 1, 0, 0, 0, 9, 0, 0, 0, 0}, ether(etherIPv4, ip4TCP)), -1), want: vTCP, tunnel: TunnelERSPAN},
		{name: "erspan type III subheader, ip frame", lt: LinkTypeRaw, data: ipv4Pkt(protoGRE, concat([]byte{0x10, 0, 0x22, 0xEB}, []byte{0, 0, 0, 7}, []byte{0x20, 0x64, 0, 1, 0, 0, 0, 9, 0, 0, 0x08, 0x01}, make([]byte, 8), ip6TCP), -1), want: vTCP, v6: true, tunnel: TunnelERSPAN},
		{name: "vxlan on linux's port", lt: LinkTypeEthernet, data: ether(etherIPv4, ipv4Pkt(protoUDP, udp(40000, 8472, concat([]byte{8, 0, 0, 0, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))), -1)), want: vTCP, tunnel: TunnelVXLAN},
		{name: "otv on linux's vxlan port", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(40000, 8472, concat([]byte{8, 0, 0, 1, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))), -1), want: vTCP, tunnel: TunnelVXLAN},
		{name: "not vxlan on linux's port", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(40000, 8472, concat([]byte{0x0C, 0, 0, 0, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))), -1), want: vNonTCP},
		{name: "udp", lt: LinkTypeRaw, data: ipv4Pkt(protoUDP, udp(53, 53, []byte("dns")), -1), want: vNonTCP},
		{name: "icmpv6", lt: LinkTypeRaw, data: ipv6Pkt(58, make([]byte, 8)), want: vNonTCP},
		{name: "unsupported link", lt: LinkType(160), data: ip4TCP, want: vUnsupportedLink},
		{name: "unknown interface", lt: LinkTypeUnknown, data: ip4TCP, want: vUnsupportedLink},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeOne(t, tc)
			if tc.want != vTCP {
				return
			}
			src, dst := netip.AddrFrom4(testSrc4), netip.AddrFrom4(testDst4)
			if tc.v6 {
				src, dst = netip.AddrFrom16(testSrc6), netip.AddrFrom16(testDst6)
			}
			if p.Src != netip.AddrPortFrom(src, 40000) || p.Dst != netip.AddrPortFrom(dst, 443) {
				t.Errorf("addresses %v -> %v", p.Src, p.Dst)
			}
			if p.Seq != seg.seq || p.Ack != seg.ack || p.Flags != seg.flags || p.Window != seg.win {
				t.Errorf("tcp fields = %+v", p)
			}
			if p.PayloadLen != len(seg.payload) || !bytes.Equal(p.Payload, seg.payload) || p.Truncated {
				t.Errorf("payload %q (%d), truncated %v", p.Payload, p.PayloadLen, p.Truncated)
			}
			if p.Opts.WScale != -1 {
				t.Errorf("WScale = %d, want -1 when absent", p.Opts.WScale)
			}
		})
	}
}

func TestDecodeIPv6ExtensionHeaders(t *testing.T) {
	ext := func(next byte, n int) []byte { // generic extension header of n bytes
		b := make([]byte, n)
		b[0] = next
		b[1] = byte(n/8 - 1)
		return b
	}
	frag := func(next byte, offset uint16, more bool) []byte {
		b := []byte{next, 0, 0, 0, 0, 0, 0, 1}
		v := offset << 3
		if more {
			v |= 1
		}
		binary.BigEndian.PutUint16(b[2:], v)
		return b
	}
	ah := concat([]byte{protoTCP, 4}, make([]byte, 22)) // (4+2)*4 = 24 bytes
	for _, tc := range []struct {
		name string
		pkt  []byte
		want verdict
	}{
		{"hop-by-hop, routing, destination options", ipv6Pkt(protoHopOpt, concat(ext(protoRoute, 8), ext(protoDstOpt, 24), ext(protoTCP, 16), seg.bytes())), vTCP},
		{"first fragment", ipv6Pkt(protoFrag, concat(frag(protoTCP, 0, true), seg.bytes())), vTCP},
		{"atomic fragment", ipv6Pkt(protoFrag, concat(frag(protoTCP, 0, false), seg.bytes())), vTCP},
		{"non-first fragment", ipv6Pkt(protoFrag, concat(frag(protoTCP, 185, false), seg.bytes())), vFragment},
		{"authentication header", ipv6Pkt(protoAH, concat(ah, seg.bytes())), vTCP},
		{"no next header", ipv6Pkt(59, nil), vNonTCP},
		{"esp", ipv6Pkt(50, make([]byte, 40)), vNonTCP},
		{"extension beyond payload length", ipv6Pkt(protoHopOpt, ext(protoTCP, 64)[:16]), vMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := decodeOne(t, decodeCase{lt: LinkTypeRaw, data: tc.pkt, want: tc.want})
			if tc.want == vTCP && (p.PayloadLen != len(seg.payload) || p.Seq != seg.seq) {
				t.Errorf("decoded %+v", p)
			}
		})
	}
}

func TestDecodeIPv4Options(t *testing.T) {
	pkt := ipv4Pkt(protoTCP, seg.bytes(), -1, 0x94, 4, 0, 0) // router alert
	p := decodeOne(t, decodeCase{lt: LinkTypeRaw, data: pkt, want: vTCP})
	if p.PayloadLen != len(seg.payload) || !bytes.Equal(p.Payload, seg.payload) {
		t.Errorf("payload %q (%d)", p.Payload, p.PayloadLen)
	}
}

func TestDecodeIPv4Fragments(t *testing.T) {
	first := ipv4Pkt(protoTCP, seg.bytes(), -1)
	binary.BigEndian.PutUint16(first[6:], 0x2000) // MF, offset 0
	decodeOne(t, decodeCase{lt: LinkTypeRaw, data: first, want: vTCP})
	later := ipv4Pkt(protoTCP, seg.bytes(), -1)
	binary.BigEndian.PutUint16(later[6:], 0x0010) // offset 16*8
	decodeOne(t, decodeCase{lt: LinkTypeRaw, data: later, want: vFragment})
	df := ipv4Pkt(protoTCP, seg.bytes(), -1)
	binary.BigEndian.PutUint16(df[6:], 0x4000) // DF only
	decodeOne(t, decodeCase{lt: LinkTypeRaw, data: df, want: vTCP})
}

// TestDecodeLengths covers payload lengths from the IP header: headers-only
// captures, TSO super-segments, Ethernet padding and bogus lengths.
func TestDecodeLengths(t *testing.T) {
	mss := bytes.Repeat([]byte{'x'}, 1460)
	full4 := ether(etherIPv4, ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK, payload: mss}.bytes(), -1))
	full6 := ether(etherIPv6, ipv6Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK, payload: mss}.bytes()))
	tso := ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK, payload: bytes.Repeat([]byte{'y'}, 3000)}.bytes(), 0)
	pad := concat(ether(etherIPv4, ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK}.bytes(), -1)), make([]byte, 6))
	long := ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK, payload: []byte("abc")}.bytes(), 100)
	// The IP length counts 6 bytes of padding that PPPoE's length excludes
	// (seen in zeek's pppoe-over-qinq.pcap).
	ack := ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK}.bytes(), 46)
	pppoePad := ether(etherPPPoE, concat(pppoe(0x21, ack), make([]byte, 6)))
	jumbo6 := ipv6Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagACK, payload: bytes.Repeat([]byte{'z'}, 500)}.bytes())
	jumbo6[4], jumbo6[5] = 0, 0
	for _, tc := range []struct {
		name       string
		lt         LinkType
		data       []byte
		wire       int
		payloadLen int
		captured   int
		truncated  bool
	}{
		{"ipv4 full", LinkTypeEthernet, full4, 0, 1460, 1460, false},
		{"ipv4 headers only (-s 54)", LinkTypeEthernet, full4[:54], len(full4), 1460, 0, true},
		{"ipv4 partial payload", LinkTypeEthernet, full4[:100], len(full4), 1460, 46, true},
		{"ipv6 headers only (-s 74)", LinkTypeEthernet, full6[:74], len(full6), 1460, 0, true},
		{"tso total length 0", LinkTypeRaw, tso, 0, 3000, 3000, false},
		{"tso total length 0 cut by snaplen", LinkTypeRaw, tso[:200], len(tso) + 5000, 8000, 160, true},
		{"ipv6 payload length 0", LinkTypeRaw, jumbo6, 0, 500, 500, false},
		{"ethernet padding", LinkTypeEthernet, pad, 0, 0, 0, false},
		{"total length beyond frame", LinkTypeRaw, long, 0, 60, 3, true},
		{"total length beyond pppoe length", LinkTypeEthernet, pppoePad, 0, 0, 0, false},
		{"inner total length beyond outer", LinkTypeRaw, ipv4Pkt(protoIPIP, long, -1), 0, 3, 3, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dc := decodeCase{lt: tc.lt, data: tc.data, wire: tc.wire, want: vTCP}
			if tc.lt == LinkTypeRaw && tc.data[0]>>4 == 4 && tc.data[9] == protoIPIP {
				dc.tunnel = TunnelIPinIP
			}
			p := decodeOne(t, dc)
			if p.PayloadLen != tc.payloadLen || len(p.Payload) != tc.captured || p.Truncated != tc.truncated {
				t.Errorf("PayloadLen %d, captured %d, truncated %v; want %d, %d, %v",
					p.PayloadLen, len(p.Payload), p.Truncated, tc.payloadLen, tc.captured, tc.truncated)
			}
		})
	}
	// The counter of truncated TCP segments.
	d := NewDecoder()
	var p Packet
	f := Frame{Data: full4[:54], WireLen: len(full4), LinkType: LinkTypeEthernet}
	d.Decode(&f, &p)
	if d.Stats.TCPTruncated != 1 || d.Stats.TCP != 1 {
		t.Errorf("stats %+v", d.Stats)
	}
}

func TestDecodeMalformedAndCut(t *testing.T) {
	good := ipv4Pkt(protoTCP, seg.bytes(), -1)
	mod := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	for _, tc := range []struct {
		name string
		data []byte
		wire int
		want verdict
	}{
		{"total length below header", mod(func(b []byte) { b[3] = 10 }), 0, vMalformed},
		{"total length below tcp header", mod(func(b []byte) { b[3] = 30 }), 0, vMalformed},
		{"ihl below 5", mod(func(b []byte) { b[0] = 0x44 }), 0, vMalformed},
		{"ihl beyond total", mod(func(b []byte) { b[0] = 0x4F; b[3] = 40 }), 0, vMalformed},
		{"tcp data offset below 5", mod(func(b []byte) { b[20+12] = 0x40 }), 0, vMalformed},
		{"tcp data offset beyond segment", mod(func(b []byte) { b[20+12] = 0xF0 }), 0, vMalformed},
		{"version 5", mod(func(b []byte) { b[0] = 0x55 }), 0, vNonIP},
		{"tcp header cut by snaplen", good[:30], len(good), vSnapTruncated},
		{"tcp header cut, frame says so", good[:30], 0, vSnapTruncated}, // IP total length says more
		{"ip header cut by snaplen", good[:12], len(good), vSnapTruncated},
		{"ip header short frame", good[:12], 0, vMalformed},
		{"empty frame", nil, 0, vMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			decodeOne(t, decodeCase{lt: LinkTypeRaw, data: tc.data, wire: tc.wire, want: tc.want})
		})
	}
	// Link headers cut short.
	for _, lt := range []LinkType{LinkTypeEthernet, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeNull, LinkTypePPP, LinkTypeARCNETLinux, LinkTypeNFLOG} {
		decodeOne(t, decodeCase{lt: lt, data: []byte{0}, wire: 100, want: vSnapTruncated})
		decodeOne(t, decodeCase{lt: lt, data: []byte{0}, want: vMalformed})
	}
}

func TestDecodeTCPOptions(t *testing.T) {
	ts := []byte{8, 10, 0, 0, 0, 5, 0, 0, 0, 6}
	sack := func(n int) []byte {
		b := []byte{5, byte(2 + 8*n)}
		for i := range n {
			b = binary.BigEndian.AppendUint32(b, uint32(100*i+1))
			b = binary.BigEndian.AppendUint32(b, uint32(100*i+50))
		}
		return b
	}
	for _, tc := range []struct {
		name string
		opts []byte
		want TCPOptions
	}{
		{"syn", concat([]byte{2, 4, 0x05, 0xB4, 4, 2}, ts, []byte{1, 3, 3, 7}),
			TCPOptions{MSS: 1460, SACKPermitted: true, HasTS: true, TSVal: 5, TSEcr: 6, WScale: 7}},
		{"wscale above 14", []byte{3, 3, 20}, TCPOptions{WScale: 14}},
		{"wscale 0", []byte{3, 3, 0}, TCPOptions{WScale: 0}},
		{"one sack block", concat([]byte{1, 1}, sack(1)), TCPOptions{WScale: -1, NSACK: 1, SACK: [4]SACKBlock{{1, 50}}}},
		{"three sack blocks with ts", concat([]byte{1, 1}, ts, sack(3)[:0], []byte{1, 1}, sack(3)[:26]),
			TCPOptions{WScale: -1, HasTS: true, TSVal: 5, TSEcr: 6, NSACK: 3, SACK: [4]SACKBlock{{1, 50}, {101, 150}, {201, 250}}}},
		{"four sack blocks", concat([]byte{1, 1}, sack(4)), TCPOptions{WScale: -1, NSACK: 4, SACK: [4]SACKBlock{{1, 50}, {101, 150}, {201, 250}, {301, 350}}}},
		{"zero length stops", concat([]byte{2, 4, 0x05, 0xB4, 9, 0}, ts), TCPOptions{MSS: 1460, WScale: -1}},
		{"length beyond header stops", concat([]byte{2, 4, 0x02, 0x18}, []byte{8, 30, 0, 0}), TCPOptions{MSS: 536, WScale: -1}},
		{"length one stops", []byte{4, 1, 2, 4, 5, 0xB4}, TCPOptions{WScale: -1}},
		{"wrong mss length skipped", []byte{2, 3, 5, 4, 2, 0, 0, 0}, TCPOptions{WScale: -1, SACKPermitted: true}},
		{"end of list", []byte{0, 2, 4, 5, 0xB4}, TCPOptions{WScale: -1}},
		{"odd sack length ignored", []byte{5, 7, 0, 0, 0, 1, 0, 1, 1, 1}, TCPOptions{WScale: -1}},
		{"unknown options skipped", []byte{30, 4, 1, 2, 2, 4, 0x05, 0xB4}, TCPOptions{MSS: 1460, WScale: -1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := seg
			s.opts = tc.opts
			p := decodeOne(t, decodeCase{lt: LinkTypeRaw, data: ipv4Pkt(protoTCP, s.bytes(), -1), want: vTCP})
			if p.Opts != tc.want {
				t.Errorf("options = %+v, want %+v", p.Opts, tc.want)
			}
			if !bytes.Equal(p.Payload, seg.payload) {
				t.Errorf("payload %q", p.Payload)
			}
		})
	}
}

func TestDecodeFlags(t *testing.T) {
	s := seg
	s.flags = FlagSYN | FlagECE | FlagCWR | FlagNS
	p := decodeOne(t, decodeCase{lt: LinkTypeRaw, data: ipv4Pkt(protoTCP, s.bytes(), -1), want: vTCP})
	if p.Flags != s.flags {
		t.Errorf("flags = %v, want %v", p.Flags, s.flags)
	}
}

// TestDecodeReuse checks that a Packet reused for a non-TCP frame does not
// keep the previous segment's fields.
func TestDecodeReuse(t *testing.T) {
	d := NewDecoder()
	var p Packet
	s := seg
	s.opts = []byte{2, 4, 5, 0xB4}
	f := Frame{Data: ipv4Pkt(protoTCP, s.bytes(), -1), LinkType: LinkTypeRaw}
	if !d.Decode(&f, &p) || p.Opts.MSS != 1460 {
		t.Fatalf("first decode: %+v", p)
	}
	f = Frame{Data: ipv4Pkt(protoUDP, make([]byte, 8), -1), LinkType: LinkTypeRaw}
	if d.Decode(&f, &p) || p.Opts.MSS != 0 || p.Seq != 0 || p.PayloadLen != 0 || len(p.Payload) != 0 || p.Opts.WScale != -1 {
		t.Errorf("second decode kept state: %+v", p)
	}
}

func TestDecodeZeroAllocs(t *testing.T) {
	d := NewDecoder()
	var p Packet
	frames := []Frame{
		{Data: ether(etherIPv4, ip4TCP), LinkType: LinkTypeEthernet},
		{Data: ether(etherIPv6, ip6TCP, etherVLAN), LinkType: LinkTypeEthernet},
		{Data: ip4TCP, LinkType: LinkType(160)}, // map allocated once, then reused
	}
	for i := range frames {
		frames[i].WireLen = len(frames[i].Data)
		d.Decode(&frames[i], &p)
	}
	allocs := testing.AllocsPerRun(100, func() {
		for i := range frames {
			d.Decode(&frames[i], &p)
		}
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %.1f times per run", allocs)
	}
	if d.Stats.UnsupportedLink[160] != 102 {
		t.Errorf("unsupported count %d", d.Stats.UnsupportedLink[160])
	}
}

// TestPacketSize checks that a Packet takes three cache lines exactly, so
// that in a batch's array no packet straddles a fourth.
func TestPacketSize(t *testing.T) {
	if unsafe.Sizeof(uintptr(0)) != 8 {
		t.Skip("the cache-line layout is tuned for 64-bit platforms; pointers take 4 bytes here")
	}

	if n := unsafe.Sizeof(Packet{}); n != 192 {
		t.Errorf("Packet takes %d bytes, want 192", n)
	}
}
