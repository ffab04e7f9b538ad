package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"

	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
)

// file is one generated capture.
type file struct {
	Name   string // file name in the output directory
	Source string // where it comes from: a scenario file or "gencaptures"
	Desc   string // one line
	Data   []byte
}

// manifest lists the generated files; gencaptures deletes files it listed
// before and no longer generates.
const manifest = "generated.tsv"

// exchange is a complete, healthy HTTP/1.1 connection, the payload of the
// format and link-type captures.
const exchange = `
0.000 C>S SYN mss=1460 ws=7 sackok ts
0.0003 S>C SYN,ACK mss=1460 ws=7 sackok ts
0.0006 C>S ACK
0.010 C>S PSH,ACK data="GET / HTTP/1.1\r\nHost: example.test\r\n\r\n"
0.0103 S>C ACK
0.015 S>C PSH,ACK data="HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
0.0153 C>S ACK
0.020 C>S FIN,ACK
0.0203 S>C FIN,ACK
0.0206 C>S ACK
`

const v6Endpoints = "client [fd00::1]:40000\nserver [fd00::2]:80\n"

// conn returns exchange as connection name between client and server,
// shifted by at seconds.
func conn(name, client, server string, at float64) string {
	var b strings.Builder
	fmt.Fprintf(&b, "conn %s client %s server %s\n", name, client, server)
	for _, line := range strings.Split(strings.TrimSpace(exchange), "\n") {
		t, rest, _ := strings.Cut(line, " ")
		var v float64
		fmt.Sscanf(t, "%g", &v)
		fmt.Fprintf(&b, "%.4f %s\n", at+v, rest)
	}
	return b.String()
}

