package detectors

import (
	"errors"
	"io"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// segRecord is one segment as the tracker handed it to its observers, kept
// so that Engine.Segment can be replayed without the tracker.
type segRecord struct {
	c *flows.Conn
	s flows.Segment
	p decode.Packet
}

// segRecorder is a flows.Observer that keeps every segment.
type segRecorder struct{ recs []segRecord }

func (r *segRecorder) Segment(c *flows.Conn, s *flows.Segment) {
	r.recs = append(r.recs, segRecord{c: c, s: *s, p: *s.P})
	r.recs[len(r.recs)-1].p.Payload = nil // the detectors read headers only
}

func (r *segRecorder) Done(*flows.Conn) {}

// benchPackets reads every packet of the captures at paths (at most max in
// all; 0 = no limit), copying the payload.
func benchPackets(tb testing.TB, max int, paths ...string) [][]decode.Packet {
	tb.Helper()
	var out [][]decode.Packet
	n := 0
	for _, path := range paths {
		r, err := decode.Open(path, decode.ReaderOptions{})
		if err != nil {
			tb.Fatalf("open %s: %v", path, err)
		}
		dec := decode.NewDecoder()
		var f decode.Frame
		var ps []decode.Packet
		for max == 0 || n < max {
			if err = r.Next(&f); err != nil {
				break
			}
			var p decode.Packet
			if dec.Decode(&f, &p) {
				p.Payload = append([]byte(nil), p.Payload...)
				ps = append(ps, p)
				n++
			}
		}
		r.Close()
		if err != nil && !errors.Is(err, io.EOF) {
			tb.Fatalf("read %s: %v", path, err)
		}
		out = append(out, ps)
	}
	return out
}

// replicate makes copies of the captures' connections, copy k with its
// addresses changed and its clock shifted by k ms, merged in time order: the
// packets of the real recordings, on many concurrent connections and host
// pairs, as on a busy capture.
func replicate(files [][]decode.Packet, copies int) []decode.Packet {
	var out []decode.Packet
	for k := 0; k < copies; k++ {
		for fi, ps := range files {
			if len(ps) == 0 {
				continue
			}
			base := ps[0].TS
			for _, p := range ps {
				p.Src = benchAddr(p.Src, k, fi)
				p.Dst = benchAddr(p.Dst, k, fi)
				p.TS = 1_700_000_000e9 + (p.TS - base) + int64(k)*1e6
				out = append(out, p)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].TS < out[j].TS })
	for i := range out {
		out[i].Frame = int64(i + 1)
	}
	return out
}

// benchAddr moves a of copy k of file fi to an address of its own.
func benchAddr(a netip.AddrPort, k, fi int) netip.AddrPort {
	b := a.Addr().AsSlice()
	b[1] ^= byte(k)
	b[2] ^= byte(k>>8) ^ byte(fi<<4)
	addr, _ := netip.AddrFromSlice(b)
	return netip.AddrPortFrom(addr, a.Port())
}

// recordSegments runs the tracker over ps and returns what it handed to its
// observers.
func recordSegments(ps []decode.Packet) []segRecord {
	rec := &segRecorder{}
	tr := flows.NewTracker(flows.DefaultConfig(), rec)
	for i := range ps {
		p := ps[i]
		tr.Add(&p)
	}
	tr.Flush()
	return rec.recs
}

// BenchmarkEngineSegment measures Engine.Segment alone, per segment, over
// the segments the tracker made of a realistic mix: the recordings of real
// Linux stacks in testdata (TCP timestamps, SACK, losses and RTO backoff,
// TSO/GRO super-segments, zero windows, handshakes that fail), each copied
// onto many concurrent connections and host pairs. Sub-benchmarks run all
// detectors and each per-segment detector alone. With PCAPSLEUTH_BENCH_FILE
// set, the first million packets of that capture are measured too (the
// benchgen mix: no timestamps, bulk responses, 1 % retransmissions).
// The steady state must not allocate.
func BenchmarkEngineSegment(b *testing.B) {
	var paths []string
	for _, glob := range []string{"testdata/transport/real-*.pcap", "testdata/real/*.pcap"} {
		m, err := filepath.Glob(glob)
		if err != nil {
			b.Fatal(err)
		}
		paths = append(paths, m...)
	}
	if len(paths) == 0 {
		b.Fatal("no recordings in testdata")
	}
	mixes := []struct {
		name string
		recs func() []segRecord
	}{
		{"real", func() []segRecord { return recordSegments(replicate(benchPackets(b, 0, paths...), 400)) }},
		{"file", func() []segRecord {
			path := os.Getenv("PCAPSLEUTH_BENCH_FILE")
			if path == "" {
				return nil
			}
			return recordSegments(benchPackets(b, 1_000_000, path)[0])
		}},
	}
	all := Specs()
	var segSpecs []*Spec
	cfg := DefaultConfig()
	for _, s := range all {
		if _, ok := s.New(&cfg).(SegmentDetector); ok {
			segSpecs = append(segSpecs, s)
		}
	}
	for _, mix := range mixes {
		b.Run(mix.name, func(b *testing.B) {
			recs := mix.recs()
			if recs == nil {
				b.Skip("PCAPSLEUTH_BENCH_FILE is not set: no capture to measure")
			}
			sets := []struct {
				name  string
				specs []*Spec
			}{{"all", all}}
			for _, s := range segSpecs {
				sets = append(sets, struct {
					name  string
					specs []*Spec
				}{s.Name(), []*Spec{s}})
			}
			for _, set := range sets {
				b.Run(set.name, func(b *testing.B) {
					for i := range recs {
						recs[i].c.Slots = [flows.MaxSlots]any{}
					}
					eng := NewEngine(&cfg, set.specs)
					replay := func(r *segRecord) {
						r.s.P = &r.p
						eng.Segment(r.c, &r.s)
					}
					for i := range recs { // warm up: per-connection state
						replay(&recs[i])
					}
					b.ReportAllocs()
					b.ResetTimer()
					for i := 0; i < b.N; i++ {
						replay(&recs[i%len(recs)])
					}
					b.StopTimer()
					if testing.Verbose() {
						b.Logf("%d segments", len(recs))
					}
				})
			}
		})
	}
}
