package decode

import (
	"bytes"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/google/gopacket"
	"github.com/google/gopacket/layers"
	"github.com/google/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// readAll reads every frame, copying the data, until an error; io.EOF is
// returned as nil.
func readAll(t *testing.T, r *Reader) ([]Frame, error) {
	t.Helper()
	var out []Frame
	for {
		var f Frame
		err := r.Next(&f)
		if err != nil {
			if err == io.EOF {
				err = nil
			}
			if err2 := r.Next(&f); err2 != err && !(err == nil && err2 == io.EOF) {
				t.Errorf("Next after %v returned %v, want the same error again", err, err2)
			}
			return out, err
		}
		f.Data = append([]byte(nil), f.Data...)
		out = append(out, f)
	}
}

// mustRead opens data and reads all frames, failing on any error.
func mustRead(t *testing.T, data []byte) (*Reader, []Frame) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
	if err != nil {
		t.Fatalf("NewReader: %v", err)
	}
	frames, err := readAll(t, r)
	if err != nil {
		t.Fatalf("read: %v", err)
	}
	return r, frames
}

func TestPcapVariants(t *testing.T) {
	pkt := simpleTCP4()
	for _, tc := range []struct {
		name  string
		order byteOrder
		magic uint32
		nano  bool
	}{
		{"le-usec", littleEndian, pcapMagicMicro, false},
		{"be-usec", bigEndian, pcapMagicMicro, false},
		{"le-nsec", littleEndian, pcapMagicNano, true},
		{"be-nsec", bigEndian, pcapMagicNano, true},
		{"le-modified", littleEndian, pcapMagicModified, false},
		{"be-modified", bigEndian, pcapMagicModified, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := pcapFile(tc.order, tc.magic, 65535, 1,
				pcapRec{sec: 1700000000, frac: 123456, data: pkt},
				pcapRec{sec: 1700000001, frac: 999, orig: 1514, data: pkt[:40]})
			r, frames := mustRead(t, data)
			info := r.Info()
			if info.Format != FormatPcap || info.Compression != CompressionNone || info.ByteOrder != tc.order.String() ||
				info.Version != "2.4" || info.Nanosecond != tc.nano || info.SnapLen != 65535 || info.Sections != 1 {
				t.Errorf("info = %+v", info)
			}
			if len(info.Interfaces) != 1 || info.Interfaces[0].LinkType != LinkTypeEthernet {
				t.Errorf("interfaces = %+v", info.Interfaces)
			}
			if len(frames) != 2 {
				t.Fatalf("got %d frames, want 2", len(frames))
			}
			scale := int64(1000)
			if tc.nano {
				scale = 1
			}
			if want := 1700000000*int64(time.Second) + 123456*scale; frames[0].TS != want {
				t.Errorf("TS = %d, want %d", frames[0].TS, want)
			}
			if !bytes.Equal(frames[0].Data, pkt) || frames[0].WireLen != len(pkt) || frames[0].Number != 1 {
				t.Errorf("frame 1 = %+v", frames[0])
			}
			if len(frames[1].Data) != 40 || frames[1].WireLen != 1514 || frames[1].Number != 2 || frames[1].LinkType != LinkTypeEthernet {
				t.Errorf("frame 2 = %+v", frames[1])
			}
		})
	}
}

func TestPcapLinkTypeFCSBits(t *testing.T) {
	// libpcap keeps an FCS length in the upper bits of the link type field.
	r, _ := mustRead(t, pcapFile(littleEndian, pcapMagicMicro, 64, 0x30000001))
	if lt := r.Info().Interfaces[0].LinkType; lt != LinkTypeEthernet {
		t.Errorf("link type = %v, want ethernet", lt)
	}
}

func TestPcapUnsupportedVersion(t *testing.T) {
	data := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, pcapRec{data: simpleTCP4()})
	data[4] = 1 // major version 1
	_, err := NewReader(bytes.NewReader(data), ReaderOptions{})
	var re *ReadError
	if !errors.Is(err, ErrUnsupported) || !errors.As(err, &re) {
		t.Fatalf("err = %v, want a ReadError wrapping ErrUnsupported", err)
	}
}

