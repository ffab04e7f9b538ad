package decode

import (
	"encoding/binary"
	"math"
	"math/bits"
	"net/netip"
)

// Stats counts what a Decoder saw. Every frame passed to Decode adds one
// to Frames and to exactly one of TCP, NonIP, NonTCP, IPFragments,
// Malformed, SnapTruncated or UnsupportedLink, so they sum to Frames.
type Stats struct {
	Frames int64 // frames passed to Decode
	TCP    int64 // frames holding a TCP segment (Decode returned true)

	NonIP       int64 // link payload is not IPv4/IPv6 (ARP, LLDP, ...)
	NonTCP      int64 // IP, but not TCP (UDP, ICMP, ESP, ...)
	IPFragments int64 // non-first IPv4/IPv6 fragments (no TCP header)
	// Malformed counts frames whose headers contradict themselves or the
	// frame (IPv4 total length below the header length, TCP data offset
	// below 5, a frame shorter than its headers though not cut by the
	// snaplen).
	Malformed int64
	// SnapTruncated counts frames cut by the snaplen before the TCP base
	// header (or an earlier header) was complete.
	SnapTruncated int64
	// UnsupportedLink counts frames by link type the decoder does not
	// know. It is allocated on first use.
	UnsupportedLink map[LinkType]int64

	// TCPTruncated counts TCP frames (also counted in TCP) whose captured
	// bytes end before the IP packet does: Packet.Truncated is set.
	TCPTruncated int64
	// Tunneled counts TCP frames (also counted in TCP) by the outermost
	// tunnel their segment came out of (Packet.Tunnel).
	Tunneled [NumTunnels]int64
}

// verdict is the outcome of decoding one frame.
type verdict uint8

const (
	vTCP verdict = iota
	vNonIP
	vNonTCP
	vFragment
	vMalformed
	vSnapTruncated
	vUnsupportedLink
)

// Ethernet types and IP protocol numbers the decoder follows.
const (
	etherIPv4    = 0x0800
	etherIPv6    = 0x86DD
	etherVLAN    = 0x8100
	etherQinQ    = 0x88A8
	etherQinQOld = 0x9100
	etherQinQAlt = 0x9200
	etherPPPoE   = 0x8864
	etherMPLS    = 0x8847
	etherMPLSMC  = 0x8848
	etherTEB     = 0x6558 // transparent Ethernet bridging, in GRE
	etherPPP     = 0x880B // PPP, in PPTP's enhanced GRE
	etherERSPAN  = 0x88BE // ERSPAN types I and II, in GRE (switch port mirrors)
	etherERSPAN3 = 0x22EB // ERSPAN type III, in GRE
	// etherGuessIP is an internal marker: the next header is IPv4 or IPv6,
	// told apart by the version nibble.
	etherGuessIP = 0x0000

	protoIPIP   = 4
	protoTCP    = 6
	protoUDP    = 17
	protoIPv6   = 41
	protoGRE    = 47
	protoAH     = 51
	protoHopOpt = 0
	protoRoute  = 43
	protoFrag   = 44
	protoDstOpt = 60

	portGTPU  = 2152 // GTP-U, mobile core user plane
	portVXLAN = 4789 // VXLAN: AWS Traffic Mirroring, overlay networks
	// portVXLANLinux is the Linux kernel's own VXLAN port, which flannel and
	// Cilium use (Kubernetes pod traffic on a node's uplink), and Cisco OTV's.
	portVXLANLinux = 8472
	portGeneve     = 6081 // Geneve: AWS Gateway Load Balancer, OVN

	// maxTunnelDepth bounds nested IP-in-IP, GRE and Ethernet-in-GRE.
	maxTunnelDepth = 4
	// maxExtHeaders bounds the IPv6 extension header chain.
	maxExtHeaders = 16
)

// Decoder decodes frames into Packets and keeps Stats. It holds no
// per-packet allocations; one Decoder serves a whole capture. A Decoder
// is not safe for concurrent use.
type Decoder struct {
	Stats Stats
}

