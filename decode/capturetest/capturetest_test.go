package capturetest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

const exampleScript = `
client 10.0.0.1:40000
server 10.0.0.2:8080
0.000 C>S SYN mss=1460 ws=7 sackok ts
0.001 S>C SYN,ACK mss=1412 ws=7
0.002 C>S ACK
0.010 C>S PSH,ACK data="GET / HTTP/1.1\r\nHost: x\r\n\r\n"
0.020 S>C ACK len=1412
0.030 S>C ACK len=1412 retrans
0.040 S>C ACK len=100 seq=+5000
1.000 C>S FIN,ACK
`

// readFrame is one frame read back from a capture.
type readFrame struct {
	ci       gopacket.CaptureInfo
	data     []byte
	linkType uint16
}

// readAll reads a pcap or pcapng capture with pcapgo.
func readAll(t *testing.T, b []byte) []readFrame {
	t.Helper()
	var out []readFrame
	if len(b) >= 4 && binary.LittleEndian.Uint32(b) == 0x0a0d0d0a {
		r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			t.Fatalf("NewNgReader: %v", err)
		}
		for {
			data, ci, err := r.ReadPacketData()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("ReadPacketData: %v", err)
			}
			// gopacket's link type is a uint8; read the real one from the IDB bytes.
			out = append(out, readFrame{ci: ci, data: data, linkType: idbLinkTypes(b)[ci.InterfaceIndex]})
		}
		return out
	}
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	lt := binary.LittleEndian.Uint32(b[20:])
	if binary.BigEndian.Uint32(b) == 0xa1b2c3d4 || binary.BigEndian.Uint32(b) == 0xa1b23c4d {
		lt = binary.BigEndian.Uint32(b[20:])
	}
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("ReadPacketData: %v", err)
		}
		out = append(out, readFrame{ci: ci, data: data, linkType: uint16(lt)})
	}
	return out
}

// idbLinkTypes returns the link types of the last section's interfaces.
func idbLinkTypes(b []byte) []uint16 {
	var lts []uint16
	for off := 0; off+12 <= len(b); {
		typ := binary.LittleEndian.Uint32(b[off:])
		n := int(binary.LittleEndian.Uint32(b[off+4:]))
		switch typ {
		case 0x0a0d0d0a:
			lts = nil
		case 1:
			lts = append(lts, binary.LittleEndian.Uint16(b[off+8:]))
		}
		off += n
	}
	return lts
}

// countBlocks counts the pcapng blocks of type typ.
func countBlocks(b []byte, typ uint32) int {
	n := 0
	for off := 0; off+12 <= len(b); off += int(binary.LittleEndian.Uint32(b[off+4:])) {
		if binary.LittleEndian.Uint32(b[off:]) == typ {
			n++
		}
	}
	return n
}

// decodeTCP decodes a frame down to TCP with gopacket and returns the
// network and TCP layers.
func decodeTCP(t *testing.T, f readFrame) (gopacket.NetworkLayer, *layers.TCP) {
	t.Helper()
	data := f.data
	var first gopacket.Decoder
	switch f.linkType {
	case LinkTypeLinuxSLL2: // gopacket v1.1.19 has no SLL2 decoder
		proto := binary.BigEndian.Uint16(data)
		data = data[20:]
		first = layers.EthernetType(proto)
	case uint16(layers.LinkTypeIPv4): // nor a LINKTYPE_IPV4 one
		first = layers.LayerTypeIPv4
	default:
		first = layers.LinkType(f.linkType)
	}
	pkt := gopacket.NewPacket(data, first, gopacket.Default)
	if el := pkt.ErrorLayer(); el != nil && f.ci.CaptureLength == f.ci.Length {
		t.Fatalf("decode link type %d: %v", f.linkType, el.Error())
	}
	tl, _ := pkt.Layer(layers.LayerTypeTCP).(*layers.TCP)
	if tl == nil {
		t.Fatalf("link type %d: no TCP layer in % x", f.linkType, f.data)
	}
	return pkt.NetworkLayer(), tl
}