func TestPcapRecordBeyondSnaplen(t *testing.T) {
	// Records longer than the snaplen (but within MaxRecord) are read, as
	// tshark does up to its own limit.
	big := bytes.Repeat([]byte{0xAB}, 300<<10) // larger than the read buffer
	data := pcapFile(littleEndian, pcapMagicMicro, 96, 1,
		pcapRec{data: simpleTCP4()}, pcapRec{data: big}, pcapRec{data: simpleTCP4()})
	_, frames := mustRead(t, data)
	if len(frames) != 3 || !bytes.Equal(frames[1].Data, big) {
		t.Fatalf("got %d frames", len(frames))
	}
}

func TestPcapngLargeBlocks(t *testing.T) {
	big := bytes.Repeat([]byte{0xCD}, 300<<10) // larger than the read buffer
	n := &ng{}
	n.shb(littleEndian, 1, 0, n.opt(1, bytes.Repeat([]byte{'c'}, 60000)), n.endOpts())
	n.idb(1, 0)
	n.block(0x40000BAD, bytes.Repeat([]byte{1}, 700<<10)) // skipped through the buffer
	n.epb(0, 1, 0, big)
	n.epb(0, 2, 0, simpleTCP4())
	_, frames := mustRead(t, n.b)
	if len(frames) != 2 || !bytes.Equal(frames[0].Data, big) || !bytes.Equal(frames[1].Data, simpleTCP4()) {
		t.Fatalf("got %d frames", len(frames))
	}
}

// gopacketFrames returns a few distinct TCP frames serialized with gopacket.
func gopacketFrames(t testing.TB, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		eth := &layers.Ethernet{SrcMAC: []byte{2, 0, 0, 0, 0, 1}, DstMAC: []byte{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
		ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: testSrc4[:], DstIP: testDst4[:]}
		tcp := &layers.TCP{SrcPort: 40000, DstPort: 443, Seq: uint32(1000 + i*100), Ack: 1, ACK: true, PSH: true, Window: 1024,
			Options: []layers.TCPOption{{OptionType: layers.TCPOptionKindTimestamps, OptionLength: 10, OptionData: []byte{0, 0, 0, 1, 0, 0, 0, 2}}}}
		if err := tcp.SetNetworkLayerForChecksum(ip); err != nil {
			t.Fatal(err)
		}
		buf := gopacket.NewSerializeBuffer()
		payload := bytes.Repeat([]byte{byte(i)}, 100)
		err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, eth, ip, tcp, gopacket.Payload(payload))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, append([]byte(nil), buf.Bytes()...))
	}
	return out
}