// NewDecoder returns a Decoder with zeroed Stats.
func NewDecoder() *Decoder { return &Decoder{} }

// Decode decodes f into p, which is reset first. It returns true when the
// frame holds a TCP segment; p then has addresses, ports, sequence
// numbers, flags, options and payload. It always sets p.Frame, TS, Iface,
// WireLen and CapLen, and it counts the outcome in d.Stats.
//
// p.Payload aliases f.Data. Decode never panics on any input.
func (d *Decoder) Decode(f *Frame, p *Packet) bool {
	p.Reset()
	p.Frame = f.Number
	p.TS = f.TS
	p.Iface = int32(f.Iface)                                          // the interfaces a file describes, or -1
	p.WireLen = uint32(min(int64(max(f.WireLen, 0)), math.MaxUint32)) // a record's uint32 (int64: int may be 32 bits)
	p.CapLen = uint32(len(f.Data))
	d.Stats.Frames++
	// rep is the length the frame had on the wire, as far as it is
	// believable: never below what was captured.
	rep := max(f.WireLen, len(f.Data))
	v := decodeLink(f.LinkType, f.Data, rep, p)
	switch v {
	case vTCP:
		d.Stats.TCP++
		if p.Truncated {
			d.Stats.TCPTruncated++
		}
		if p.Tunnel != TunnelNone {
			d.Stats.Tunneled[p.Tunnel]++
		}
		return true
	case vNonIP:
		d.Stats.NonIP++
	case vNonTCP:
		d.Stats.NonTCP++
	case vFragment:
		d.Stats.IPFragments++
	case vMalformed:
		d.Stats.Malformed++
	case vSnapTruncated:
		d.Stats.SnapTruncated++
	case vUnsupportedLink:
		if d.Stats.UnsupportedLink == nil {
			d.Stats.UnsupportedLink = make(map[LinkType]int64)
		}
		d.Stats.UnsupportedLink[f.LinkType]++
	}
	return false
}

// short is the verdict for a header that does not fit in b: the snaplen
// cut it when the layer was longer on the wire, otherwise the frame is
// malformed.
func short(b []byte, rep int) verdict {
	if len(b) < rep {
		return vSnapTruncated
	}
	return vMalformed
}

// Each layer function below gets b, the captured bytes of its layer, and
// rep >= len(b), the layer's length on the wire.

// nest is what a layer knows about the layers around it.
type nest struct {
	depth int // tunnels entered so far
	// bounded is set when rep comes from the length field of an enclosing
	// protocol (an outer IP header, PPPoE, an NFLOG attribute) rather than
	// from the capture's original length. An IP length beyond a bounded rep
	// is cut to it, as Wireshark does; beyond the capture's original length
	// it is believed (the capture lost bytes).
	bounded bool
}

// tunnel returns the context inside a tunnel: one level deeper, bounded
// by the outer packet's length.
func (n nest) tunnel() nest { return nest{depth: n.depth + 1, bounded: true} }