// dsl are the format and edge-case captures written from capturetest scripts.
var dsl = []struct{ name, desc, src string }{
	{"fmt-pcap-usec-le.pcap", "classic pcap, microsecond timestamps, little-endian (a1b2c3d4 written LE)", "format pcap\n" + exchange},
	{"fmt-pcap-nsec-le.pcap", "classic pcap, nanosecond timestamps (a1b23c4d), little-endian; times with ns digits",
		"format pcap-nano\nstart 1700000000.000000001\n" + strings.Replace(exchange, "0.0103 S>C", "0.010300007 S>C", 1)},
	{"fmt-pcap-usec-be.pcap", "classic pcap, microsecond timestamps, big-endian", "format pcap-be\n" + exchange},
	{"fmt-pcap-nsec-be.pcap", "classic pcap, nanosecond timestamps, big-endian",
		"format pcap-nano-be\nstart 1700000000.000000001\n" + strings.Replace(exchange, "0.0103 S>C", "0.010300007 S>C", 1)},
	{"fmt-pcapng.pcapng", "pcapng, one section, one Ethernet interface", "format pcapng\n" + exchange},
	{"fmt-pcapng-sections.pcapng", "pcapng with 3 sections (each repeats its interface), one connection per section",
		"format pcapng\n" + conn("a", "10.0.0.1:40001", "10.0.0.2:80", 0) + "section\n" +
			conn("b", "10.0.0.1:40002", "10.0.0.2:80", 1) + "section\n" + conn("c", "10.0.0.1:40003", "10.0.0.2:80", 2)},
	{"fmt-pcapng-multi-iface.pcapng", "pcapng with two interfaces of different link types: Ethernet (if 0) and Linux SLL2 (if 1), interleaved",
		"format pcapng-multi\nlink2 sll2\n" + conn("eth", "10.0.0.1:40001", "10.0.0.2:80", 0) +
			strings.Replace(conn("any", "10.0.0.3:40002", "10.0.0.2:80", 0.005), "10.0.0.2:80\n", "10.0.0.2:80 iface=1\n", 1)},
	{"fmt-gzip.pcap.gz", "gzip-compressed classic pcap", exchange},
	{"fmt-zstd.pcap.zst", "zstd-compressed classic pcap", exchange},
	{"fmt-pcapng-gzip.pcapng.gz", "gzip-compressed pcapng", "format pcapng\n" + exchange},
	{"fmt-pcapng-zstd.pcapng.zst", "zstd-compressed pcapng", "format pcapng\n" + exchange},

	{"link-ether.pcap", "LINKTYPE_ETHERNET (1), IPv4", "link ether\n" + exchange},
	{"link-vlan.pcap", "Ethernet with an 802.1Q tag (VLAN 100)", "link vlan 100\n" + exchange},
	{"link-qinq.pcap", "Ethernet with QinQ: 802.1ad outer tag 200 (0x88a8), 802.1Q inner tag 100", "link qinq 200 100\n" + exchange},
	{"link-vlan-ipv6.pcap", "802.1Q VLAN 100, IPv6", "link vlan 100\n" + v6Endpoints + exchange},
	{"link-sll.pcap", "LINKTYPE_LINUX_SLL (113), tcpdump -i any before libpcap 1.10", "link sll\n" + exchange},
	{"link-sll2.pcap", "LINKTYPE_LINUX_SLL2 (276), tcpdump -i any since libpcap 1.10", "link sll2\n" + exchange},
	{"link-sll2-ipv6.pcap", "LINKTYPE_LINUX_SLL2 (276), IPv6", "link sll2\n" + v6Endpoints + exchange},
	{"link-raw.pcap", "LINKTYPE_RAW (101), IPv4 and IPv6 connections in one file (version nibble decides)",
		"link raw\n" + conn("v4", "10.0.0.1:40000", "10.0.0.2:80", 0) + conn("v6", "[fd00::1]:40000", "[fd00::2]:80", 0.1)},
	{"link-raw4.pcap", "LINKTYPE_IPV4 (228), IPv4 only", "link raw4\n" + exchange},
	{"link-null.pcap", "LINKTYPE_NULL (0), BSD loopback, host-order (LE) AF_INET", "link null\n" + exchange},
	{"link-null-ipv6.pcap", "LINKTYPE_NULL (0), AF_INET6 = 30 (macOS)", "link null\n" + v6Endpoints + exchange},
	{"link-loop.pcap", "LINKTYPE_LOOP (108), OpenBSD loopback, network-order AF_INET", "link loop\n" + exchange},
	{"link-loop-ipv6.pcap", "LINKTYPE_LOOP (108), AF_INET6 = 24", "link loop\n" + v6Endpoints + exchange},

	{"ipv6.pcap", "a complete HTTP connection over IPv6 on Ethernet", v6Endpoints + exchange},
	{"ipv4-ipv6-mixed.pcap", "IPv4 and IPv6 connections interleaved on Ethernet",
		conn("v4", "10.0.0.1:40000", "10.0.0.2:80", 0) + conn("v6", "[fd00::1]:40000", "[fd00::2]:80", 0.005)},
	{"snaplen-96.pcap", "headers only (tcpdump -s 96): data frames cut at 96 bytes, wire length kept; 3 x 1448-byte response segments",
		"snaplen 96\n" + strings.Replace(exchange, "0.015 S>C PSH,ACK data=\"HTTP/1.1 200 OK\\r\\nContent-Length: 5\\r\\n\\r\\nhello\"\n0.0153 C>S ACK",
			"0.015 S>C ACK len=1448\n0.015 S>C ACK len=1448\n0.015 S>C PSH,ACK len=1448\n0.0153 C>S ACK", 1)},
	{"mid-connection.pcap", "capture starts mid-connection: no SYN, data both ways, then a client-initiated close", `
client 10.0.0.1:40000
server 10.0.0.2:8080
0.000 S>C PSH,ACK len=1000 ts=1000/2000
0.0002 C>S ACK ts=2001/1000
0.100 C>S PSH,ACK data="GET /next HTTP/1.1\r\nHost: example.test\r\n\r\n" ts=2100/1000
0.101 S>C PSH,ACK data="HTTP/1.1 204 No Content\r\n\r\n" ts=1101/2100
0.1012 C>S ACK ts=2101/1101
0.200 C>S FIN,ACK ts=2200/1101
0.2003 S>C FIN,ACK ts=1200/2200
0.2006 C>S ACK ts=2201/1200
`},
	{"port-reuse.pcap", "the same 4-tuple used by 3 connections in turn: graceful close, a new SYN 2 s later (new ISN), closed by RST, reused again",
		conn("first", "10.0.0.1:40000", "10.0.0.2:80", 0) + conn("second", "10.0.0.1:40000", "10.0.0.2:80", 2) +
			"conn third client 10.0.0.1:40000 server 10.0.0.2:80\n3.000 C>S SYN mss=1460\n3.0003 S>C SYN,ACK mss=1460\n3.0006 C>S ACK\n3.010 C>S RST,ACK\n" +
			"conn fourth client 10.0.0.1:40000 server 10.0.0.2:80\n3.500 C>S SYN mss=1460\n3.5003 S>C SYN,ACK mss=1460\n3.5006 C>S ACK\n3.600 C>S FIN,ACK\n3.6003 S>C FIN,ACK\n3.6006 C>S ACK\n"},
	{"seq-wraparound.pcap", "sequence numbers wrap past 2^32 in both directions (ISNs 4294967000 and 4294966000)", `
client 10.0.0.1:40000
server 10.0.0.2:8080
0.000 C>S SYN mss=1460 isn=4294967000
0.0003 S>C SYN,ACK mss=1460 isn=4294966000
0.0006 C>S ACK
0.010 C>S PSH,ACK len=600
0.0103 S>C ACK
0.020 S>C ACK len=1460
0.020 S>C PSH,ACK len=1000
0.0203 C>S ACK
0.030 C>S PSH,ACK len=600
0.0303 S>C ACK
0.040 C>S FIN,ACK
0.0403 S>C FIN,ACK
0.0406 C>S ACK
`},
	{"timestamps-unsorted.pcap", "frames not in time order (frame 3 is stamped before frame 2), as merged or multi-queue captures can be",
		"unsorted\n" + strings.Replace(exchange, "0.0006 C>S ACK", "0.0001 C>S ACK", 1)},
	{"empty.pcap", "a valid pcap header and no packets", "# no packets\n"},
	{"empty.pcapng", "a valid pcapng section header and interface, no packets", "format pcapng\n"},
}