func TestReadsGopacketWriters(t *testing.T) {
	pkts := gopacketFrames(t, 5)
	base := time.Unix(1700000000, 5000)
	var pcap, ngBuf bytes.Buffer
	w := pcapgo.NewWriter(&pcap)
	if err := w.WriteFileHeader(65536, layers.LinkTypeEthernet); err != nil {
		t.Fatal(err)
	}
	nw, err := pcapgo.NewNgWriter(&ngBuf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	for i, p := range pkts {
		ci := gopacket.CaptureInfo{Timestamp: base.Add(time.Duration(i) * time.Millisecond), CaptureLength: len(p), Length: len(p)}
		if err := w.WritePacket(ci, p); err != nil {
			t.Fatal(err)
		}
		if err := nw.WritePacket(ci, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := nw.Flush(); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"pcap": pcap.Bytes(), "pcapng": ngBuf.Bytes()} {
		t.Run(name, func(t *testing.T) {
			_, frames := mustRead(t, data)
			if len(frames) != len(pkts) {
				t.Fatalf("got %d frames, want %d", len(frames), len(pkts))
			}
			d := NewDecoder()
			var p Packet
			for i, f := range frames {
				if !bytes.Equal(f.Data, pkts[i]) {
					t.Errorf("frame %d data differs", i+1)
				}
				if want := base.Add(time.Duration(i) * time.Millisecond).UnixNano(); f.TS != want {
					t.Errorf("frame %d TS = %d, want %d", i+1, f.TS, want)
				}
				if !d.Decode(&f, &p) || p.Seq != uint32(1000+i*100) || p.PayloadLen != 100 || !p.Opts.HasTS {
					t.Errorf("frame %d decoded as %+v", i+1, p)
				}
			}
		})
	}
}

// testPcapng builds a pcapng file with three sections of both byte orders,
// several interfaces, every packet block type and skipped blocks.
func testPcapng(t testing.TB) []byte {
	t.Helper()
	pkt := simpleTCP4()
	raw := ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagSYN}.bytes(), -1)
	n := &ng{}
	n.shb(littleEndian, 1, 0, n.opt(4, []byte("test app")), n.endOpts())
	n.idb(1, 0, n.opt(optIfName, []byte("eth0")), n.opt(optIfDesc, []byte("first")), n.endOpts()) // 0: usec
	n.idb(101, 128, n.opt(optIfTSResol, []byte{9}), n.opt(optIfTSOff, put64(littleEndian, nil, 10)), n.endOpts())
	n.epb(0, 1700000000_000001, 0, pkt)
	n.epb(1, 1700000000_000000002, 1500, raw, n.opt(1, []byte{0, 0, 0, 1}), n.endOpts()) // with epb_flags
	n.block(4, []byte{0, 0, 0, 0})                                                       // NRB, skipped
	n.block(0x00000BAD, []byte{1, 2, 3, 4, 5, 6, 7, 8})                                  // custom block, not a frame
	n.isb(0, 42)
	n.isb(7, 1)         // unknown interface: ignored
	n.epb(9, 0, 0, pkt) // unknown interface: delivered as such
	// Section 2, big-endian: base-2 resolution and the obsolete PB and SPB.
	n.shb(bigEndian, 1, 0)
	n.idb(0, 32, n.opt(optIfTSResol, []byte{0x80 | 20}), n.endOpts()) // 2^-20 s
	n.pb(0, 3<<20, append(put32(littleEndian, nil, 2), raw...))       // NULL, AF_INET LE
	n.spb(uint32(4+len(raw)), append(put32(littleEndian, nil, 2), raw...))
	// Section 3: little-endian again, version 1.2 as some tools write it.
	n.shb(littleEndian, 1, 2)
	n.idb(276, 0, n.endOpts())
	n.epb(0, 5, 0, concat([]byte{0x08, 0, 0, 0, 0, 0, 0, 1, 0, 1, 0, 6}, make([]byte, 8), raw))
	return n.b
}

func TestPcapngSectionsAndBlocks(t *testing.T) {
	r, frames := mustRead(t, testPcapng(t))
	info := r.Info()
	if info.Format != FormatPcapng || info.Sections != 3 || info.Version != "1.2" || info.ByteOrder != "little" {
		t.Errorf("info = %+v", info)
	}
	wantIfs := []Interface{
		{Section: 0, LinkType: LinkTypeEthernet, Name: "eth0", Description: "first", TSUnitsPerSecond: 1e6, Dropped: 42, HasDropped: true},
		{Section: 0, LinkType: LinkTypeRaw, SnapLen: 128, TSUnitsPerSecond: 1e9, TSOffset: 10},
		{Section: 1, LinkType: LinkTypeNull, SnapLen: 32, TSUnitsPerSecond: 1 << 20},
		{Section: 2, LinkType: LinkTypeLinuxSLL2, TSUnitsPerSecond: 1e6},
	}
	if len(info.Interfaces) != len(wantIfs) {
		t.Fatalf("interfaces = %+v", info.Interfaces)
	}
	for i, want := range wantIfs {
		if info.Interfaces[i] != want {
			t.Errorf("interface %d = %+v, want %+v", i, info.Interfaces[i], want)
		}
	}
	type fr struct {
		iface int
		lt    LinkType
		ts    int64
		n     int
	}
	raw := ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, flags: FlagSYN}.bytes(), -1)
	want := []fr{
		{0, LinkTypeEthernet, 1700000000_000001000, len(simpleTCP4())},
		{1, LinkTypeRaw, 1700000000_000000002 + 10e9, len(raw)},
		{-1, LinkTypeUnknown, 0, len(simpleTCP4())},
		{2, LinkTypeNull, 3e9, 4 + len(raw)},
		{2, LinkTypeNull, 0, 32}, // SPB cut to interface 0's snaplen
		{3, LinkTypeLinuxSLL2, 5000, 20 + len(raw)},
	}
	if len(frames) != len(want) {
		t.Fatalf("got %d frames, want %d", len(frames), len(want))
	}
	d := NewDecoder()
	var p Packet
	for i, w := range want {
		f := frames[i]
		if f.Iface != w.iface || f.LinkType != w.lt || f.TS != w.ts || len(f.Data) != w.n || f.Number != int64(i+1) {
			t.Errorf("frame %d = iface %d %v ts %d len %d, want %+v", i+1, f.Iface, f.LinkType, f.TS, len(f.Data), w)
		}
		d.Decode(&f, &p)
	}
	if frames[1].WireLen != 1500 {
		t.Errorf("EPB wire length = %d", frames[1].WireLen)
	}
	if d.Stats.TCP != 4 || d.Stats.SnapTruncated != 1 || d.Stats.UnsupportedLink[LinkTypeUnknown] != 1 {
		t.Errorf("stats = %+v", d.Stats)
	}
}