// decodeLink strips the link-layer header of b.
func decodeLink(lt LinkType, b []byte, rep int, p *Packet) verdict {
	switch lt {
	case LinkTypeEthernet:
		return ethernet(b, rep, p, nest{})
	case LinkTypeRaw, LinkTypeRawDLT14, LinkTypeIPv4, LinkTypeIPv6:
		return network(etherGuessIP, b, rep, p, nest{})
	case LinkTypeRawDLT12:
		// 12 is DLT_RAW on most systems but DLT_LOOP on OpenBSD, whose
		// frames start with a 4-byte address family (version nibble 0).
		if len(b) > 0 && b[0]>>4 == 0 {
			return decodeLink(LinkTypeLoop, b, rep, p)
		}
		return network(etherGuessIP, b, rep, p, nest{})
	case LinkTypeLinuxSLL:
		if len(b) < 16 {
			return short(b, rep)
		}
		if binary.BigEndian.Uint16(b[2:]) == 824 { // ARPHRD_NETLINK
			return vNonIP
		}
		return network(binary.BigEndian.Uint16(b[14:]), b[16:], rep-16, p, nest{})
	case LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return short(b, rep)
		}
		if binary.BigEndian.Uint16(b[8:]) == 824 { // ARPHRD_NETLINK
			return vNonIP
		}
		return network(binary.BigEndian.Uint16(b), b[20:], rep-20, p, nest{})
	case LinkTypeNull, LinkTypeLoop:
		if len(b) < 4 {
			return short(b, rep)
		}
		// The family is in the capturing host's byte order (NULL) or in
		// network order (LOOP); families are small, so either order is
		// recognised by magnitude.
		af := binary.LittleEndian.Uint32(b)
		if af > 0xFFFF {
			af = bits.ReverseBytes32(af)
		}
		switch af {
		case 2: // AF_INET
			return network(etherIPv4, b[4:], rep-4, p, nest{})
		case 10, 23, 24, 28, 30: // AF_INET6 on Linux, Windows, *BSD, FreeBSD, Darwin
			return network(etherIPv6, b[4:], rep-4, p, nest{})
		}
		return vNonIP
	case LinkTypePPP, LinkTypePPPHDLC, LinkTypeCHDLC:
		if len(b) >= 4 && (b[0] == 0x0F || b[0] == 0x8F) && b[1] == 0 { // Cisco HDLC
			return network(binary.BigEndian.Uint16(b[2:]), b[4:], rep-4, p, nest{})
		}
		return ppp(b, rep, p, nest{})
	case LinkTypeARCNETLinux:
		return arcnet(b, rep, p)
	case LinkTypeNFLOG:
		return nflog(b, rep, p)
	}
	return vUnsupportedLink
}

// ethernet decodes an Ethernet II or 802.3 frame.
func ethernet(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 14 {
		return short(b, rep)
	}
	return network(binary.BigEndian.Uint16(b[12:]), b[14:], rep-14, p, ctx)
}

// network dispatches on an Ethernet type, unwrapping VLAN tags, PPPoE,
// MPLS and LLC/SNAP until it reaches IP.
func network(et uint16, b []byte, rep int, p *Packet, ctx nest) verdict {
	for {
		switch et {
		case etherIPv4:
			return ipv4(b, rep, p, ctx)
		case etherIPv6:
			return ipv6(b, rep, p, ctx)
		case etherGuessIP:
			if len(b) < 1 {
				return short(b, rep)
			}
			switch b[0] >> 4 {
			case 4:
				return ipv4(b, rep, p, ctx)
			case 6:
				return ipv6(b, rep, p, ctx)
			}
			return vNonIP
		case etherVLAN, etherQinQ, etherQinQOld, etherQinQAlt:
			if len(b) < 4 {
				return short(b, rep)
			}
			et = binary.BigEndian.Uint16(b[2:])
			b, rep = b[4:], rep-4
		case etherPPPoE:
			// ver/type, code (0 for session data), session id, length
			if len(b) < 6 {
				return short(b, rep)
			}
			if b[1] != 0 {
				return vNonIP
			}
			// The length field bounds the PPP frame: Ethernet padding after
			// it is not IP payload, even when the IP length claims it.
			// A length too short for a PPP protocol field is ignored.
			n := int(binary.BigEndian.Uint16(b[4:]))
			if n < 2 {
				return ppp(b[6:], rep-6, p, ctx)
			}
			ctx.bounded = true
			return ppp(b[6:min(6+n, len(b))], n, p, ctx)
		case etherMPLS, etherMPLSMC:
			for {
				if len(b) < 4 {
					return short(b, rep)
				}
				bottom := b[2]&1 != 0
				b, rep = b[4:], rep-4
				if bottom {
					break
				}
			}
			et = etherGuessIP
		case etherTEB:
			if ctx.depth >= maxTunnelDepth {
				return vNonTCP
			}
			return ethernet(b, rep, p, ctx.tunnel())
		case etherPPP:
			return ppp(b, rep, p, ctx)
		default:
			// An 802.3 length field: look for an LLC/SNAP header with an
			// Ethernet type.
			if et <= 1500 && len(b) >= 8 && b[0] == 0xAA && b[1] == 0xAA && b[2] == 0x03 {
				et = binary.BigEndian.Uint16(b[6:])
				b, rep = b[8:], rep-8
				if et <= 1500 {
					return vNonIP
				}
				continue
			}
			return vNonIP
		}
	}
}

