package analysis

import (
	"io"
	"os"
	"testing"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/google/gopacket/reassembly"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// This file measures gopacket's reassembly package against pcapsleuth's lean
// tracker on the same capture ($PCAPSLEUTH_BENCH_FILE, a pcap). The figures
// are in docs/performance.md; the tracker was kept because it is faster and
// its memory does not grow with sequence gaps (headers-only captures).

type gpStream struct{}

func (gpStream) Accept(*layers.TCP, gopacket.CaptureInfo, reassembly.TCPFlowDirection, reassembly.Sequence, *bool, reassembly.AssemblerContext) bool {
	return true
}
func (gpStream) ReassembledSG(reassembly.ScatterGather, reassembly.AssemblerContext) {}
func (gpStream) ReassemblyComplete(reassembly.AssemblerContext) bool                 { return true }

type gpFactory struct{}

func (gpFactory) New(gopacket.Flow, gopacket.Flow, *layers.TCP, reassembly.AssemblerContext) reassembly.Stream {
	return gpStream{}
}

type gpContext struct{ ci gopacket.CaptureInfo }

func (c *gpContext) GetCaptureInfo() gopacket.CaptureInfo { return c.ci }

func benchFile(b *testing.B) string {
	path := os.Getenv("PCAPSLEUTH_BENCH_FILE")
	if path == "" {
		b.Skip("SKIP: set PCAPSLEUTH_BENCH_FILE to a pcap (go run ./cmd/benchgen gen -out FILE)")
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	return path
}

// gopacketLoop reads path with pcapgo and decodes every frame with a
// DecodingLayerParser (Ethernet, IPv4, TCP), calling each on the TCP
// segments.
func gopacketLoop(b *testing.B, path string, each func(ci gopacket.CaptureInfo, ip4 *layers.IPv4, tcp *layers.TCP)) {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		b.Fatal(err)
	}
	var eth layers.Ethernet
	var ip4 layers.IPv4
	var tcp layers.TCP
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &ip4, &tcp)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 4)
	for {
		data, ci, err := r.ZeroCopyReadPacketData()
		if err == io.EOF {
			break
		}
		if err != nil {
			b.Fatal(err)
		}
		if err := parser.DecodeLayers(data, &decoded); err != nil || len(decoded) < 3 {
			continue
		}
		each(ci, &ip4, &tcp)
	}
}

// BenchmarkGopacketDecodeLoop is the "bare decode loop": pcapgo and
// a DecodingLayerParser over the file, nothing else. pcapsleuth analyze
// should take at most twice as long.
func BenchmarkGopacketDecodeLoop(b *testing.B) {
	path := benchFile(b)
	var n int64
	for i := 0; i < b.N; i++ {
		gopacketLoop(b, path, func(gopacket.CaptureInfo, *layers.IPv4, *layers.TCP) { n++ })
	}
	if n == 0 {
		b.Fatal("no TCP segment decoded")
	}
}

// BenchmarkGopacketReassembly: pcapgo + DecodingLayerParser + reassembly.Assembler.
func BenchmarkGopacketReassembly(b *testing.B) {
	path := benchFile(b)
	for i := 0; i < b.N; i++ {
		asm := reassembly.NewAssembler(reassembly.NewStreamPool(gpFactory{}))
		ctx := &gpContext{}
		gopacketLoop(b, path, func(ci gopacket.CaptureInfo, ip4 *layers.IPv4, tcp *layers.TCP) {
			ctx.ci = ci
			asm.AssembleWithContext(ip4.NetworkFlow(), tcp, ctx)
		})
		asm.FlushAll()
	}
}

// BenchmarkLeanTracker: pcapsleuth's reader, decoder and tracker, no detectors.
func BenchmarkLeanTracker(b *testing.B) {
	path := benchFile(b)
	for i := 0; i < b.N; i++ {
		r, err := decode.Open(path, decode.ReaderOptions{})
		if err != nil {
			b.Fatal(err)
		}
		dec := decode.NewDecoder()
		tr := flows.NewTracker(flows.Config{}, nopObs{})
		var f decode.Frame
		var p decode.Packet
		for r.Next(&f) == nil {
			if dec.Decode(&f, &p) {
				tr.Add(&p)
			}
		}
		tr.Flush()
		r.Close()
	}
}

type nopObs struct{}

func (nopObs) Segment(*flows.Conn, *flows.Segment) {}
func (nopObs) Done(*flows.Conn)                    {}
