package decode

import (
	"bytes"
	"encoding/binary"
)

// This file builds captures and packets byte by byte for the tests, so
// that every field (byte order, lengths, options) can be set, including
// wrong ones.

// put appends v in byte order o.
func put16(o byteOrder, b []byte, v uint16) []byte {
	if o == bigEndian {
		return binary.BigEndian.AppendUint16(b, v)
	}
	return binary.LittleEndian.AppendUint16(b, v)
}

func put32(o byteOrder, b []byte, v uint32) []byte {
	if o == bigEndian {
		return binary.BigEndian.AppendUint32(b, v)
	}
	return binary.LittleEndian.AppendUint32(b, v)
}

func put64(o byteOrder, b []byte, v uint64) []byte {
	if o == bigEndian {
		return binary.BigEndian.AppendUint64(b, v)
	}
	return binary.LittleEndian.AppendUint64(b, v)
}

// pcapRec is one pcap record to write.
type pcapRec struct {
	sec, frac uint32
	orig      uint32 // 0 means len(data)
	data      []byte
}

// pcapFile builds a pcap file with the given magic (as a number), byte
// order, link type field and records.
func pcapFile(o byteOrder, magic uint32, snap, link uint32, recs ...pcapRec) []byte {
	b := put32(o, nil, magic)
	b = put16(o, b, 2)
	b = put16(o, b, 4)
	b = put32(o, b, 0)
	b = put32(o, b, 0)
	b = put32(o, b, snap)
	b = put32(o, b, link)
	for _, r := range recs {
		b = appendPcapRec(o, magic, b, r)
	}
	return b
}

func appendPcapRec(o byteOrder, magic uint32, b []byte, r pcapRec) []byte {
	orig := r.orig
	if orig == 0 {
		orig = uint32(len(r.data))
	}
	b = put32(o, b, r.sec)
	b = put32(o, b, r.frac)
	b = put32(o, b, uint32(len(r.data)))
	b = put32(o, b, orig)
	if magic == pcapMagicModified {
		b = append(b, make([]byte, 8)...)
	}
	return append(b, r.data...)
}

// ng builds a pcapng stream.
type ng struct {
	o byteOrder
	b []byte
}

// opt encodes one pcapng option, padded.
func (n *ng) opt(code uint16, val []byte) []byte {
	b := put16(n.o, nil, code)
	b = put16(n.o, b, uint16(len(val)))
	b = append(b, val...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// endOpts is opt_endofopt.
func (n *ng) endOpts() []byte { return n.opt(0, nil) }

// block appends a block with the given body (padded to 4 bytes).
func (n *ng) block(typ uint32, body []byte) *ng {
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	l := uint32(12 + len(body))
	n.b = put32(n.o, n.b, typ)
	n.b = put32(n.o, n.b, l)
	n.b = append(n.b, body...)
	n.b = put32(n.o, n.b, l)
	return n
}

// shb starts a section in byte order o.
func (n *ng) shb(o byteOrder, major, minor uint16, opts ...[]byte) *ng {
	n.o = o
	body := put32(o, nil, 0x1A2B3C4D)
	body = put16(o, body, major)
	body = put16(o, body, minor)
	body = put64(o, body, ^uint64(0))
	for _, op := range opts {
		body = append(body, op...)
	}
	return n.block(blockSHB, body)
}

func (n *ng) idb(link uint16, snap uint32, opts ...[]byte) *ng {
	body := put16(n.o, nil, link)
	body = put16(n.o, body, 0)
	body = put32(n.o, body, snap)
	for _, op := range opts {
		body = append(body, op...)
	}
	return n.block(blockIDB, body)
}

func (n *ng) epb(iface uint32, ts uint64, orig uint32, data []byte, opts ...[]byte) *ng {
	if orig == 0 {
		orig = uint32(len(data))
	}
	body := put32(n.o, nil, iface)
	body = put32(n.o, body, uint32(ts>>32))
	body = put32(n.o, body, uint32(ts))
	body = put32(n.o, body, uint32(len(data)))
	body = put32(n.o, body, orig)
	body = append(body, data...)
	for len(body)%4 != 0 {
		body = append(body, 0)
	}
	for _, op := range opts {
		body = append(body, op...)
	}
	return n.block(blockEPB, body)
}

func (n *ng) pb(iface uint16, ts uint64, data []byte) *ng {
	body := put16(n.o, nil, iface)
	body = put16(n.o, body, 0)
	body = put32(n.o, body, uint32(ts>>32))
	body = put32(n.o, body, uint32(ts))
	body = put32(n.o, body, uint32(len(data)))
	body = put32(n.o, body, uint32(len(data)))
	body = append(body, data...)
	return n.block(blockPB, body)
}

func (n *ng) spb(orig uint32, data []byte) *ng {
	body := put32(n.o, nil, orig)
	body = append(body, data...)
	return n.block(blockSPB, body)
}

func (n *ng) isb(iface uint32, drops uint64) *ng {
	body := put32(n.o, nil, iface)
	body = put64(n.o, body, 0)
	body = append(body, n.opt(optISBIfDrop, put64(n.o, nil, drops))...)
	body = append(body, n.endOpts()...)
	return n.block(blockISB, body)
}

// Packet builders. Addresses are fixed test values.

var (
	testSrc4 = [4]byte{10, 0, 0, 1}
	testDst4 = [4]byte{10, 0, 0, 2}
	testSrc6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 1}
	testDst6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 15: 2}
)