// ppp decodes a PPP frame with optional HDLC address and control bytes and
// a 1- or 2-byte protocol field.
func ppp(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) >= 2 && b[0] == 0xFF && b[1] == 0x03 {
		b, rep = b[2:], rep-2
	}
	if len(b) < 1 {
		return short(b, rep)
	}
	var proto uint16
	if b[0]&1 != 0 { // compressed protocol field
		proto = uint16(b[0])
		b, rep = b[1:], rep-1
	} else {
		if len(b) < 2 {
			return short(b, rep)
		}
		proto = binary.BigEndian.Uint16(b)
		b, rep = b[2:], rep-2
	}
	switch proto {
	case 0x0021:
		return network(etherIPv4, b, rep, p, ctx)
	case 0x0057:
		return network(etherIPv6, b, rep, p, ctx)
	case 0x0281, 0x0283:
		return network(etherMPLS, b, rep, p, ctx)
	}
	return vNonIP
}

// arcnet decodes Linux ARCNET (source, destination, 2-byte offset,
// protocol id, then for RFC 1201 protocols a split flag and a sequence
// number, with 4 more bytes in exception packets).
func arcnet(b []byte, rep int, p *Packet) verdict {
	if len(b) < 5 {
		return short(b, rep)
	}
	proto := b[4]
	n := 5
	switch proto {
	case 240, 241: // RFC 1051 IP and ARP: no split flag
	default:
		if len(b) < 8 {
			return short(b, rep)
		}
		if b[5] == 0xFF { // exception packet: 0xFF 0xFF 0xFF pad, then the header again
			if len(b) < 12 {
				return short(b, rep)
			}
			proto = b[8]
			n = 12
		} else {
			n = 8
		}
	}
	switch proto {
	case 212, 240: // IP, RFC 1201 and RFC 1051
		return network(etherIPv4, b[n:], rep-n, p, nest{})
	case 196: // IPv6
		return network(etherIPv6, b[n:], rep-n, p, nest{})
	}
	return vNonIP
}

// nflog finds the NFULA_PAYLOAD attribute of an NFLOG record. Attribute
// lengths and types are in the capturing host's byte order; the order
// that makes the first attribute fit is used.
func nflog(b []byte, rep int, p *Packet) verdict {
	if len(b) < 4 {
		return short(b, rep)
	}
	family := b[0]
	tlvs := b[4:]
	var o byteOrder = littleEndian
	if len(tlvs) >= 4 {
		if n := int(o.u16(tlvs)); n < 4 || n > len(tlvs) {
			o = bigEndian
		}
	}
	for len(tlvs) >= 4 {
		n := int(o.u16(tlvs))
		typ := o.u16(tlvs[2:]) & 0x7FFF
		if n < 4 {
			return vMalformed
		}
		if typ == 9 { // NFULA_PAYLOAD
			payload := tlvs[4:min(n, len(tlvs))]
			et := uint16(etherGuessIP)
			switch family {
			case 2:
				et = etherIPv4
			case 10:
				et = etherIPv6
			}
			return network(et, payload, max(n-4, len(payload)), p, nest{bounded: true})
		}
		if n > len(tlvs) {
			return short(tlvs, rep-4)
		}
		tlvs = tlvs[min((n+3)&^3, len(tlvs)):]
	}
	if len(b) < rep {
		return vSnapTruncated
	}
	return vNonIP
}

