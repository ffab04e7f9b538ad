package flows

import (
	"net/netip"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

type nopObserver struct{}

func (nopObserver) Segment(*Conn, *Segment) {}
func (nopObserver) Done(*Conn)              {}

// steadyPackets builds n connections past their handshake and returns a
// function that produces their next data or ACK segment, round-robin.
func steadyPackets(tr *Tracker, n int, headersOnly bool) func(p *decode.Packet) {
	type side struct{ seq [2]uint32 }
	conns := make([]side, n)
	src := make([]netip.AddrPort, n)
	dst := netip.MustParseAddrPort("10.0.0.2:8080")
	ts := t0
	frame := int64(0)
	for i := range conns {
		src[i] = netip.AddrPortFrom(netip.AddrFrom4([4]byte{10, 1, byte(i >> 8), byte(i)}), uint16(40000+i))
		conns[i].seq = [2]uint32{uint32(i) * 7919, uint32(i) * 104729}
		for _, s := range []struct {
			client bool
			flags  decode.TCPFlags
		}{{true, syn}, {false, synack}, {true, ack}} {
			frame++
			ts += 1000
			p := &decode.Packet{Frame: frame, TS: ts, Flags: s.flags, Window: 1000}
			p.Opts.WScale = -1
			if s.client {
				p.Src, p.Dst, p.Seq, p.Ack = src[i], dst, conns[i].seq[0], conns[i].seq[1]
			} else {
				p.Src, p.Dst, p.Seq, p.Ack = dst, src[i], conns[i].seq[1], conns[i].seq[0]+1
			}
			tr.Add(p)
			if s.flags.Has(decode.FlagSYN) {
				if s.client {
					conns[i].seq[0]++
				} else {
					conns[i].seq[1]++
				}
			}
		}
	}
	payload := make([]byte, 1448)
	k := 0
	return func(p *decode.Packet) {
		i := k % n
		dataTurn := (k/n)%2 == 0
		k++
		frame++
		ts += 1000
		c := &conns[i]
		*p = decode.Packet{Frame: frame, TS: ts, Flags: ack, Window: 1000}
		p.Opts.WScale = -1
		if dataTurn {
			p.Src, p.Dst, p.Seq, p.Ack = dst, src[i], c.seq[1], c.seq[0]
			p.PayloadLen, p.Payload = 1448, payload
			if headersOnly { // -s 96 with timestamps: 30 bytes of it captured
				p.Payload, p.Truncated = payload[:30], true
			}
			c.seq[1] += 1448
		} else {
			p.Src, p.Dst, p.Seq, p.Ack = src[i], dst, c.seq[0], c.seq[1]
		}
	}
}

// BenchmarkTrackerSteadyState measures the per-segment cost of tracking
// established connections; allocs/op must stay 0 (bench/smoke.sh checks).
func BenchmarkTrackerSteadyState(b *testing.B) { benchTracker(b, 2000, false, false) }

// BenchmarkTrackerSteadyStateWarm is BenchmarkTrackerSteadyState in warmed
// chunks, as the analysis adds packets; allocs/op must stay 0 too
// (bench/smoke.sh runs it with the former).
func BenchmarkTrackerSteadyStateWarm(b *testing.B) { benchTracker(b, 2000, false, true) }

// BenchmarkTrackerManyConns is BenchmarkTrackerSteadyState over 60,000
// connections, taken in turn: each segment finds its connection out of the
// caches, as on a capture with tens of thousands open at once (h1g), where
// the tracker's time is its cache misses.
func BenchmarkTrackerManyConns(b *testing.B) { benchTracker(b, 60000, false, false) }

// BenchmarkTrackerManyConnsHeadersOnly is BenchmarkTrackerManyConns on a
// headers-only capture (-s 96): every data segment is cut by the snaplen.
func BenchmarkTrackerManyConnsHeadersOnly(b *testing.B) { benchTracker(b, 60000, true, false) }

// BenchmarkTrackerManyConnsWarm is BenchmarkTrackerManyConns with the
// packets taken as the analysis takes them: in chunks of WarmChunk, each
// warmed (Tracker.Warm) before it is added.
func BenchmarkTrackerManyConnsWarm(b *testing.B) { benchTracker(b, 60000, false, true) }

// BenchmarkTrackerManyConnsHeadersOnlyWarm is the headers-only variant of
// BenchmarkTrackerManyConnsWarm.
func BenchmarkTrackerManyConnsHeadersOnlyWarm(b *testing.B) { benchTracker(b, 60000, true, true) }

// benchTracker times the tracker's segments over n established
// connections, after four rounds of them (their first payload
// allocations), one at a time or in warmed chunks.
func benchTracker(b *testing.B, n int, headersOnly, warm bool) {
	tr := NewTracker(Config{}, nopObserver{})
	next := steadyPackets(tr, n, headersOnly)
	var p decode.Packet
	for range 4 * n {
		next(&p)
		tr.Add(&p)
	}
	keyer := tr.Keyer()
	var pkts [WarmChunk]decode.Packet
	var keys [WarmChunk]Key
	b.ReportAllocs()
	b.ResetTimer()
	if !warm {
		for range b.N {
			next(&p)
			tr.Add(&p)
		}
		return
	}
	for i := 0; i < b.N; i += WarmChunk {
		k := min(WarmChunk, b.N-i)
		for j := range k {
			next(&pkts[j])
			keys[j] = keyer.Key(&pkts[j])
		}
		tr.Warm(pkts[:k], keys[:k])
		for j := range k {
			tr.AddKeyed(&pkts[j], keys[j])
		}
	}
}
