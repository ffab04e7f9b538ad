package capturetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
)

// LinkTypeLinuxSLL2 is LINKTYPE_LINUX_SLL2. gopacket v1.1.19 has no name for
// it, and its layers.LinkType is a uint8, too small to hold it.
const LinkTypeLinuxSLL2 = 276

// Capture link types (LINKTYPE_* values) by script name.
var linkTypes = map[string]uint16{
	"ether": uint16(layers.LinkTypeEthernet),
	"vlan":  uint16(layers.LinkTypeEthernet),
	"qinq":  uint16(layers.LinkTypeEthernet),
	"sll":   uint16(layers.LinkTypeLinuxSLL),
	"sll2":  LinkTypeLinuxSLL2,
	"raw":   uint16(layers.LinkTypeRaw),
	"raw4":  uint16(layers.LinkTypeIPv4),
	"null":  uint16(layers.LinkTypeNull),
	"loop":  uint16(layers.LinkTypeLoop),
}

// LinkType returns the LINKTYPE_ value of interface iface (0 or 1).
func (s *Script) LinkType(iface int) uint16 {
	if iface == 1 && s.Link2 != "" {
		return linkTypes[s.Link2]
	}
	return linkTypes[s.Link]
}

const defaultSnaplen = 262144

func (o *tcpOpts) list() []layers.TCPOption {
	var l []layers.TCPOption
	nop := layers.TCPOption{OptionType: layers.TCPOptionKindNop}
	u16 := func(v int) []byte { return []byte{byte(v >> 8), byte(v)} }
	tsOpt := func() layers.TCPOption {
		b := make([]byte, 8)
		binary.BigEndian.PutUint32(b, o.tsVal)
		binary.BigEndian.PutUint32(b[4:], o.tsEcr)
		return layers.TCPOption{OptionType: layers.TCPOptionKindTimestamps, OptionData: b}
	}
	sackOK := layers.TCPOption{OptionType: layers.TCPOptionKindSACKPermitted}
	if o.mss >= 0 {
		l = append(l, layers.TCPOption{OptionType: layers.TCPOptionKindMSS, OptionData: u16(o.mss)})
	}
	// The layouts Linux uses.
	switch {
	case o.sackOK && o.ts:
		l = append(l, sackOK, tsOpt())
	case o.sackOK:
		l = append(l, nop, nop, sackOK)
	case o.ts:
		l = append(l, nop, nop, tsOpt())
	}
	if o.ws >= 0 {
		l = append(l, nop, layers.TCPOption{OptionType: layers.TCPOptionKindWindowScale, OptionData: []byte{byte(o.ws)}})
	}
	if len(o.sack) > 0 {
		b := make([]byte, 0, 8*len(o.sack))
		for _, blk := range o.sack {
			b = binary.BigEndian.AppendUint32(b, blk[0])
			b = binary.BigEndian.AppendUint32(b, blk[1])
		}
		l = append(l, nop, nop, layers.TCPOption{OptionType: layers.TCPOptionKindSACK, OptionData: b})
	}
	return l
}

func (o *tcpOpts) size() int {
	n := 0
	for _, x := range o.list() {
		if x.OptionType <= 1 {
			n++
		} else {
			n += 2 + len(x.OptionData)
		}
	}
	return (n + 3) / 4 * 4
}

func macOf(a []byte) net.HardwareAddr {
	return net.HardwareAddr{0x02, 0x00, a[len(a)-4], a[len(a)-3], a[len(a)-2], a[len(a)-1]}
}