func TestPcapngErrors(t *testing.T) {
	good := func() *ng {
		n := &ng{}
		n.shb(littleEndian, 1, 0)
		n.idb(1, 0)
		return n
	}
	pkt := simpleTCP4()
	for _, tc := range []struct {
		name   string
		data   func() []byte
		sent   error
		atOpen bool
	}{
		{"version 2.0", func() []byte { n := &ng{}; n.shb(littleEndian, 2, 0); return n.b }, ErrUnsupported, true},
		{"version 0.1", func() []byte { n := &ng{}; n.shb(littleEndian, 0, 1); return n.b }, ErrUnsupported, true},
		{"bad byte-order magic", func() []byte { n := &ng{}; n.shb(littleEndian, 1, 0); n.b[8] = 0; return n.b }, ErrCorrupt, true},
		{"shb option overruns", func() []byte {
			n := &ng{}
			n.o = littleEndian
			n.shb(littleEndian, 1, 0, put16(littleEndian, put16(littleEndian, nil, 1), 200))
			return n.b
		}, ErrCorrupt, true},
		{"second section unsupported", func() []byte {
			n := good()
			n.epb(0, 0, 0, pkt)
			n.shb(littleEndian, 2, 0)
			return n.b
		}, ErrUnsupported, false},
		{"trailer mismatch", func() []byte { n := good(); n.epb(0, 0, 0, pkt); n.b[len(n.b)-1] ^= 1; return n.b }, ErrCorrupt, false},
		{"length not multiple of 4", func() []byte { n := good(); n.block(99, []byte{1, 2, 3, 4}); n.b[len(n.b)-16+4]++; return n.b }, ErrCorrupt, false},
		{"length below 12", func() []byte { n := good(); n.b = put32(n.o, put32(n.o, n.b, 6), 8); return n.b }, ErrCorrupt, false},
		{"captured length beyond block", func() []byte {
			n := good()
			n.epb(0, 0, 0, pkt)
			end := len(n.b)
			// captured length field of the EPB just written
			capOff := end - (12 + 20 + (len(pkt)+3)&^3) + 8 + 12
			copy(n.b[capOff:], put32(littleEndian, nil, 5000))
			return n.b
		}, ErrCorrupt, false},
		{"epb option overruns", func() []byte { n := good(); n.epb(0, 0, 0, pkt, put16(n.o, put16(n.o, nil, 1), 99)); return n.b }, ErrCorrupt, false},
		{"idb too short", func() []byte { n := good(); n.block(blockIDB, []byte{1, 0, 0, 0}); return n.b }, ErrCorrupt, false},
		{"tsresol too fine", func() []byte { n := good(); n.idb(1, 0, n.opt(optIfTSResol, []byte{0x80 | 64})); return n.b }, ErrUnsupported, false},
		{"block beyond limit", func() []byte { n := good(); n.b = put32(n.o, put32(n.o, n.b, 99), 0xFFFFFFF0); return n.b }, ErrCorrupt, false},
		{"block header cut", func() []byte { n := good(); n.b = append(n.b, 6, 0, 0); return n.b }, ErrTruncated, false},
		{"block cut", func() []byte { n := good(); n.epb(0, 0, 0, pkt); n.b = n.b[:len(n.b)-5]; return n.b }, ErrTruncated, false},
		{"shb cut", func() []byte { n := &ng{}; n.shb(littleEndian, 1, 0); return n.b[:20] }, ErrTruncated, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(tc.data()), ReaderOptions{})
			if err == nil {
				if tc.atOpen {
					t.Fatalf("NewReader succeeded, want an error")
				}
				_, err = readAll(t, r)
			} else if !tc.atOpen {
				t.Fatalf("NewReader: %v", err)
			}
			var re *ReadError
			if !errors.Is(err, tc.sent) || !errors.As(err, &re) {
				t.Fatalf("err = %v, want a ReadError wrapping %v", err, tc.sent)
			}
		})
	}
}