// tcpChecksumOK verifies the TCP checksum of an untruncated IP packet.
func tcpChecksumOK(nl gopacket.NetworkLayer, tcp *layers.TCP) bool {
	seg := append(append([]byte{}, tcp.Contents...), tcp.Payload...)
	var sum uint32
	add := func(b []byte) {
		for i := 0; i+1 < len(b); i += 2 {
			sum += uint32(b[i])<<8 | uint32(b[i+1])
		}
		if len(b)%2 == 1 {
			sum += uint32(b[len(b)-1]) << 8
		}
	}
	switch ip := nl.(type) {
	case *layers.IPv4:
		add(ip.SrcIP.To4())
		add(ip.DstIP.To4())
		sum += 6 + uint32(len(seg))
	case *layers.IPv6:
		add(ip.SrcIP)
		add(ip.DstIP)
		sum += 6 + uint32(len(seg))
	}
	add(seg)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return sum == 0xffff
}

func mustParse(t *testing.T, src string) *Script {
	t.Helper()
	s, err := Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		name, src string
		line      int
		msg       string
	}{
		{"unknown statement", "link ether\nfoo bar", 2, `unknown statement "foo"`},
		{"bad direction", "0.0 C<S SYN", 1, "bad direction"},
		{"bad flag", "\n\n0.0 C>S SYN,FOO", 3, `unknown flag "FOO"`},
		{"missing flags", "0.0 C>S", 1, "needs TIME DIR FLAGS"},
		{"bad time", "0.0.1 C>S SYN", 1, "bad time"},
		{"too precise", "0.0000000001 C>S SYN", 1, "more than 9 decimals"},
		{"unknown option", "0 C>S SYN foo=1", 1, `unknown option "foo"`},
		{"bad mss", "0 C>S SYN mss=70000", 1, "out of range"},
		{"bad data", `0 C>S ACK data="abc`, 1, "unterminated"},
		{"len and data", `0 C>S ACK data="a" len=3`, 1, "len= together with a payload"},
		{"retrans nothing", "0 C>S ACK retrans", 1, "nothing to resend"},
		{"late isn", "0 C>S SYN\n0.1 C>S ACK isn=5", 2, "first segment"},
		{"isn after peer ack", "0 S>C ACK\n0.1 C>S ACK isn=5", 2, "first segment"},
		{"unknown conn", "0 C>S@x SYN", 1, `unknown connection "x"`},
		{"conn redefined", "conn a client 10.0.0.1:1 server 10.0.0.2:2\nconn a client 10.0.0.1:1", 2, "already defined on line 1"},
		{"bad address", "client 10.0.0.1", 1, "bad address"},
		{"client after packets", "0 C>S SYN\nclient 10.0.0.3:5", 2, "already has packets"},
		{"mixed families", "server [fd00::2]:80\n0 C>S SYN", 2, "mixes IPv4 and IPv6"},
		{"link twice", "link ether\n\nlink sll", 3, "given twice (first on line 1)"},
		{"unknown link", "link tokenring", 1, "unknown link type"},
		{"vlan id", "link vlan 5000", 1, "bad VLAN ID"},
		{"qinq ids", "link qinq 5", 1, "OUTER INNER"},
		{"unknown format", "format erf", 1, "unknown format"},
		{"snaplen", "snaplen 0", 1, "bad value"},
		{"raw4 v6", "link raw4\nclient [fd00::1]:1\nserver [fd00::2]:2\n0 C>S SYN", 4, "IPv4 only"},
		{"iface without multi", "0 C>S SYN iface=1", 1, "pcapng-multi"},
		{"link2 same", "format pcapng-multi\nlink2 ether\n0 C>S SYN", 2, "two different link types"},
		{"section in pcap", "format pcap\n0 C>S SYN\nsection\n0.1 C>S ACK", 1, "pcapng"},
		{"section first", "section", 1, "before any packet"},
		{"options too long", "0 C>S ACK mss=1 ws=1 sackok ts sack=1-2,3-4,5-6", 1, "more than 40"},
		{"bad sack", "0 C>S ACK sack=5-1", 1, "bad SACK block"},
		{"bad tls", "0 C>S ACK tls=foo", 1, "unknown tls"},
		{"sni without hello", "0 C>S ACK sni=x", 1, "sni= needs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse(tt.src)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse: got %v, want a *ParseError", err)
			}
			if pe.Line != tt.line || !strings.Contains(pe.Error(), tt.msg) {
				t.Errorf("Parse: got %q (line %d), want line %d containing %q", pe.Error(), pe.Line, tt.line, tt.msg)
			}
			if !strings.HasPrefix(err.Error(), "line ") {
				t.Errorf("error %q does not start with the line number", err)
			}
		})
	}
}

