package decode

import (
	"net/netip"
	"strconv"
	"strings"
)

// TCPFlags is the set of TCP header flags of one segment.
type TCPFlags uint16

// TCP header flags, in header bit order.
const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
	FlagURG
	FlagECE
	FlagCWR
	FlagNS
)

var flagNames = [...]string{"FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR", "NS"}

// Has reports whether all flags of x are set in f.
func (f TCPFlags) Has(x TCPFlags) bool { return f&x == x }

// String returns the flags as Wireshark writes them, e.g. "SYN,ACK".
func (f TCPFlags) String() string {
	if f == 0 {
		return "none"
	}
	var b strings.Builder
	// Print in the order people read them: SYN, FIN, RST, PSH, ACK, ...
	order := [...]int{1, 0, 2, 3, 4, 5, 6, 7, 8}
	for _, i := range order {
		if f&(1<<i) != 0 {
			if b.Len() > 0 {
				b.WriteByte(',')
			}
			b.WriteString(flagNames[i])
		}
	}
	return b.String()
}

// SACKBlock is one SACK option block [Left, Right) in absolute sequence numbers.
type SACKBlock struct{ Left, Right uint32 }

// TCPOptions holds the TCP options pcapsleuth uses. Absent options have their
// zero value, except WScale, which is -1 when absent.
type TCPOptions struct {
	MSS           uint16 // 0 when absent
	WScale        int8   // -1 when absent
	SACKPermitted bool
	HasTS         bool
	TSVal, TSEcr  uint32
	NSACK         uint8        // number of valid entries in SACK
	SACK          [4]SACKBlock // SACK blocks, NSACK of them
}

// Tunnel is a kind of tunnel the decoder takes TCP segments out of.
type Tunnel uint8

// The tunnels, outermost first when nested; NumTunnels counts them.
const (
	TunnelNone   Tunnel = iota
	TunnelIPinIP        // IPv4 or IPv6 in IPv4 or IPv6
	TunnelGRE           // GRE, PPTP's enhanced GRE, Ethernet in GRE
	TunnelERSPAN        // ERSPAN types I, II and III, in GRE
	TunnelVXLAN         // VXLAN on 4789, and on 8472
	TunnelGeneve
	TunnelGTPU
	NumTunnels
)

var tunnelNames = [NumTunnels]string{"none", "IP-in-IP", "GRE", "ERSPAN", "VXLAN", "Geneve", "GTP-U"}

// String returns the tunnel's usual name, e.g. "VXLAN".
func (t Tunnel) String() string {
	if t < NumTunnels {
		return tunnelNames[t]
	}
	return "tunnel " + strconv.Itoa(int(t))
}

// Packet is the compact record of one TCP segment that the decoder fills in
// place. It is the only thing the connection tracker sees of a frame.
//
// Payload aliases the reader's buffer: it is valid until the next call to
// Reader.Next and must be copied to be kept.
//
// It takes 192 bytes, three cache lines exactly (TestPacketSize): the
// reading, tracking and observing goroutines each go through every packet
// of a batch, on their own cores, and at 208 bytes most packets touched
// four.
type Packet struct {
	Frame   int64  // 1-based frame number in the capture, as Wireshark's frame.number
	TS      int64  // capture time, Unix nanoseconds
	Iface   int32  // pcapng interface index (0 for pcap)
	WireLen uint32 // original length of the frame on the wire
	CapLen  uint32 // captured length of the frame
	// Truncated is set when the captured bytes end before the IP packet does
	// (snaplen), i.e. len(Payload) < PayloadLen or headers were cut.
	Truncated bool
	// Tunnel is the outermost tunnel the segment came out of (TunnelNone
	// when it was not in one).
	Tunnel Tunnel

	Src, Dst netip.AddrPort
	Seq, Ack uint32
	Flags    TCPFlags
	Window   uint16 // raw window field, not scaled
	Opts     TCPOptions

	// PayloadLen is the TCP payload length computed from the IP header (total
	// length or payload length), so it is right on headers-only captures.
	PayloadLen int
	// Payload is the captured part of the TCP payload (len <= PayloadLen).
	Payload []byte
}

// Reset clears p for reuse without releasing its memory.
func (p *Packet) Reset() {
	*p = Packet{Payload: p.Payload[:0]}
	p.Opts.WScale = -1
}