func TestReadErrorMessage(t *testing.T) {
	e := &ReadError{Offset: 1234, Frame: 56, Err: errors.Join(errors.New("pcapng block length 9999999 exceeds file"))}
	if got := e.Error(); got != "offset 1234 (after frame 56): pcapng block length 9999999 exceeds file" {
		t.Errorf("Error() = %q", got)
	}
	data := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, pcapRec{data: simpleTCP4()}, pcapRec{data: simpleTCP4()})
	data = data[:len(data)-3]
	r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := readAll(t, r)
	var re *ReadError
	if len(frames) != 1 || !errors.As(err, &re) || re.Frame != 1 || re.Offset != int64(24+16+len(simpleTCP4())) {
		t.Fatalf("frames %d, err %#v", len(frames), err)
	}
	if want := "pcap record length 59 exceeds file: truncated"; !strings.HasSuffix(err.Error(), want) {
		t.Errorf("Error() = %q, want suffix %q", err, want)
	}
}

// TestCutAtEveryOffset cuts captures at every byte of their last record
// (and of their headers): every complete frame must come out, then a
// ReadError wrapping ErrTruncated.
func TestCutAtEveryOffset(t *testing.T) {
	pkt := simpleTCP4()
	n := &ng{o: bigEndian}
	n.shb(bigEndian, 1, 0, n.opt(4, []byte("x")), n.endOpts())
	n.idb(1, 0, n.endOpts())
	n.epb(0, 1, 0, pkt)
	n.isb(0, 3)
	n.epb(0, 2, 0, pkt, n.opt(1, []byte{0, 0, 0, 0}), n.endOpts())
	for name, data := range map[string][]byte{
		"pcap":     pcapFile(littleEndian, pcapMagicNano, 65535, 1, pcapRec{data: pkt}, pcapRec{data: pkt}),
		"modified": pcapFile(bigEndian, pcapMagicModified, 65535, 1, pcapRec{data: pkt}, pcapRec{data: pkt}),
		"pcapng":   n.b,
	} {
		t.Run(name, func(t *testing.T) {
			_, all := mustRead(t, data)
			if len(all) != 2 {
				t.Fatalf("full file has %d frames", len(all))
			}
			ends := blockEnds(data)
			for cut := 0; cut < len(data); cut++ {
				r, err := NewReader(bytes.NewReader(data[:cut]), ReaderOptions{})
				var frames []Frame
				if err == nil {
					frames, err = readAll(t, r)
				}
				complete, clean := 0, false
				for _, end := range ends {
					if cut >= end.off {
						complete = end.frames
					}
					clean = clean || cut == end.off
				}
				if clean {
					if err != nil || len(frames) != complete {
						t.Fatalf("cut %d at a block boundary: %d frames, err %v; want %d, nil", cut, len(frames), err, complete)
					}
					continue
				}
				var re *ReadError
				switch {
				case !errors.As(err, &re):
					t.Fatalf("cut %d: err = %v, want a ReadError", cut, err)
				case cut >= 4 && !errors.Is(err, ErrTruncated):
					t.Fatalf("cut %d: err = %v, want ErrTruncated", cut, err)
				case cut < 4 && !errors.Is(err, ErrNotCapture):
					t.Fatalf("cut %d: err = %v, want ErrNotCapture", cut, err)
				case errors.Is(err, ErrEmpty) != (cut == 0):
					t.Fatalf("cut %d: err = %v: ErrEmpty is for no byte at all", cut, err)
				case len(frames) != complete:
					t.Fatalf("cut %d: %d frames, want %d", cut, len(frames), complete)
				}
				for i, f := range frames {
					if !bytes.Equal(f.Data, all[i].Data) {
						t.Fatalf("cut %d: frame %d differs", cut, i+1)
					}
				}
			}
		})
	}
}

// blockEnd is the end offset of a header, record or block, and the
// number of frames complete there.
type blockEnd struct{ off, frames int }