func TestParseComments(t *testing.T) {
	s := mustParse(t, "# only comments\n\n   \t\n0 C>S SYN # trailing\n0.5 C>S ACK data=\"a # not a comment\"\n")
	if got := len(s.Frames()); got != 2 {
		t.Fatalf("got %d frames, want 2", got)
	}
	if got := string(s.Frames()[1].Payload); got != "a # not a comment" {
		t.Errorf("payload %q", got)
	}
}

// rel returns the relative seq and ack of a frame given both ISNs.
func rel(f Frame, isnC, isnS uint32) (seq, ack uint32) {
	if f.FromClient {
		return f.Seq - isnC, f.Ack - isnS
	}
	return f.Seq - isnS, f.Ack - isnC
}

func TestSeqTracking(t *testing.T) {
	s := mustParse(t, exampleScript+"1.001 S>C ACK\n1.002 S>C RST retrans=una len=0\n")
	fr := s.Frames()
	isnC, isnS := fr[0].Seq, fr[1].Seq
	if isnC == isnS {
		t.Fatalf("client and server ISN are both %d", isnC)
	}
	want := []struct {
		seq, ack uint32
		plen     int
		flags    uint16
	}{
		{0, 0, 0, SYN},
		{0, 1, 0, SYN | ACK},
		{1, 1, 0, ACK},
		{1, 1, 27, PSH | ACK},
		{1, 28, 1412, ACK},
		{1, 28, 1412, ACK},          // retrans: same seq, same bytes
		{1413 + 5000, 28, 100, ACK}, // gap
		{28, 1413, 0, FIN | ACK},    // acks only up to the hole
		{6513, 29, 0, ACK},          // acks the FIN
		{1413, 0, 0, RST},           // retrans=una: the client acked up to 1413
	}
	if len(fr) != len(want) {
		t.Fatalf("got %d frames, want %d", len(fr), len(want))
	}
	for i, w := range want {
		seq, ack := rel(fr[i], isnC, isnS)
		if fr[i].Flags&ACK == 0 {
			ack = 0
			if fr[i].Ack != 0 {
				t.Errorf("frame %d: ack %d without the ACK flag", i+1, fr[i].Ack)
			}
		}
		if seq != w.seq || ack != w.ack || len(fr[i].Payload) != w.plen || fr[i].Flags != w.flags {
			t.Errorf("frame %d: seq=%d ack=%d len=%d flags=%#x, want seq=%d ack=%d len=%d flags=%#x",
				i+1, seq, ack, len(fr[i].Payload), fr[i].Flags, w.seq, w.ack, w.plen, w.flags)
		}
	}
	if !bytes.Equal(fr[4].Payload, fr[5].Payload) {
		t.Error("retransmission carries different bytes")
	}
	if got := string(fr[4].Payload[:5]); got != "bcdef" {
		t.Errorf("filler starts %q, want %q (a..z by relative offset)", got, "bcdef")
	}
}

func TestLostAndRetrans(t *testing.T) {
	s := mustParse(t, `
0.000 C>S SYN
0.001 S>C SYN,ACK
0.002 C>S ACK
0.010 S>C ACK len=100
0.011 S>C ACK len=100 lost
0.012 S>C ACK len=100
0.013 C>S ACK
0.014 C>S ACK sack=201-301
0.200 S>C ACK retrans=una
0.201 C>S ACK
0.300 S>C FIN,ACK
0.400 S>C FIN,ACK retrans
`)
	fr := s.Frames()
	isnC, isnS := fr[0].Seq, fr[1].Seq
	check := func(i int, wseq, wack uint32, wlen int) {
		t.Helper()
		seq, ack := rel(fr[i-1], isnC, isnS)
		if seq != wseq || ack != wack || len(fr[i-1].Payload) != wlen {
			t.Errorf("frame %d: seq=%d ack=%d len=%d, want %d %d %d", i, seq, ack, len(fr[i-1].Payload), wseq, wack, wlen)
		}
	}
	check(7, 1, 101, 0)   // ACK stops at the lost segment
	check(9, 101, 1, 100) // retrans=una resends the lost one, at its length
	check(10, 1, 301, 0)  // and the hole is filled
	check(11, 301, 1, 0)
	check(12, 301, 1, 0) // FIN retransmission
	if got := fr[7].opts.sack; len(got) != 1 || got[0] != [2]uint32{isnS + 201, isnS + 301} {
		t.Errorf("SACK blocks %v", got)
	}
	if !bytes.Equal(fr[4].Payload, fr[8].Payload) {
		t.Error("retrans=una carries different bytes")
	}
}