// ipv4 decodes an IPv4 header and what it carries.
func ipv4(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 20 {
		return short(b, rep)
	}
	if b[0]>>4 != 4 {
		return vMalformed
	}
	ihl := int(b[0]&0x0F) * 4
	if ihl < 20 {
		return vMalformed
	}
	total := int(binary.BigEndian.Uint16(b[2:]))
	if total == 0 || (ctx.bounded && total > rep) {
		// TSO / BIG TCP: the stack leaves the length 0 for super-segments;
		// like Wireshark, use the frame's length.
		total = rep
	}
	if total < ihl {
		return vMalformed
	}
	if len(b) < ihl {
		return short(b, total)
	}
	if binary.BigEndian.Uint16(b[6:])&0x1FFF != 0 {
		return vFragment
	}
	p.Src = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[12:16])), 0)
	p.Dst = netip.AddrPortFrom(netip.AddrFrom4([4]byte(b[16:20])), 0)
	end := min(total, len(b)) // drops Ethernet padding after the packet
	return transport(b[9], b[ihl:end], total-ihl, p, ctx)
}

// ipv6 decodes an IPv6 header, its extension headers and what it carries.
func ipv6(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 40 {
		return short(b, rep)
	}
	if b[0]>>4 != 6 {
		return vMalformed
	}
	total := 40 + int(binary.BigEndian.Uint16(b[4:]))
	if (total == 40 && b[6] != 59) || (ctx.bounded && total > rep) {
		// Jumbogram or BIG TCP: payload length 0, use the frame's length.
		total = max(rep, 40)
	}
	p.Src = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[8:24])), 0)
	p.Dst = netip.AddrPortFrom(netip.AddrFrom16([16]byte(b[24:40])), 0)
	b = b[:min(total, len(b))]
	next, off := b[6], 40
	for range maxExtHeaders {
		switch next {
		case protoHopOpt, protoRoute, protoDstOpt, protoAH:
			if len(b) < off+2 {
				return short(b, total)
			}
			n := (int(b[off+1]) + 1) * 8
			if next == protoAH {
				n = (int(b[off+1]) + 2) * 4
			}
			next = b[off]
			off += n
			if off > total {
				return vMalformed
			}
		case protoFrag:
			if len(b) < off+8 {
				return short(b, total)
			}
			if binary.BigEndian.Uint16(b[off+2:])&^7 != 0 {
				return vFragment
			}
			next = b[off]
			off += 8
			if off > total {
				return vMalformed
			}
		default:
			if off > len(b) {
				return short(b, total)
			}
			return transport(next, b[off:], total-off, p, ctx)
		}
	}
	return vMalformed
}

// transport dispatches on the IP protocol number.
func transport(proto byte, b []byte, rep int, p *Packet, ctx nest) verdict {
	switch proto {
	case protoTCP:
		return tcp(b, rep, p)
	case protoIPIP, protoIPv6, protoGRE, protoUDP:
		if ctx.depth >= maxTunnelDepth {
			return vNonTCP
		}
		switch proto {
		case protoIPIP:
			p.enter(TunnelIPinIP)
			return ipv4(b, rep, p, ctx.tunnel())
		case protoIPv6:
			p.enter(TunnelIPinIP)
			return ipv6(b, rep, p, ctx.tunnel())
		case protoUDP:
			return udpTunnel(b, rep, p, ctx.tunnel())
		}
		return gre(b, rep, p, ctx.tunnel())
	}
	return vNonTCP
}