// generate returns every generated capture, sorted by name.
func generate(scenDir string) ([]file, error) {
	var files []file
	for _, d := range dsl {
		b, err := capturetest.BuildFile(d.name, d.src)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", d.name, err)
		}
		files = append(files, file{Name: d.name, Source: "gencaptures", Desc: d.desc, Data: b})
	}

	// Damaged files.
	whole, err := capturetest.BuildFile("x.pcap", exchange)
	if err != nil {
		return nil, err
	}
	files = append(files, file{Name: "cutoff.pcap", Source: "gencaptures",
		Desc: "a capture cut off in the middle of its last frame (tcpdump killed mid-write): 9 whole frames, then half a frame",
		Data: whole[:len(whole)-30]})
	ng, err := capturetest.BuildFile("x.pcapng", exchange)
	if err != nil {
		return nil, err
	}
	files = append(files, file{Name: "cutoff.pcapng", Source: "gencaptures",
		Desc: "a pcapng cut off in the middle of its last enhanced packet block",
		Data: ng[:len(ng)-40]})
	files = append(files, file{Name: "cutoff-header.pcap", Source: "gencaptures",
		Desc: "a capture cut off inside the 16-byte record header of its 4th frame",
		Data: whole[:recordOffset(whole, 3)+7]})
	files = append(files, file{Name: "garbage.pcap", Source: "gencaptures",
		Desc: "512 bytes of pseudo-random data with a .pcap name: not a capture", Data: garbage(512)})
	files = append(files, file{Name: "zero-bytes.pcap", Source: "gencaptures", Desc: "an empty (0-byte) file", Data: []byte{}})
	files = append(files, file{Name: "text.pcap", Source: "gencaptures", Desc: "a text file with a .pcap name",
		Data: []byte("This is not a capture file.\nIt is here to test the error message.\n")})
	odd, err := undecodable()
	if err != nil {
		return nil, err
	}
	files = append(files, file{Name: "undecodable-frames.pcap", Source: "gencaptures",
		Desc: "one TCP connection among frames the decoder must count and skip: ARP, LLDP, UDP, ICMP, an IPv4 fragment, a cut IPv4 header, a TCP header with data offset 3, IP version 5, a bad TCP checksum",
		Data: odd})

	// Incident scenarios.
	paths, err := filepath.Glob(filepath.Join(scenDir, "*.txtar"))
	if err != nil {
		return nil, err
	}
	if len(paths) == 0 {
		return nil, fmt.Errorf("no scenarios in %s", scenDir)
	}
	for _, p := range paths {
		packets, _, err := capturetest.LoadTxtar(p)
		if err != nil {
			return nil, err
		}
		raw, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		name := strings.TrimSuffix(filepath.Base(p), ".txtar") + ".pcap"
		b, err := capturetest.BuildFile(name, packets)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		files = append(files, file{Name: name, Source: "scenarios/" + filepath.Base(p),
			Desc: firstSentence(capturetest.ParseTxtar(raw).Comment), Data: b})
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, nil
}