func TestSeqWraparound(t *testing.T) {
	s := mustParse(t, `
0.000 C>S SYN isn=4294967000
0.001 S>C SYN,ACK isn=4294967290
0.002 C>S ACK
0.010 C>S PSH,ACK len=1000
0.011 S>C ACK len=10
0.020 C>S FIN,ACK
0.021 S>C FIN,ACK
0.022 C>S ACK
`)
	fr := s.Frames()
	if fr[0].Seq != 4294967000 || fr[1].Ack != 4294967001 {
		t.Fatalf("SYN seq %d, SYN-ACK ack %d", fr[0].Seq, fr[1].Ack)
	}
	if got, want := fr[4].Ack, uint32(4294967001+1000-1<<32); got != want {
		t.Errorf("ack after wrap: got %d, want %d", got, want)
	}
	if got, want := fr[5].Seq, uint32(705); got != want { // 4294967001+1000 wraps to 705
		t.Errorf("client FIN seq: got %d, want %d", got, want)
	}
	if got, want := fr[6].Seq, uint32(5); got != want { // 4294967290+1+10 wraps to 5
		t.Errorf("server FIN seq: got %d, want %d", got, want)
	}
	if got, want := fr[7].Ack, uint32(6); got != want {
		t.Errorf("last ack: got %d, want %d", got, want)
	}
}

func TestIPv6(t *testing.T) {
	b := Build(t, `
client [fd00::1]:40000
server [fd00::2]:443
0.000 C>S SYN mss=1440
0.001 S>C SYN,ACK mss=1440
0.002 C>S ACK
0.003 C>S PSH,ACK tls=clienthello sni=v6.example
`)
	frames := readAll(t, b)
	if len(frames) != 4 {
		t.Fatalf("got %d frames", len(frames))
	}
	nl, tcp := decodeTCP(t, frames[3])
	ip, ok := nl.(*layers.IPv6)
	if !ok {
		t.Fatalf("network layer %T, want IPv6", nl)
	}
	if !ip.SrcIP.Equal(netip.MustParseAddr("fd00::1").AsSlice()) || tcp.DstPort != 443 {
		t.Errorf("got %v -> %v:%d", ip.SrcIP, ip.DstIP, tcp.DstPort)
	}
	if !tcpChecksumOK(nl, tcp) {
		t.Error("bad TCP checksum")
	}
	if !bytes.Contains(tcp.Payload, []byte("v6.example")) {
		t.Error("ClientHello lacks the SNI")
	}
}

func TestClientHello(t *testing.T) {
	b := ClientHello("api.example.com", 7)
	if b[0] != 22 || int(binary.BigEndian.Uint16(b[3:])) != len(b)-5 {
		t.Fatalf("bad record header % x", b[:5])
	}
	if b[5] != 1 || int(b[6])<<16|int(b[7])<<8|int(b[8]) != len(b)-9 {
		t.Fatalf("bad exampleScript header % x", b[5:9])
	}
	// Walk the body down to the extensions and find server_name.
	p := 9 + 2 + 32
	p += 1 + int(b[p])                                 // session id
	p += 2 + int(binary.BigEndian.Uint16(b[p:]))       // cipher suites
	p += 1 + int(b[p])                                 // compression methods
	end := p + 2 + int(binary.BigEndian.Uint16(b[p:])) // extensions
	if end != len(b) {
		t.Fatalf("extensions end at %d, record at %d", end, len(b))
	}
	var sni string
	for p += 2; p < end; {
		typ, n := binary.BigEndian.Uint16(b[p:]), int(binary.BigEndian.Uint16(b[p+2:]))
		if typ == 0 {
			sni = string(b[p+4+5 : p+4+n])
		}
		p += 4 + n
	}
	if sni != "api.example.com" {
		t.Errorf("SNI %q", sni)
	}
	if !bytes.Equal(b, ClientHello("api.example.com", 7)) {
		t.Error("ClientHello is not deterministic")
	}
}