// blockEnds walks a well-formed pcap or pcapng file.
func blockEnds(data []byte) []blockEnd {
	var ends []blockEnd
	if littleEndian.u32(data) == blockSHB {
		o, frames := littleEndian, 0
		for off := 0; off < len(data); {
			typ := o.u32(data[off:])
			if typ == blockSHB && littleEndian.u32(data[off+8:]) != bomBig {
				o = bigEndian
			} else if typ == blockSHB {
				o = littleEndian
			}
			if typ == blockEPB || typ == blockSPB || typ == blockPB {
				frames++
			}
			off += int(o.u32(data[off+4:]))
			ends = append(ends, blockEnd{off, frames})
		}
		return ends
	}
	o := littleEndian
	if bigEndian.u32(data) == pcapMagicMicro || bigEndian.u32(data) == pcapMagicNano || bigEndian.u32(data) == pcapMagicModified {
		o = bigEndian
	}
	hl := 16
	if o.u32(data) == pcapMagicModified {
		hl = 24
	}
	ends = append(ends, blockEnd{24, 0})
	for off, frames := 24, 1; off < len(data); frames++ {
		off += hl + int(o.u32(data[off+8:]))
		ends = append(ends, blockEnd{off, frames})
	}
	return ends
}

func TestNotCapture(t *testing.T) {
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		w := gzip.NewWriter(&buf)
		w.Write(b)
		w.Close()
		return buf.Bytes()
	}
	for name, data := range map[string][]byte{
		"empty":        nil,
		"short":        {0xd4, 0xc3},
		"text":         []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
		"gzip of text": gz([]byte("hello, world")),
		"gzip empty":   gz(nil),
		"elf":          {0x7f, 'E', 'L', 'F', 2, 1, 1, 0, 0, 0, 0, 0},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := NewReader(bytes.NewReader(data), ReaderOptions{})
			if !errors.Is(err, ErrNotCapture) {
				t.Errorf("err = %v, want ErrNotCapture", err)
			}
		})
	}
}

func TestEmptyCaptures(t *testing.T) {
	n := &ng{}
	n.shb(littleEndian, 1, 0)
	n.idb(1, 0)
	for name, data := range map[string][]byte{
		"pcap":   pcapFile(littleEndian, pcapMagicMicro, 65535, 1),
		"pcapng": n.b,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReader(bytes.NewReader(data), ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			var f Frame
			if err := r.Next(&f); err != io.EOF {
				t.Errorf("Next = %v, want io.EOF", err)
			}
		})
	}
}

// TestAbsurdLengths checks that a record or block claiming a huge length
// fails without a large allocation, whether beyond MaxRecord or within it.
func TestAbsurdLengths(t *testing.T) {
	rec := func(n uint32) []byte {
		data := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, pcapRec{data: simpleTCP4()})
		data = put32(littleEndian, put32(littleEndian, put32(littleEndian, put32(littleEndian, data, 0), 0), n), n)
		return append(data, make([]byte, 1000)...)
	}
	blk := func(n uint32) []byte {
		b := &ng{}
		b.shb(littleEndian, 1, 0)
		b.idb(1, 0)
		b.b = put32(littleEndian, put32(littleEndian, b.b, blockEPB), n)
		return append(b.b, make([]byte, 1000)...)
	}
	for _, tc := range []struct {
		name string
		data []byte
		sent error
	}{
		{"pcap 4 GiB", rec(0xFFFFFFFF), ErrCorrupt},
		{"pcap 60 MiB within limit", rec(60 << 20), ErrTruncated},
		{"pcapng 4 GiB", blk(0xFFFFFFF0), ErrCorrupt},
		{"pcapng 60 MiB within limit", blk(60 << 20), ErrTruncated},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.ReadMemStats(&before)
			r, err := NewReader(bytes.NewReader(tc.data), ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			_, err = readAll(t, r)
			runtime.ReadMemStats(&after)
			if !errors.Is(err, tc.sent) {
				t.Errorf("err = %v, want %v", err, tc.sent)
			}
			// Two 256 KiB buffers at most, plus small change.
			if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 2<<20 {
				t.Errorf("allocated %d bytes for a %d-byte input", alloc, len(tc.data))
			}
		})
	}
	t.Run("MaxRecord option", func(t *testing.T) {
		r, err := NewReader(bytes.NewReader(rec(5000)), ReaderOptions{MaxRecord: 4096})
		if err != nil {
			t.Fatal(err)
		}
		frames, err := readAll(t, r)
		if len(frames) != 1 || !errors.Is(err, ErrCorrupt) {
			t.Errorf("frames %d, err %v", len(frames), err)
		}
	})
}