// serialize returns the whole frame (before snaplen) of f on link type link.
func (s *Script) serialize(f *Frame, link string) ([]byte, error) {
	src, dst := f.Src.Addr().AsSlice(), f.Dst.Addr().AsSlice()
	v4 := f.Src.Addr().Is4()
	tcp := &layers.TCP{
		SrcPort: layers.TCPPort(f.Src.Port()),
		DstPort: layers.TCPPort(f.Dst.Port()),
		Seq:     f.Seq,
		Ack:     f.Ack,
		Window:  f.Window,
		FIN:     f.Flags&FIN != 0,
		SYN:     f.Flags&SYN != 0,
		RST:     f.Flags&RST != 0,
		PSH:     f.Flags&PSH != 0,
		ACK:     f.Flags&ACK != 0,
		URG:     f.Flags&URG != 0,
		ECE:     f.Flags&ECE != 0,
		CWR:     f.Flags&CWR != 0,
		NS:      f.Flags&NS != 0,
		Options: f.opts.list(),
	}
	var ip gopacket.SerializableLayer
	var ipHdr int
	etype := layers.EthernetTypeIPv4
	if v4 {
		ip4 := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Flags: layers.IPv4DontFragment, Id: f.ipID,
			Protocol: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		if err := tcp.SetNetworkLayerForChecksum(ip4); err != nil {
			return nil, err
		}
		ip, ipHdr = ip4, 20
	} else {
		ip6 := &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: layers.IPProtocolTCP, SrcIP: src, DstIP: dst}
		if err := tcp.SetNetworkLayerForChecksum(ip6); err != nil {
			return nil, err
		}
		ip, ipHdr, etype = ip6, 40, layers.EthernetTypeIPv6
	}
	srcMAC, dstMAC := macOf(src), macOf(dst)
	var ls []gopacket.SerializableLayer
	var linkHdr []byte // hand-made link header, prepended after serializing
	linkLen := 0
	switch link {
	case "ether":
		ls = append(ls, &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: etype})
		linkLen = 14
	case "vlan":
		ls = append(ls, &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: s.VLANs[0], Type: etype})
		linkLen = 18
	case "qinq":
		ls = append(ls, &layers.Ethernet{SrcMAC: srcMAC, DstMAC: dstMAC, EthernetType: layers.EthernetTypeQinQ},
			&layers.Dot1Q{VLANIdentifier: s.VLANs[0], Type: layers.EthernetTypeDot1Q},
			&layers.Dot1Q{VLANIdentifier: s.VLANs[1], Type: etype})
		linkLen = 22
	case "null":
		fam := layers.ProtocolFamilyIPv4
		if !v4 {
			fam = layers.ProtocolFamilyIPv6Darwin
		}
		ls = append(ls, &layers.Loopback{Family: fam})
	case "loop":
		fam := uint32(layers.ProtocolFamilyIPv4)
		if !v4 {
			fam = uint32(layers.ProtocolFamilyIPv6BSD)
		}
		linkHdr = binary.BigEndian.AppendUint32(nil, fam)
	case "sll":
		h := make([]byte, 16)
		if !f.FromClient {
			binary.BigEndian.PutUint16(h[0:], 4) // PACKET_OUTGOING
		}
		binary.BigEndian.PutUint16(h[2:], 1) // ARPHRD_ETHER
		binary.BigEndian.PutUint16(h[4:], 6)
		copy(h[6:], srcMAC)
		binary.BigEndian.PutUint16(h[14:], uint16(etype))
		linkHdr = h
	case "sll2":
		h := make([]byte, 20)
		binary.BigEndian.PutUint16(h[0:], uint16(etype))
		binary.BigEndian.PutUint32(h[4:], 2) // ifindex
		binary.BigEndian.PutUint16(h[8:], 1) // ARPHRD_ETHER
		if !f.FromClient {
			h[10] = 4
		}
		h[11] = 6
		copy(h[12:], srcMAC)
		linkHdr = h
	case "raw", "raw4":
	default:
		return nil, fmt.Errorf("unknown link type %q", link)
	}
	ls = append(ls, ip, tcp, gopacket.Payload(f.Payload))
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		return nil, fmt.Errorf("serialize frame of line %d: %w", f.Line, err)
	}
	b := buf.Bytes()
	if link == "null" {
		linkLen = 4
	}
	ipLen := ipHdr + f.opts.size() + 20 + len(f.Payload)
	if !s.EthPad && len(b) > linkLen+ipLen {
		b = b[:linkLen+ipLen] // drop gopacket's padding to 60 bytes
	}
	if f.badSum {
		i := linkLen + ipHdr + 16
		b[i] ^= 0x5a
		b[i+1] ^= 0xa5
	}
	if linkHdr != nil {
		b = append(linkHdr, b...)
	}
	return b, nil
}

// WriteTo writes the capture file to w. It implements io.WriterTo (go vet
// insists on that signature for a method named WriteTo).
func (s *Script) WriteTo(w io.Writer) (int64, error) {
	b, err := s.Bytes()
	if err != nil {
		return 0, err
	}
	n, err := w.Write(b)
	return int64(n), err
}