func TestLinkTypes(t *testing.T) {
	const v4 = "0 C>S SYN mss=1460\n0.001 S>C SYN,ACK mss=1460\n0.002 C>S PSH,ACK data=\"hello\"\n"
	const v6 = "client [fd00::1]:40000\nserver [fd00::2]:80\n" + v4
	for _, link := range []string{"ether", "vlan", "qinq", "sll", "sll2", "raw", "raw4", "null", "loop"} {
		for _, fam := range []string{"v4", "v6"} {
			if link == "raw4" && fam == "v6" {
				continue
			}
			t.Run(link+"/"+fam, func(t *testing.T) {
				src := "link " + link + "\n" + v4
				if fam == "v6" {
					src = "link " + link + "\n" + v6
				}
				frames := readAll(t, Build(t, src))
				if len(frames) != 3 {
					t.Fatalf("got %d frames", len(frames))
				}
				if got, want := frames[0].linkType, linkTypes[link]; got != want {
					t.Errorf("link type %d, want %d", got, want)
				}
				for i, f := range frames {
					nl, tcp := decodeTCP(t, f)
					if !tcpChecksumOK(nl, tcp) {
						t.Errorf("frame %d: bad TCP checksum", i+1)
					}
					if f.ci.CaptureLength != f.ci.Length {
						t.Errorf("frame %d: caplen %d != len %d", i+1, f.ci.CaptureLength, f.ci.Length)
					}
				}
				_, tcp := decodeTCP(t, frames[2])
				if string(tcp.Payload) != "hello" || !tcp.PSH || !tcp.ACK {
					t.Errorf("last frame: payload %q flags PSH=%v ACK=%v", tcp.Payload, tcp.PSH, tcp.ACK)
				}
				_, syn := decodeTCP(t, frames[0])
				if len(syn.Options) == 0 || syn.Options[0].OptionType != layers.TCPOptionKindMSS {
					t.Errorf("SYN options %v", syn.Options)
				}
				pkt := gopacket.NewPacket(frames[0].data, layers.LinkType(frames[0].linkType), gopacket.Default)
				switch link {
				case "vlan":
					if d, ok := pkt.Layer(layers.LayerTypeDot1Q).(*layers.Dot1Q); !ok || d.VLANIdentifier != 100 {
						t.Errorf("no VLAN 100 tag")
					}
				case "qinq":
					var ids []uint16
					for _, l := range pkt.Layers() {
						if d, ok := l.(*layers.Dot1Q); ok {
							ids = append(ids, d.VLANIdentifier)
						}
					}
					if len(ids) != 2 || ids[0] != 200 || ids[1] != 100 {
						t.Errorf("QinQ tags %v, want [200 100]", ids)
					}
				}
			})
		}
	}
}

func TestEthernetPadding(t *testing.T) {
	short := readAll(t, Build(t, "0 C>S SYN\n"))
	if got := len(short[0].data); got != 54 {
		t.Errorf("unpadded SYN is %d bytes, want 54", got)
	}
	padded := readAll(t, Build(t, "ethpad\n0 C>S SYN\n"))
	if got := len(padded[0].data); got != 60 {
		t.Errorf("padded SYN is %d bytes, want 60", got)
	}
}

func TestFormats(t *testing.T) {
	src := "start 1700000000.123456789\n0 C>S SYN\n0.000000001 S>C SYN,ACK\n1.5 C>S ACK\n"
	base := time.Unix(1700000000, 123456789)
	for _, tt := range []struct {
		format string
		magic  []byte
		res    time.Duration
	}{
		{"pcap", []byte{0xd4, 0xc3, 0xb2, 0xa1}, time.Microsecond},
		{"pcap-nano", []byte{0x4d, 0x3c, 0xb2, 0xa1}, time.Nanosecond},
		{"pcap-be", []byte{0xa1, 0xb2, 0xc3, 0xd4}, time.Microsecond},
		{"pcap-nano-be", []byte{0xa1, 0xb2, 0x3c, 0x4d}, time.Nanosecond},
		{"pcapng", []byte{0x0a, 0x0d, 0x0d, 0x0a}, time.Nanosecond},
	} {
		t.Run(tt.format, func(t *testing.T) {
			b := Build(t, "format "+tt.format+"\n"+src)
			if !bytes.HasPrefix(b, tt.magic) {
				t.Fatalf("magic % x, want % x", b[:4], tt.magic)
			}
			frames := readAll(t, b)
			if len(frames) != 3 {
				t.Fatalf("got %d frames", len(frames))
			}
			for i, off := range []time.Duration{0, 1, 1500 * time.Millisecond} {
				want := base.Add(off).Truncate(tt.res)
				if got := frames[i].ci.Timestamp; !got.Equal(want) {
					t.Errorf("frame %d at %v, want %v", i+1, got.UTC(), want.UTC())
				}
			}
			if frames[0].linkType != 1 {
				t.Errorf("link type %d", frames[0].linkType)
			}
		})
	}
}