// udpTunnel follows GTP-U, VXLAN and Geneve tunnels on their standard
// ports, as Wireshark does, and VXLAN on Linux's port 8472 too; any other
// UDP datagram is not TCP.
func udpTunnel(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 8 {
		return vNonTCP
	}
	sport, dport := binary.BigEndian.Uint16(b), binary.BigEndian.Uint16(b[2:])
	b, rep = b[8:], rep-8
	switch {
	case sport == portGTPU || dport == portGTPU:
		p.enter(TunnelGTPU)
		return gtpu(b, rep, p, ctx)
	case dport == portVXLAN:
		if len(b) < 8 || b[0]&0x08 == 0 {
			return vNonTCP
		}
		p.enter(TunnelVXLAN)
		return ethernet(b[8:], rep-8, p, ctx)
	case dport == portVXLANLinux:
		// Not an IANA port, and Cisco's OTV, as tcpdump decodes it, has the
		// same 8 bytes before its Ethernet frame (an overlay ID where
		// VXLAN's reserved bytes are): the I flag alone and a zero last byte,
		// or nothing is read as Ethernet.
		if len(b) < 8 || b[0] != 0x08 || b[7] != 0 {
			return vNonTCP
		}
		p.enter(TunnelVXLAN)
		return ethernet(b[8:], rep-8, p, ctx)
	case dport == portGeneve:
		p.enter(TunnelGeneve)
		return geneve(b, rep, p, ctx)
	}
	return vNonTCP
}

// geneve decodes a Geneve header (RFC 8926): version 0, options of
// 4 * OptLen bytes, then the protocol its type names (Ethernet through
// transparent Ethernet bridging, or IP as AWS's Gateway Load Balancer
// sends it). Control messages (the O bit) carry no data packet.
func geneve(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 8 {
		return short(b, rep)
	}
	if b[0]>>6 != 0 || b[1]&0x80 != 0 {
		return vNonTCP
	}
	n := 8 + int(b[0]&0x3F)*4
	if len(b) < n {
		return short(b, rep)
	}
	return network(binary.BigEndian.Uint16(b[2:]), b[n:], rep-n, p, ctx)
}

// gtpu decodes a GTPv1-U G-PDU header with its optional fields and
// extension headers.
func gtpu(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 8 || b[0]>>5 != 1 || b[0]&0x10 == 0 || b[1] != 0xFF {
		return vNonTCP
	}
	n := 8
	if b[0]&0x07 != 0 { // sequence number, N-PDU number, next extension type
		if len(b) < 12 {
			return short(b, rep)
		}
		n = 12
		for next := b[11]; next != 0; {
			if len(b) < n+1 {
				return short(b, rep)
			}
			ext := int(b[n]) * 4 // length in 4-byte units, next type last
			if ext == 0 {
				return vMalformed
			}
			if len(b) < n+ext {
				return short(b, rep)
			}
			next = b[n+ext-1]
			n += ext
		}
	}
	return network(etherGuessIP, b[n:], rep-n, p, ctx)
}

// gre decodes a GRE header (version 0, or version 1 as used by PPTP).
func gre(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 4 {
		return short(b, rep)
	}
	flags := binary.BigEndian.Uint16(b)
	et := binary.BigEndian.Uint16(b[2:])
	if flags&0x4000 != 0 { // source routing: obsolete, not followed
		return vNonTCP
	}
	n := 4
	if flags&0x8000 != 0 { // checksum
		n += 4
	}
	if flags&0x2000 != 0 { // key (PPTP: payload length and call id)
		n += 4
	}
	if flags&0x1000 != 0 { // sequence number
		n += 4
	}
	if flags&0x0007 == 1 && flags&0x0080 != 0 { // PPTP acknowledgment number
		n += 4
	}
	if len(b) < n {
		return short(b, rep)
	}
	switch et {
	case etherERSPAN, etherERSPAN3:
		p.enter(TunnelERSPAN)
	default:
		p.enter(TunnelGRE)
	}
	switch et {
	case etherERSPAN:
		// Type I has no header of its own; type II (with GRE's sequence
		// number) has 8 bytes, version 1.
		if flags&0x1000 != 0 {
			if len(b) < n+8 {
				return short(b, rep)
			}
			if b[n]>>4 != 1 {
				return vNonTCP
			}
			n += 8
		}
		return ethernet(b[n:], rep-n, p, ctx)
	case etherERSPAN3:
		return erspan3(b[n:], rep-n, p, ctx)
	}
	return network(et, b[n:], rep-n, p, ctx)
}

