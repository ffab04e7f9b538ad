package decode

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"testing"
)

// fuzzMaxRecord keeps the fuzzer's allocations small.
const fuzzMaxRecord = 1 << 20

// seedCaptures returns small captures of every format for the fuzzers.
func seedCaptures(t testing.TB) [][]byte {
	pkt := simpleTCP4()
	var out [][]byte
	for _, o := range []byteOrder{littleEndian, bigEndian} {
		for _, m := range []uint32{pcapMagicMicro, pcapMagicNano, pcapMagicModified} {
			out = append(out, pcapFile(o, m, 65535, 1, pcapRec{sec: 1, data: pkt}, pcapRec{sec: 2, orig: 1514, data: pkt[:40]}))
		}
	}
	out = append(out, pcapFile(littleEndian, pcapMagicMicro, 65535, 1)) // empty
	ngb := testPcapng(t)
	out = append(out, ngb)
	n := &ng{}
	n.shb(bigEndian, 1, 0)
	n.idb(1, 0)
	out = append(out, n.b) // empty pcapng
	return append(out, compress(t, CompressionGzip, out[0]), compress(t, CompressionZstd, ngb))
}

func FuzzNewReader(f *testing.F) {
	for _, c := range seedCaptures(f) {
		f.Add(c)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := NewReader(bytes.NewReader(data), ReaderOptions{MaxRecord: fuzzMaxRecord})
		if err != nil {
			var re *ReadError
			if !errors.As(err, &re) && !errors.Is(err, ErrNotCapture) {
				t.Fatalf("NewReader error is not a ReadError: %v", err)
			}
			return
		}
		defer r.Close()
		d := NewDecoder()
		var fr Frame
		var p Packet
		for n := int64(1); ; n++ {
			err := r.Next(&fr)
			if err == io.EOF {
				break
			}
			if err != nil {
				var re *ReadError
				if !errors.As(err, &re) || re.Frame != n-1 {
					t.Fatalf("Next error %#v after %d frames", err, n-1)
				}
				if err2 := r.Next(&fr); err2 != err {
					t.Fatalf("error not sticky: %v then %v", err, err2)
				}
				break
			}
			if fr.Number != n || len(fr.Data) > fuzzMaxRecord {
				t.Fatalf("frame %d: number %d, %d bytes", n, fr.Number, len(fr.Data))
			}
			if fr.Iface < -1 || fr.Iface >= len(r.Info().Interfaces) {
				t.Fatalf("frame %d: interface %d of %d", n, fr.Iface, len(r.Info().Interfaces))
			}
			checkDecode(t, d, &fr, &p)
		}
	})
}

// fuzzLinkTypes are the link types FuzzDecode tries on every input.
var fuzzLinkTypes = []LinkType{
	LinkTypeEthernet, LinkTypeRaw, LinkTypeLinuxSLL, LinkTypeLinuxSLL2, LinkTypeNull, LinkTypeLoop,
	LinkTypePPP, LinkTypePPPHDLC, LinkTypeARCNETLinux, LinkTypeNFLOG, LinkTypeIPv6,
}