func compress(t testing.TB, kind Compression, parts ...[]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	for _, p := range parts { // one stream per part: multistream
		switch kind {
		case CompressionGzip:
			w := gzip.NewWriter(&buf)
			w.Write(p)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		case CompressionZstd:
			w, err := zstd.NewWriter(&buf)
			if err != nil {
				t.Fatal(err)
			}
			w.Write(p)
			if err := w.Close(); err != nil {
				t.Fatal(err)
			}
		}
	}
	return buf.Bytes()
}

func TestCompressed(t *testing.T) {
	pkt := simpleTCP4()
	var recs []pcapRec
	for i := range 3000 {
		recs = append(recs, pcapRec{sec: uint32(i), data: pkt})
	}
	pcap := pcapFile(littleEndian, pcapMagicMicro, 65535, 1, recs...)
	ngb := testPcapng(t)
	for _, kind := range []Compression{CompressionGzip, CompressionZstd} {
		for name, plain := range map[string][]byte{"pcap": pcap, "pcapng": ngb} {
			t.Run(kind.String()+"/"+name, func(t *testing.T) {
				_, want := mustRead(t, plain)
				// Split into two streams to exercise multistream reading.
				data := compress(t, kind, plain[:len(plain)/2], plain[len(plain)/2:])
				r, got := mustRead(t, data)
				if r.Info().Compression != kind {
					t.Errorf("compression = %v", r.Info().Compression)
				}
				if len(got) != len(want) {
					t.Fatalf("got %d frames, want %d", len(got), len(want))
				}
				if r.BytesRead() != int64(len(data)) {
					t.Errorf("BytesRead = %d, want %d", r.BytesRead(), len(data))
				}
				// Cut the compressed stream: frames, then ErrTruncated.
				r, err := NewReader(bytes.NewReader(data[:len(data)*3/4]), ReaderOptions{})
				if err != nil {
					t.Fatal(err)
				}
				frames, err := readAll(t, r)
				if !errors.Is(err, ErrTruncated) || len(frames) == 0 {
					t.Errorf("cut stream: %d frames, err %v", len(frames), err)
				}
				// Damage the compressed stream: a ReadError, never a panic.
				bad := append([]byte(nil), data...)
				for i := 20; i < len(bad); i += 97 {
					bad[i] ^= 0x55
				}
				if r, err := NewReader(bytes.NewReader(bad), ReaderOptions{}); err == nil {
					_, err = readAll(t, r)
					var re *ReadError
					if !errors.As(err, &re) {
						t.Errorf("damaged stream: err = %v, want a ReadError", err)
					}
				}
			})
		}
	}
}

// TestZstdWindowBound checks that a tiny zstd stream announcing a huge
// window is refused, or costs at most the bounded window.
func TestZstdWindowBound(t *testing.T) {
	for _, tc := range []struct {
		desc byte // window descriptor: window log 10 + desc>>3
		sent error
	}{
		{0x88, ErrUnsupported}, // 128 MiB
		{0xF8, ErrUnsupported}, // 2 TiB
		{0x78, ErrTruncated},   // 32 MiB: accepted, the stream is cut
	} {
		// magic, frame header (no content size), one raw block of 4 bytes
		data := []byte{0x28, 0xb5, 0x2f, 0xfd, 0x00, tc.desc, 0x21, 0x00, 0x00, 0xd4, 0xc3, 0xb2, 0xa1}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := NewReader(bytes.NewReader(data), ReaderOptions{})
		runtime.ReadMemStats(&after)
		if !errors.Is(err, tc.sent) {
			t.Errorf("window %#x: err = %v, want %v", tc.desc, err, tc.sent)
		}
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > zstdMaxWindow+8<<20 {
			t.Errorf("window %#x: allocated %d MiB", tc.desc, alloc>>20)
		}
	}
}