// tcpSeg describes a TCP segment to build.
type tcpSeg struct {
	sport, dport uint16
	seq, ack     uint32
	flags        TCPFlags
	win          uint16
	opts         []byte // raw options, padded to 4 bytes by tcpHeader
	payload      []byte
}

// tcpBytes returns the TCP header and payload (checksum left 0).
func (s tcpSeg) bytes() []byte {
	opts := append([]byte(nil), s.opts...)
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	h := make([]byte, 20, 20+len(opts)+len(s.payload))
	binary.BigEndian.PutUint16(h, s.sport)
	binary.BigEndian.PutUint16(h[2:], s.dport)
	binary.BigEndian.PutUint32(h[4:], s.seq)
	binary.BigEndian.PutUint32(h[8:], s.ack)
	h[12] = byte((20+len(opts))/4)<<4 | byte(s.flags>>8&1)
	h[13] = byte(s.flags)
	binary.BigEndian.PutUint16(h[14:], s.win)
	h = append(h, opts...)
	return append(h, s.payload...)
}

// ipv4Pkt wraps payload in an IPv4 header with protocol proto. totalLen
// < 0 means the correct length.
func ipv4Pkt(proto byte, payload []byte, totalLen int, opts ...byte) []byte {
	for len(opts)%4 != 0 {
		opts = append(opts, 0)
	}
	ihl := 20 + len(opts)
	h := make([]byte, ihl, ihl+len(payload))
	h[0] = 0x40 | byte(ihl/4)
	if totalLen < 0 {
		totalLen = ihl + len(payload)
	}
	binary.BigEndian.PutUint16(h[2:], uint16(totalLen))
	h[8] = 64
	h[9] = proto
	copy(h[12:], testSrc4[:])
	copy(h[16:], testDst4[:])
	copy(h[20:], opts)
	return append(h, payload...)
}

// ipv6Pkt wraps payload (which starts with the extension headers, if
// any) in an IPv6 header whose next header is next.
func ipv6Pkt(next byte, payload []byte) []byte {
	h := make([]byte, 40, 40+len(payload))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(payload)))
	h[6] = next
	h[7] = 64
	copy(h[8:], testSrc6[:])
	copy(h[24:], testDst6[:])
	return append(h, payload...)
}

// ether wraps payload in an Ethernet header with the given type, after
// optional VLAN-style tags (each a TPID; the tag's inner type is filled in).
func ether(etype uint16, payload []byte, tpids ...uint16) []byte {
	b := []byte{2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1}
	for i, tpid := range tpids {
		b = binary.BigEndian.AppendUint16(b, tpid)
		b = binary.BigEndian.AppendUint16(b, uint16(100+i)) // VLAN id
	}
	b = binary.BigEndian.AppendUint16(b, etype)
	return append(b, payload...)
}

// concat joins byte slices into a new one.
func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

// simpleTCP4 is an Ethernet/IPv4/TCP frame with a small payload.
func simpleTCP4() []byte {
	seg := tcpSeg{sport: 40000, dport: 80, seq: 1000, ack: 2000, flags: FlagACK | FlagPSH, win: 512, payload: []byte("hello")}
	return ether(etherIPv4, ipv4Pkt(protoTCP, seg.bytes(), -1))
}