func TestPcapngMulti(t *testing.T) {
	b := Build(t, `
format pcapng-multi
link sll2
link2 raw
conn a client 10.0.0.1:1000 server 10.0.0.2:80
0.0 C>S SYN
0.1 S>C SYN,ACK
conn b client 10.0.0.3:1000 server 10.0.0.2:80 iface=1
0.05 C>S SYN
0.15 S>C SYN,ACK
section
1.0 C>S@a ACK
1.1 C>S@b ACK
`)
	frames := readAll(t, b)
	if len(frames) != 6 {
		t.Fatalf("got %d frames", len(frames))
	}
	wantIf := []int{0, 1, 0, 1, 0, 1}
	for i, f := range frames {
		if f.ci.InterfaceIndex != wantIf[i] {
			t.Errorf("frame %d on interface %d, want %d", i+1, f.ci.InterfaceIndex, wantIf[i])
		}
		decodeTCP(t, f)
	}
	if lts := idbLinkTypes(b); len(lts) != 2 || lts[0] != LinkTypeLinuxSLL2 || lts[1] != 101 {
		t.Errorf("interface link types %v", lts)
	}
	if n := countBlocks(b, 0x0a0d0d0a); n != 2 {
		t.Errorf("%d section headers, want 2", n)
	}
	if got := frames[1].ci.Timestamp.Sub(DefaultStart); got != 50*time.Millisecond {
		t.Errorf("iface 1 frame at +%v", got)
	}
}

func TestSnaplen(t *testing.T) {
	b := Build(t, "snaplen 96\n0 C>S SYN\n0.1 S>C ACK len=1400\n0.2 S>C ACK len=10 caplen=60\n")
	frames := readAll(t, b)
	if got := binary.LittleEndian.Uint32(b[16:]); got != 96 {
		t.Errorf("header snaplen %d", got)
	}
	for i, w := range []struct{ caplen, length int }{{54, 54}, {96, 1454}, {60, 64}} {
		if frames[i].ci.CaptureLength != w.caplen || frames[i].ci.Length != w.length || len(frames[i].data) != w.caplen {
			t.Errorf("frame %d: caplen %d len %d (%d bytes), want %d %d", i+1,
				frames[i].ci.CaptureLength, frames[i].ci.Length, len(frames[i].data), w.caplen, w.length)
		}
	}
	nl, _ := decodeTCP(t, frames[1])
	if ip := nl.(*layers.IPv4); ip.Length != 1440 {
		t.Errorf("IP total length %d, want 1440 (the original)", ip.Length)
	}
}