// enter records t as the tunnel p is in, unless p is already inside an
// outer one.
func (p *Packet) enter(t Tunnel) {
	if p.Tunnel == TunnelNone {
		p.Tunnel = t
	}
}

// erspan3 decodes an ERSPAN type III header: 12 bytes, version 2, then an
// optional 8-byte platform-specific subheader (the O bit), then the
// mirrored frame: Ethernet (frame type 0) or IP (frame type 2).
func erspan3(b []byte, rep int, p *Packet, ctx nest) verdict {
	if len(b) < 12 {
		return short(b, rep)
	}
	if b[0]>>4 != 2 {
		return vNonTCP
	}
	n := 12
	if b[11]&0x01 != 0 {
		n += 8
	}
	if len(b) < n {
		return short(b, rep)
	}
	switch (b[10] >> 2) & 0x1F {
	case 0:
		return ethernet(b[n:], rep-n, p, ctx)
	case 2:
		return network(etherGuessIP, b[n:], rep-n, p, ctx)
	}
	return vNonTCP
}

// tcp decodes a TCP header. rep is the segment length from the IP header.
func tcp(b []byte, rep int, p *Packet) verdict {
	if rep < 20 {
		return vMalformed
	}
	if len(b) < 20 {
		return short(b, rep)
	}
	doff := int(b[12]>>4) * 4
	if doff < 20 || doff > rep {
		return vMalformed
	}
	p.Src = netip.AddrPortFrom(p.Src.Addr(), binary.BigEndian.Uint16(b))
	p.Dst = netip.AddrPortFrom(p.Dst.Addr(), binary.BigEndian.Uint16(b[2:]))
	p.Seq = binary.BigEndian.Uint32(b[4:])
	p.Ack = binary.BigEndian.Uint32(b[8:])
	p.Flags = TCPFlags(b[13]) | TCPFlags(b[12]&1)<<8
	p.Window = binary.BigEndian.Uint16(b[14:])
	tcpOptions(b[20:min(doff, len(b))], &p.Opts)
	p.PayloadLen = rep - doff
	if len(b) > doff {
		p.Payload = b[doff:]
	} else {
		p.Payload = b[len(b):]
	}
	p.Truncated = len(b) < rep
	return vTCP
}

// tcpOptions parses the TCP options pcapsleuth uses. It stops at the end
// of the list or at the first option whose length is invalid, keeping
// what it parsed before.
func tcpOptions(b []byte, o *TCPOptions) {
	for len(b) > 0 {
		kind := b[0]
		switch kind {
		case 0: // end of option list
			return
		case 1: // no-operation
			b = b[1:]
			continue
		}
		if len(b) < 2 {
			return
		}
		n := int(b[1])
		if n < 2 || n > len(b) {
			return
		}
		v := b[2:n]
		switch kind {
		case 2:
			if len(v) == 2 {
				o.MSS = binary.BigEndian.Uint16(v)
			}
		case 3:
			if len(v) == 1 {
				// RFC 7323 2.3: a shift above 14 is used as 14.
				o.WScale = int8(min(v[0], 14))
			}
		case 4:
			if len(v) == 0 {
				o.SACKPermitted = true
			}
		case 5:
			if len(v)%8 == 0 {
				o.NSACK = 0
				for i := 0; i+8 <= len(v) && int(o.NSACK) < len(o.SACK); i += 8 {
					o.SACK[o.NSACK] = SACKBlock{
						Left:  binary.BigEndian.Uint32(v[i:]),
						Right: binary.BigEndian.Uint32(v[i+4:]),
					}
					o.NSACK++
				}
			}
		case 8:
			if len(v) == 8 {
				o.HasTS = true
				o.TSVal = binary.BigEndian.Uint32(v)
				o.TSEcr = binary.BigEndian.Uint32(v[4:])
			}
		}
		b = b[n:]
	}
}