func FuzzDecode(f *testing.F) {
	udp := func(port uint16, payload []byte) []byte {
		b := binary.BigEndian.AppendUint16(nil, port)
		b = binary.BigEndian.AppendUint16(b, port)
		return append(append(b, 0, 8, 0, 0), payload...)
	}
	seeds := [][]byte{
		simpleTCP4(),
		ip4TCP,
		ip6TCP,
		ether(etherIPv6, ip6TCP, etherQinQ, etherVLAN),
		ether(etherPPPoE, pppoe(0x21, ip4TCP)),
		ether(etherMPLS, concat([]byte{0, 1, 1, 64}, ip4TCP)),
		concat([]byte{0, 0, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0, 0x08, 0x00}, ip4TCP),
		concat([]byte{0x86, 0xDD, 0, 0, 0, 0, 0, 2, 0, 1, 0, 6, 2, 0, 0, 0, 0, 1, 0, 0}, ip6TCP),
		concat([]byte{2, 0, 0, 0}, ip4TCP),
		concat([]byte{0xFF, 0x03, 0x00, 0x21}, ip4TCP),
		concat([]byte{1, 2, 0, 0, 212, 0xFF, 0xFF, 0xFF, 212, 0, 0, 1}, ip4TCP),
		concat([]byte{2, 0, 0, 42, 8, 0, 1, 0, 8, 0, 1, 0}, []byte{byte(4 + len(ip4TCP)), 0, 9, 0}, ip4TCP),
		ipv4Pkt(protoGRE, concat([]byte{0x30, 0x81, 0x88, 0x0B}, make([]byte, 12), []byte{0xFF, 0x03, 0x00, 0x21}, ip4TCP), -1),
		ipv4Pkt(protoUDP, udp(2152, concat([]byte{0x34, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0x85, 1, 0x10, 0x05, 0}, ip4TCP)), -1),
		ipv4Pkt(protoUDP, func() []byte {
			b := binary.BigEndian.AppendUint16(nil, 5555)
			b = binary.BigEndian.AppendUint16(b, portGeneve)
			return concat(b, []byte{0, 8, 0, 0}, []byte{1, 0, 0x65, 0x58, 0, 0, 1, 0}, make([]byte, 4), ether(etherIPv4, ip4TCP))
		}(), -1),
		ipv4Pkt(protoUDP, func() []byte {
			b := binary.BigEndian.AppendUint16(nil, 40000)
			b = binary.BigEndian.AppendUint16(b, portVXLANLinux)
			return concat(b, []byte{0, 8, 0, 0}, []byte{8, 0, 0, 1, 0, 0, 1, 0}, ether(etherIPv4, ip4TCP))
		}(), -1),
		ipv4Pkt(protoGRE, concat([]byte{0x10, 0, 0x22, 0xEB}, []byte{0, 0, 0, 7}, []byte{0x20, 0x64, 0, 1, 0, 0, 0, 9, 0, 0, 0x08, 0x01}, make([]byte, 8), ip6TCP), -1),
		ipv4Pkt(protoGRE, concat([]byte{0x10, 0, 0x88, 0xBE}, []byte{0, 0, 0, 7}, []byte{0x10, 0x64, 0, 1, 0, 0, 0, 0}, ether(etherIPv4, ip4TCP)), -1),
		ipv6Pkt(protoHopOpt, concat([]byte{protoFrag, 0, 0, 0, 0, 0, 0, 0}, []byte{protoTCP, 0, 0, 1, 0, 0, 0, 1}, seg.bytes())),
		ipv4Pkt(protoTCP, tcpSeg{sport: 1, dport: 2, opts: []byte{2, 4, 5, 0xB4, 4, 2, 8, 10, 0, 0, 0, 5, 0, 0, 0, 6, 1, 3, 3, 7, 5, 10, 0, 0, 0, 1, 0, 0, 0, 2}}.bytes(), 0),
	}
	for _, s := range seeds {
		f.Add(s, uint16(0))
		f.Add(s, uint16(1000))
	}
	f.Fuzz(func(t *testing.T, data []byte, extra uint16) {
		d := NewDecoder()
		var p Packet
		for _, lt := range fuzzLinkTypes {
			fr := Frame{Number: 1, Data: data, WireLen: len(data) + int(extra), LinkType: lt}
			checkDecode(t, d, &fr, &p)
		}
		fr := Frame{Data: data, WireLen: len(data) - int(extra), LinkType: LinkTypeEthernet} // wire below captured
		checkDecode(t, d, &fr, &p)
	})
}

// checkDecode decodes fr and checks the invariants of Packet and Stats.
func checkDecode(t *testing.T, d *Decoder, fr *Frame, p *Packet) {
	t.Helper()
	ok := d.Decode(fr, p)
	s := &d.Stats
	if sum := s.TCP + s.NonIP + s.NonTCP + s.IPFragments + s.Malformed + s.SnapTruncated + sumCounts(s.UnsupportedLink); sum != s.Frames {
		t.Fatalf("stats do not add up: %+v", s)
	}
	if int(p.CapLen) != len(fr.Data) || int(p.WireLen) != max(fr.WireLen, 0) || p.Frame != fr.Number {
		t.Fatalf("frame fields %+v", p)
	}
	if !ok {
		return
	}
	if p.PayloadLen < 0 || len(p.Payload) > p.PayloadLen || len(p.Payload) > len(fr.Data) {
		t.Fatalf("payload %d bytes of %d, frame %d", len(p.Payload), p.PayloadLen, len(fr.Data))
	}
	if len(p.Payload) < p.PayloadLen && !p.Truncated {
		t.Fatalf("payload cut (%d of %d) but not Truncated", len(p.Payload), p.PayloadLen)
	}
	if len(p.Payload) > 0 && !bytes.Contains(fr.Data, p.Payload) {
		t.Fatal("payload is not part of the frame")
	}
	if p.Opts.NSACK > 4 || p.Opts.WScale < -1 || p.Opts.WScale > 14 {
		t.Fatalf("options %+v", p.Opts)
	}
	if !p.Src.Addr().IsValid() || !p.Dst.Addr().IsValid() {
		t.Fatalf("addresses %v %v", p.Src, p.Dst)
	}
	var tunneled int64
	for _, n := range s.Tunneled {
		tunneled += n
	}
	if p.Tunnel >= NumTunnels || tunneled > s.TCP || (p.Tunnel != TunnelNone && s.Tunneled[p.Tunnel] == 0) {
		t.Fatalf("tunnel %v, counted %v of %d TCP frames", p.Tunnel, s.Tunneled, s.TCP)
	}
}