func TestTimestampsAndOptions(t *testing.T) {
	s := mustParse(t, `
0.000 C>S SYN mss=1460 sackok ts ws=7
0.010 S>C SYN,ACK mss=1460 sackok ts ws=7
0.020 C>S ACK
0.030 C>S ACK nots
0.040 C>S ACK ts=5/6 win=0
`)
	fr := s.Frames()
	if !fr[2].opts.ts || fr[2].opts.tsEcr != fr[1].opts.tsVal || fr[1].opts.tsEcr != fr[0].opts.tsVal {
		t.Errorf("timestamps not negotiated/echoed: %+v %+v %+v", fr[0].opts, fr[1].opts, fr[2].opts)
	}
	if fr[2].opts.tsVal-fr[0].opts.tsVal != 20 {
		t.Errorf("TSval advanced by %d, want 20 (ms)", fr[2].opts.tsVal-fr[0].opts.tsVal)
	}
	if fr[3].opts.ts {
		t.Error("nots ignored")
	}
	if fr[4].opts.tsVal != 5 || fr[4].opts.tsEcr != 6 || fr[4].Window != 0 {
		t.Errorf("explicit ts/win ignored: %+v win %d", fr[4].opts, fr[4].Window)
	}
	if fr[2].Window != 502 || fr[0].Window != 64240 {
		t.Errorf("windows %d %d", fr[0].Window, fr[2].Window)
	}
	frames := readAll(t, Build(t, "0 C>S SYN mss=1460 sackok ts ws=7\n"))
	_, syn := decodeTCP(t, frames[0])
	var kinds []layers.TCPOptionKind
	for _, o := range syn.Options {
		kinds = append(kinds, o.OptionType)
	}
	want := []layers.TCPOptionKind{2, 4, 8, 1, 3} // Linux: MSS, SACK_PERM, TS, NOP, WS
	if len(kinds) != len(want) {
		t.Fatalf("SYN options %v, want %v", kinds, want)
	}
	for i := range want {
		if kinds[i] != want[i] {
			t.Fatalf("SYN options %v, want %v", kinds, want)
		}
	}
}

func TestConnectionsAndPortReuse(t *testing.T) {
	s := mustParse(t, `
conn first client 10.0.0.1:5555 server 10.0.0.2:80
0.0 C>S SYN
0.1 S>C SYN,ACK
0.2 C>S ACK
0.3 C>S FIN,ACK
0.4 S>C FIN,ACK
0.5 C>S ACK
conn other client 10.0.0.9:6000 server 10.0.0.2:80
0.25 C>S SYN
conn second client 10.0.0.1:5555 server 10.0.0.2:80
1.0 C>S SYN
conn first
0.6 C>S RST
1.1 S>C@second SYN,ACK
`)
	fr := s.Frames()
	var names []string
	for _, f := range fr {
		names = append(names, f.Conn)
	}
	if got, want := strings.Join(names, " "), "first first first other first first first first second second"; got != want {
		t.Errorf("frame order %q, want %q", got, want)
	}
	if fr[0].Seq == fr[8].Seq {
		t.Error("reused 4-tuple got the same ISN")
	}
	if fr[8].Src != fr[0].Src || fr[8].Dst != fr[0].Dst {
		t.Error("second connection has another 4-tuple")
	}
	s2 := mustParse(t, "unsorted\n1 C>S SYN\n0 C>S SYN retrans\n")
	if s2.Frames()[0].Offset != time.Second {
		t.Error("unsorted reordered frames")
	}
}

func TestRelativeTimes(t *testing.T) {
	s := mustParse(t, "1.5 C>S SYN\n+0.2 C>S SYN retrans\n+0.4 C>S SYN retrans\n")
	var got []time.Duration
	for _, f := range s.Frames() {
		got = append(got, f.Offset)
	}
	want := []time.Duration{1500 * time.Millisecond, 1700 * time.Millisecond, 2100 * time.Millisecond}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("offsets %v, want %v", got, want)
		}
	}
}

func TestBadChecksum(t *testing.T) {
	frames := readAll(t, Build(t, "0 C>S SYN\n0.1 C>S ACK badsum\n"))
	nl, tcp := decodeTCP(t, frames[0])
	if !tcpChecksumOK(nl, tcp) {
		t.Error("good frame has a bad checksum")
	}
	nl, tcp = decodeTCP(t, frames[1])
	if tcpChecksumOK(nl, tcp) {
		t.Error("badsum frame has a good checksum")
	}
}

func TestEmptyAndDeterministic(t *testing.T) {
	b := Build(t, "# nothing\n")
	if len(b) != 24 {
		t.Errorf("empty pcap is %d bytes, want 24", len(b))
	}
	for _, f := range []string{"pcap", "pcapng", "pcapng-multi"} {
		src := "format " + f + "\n" + exampleScript
		if !bytes.Equal(Build(t, src), Build(t, src)) {
			t.Errorf("%s: two builds differ", f)
		}
	}
}