// firstSentence returns the first sentence of a txtar comment, on one line.
func firstSentence(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if i := strings.Index(s, ". "); i >= 0 {
		s = s[:i+1]
	}
	return s
}

// recordOffset returns the offset of frame i's record header in a
// little-endian classic pcap.
func recordOffset(b []byte, i int) int {
	off := 24
	for ; i > 0; i-- {
		off += 16 + int(binary.LittleEndian.Uint32(b[off+8:]))
	}
	return off
}

func garbage(n int) []byte {
	b := make([]byte, n)
	x := uint32(0x9e3779b9)
	for i := range b {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		b[i] = byte(x)
	}
	return b
}

// undecodable writes a pcap mixing non-TCP and broken frames with a valid
// TCP handshake.
func undecodable() ([]byte, error) {
	var out bytes.Buffer
	w := pcapgo.NewWriter(&out)
	if err := w.WriteFileHeader(262144, layers.LinkTypeEthernet); err != nil {
		return nil, err
	}
	start := capturetest.DefaultStart
	macA := net.HardwareAddr{2, 0, 10, 0, 0, 1}
	macB := net.HardwareAddr{2, 0, 10, 0, 0, 2}
	ipA, ipB := net.IP{10, 0, 0, 1}, net.IP{10, 0, 0, 2}
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	eth := func(t layers.EthernetType) *layers.Ethernet {
		return &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: t}
	}
	ip4 := func(p layers.IPProtocol) *layers.IPv4 {
		return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: p, SrcIP: ipA, DstIP: ipB, Flags: layers.IPv4DontFragment}
	}
	ser := func(ls ...gopacket.SerializableLayer) []byte {
		buf := gopacket.NewSerializeBuffer()
		if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
			panic(err) // fixed inputs: a failure is a bug here
		}
		return append([]byte(nil), buf.Bytes()...)
	}
	tcpFrames, err := capturetest.Parse(exchange)
	if err != nil {
		return nil, err
	}
	tcpPcap, err := tcpFrames.Bytes()
	if err != nil {
		return nil, err
	}
	var tcp [][]byte // the exchange's frames
	for off := 24; off < len(tcpPcap); {
		n := int(binary.LittleEndian.Uint32(tcpPcap[off+8:]))
		tcp = append(tcp, tcpPcap[off+16:off+16+n])
		off += 16 + n
	}

	var frames [][]byte
	frames = append(frames, ser(eth(layers.EthernetTypeARP), &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
		HwAddressSize: 6, ProtAddressSize: 4, Operation: layers.ARPRequest, SourceHwAddress: macA, SourceProtAddress: ipA,
		DstHwAddress: make([]byte, 6), DstProtAddress: ipB}))
	frames = append(frames, tcp[0], tcp[1])
	lldp := ser(eth(layers.EthernetTypeLinkLayerDiscovery), gopacket.Payload([]byte{0x02, 0x07, 0x04, 2, 0, 10, 0, 0, 1, 0, 0}))
	frames = append(frames, lldp)
	udp := &layers.UDP{SrcPort: 53000, DstPort: 53}
	uip := ip4(layers.IPProtocolUDP)
	udp.SetNetworkLayerForChecksum(uip)
	frames = append(frames, ser(eth(layers.EthernetTypeIPv4), uip, udp, gopacket.Payload([]byte("\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x07example\x04test\x00\x00\x01\x00\x01"))))
	frames = append(frames, tcp[2])
	frames = append(frames, ser(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolICMPv4),
		&layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0), Id: 1, Seq: 1}, gopacket.Payload([]byte("ping"))))
	frag := ip4(layers.IPProtocolTCP)
	frag.Flags, frag.FragOffset = 0, 185 // a non-first fragment of a TCP packet
	frames = append(frames, ser(eth(layers.EthernetTypeIPv4), frag, gopacket.Payload(bytes.Repeat([]byte{0x55}, 40))))
	cut := ser(eth(layers.EthernetTypeIPv4), ip4(layers.IPProtocolTCP), gopacket.Payload(make([]byte, 20)))
	frames = append(frames, cut[:14+12]) // the frame ends inside the IPv4 header
	frames = append(frames, tcp[3])
	bad := append([]byte(nil), tcp[4]...)
	bad[14+20+12] = 3<<4 | bad[14+20+12]&0x0f // TCP data offset 3 (< 5)
	frames = append(frames, bad)
	v5 := append([]byte(nil), tcp[5]...)
	v5[14] = 5<<4 | 5 // IP version 5
	frames = append(frames, v5)
	sum := append([]byte(nil), tcp[6]...)
	sum[14+20+16] ^= 0xff // bad TCP checksum (still decodable)
	frames = append(frames, sum)
	frames = append(frames, tcp[7:]...)
	for i, f := range frames {
		ci := gopacket.CaptureInfo{Timestamp: start.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(f), Length: len(f)}
		if err := w.WritePacket(ci, f); err != nil {
			return nil, err
		}
	}
	return out.Bytes(), nil
}

// writeAll writes files and the manifest to dir, and removes files an
// earlier run generated that are no longer generated.
func writeAll(dir string, files []file) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	now := map[string]bool{}
	var m strings.Builder
	m.WriteString("# Generated by go run ./cmd/gencaptures; do not edit. file\tbytes\tsource\tdescription\n")
	for _, f := range files {
		now[f.Name] = true
		if err := os.WriteFile(filepath.Join(dir, f.Name), f.Data, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(&m, "%s\t%d\t%s\t%s\n", f.Name, len(f.Data), f.Source, f.Desc)
	}
	if old, err := os.ReadFile(filepath.Join(dir, manifest)); err == nil {
		for _, line := range strings.Split(string(old), "\n") {
			name, _, _ := strings.Cut(line, "\t")
			if name != "" && !strings.HasPrefix(name, "#") && !now[name] && !strings.ContainsAny(name, "/\\") {
				if err := os.Remove(filepath.Join(dir, name)); err != nil && !os.IsNotExist(err) {
					return err
				}
			}
		}
	}
	return os.WriteFile(filepath.Join(dir, manifest), []byte(m.String()), 0o644)
}