// Bytes returns the capture file.
func (s *Script) Bytes() ([]byte, error) {
	var out bytes.Buffer
	snap := s.Snaplen
	if snap == 0 {
		snap = defaultSnaplen
	}
	var write func(ci gopacket.CaptureInfo, b []byte) error
	var sectionSwitch func(int) error // pcapng: start sections up to n
	var ng *pcapgo.NgWriter
	switch s.Format {
	case "pcap", "pcap-nano":
		pw := pcapgo.NewWriter(&out)
		if s.Format == "pcap-nano" {
			pw = pcapgo.NewWriterNanos(&out)
		}
		// layers.LinkType is a uint8: write a placeholder, patch it below.
		if err := pw.WriteFileHeader(uint32(snap), layers.LinkType(s.LinkType(0))); err != nil {
			return nil, fmt.Errorf("write pcap header: %w", err)
		}
		write = pw.WritePacket
	case "pcap-be", "pcap-nano-be":
		bw := &bePcapWriter{w: &out, nano: s.Format == "pcap-nano-be"}
		bw.header(uint32(snap), s.LinkType(0))
		write = bw.packet
	case "pcapng", "pcapng-multi":
		section := 0
		var err error
		if ng, err = s.newNg(&out, uint32(snap)); err != nil {
			return nil, fmt.Errorf("write pcapng header: %w", err)
		}
		write = func(ci gopacket.CaptureInfo, b []byte) error { return ng.WritePacket(ci, b) }
		sectionSwitch = func(n int) error {
			for ; section < n; section++ {
				if err := ng.Flush(); err != nil {
					return err
				}
				if ng, err = s.newNg(&out, uint32(snap)); err != nil {
					return err
				}
			}
			return nil
		}
	default:
		return nil, fmt.Errorf("unknown format %q", s.Format)
	}
	for i := range s.frames {
		f := &s.frames[i]
		if sectionSwitch != nil {
			if err := sectionSwitch(f.Section); err != nil {
				return nil, fmt.Errorf("write pcapng section: %w", err)
			}
		}
		link := s.Link
		if f.Iface == 1 {
			link = s.Link2
		}
		b, err := s.serialize(f, link)
		if err != nil {
			return nil, err
		}
		capLen := len(b)
		if s.Snaplen > 0 && capLen > s.Snaplen {
			capLen = s.Snaplen
		}
		if f.capLen > 0 && capLen > f.capLen {
			capLen = f.capLen
		}
		ci := gopacket.CaptureInfo{Timestamp: f.Time, CaptureLength: capLen, Length: len(b), InterfaceIndex: f.Iface}
		if err := write(ci, b[:capLen]); err != nil {
			return nil, fmt.Errorf("write frame of line %d: %w", f.Line, err)
		}
	}
	if ng != nil {
		if err := ng.Flush(); err != nil {
			return nil, fmt.Errorf("write pcapng: %w", err)
		}
	}
	b := out.Bytes()
	switch s.Format {
	case "pcap", "pcap-nano":
		binary.LittleEndian.PutUint32(b[20:], uint32(s.LinkType(0)))
	case "pcapng", "pcapng-multi":
		// Patch every interface description block's link type, in order.
		idb := 0
		for off := 0; off+12 <= len(b); {
			typ := binary.LittleEndian.Uint32(b[off:])
			n := int(binary.LittleEndian.Uint32(b[off+4:]))
			if n < 12 || off+n > len(b) {
				return nil, errors.New("write pcapng: bad block length")
			}
			switch typ {
			case 0x0a0d0d0a:
				idb = 0
			case 1:
				binary.LittleEndian.PutUint16(b[off+8:], s.LinkType(idb))
				idb++
			}
			off += n
		}
	}
	return b, nil
}

func (s *Script) newNg(w io.Writer, snap uint32) (*pcapgo.NgWriter, error) {
	opts := pcapgo.NgWriterOptions{SectionInfo: pcapgo.NgSectionInfo{Application: "pcapsleuth capturetest"}}
	intf := pcapgo.NgInterface{Name: "eth0", LinkType: layers.LinkType(s.LinkType(0)), SnapLength: snap, TimestampResolution: 9}
	ng, err := pcapgo.NewNgWriterInterface(w, intf, opts)
	if err != nil {
		return nil, err
	}
	if s.Format == "pcapng-multi" {
		if _, err := ng.AddInterface(pcapgo.NgInterface{Name: "if1", LinkType: layers.LinkType(s.LinkType(1)), SnapLength: snap, TimestampResolution: 9}); err != nil {
			return nil, err
		}
	}
	return ng, nil
}

// bePcapWriter writes classic pcap in big-endian byte order, as a
// big-endian host's libpcap does.
type bePcapWriter struct {
	w    *bytes.Buffer
	nano bool
}

func (b *bePcapWriter) header(snap uint32, lt uint16) {
	h := make([]byte, 24)
	magic := uint32(0xa1b2c3d4)
	if b.nano {
		magic = 0xa1b23c4d
	}
	binary.BigEndian.PutUint32(h[0:], magic)
	binary.BigEndian.PutUint16(h[4:], 2)
	binary.BigEndian.PutUint16(h[6:], 4)
	binary.BigEndian.PutUint32(h[16:], snap)
	binary.BigEndian.PutUint32(h[20:], uint32(lt))
	b.w.Write(h)
}

func (b *bePcapWriter) packet(ci gopacket.CaptureInfo, data []byte) error {
	h := make([]byte, 16)
	ns := ci.Timestamp.UnixNano()
	sub := (ns % 1e9) / 1e3
	if b.nano {
		sub = ns % 1e9
	}
	binary.BigEndian.PutUint32(h[0:], uint32(ns/1e9))
	binary.BigEndian.PutUint32(h[4:], uint32(sub))
	binary.BigEndian.PutUint32(h[8:], uint32(ci.CaptureLength))
	binary.BigEndian.PutUint32(h[12:], uint32(ci.Length))
	b.w.Write(h)
	b.w.Write(data)
	return nil
}
