package decode

import (
	"bytes"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
)

// benchFrames is the number of distinct frames in the synthetic capture.
const benchFrames = 4000

// benchPackets returns benchFrames MSS-sized Ethernet/IPv4/TCP frames
// with timestamps options, 1514 bytes each.
func benchPackets() [][]byte {
	out := make([][]byte, benchFrames)
	payload := bytes.Repeat([]byte{'p'}, 1448)
	for i := range out {
		s := tcpSeg{sport: 40000, dport: 443, seq: uint32(i * 1448), ack: 1, flags: FlagACK, win: 1024,
			opts: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}, payload: payload}
		out[i] = ether(etherIPv4, ipv4Pkt(protoTCP, s.bytes(), -1))
	}
	return out
}

// loopReader serves head once, then body over and over, so that one
// Reader can deliver b.N frames without allocating per iteration.
type loopReader struct {
	head, body []byte
	pos        int
}

func (l *loopReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(l.head) > 0 {
			c := copy(p[n:], l.head)
			l.head = l.head[c:]
			n += c
			continue
		}
		c := copy(p[n:], l.body[l.pos:])
		l.pos = (l.pos + c) % len(l.body)
		n += c
	}
	return n, nil
}

func benchReader(b *testing.B, head, body []byte, frameBytes int) {
	r, err := NewReader(&loopReader{head: head, body: body}, ReaderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	var f Frame
	b.SetBytes(int64(frameBytes))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.Next(&f); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReaderPcap reads one frame per op from an endless pcap stream.
func BenchmarkReaderPcap(b *testing.B) {
	var recs []pcapRec
	for i, p := range benchPackets() {
		recs = append(recs, pcapRec{sec: uint32(i), data: p})
	}
	file := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, recs...)
	benchReader(b, file[:24], file[24:], 16+1514)
}

// BenchmarkReaderPcapSmall reads 66-byte ACK frames, where the per-frame
// cost of the reader dominates the cost of moving bytes.
func BenchmarkReaderPcapSmall(b *testing.B) {
	var recs []pcapRec
	for i := range benchFrames {
		s := tcpSeg{sport: 443, dport: 40000, ack: uint32(i * 1448), flags: FlagACK, win: 1024, opts: []byte{1, 1, 8, 10, 0, 0, 0, 1, 0, 0, 0, 2}}
		recs = append(recs, pcapRec{sec: uint32(i), data: ether(etherIPv4, ipv4Pkt(protoTCP, s.bytes(), -1))})
	}
	file := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, recs...)
	benchReader(b, file[:24], file[24:], 16+66)
}

// BenchmarkReaderPcapng reads one frame per op from an endless pcapng
// stream of Enhanced Packet Blocks.
func BenchmarkReaderPcapng(b *testing.B) {
	n := &ng{}
	n.shb(littleEndian, 1, 0)
	n.idb(1, 0, n.opt(optIfTSResol, []byte{9}), n.endOpts())
	head := len(n.b)
	for i, p := range benchPackets() {
		n.epb(0, uint64(i)*1e6, 0, p)
	}
	benchReader(b, n.b[:head], n.b[head:], 32+1516)
}

// BenchmarkDecode decodes one frame per op; it must not allocate.
func BenchmarkDecode(b *testing.B) {
	frames := make([]Frame, benchFrames)
	for i, p := range benchPackets() {
		frames[i] = Frame{Number: int64(i + 1), Data: p, WireLen: len(p), LinkType: LinkTypeEthernet}
	}
	d := NewDecoder()
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if !d.Decode(&frames[i%benchFrames], &p) {
			b.Fatal("not TCP")
		}
	}
}

// BenchmarkGopacketParser decodes the same frames with gopacket's
// DecodingLayerParser, for comparison with BenchmarkDecode (it does less:
// no Packet record is filled).
func BenchmarkGopacketParser(b *testing.B) {
	pkts := benchPackets()
	var (
		eth     layers.Ethernet
		ip4     layers.IPv4
		ip6     layers.IPv6
		tcp     layers.TCP
		payload gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &ip6, &tcp, &payload)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 8)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if err := parser.DecodeLayers(pkts[i%benchFrames], &decoded); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkReadAndDecode is the whole hot path: read and decode a frame.
func BenchmarkReadAndDecode(b *testing.B) {
	var recs []pcapRec
	for i, p := range benchPackets() {
		recs = append(recs, pcapRec{sec: uint32(i), data: p})
	}
	file := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, recs...)
	r, err := NewReader(&loopReader{head: file[:24], body: file[24:]}, ReaderOptions{})
	if err != nil {
		b.Fatal(err)
	}
	d := NewDecoder()
	var f Frame
	var p Packet
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if err := r.Next(&f); err != nil {
			b.Fatal(err)
		}
		d.Decode(&f, &p)
	}
}