func TestWriteFileCompression(t *testing.T) {
	dir := t.TempDir()
	plain := Build(t, exampleScript)
	for _, name := range []string{"a.pcap", "a.pcap.gz", "a.pcap.zst", "b.pcapng", "b.pcapng.zst"} {
		path := WriteFile(t, dir, name, exampleScript)
		if path != filepath.Join(dir, name) {
			t.Errorf("path %q", path)
		}
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var got []byte
		switch {
		case strings.HasSuffix(name, ".gz"):
			zr, err := gzip.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(zr)
			if err != nil {
				t.Fatal(err)
			}
		case strings.HasSuffix(name, ".zst"):
			zr, err := zstd.NewReader(bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			got, err = io.ReadAll(zr)
			zr.Close()
			if err != nil {
				t.Fatal(err)
			}
		default:
			got = raw
		}
		if strings.Contains(name, ".pcapng") {
			if binary.LittleEndian.Uint32(got) != 0x0a0d0d0a {
				t.Errorf("%s: not pcapng", name)
			}
			continue
		}
		if !bytes.Equal(got, plain) {
			t.Errorf("%s: content differs from Build", name)
		}
	}
}

func TestTxtar(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "x.txtar")
	src := "A close-wait leak.\n-- packets --\n0 C>S SYN\n0.1 S>C SYN,ACK\n-- want --\nold\n-- notes --\nkeep me"
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	packets, want, err := LoadTxtar(path)
	if err != nil {
		t.Fatal(err)
	}
	if packets != "0 C>S SYN\n0.1 S>C SYN,ACK\n" || want != "old\n" {
		t.Errorf("packets %q want %q", packets, want)
	}
	mustParse(t, packets)
	if err := UpdateWant(path, "close-wait-leak warning C0001"); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	wantFile := "A close-wait leak.\n-- packets --\n0 C>S SYN\n0.1 S>C SYN,ACK\n-- want --\nclose-wait-leak warning C0001\n-- notes --\nkeep me\n"
	if string(got) != wantFile {
		t.Errorf("after UpdateWant:\n%s\nwant:\n%s", got, wantFile)
	}
	if err := os.WriteFile(path, []byte("-- want --\nx\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := LoadTxtar(path); err == nil {
		t.Error("no error for a file without packets")
	}
}

// TestTshark checks the captures with Wireshark's dissectors when tshark is
// installed: no malformed packets, no bad checksums, the expected analysis.
func TestTshark(t *testing.T) {
	if _, err := exec.LookPath("tshark"); err != nil {
		t.Skip("tshark not installed")
	}
	dir := t.TempDir()
	for _, tt := range []struct{ name, src string }{
		{"a.pcap", "link vlan\n" + exampleScript},
		{"b.pcapng", "format pcapng-multi\nlink sll2\n" + exampleScript + "0.5 S>C ACK iface=1\n"},
		{"c.pcap", "format pcap-nano-be\nlink loop\nclient [fd00::1]:1\nserver [fd00::2]:443\n0 C>S SYN\n0.1 S>C SYN,ACK\n0.2 C>S ACK\n0.3 C>S PSH,ACK tls=clienthello sni=tshark.test\n0.4 S>C PSH,ACK tls=serverhello\n"},
	} {
		path := WriteFile(t, dir, tt.name, tt.src)
		out, err := exec.Command("tshark", "-n", "-r", path, "-o", "tcp.check_checksum:TRUE",
			"-T", "fields", "-e", "frame.number", "-e", "tcp.checksum.status", "-e", "_ws.malformed",
			"-e", "tcp.analysis.retransmission", "-e", "tls.handshake.extensions_server_name").CombinedOutput()
		if err != nil {
			t.Fatalf("%s: tshark: %v\n%s", tt.name, err, out)
		}
		text := string(out)
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			if strings.HasPrefix(line, "Running as") {
				continue
			}
			f := strings.Split(line, "\t")
			if len(f) < 2 || f[1] != "1" || (len(f) > 2 && f[2] != "") {
				t.Errorf("%s: tshark line %q (want checksum status 1=good, not malformed)", tt.name, line)
			}
		}
		if tt.name == "c.pcap" && !strings.Contains(text, "tshark.test") {
			t.Errorf("tshark did not find the SNI:\n%s", text)
		}
		if tt.name == "a.pcap" && !strings.Contains(text, "\t1\t") {
			t.Errorf("tshark found no retransmission:\n%s", text)
		}
	}
}