func TestNonSeekableReaders(t *testing.T) {
	big := bytes.Repeat([]byte{7}, 300<<10)
	data := pcapFile(bigEndian, pcapMagicMicro, 0, 1, pcapRec{data: simpleTCP4()}, pcapRec{data: big}, pcapRec{data: simpleTCP4()})
	for name, wrap := range map[string]func(io.Reader) io.Reader{
		"one byte": iotest.OneByteReader,
		"half":     iotest.HalfReader,
		"data+err": iotest.DataErrReader,
	} {
		t.Run(name, func(t *testing.T) {
			r, err := NewReader(wrap(bytes.NewReader(data)), ReaderOptions{})
			if err != nil {
				t.Fatal(err)
			}
			frames, err := readAll(t, r)
			if err != nil || len(frames) != 3 || !bytes.Equal(frames[1].Data, big) {
				t.Fatalf("%d frames, err %v", len(frames), err)
			}
		})
	}
	t.Run("read error", func(t *testing.T) {
		boom := errors.New("disk on fire")
		src := io.MultiReader(bytes.NewReader(data[:100]), iotest.ErrReader(boom))
		r, err := NewReader(src, ReaderOptions{})
		if err != nil {
			t.Fatal(err)
		}
		_, err = readAll(t, r)
		var re *ReadError
		if !errors.Is(err, boom) || !errors.As(err, &re) {
			t.Errorf("err = %v, want a ReadError wrapping the source error", err)
		}
	})
}

func TestOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap.gz")
	data := compress(t, CompressionGzip, pcapFile(littleEndian, pcapMagicMicro, 65535, 1, pcapRec{data: simpleTCP4()}))
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(path, ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	frames, err := readAll(t, r)
	if err != nil || len(frames) != 1 {
		t.Fatalf("%d frames, err %v", len(frames), err)
	}
	if err := r.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	var f Frame
	if err := r.Next(&f); err == nil || err == io.EOF {
		t.Errorf("Next after Close = %v, want an error", err)
	}
	if _, err := Open(filepath.Join(t.TempDir(), "missing"), ReaderOptions{}); err == nil {
		t.Error("Open of a missing file succeeded")
	}
}

func TestStrings(t *testing.T) {
	for got, want := range map[string]string{
		FormatPcap.String():          "pcap",
		FormatPcapng.String():        "pcapng",
		CompressionNone.String():     "none",
		CompressionGzip.String():     "gzip",
		CompressionZstd.String():     "zstd",
		LinkTypeEthernet.String():    "ethernet",
		LinkTypeLinuxSLL2.String():   "linux-sll2",
		LinkTypeRaw.String():         "raw",
		LinkTypeNull.String():        "null",
		LinkType(281).String():       "linktype-281",
		LinkTypeNFLOG.String():       "nflog",
		LinkTypeARCNETLinux.String(): "arcnet-linux",
	} {
		if got != want {
			t.Errorf("String() = %q, want %q", got, want)
		}
	}
}

func TestTimestampConversion(t *testing.T) {
	for _, tc := range []struct {
		ts, units uint64
		off       int64
		want      int64
	}{
		{1, 1e6, 0, 1000},
		{1 << 32 * 1e6, 1e6, 0, 1 << 32 * 1e9}, // beyond 2106
		{math.MaxUint64, 1e6, 0, math.MaxInt64},
		{math.MaxUint64, 1e9, 0, math.MaxInt64},
		{3 << 20, 1 << 20, 0, 3e9},
		{1, 1 << 20, 0, 953}, // 2^-20 s
		{123, 1e12, 0, 0},
		{1e12 + 999, 1e12, 0, 1e9 + 0},
		{5, 1, -10e9, -5e9},
		{math.MaxUint64, 1, 0, math.MaxInt64},
		{1, 1e6, math.MaxInt64, math.MaxInt64},
		{0, 1e6, math.MinInt64, math.MinInt64},
	} {
		st := ifaceState{units: tc.units, offsetNs: tc.off}
		if got := st.nanos(tc.ts); got != tc.want {
			t.Errorf("nanos(%d @ %d/s, off %d) = %d, want %d", tc.ts, tc.units, tc.off, got, tc.want)
		}
	}
	if units, ok := tsUnits(6); !ok || units != 1e6 {
		t.Errorf("tsUnits(6) = %d", units)
	}
	if _, ok := tsUnits(20); ok {
		t.Error("tsUnits(20) accepted")
	}
}
