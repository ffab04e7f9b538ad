package main

// Adversarial captures for the robustness tests (issue 8; docs/robustness.md).
//
//	go run ./cmd/benchgen gen -kind ooo|overlap|longconn|timejump|seqwrap|synflood -packets N -out f.pcap
//
// Each kind attacks one assumption a TCP tracker is tempted to make. All of
// them are deterministic for a given -seed and -packets (or -size), write
// little-endian microsecond pcap with Ethernet framing, and never reuse a
// 4-tuple, so every 4-tuple is exactly one connection:
//
//   - ooo: one connection whose data segments arrive shuffled in blocks of
//     up to 64, some held back into the next block: dozens of sequence holes
//     open at once, each filled within a millisecond (well under the 20 ms
//     handshake round trip), so no byte is ever sent twice. The receiver
//     ACKs the contiguous prefix, which makes runs of duplicate ACKs.
//   - overlap: one connection where both sides keep resending ranges of what
//     they sent at least two round trips before (up to about 3 MB back) at
//     odd offsets and lengths that straddle the original segment boundaries;
//     a quarter of the resends run past the highest byte sent, so they carry
//     new data too.
//   - longconn: one database connection open for the whole capture (365
//     days): a request and response every few hours, TCP keep-alives (empty
//     and one-byte) in between, and bursts of short, fully closed
//     connections around it.
//   - timejump: short connections interleaved while the capture clock goes
//     backwards by milliseconds, back by years, forward by years, to the Unix
//     epoch (a device without a clock) and to the end of the 32-bit pcap
//     time (2106).
//   - seqwrap: one connection with 64 KB (TSO-sized) segments whose sequence
//     numbers cross 2^32 about every 87,000 packets; at each crossing the
//     segment that straddles 2^32 arrives after the next one (out of order)
//     and is retransmitted 30 ms later. The snaplen defaults to 96 bytes
//     (headers only), so the file stays small while the byte counts pass
//     2^32.
//   - synflood: one SYN from each of -packets distinct sources (see synflood).

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand"
	"os"
	"sort"
)

// Truth is what the generator knows a correct analysis of its capture must
// report, beyond what can be counted from the file itself.
type Truth struct {
	Kind        string
	Packets     int64
	Connections int64 // distinct 4-tuples = connections (no port reuse)
	// Retransmissions holds the number of segments that resend sequence
	// space already sent, per connection ("client->server"); absent means 0.
	Retransmissions map[string]int64
	// OutOfOrder counts data segments sent below the highest sequence number
	// that carry bytes never sent before (they fill a hole within the round
	// trip): not retransmissions.
	OutOfOrder int64
	Partial    int64  // overlap: resends that also carry new bytes
	Wraps      int    // seqwrap: times the client's sequence number crossed 2^32
	Jumps      int    // timejump: clock jumps (years, to 1970, to 2106, back to 2023), not counting millisecond steps back
	KeepAlives int64  // longconn: keep-alive probes of the long connection
	Long       string // longconn: the long connection, "client->server"
}

// adversarialKinds maps each -kind to its generator; each writes about
// advGen.n packets (or advGen.size bytes when n is 0) and finishes every
// connection it opened.
var adversarialKinds = map[string]func(g *advGen) error{
	"ooo":      genOOO,
	"overlap":  genOverlap,
	"longconn": genLongConn,
	"timejump": genTimeJump,
	"seqwrap":  genSeqWrap,
}

// advGen writes one adversarial capture through the benchmark writer, with
// the time of each packet set by the generator.
type advGen struct {
	w     *writer
	rng   *rand.Rand
	n     int64 // packet budget (0 = size budget)
	size  int64
	ts    int64 // ns, the clock of the next packet
	truth Truth
	hdr   []byte
}

// more reports whether the budget allows another packet (reserve: packets
// still needed to finish cleanly).
func (g *advGen) more(reserve int64) bool {
	if g.n > 0 {
		return g.w.packets+reserve < g.n
	}
	return g.w.written < g.size
}

// advConn is one connection: addresses and each side's next sequence number.
type advConn struct {
	cip, sip     [4]byte
	cport, sport uint16
	cnext, snext uint32
}

func (c *advConn) key() string {
	return fmt.Sprintf("%d.%d.%d.%d:%d->%d.%d.%d.%d:%d", c.cip[0], c.cip[1], c.cip[2], c.cip[3], c.cport,
		c.sip[0], c.sip[1], c.sip[2], c.sip[3], c.sport)
}

// send writes one segment of c at the generator's clock. n is the payload
// length on the wire (up to 65495); the frame is cut at the writer's snaplen.
func (g *advGen) send(c *advConn, fromClient bool, flags uint8, seq, ack uint32, n int) error {
	if n < 0 || n > 65495 {
		return fmt.Errorf("payload of %d bytes", n)
	}
	if g.ts < 0 || g.ts/1e9 > 0xffffffff {
		return fmt.Errorf("time %d ns does not fit a pcap record", g.ts)
	}
	w := g.w
	wire := 54 + n
	b := g.hdr[:54]
	src, dst, sport, dport := c.sip, c.cip, c.sport, c.cport
	if fromClient {
		src, dst, sport, dport = c.cip, c.sip, c.cport, c.sport
	}
	putHeaders(b, src, dst, sport, dport, seq, ack, flags, n, uint16(w.packets))
	capLen := wire
	if w.snaplen > 0 && capLen > w.snaplen {
		capLen = w.snaplen
	}
	var rh [16]byte
	binary.LittleEndian.PutUint32(rh[0:], uint32(g.ts/1e9))
	binary.LittleEndian.PutUint32(rh[4:], uint32(g.ts%1e9/1000))
	binary.LittleEndian.PutUint32(rh[8:], uint32(capLen))
	binary.LittleEndian.PutUint32(rh[12:], uint32(wire))
	w.w.Write(rh[:])
	w.w.Write(b[:min(capLen, 54)])
	for left := capLen - 54; left > 0; {
		k := min(left, len(w.payload))
		w.w.Write(w.payload[:k])
		left -= k
	}
	w.written += int64(16 + capLen)
	w.packets++
	g.truth.Packets++
	return nil
}

// tick advances the clock by lo..hi microseconds.
func (g *advGen) tick(lo, hi int) {
	g.ts += int64(lo+g.rng.Intn(hi-lo+1)) * 1000
}

// handshake opens c with the given round trip (ns), seen from the client.
func (g *advGen) handshake(c *advConn, rtt int64) error {
	g.truth.Connections++
	if err := g.send(c, true, fSYN, c.cnext, 0, 0); err != nil {
		return err
	}
	c.cnext++
	g.ts += rtt
	if err := g.send(c, false, fSYN|fACK, c.snext, c.cnext, 0); err != nil {
		return err
	}
	c.snext++
	g.tick(5, 20)
	return g.send(c, true, fACK, c.cnext, c.snext, 0)
}

// closeConn closes c from the client's side: FIN, FIN-ACK, ACK.
func (g *advGen) closeConn(c *advConn, rtt int64) error {
	g.tick(10, 50)
	if err := g.send(c, true, fFIN|fACK, c.cnext, c.snext, 0); err != nil {
		return err
	}
	c.cnext++
	g.ts += rtt
	if err := g.send(c, false, fFIN|fACK, c.snext, c.cnext, 0); err != nil {
		return err
	}
	c.snext++
	g.tick(5, 20)
	return g.send(c, true, fACK, c.cnext, c.snext, 0)
}

func (g *advGen) retrans(c *advConn, k int64) {
	if k == 0 {
		return
	}
	if g.truth.Retransmissions == nil {
		g.truth.Retransmissions = map[string]int64{}
	}
	g.truth.Retransmissions[c.key()] += k
}

// writeAdversarial writes the capture of kind through w.
func writeAdversarial(w *writer, rng *rand.Rand, kind string, packets, size int64) (Truth, error) {
	gen, ok := adversarialKinds[kind]
	if !ok {
		return Truth{}, fmt.Errorf("unknown adversarial kind %q", kind)
	}
	g := &advGen{w: w, rng: rng, n: packets, size: size, ts: 1_700_000_000e9, hdr: make([]byte, 54),
		truth: Truth{Kind: kind}}
	if len(w.payload) < 4096 {
		w.payload = make([]byte, 4096)
		for i := range w.payload {
			w.payload[i] = byte('a' + i%26)
		}
	}
	if err := gen(g); err != nil {
		return g.truth, err
	}
	return g.truth, w.w.Flush()
}

// genOOO: one connection, client data shuffled in blocks (see the file doc).
func genOOO(g *advGen) error {
	const rtt = 20e6
	c := &advConn{cip: [4]byte{10, 3, 0, 1}, sip: [4]byte{10, 3, 0, 2}, cport: 40001, sport: 8080,
		cnext: g.rng.Uint32(), snext: g.rng.Uint32()}
	if err := g.handshake(c, rtt); err != nil {
		return err
	}
	type seg struct {
		seq uint32
		n   int
	}
	// The receiver's view: the contiguous prefix and the segments beyond it.
	cum := c.cnext
	beyond := map[uint32]uint32{} // seq → end
	var carry []seg               // held back into the next block
	sentTop := c.cnext            // highest end sent so far
	emit := func(s seg) error {
		if seqBefore(s.seq, sentTop) {
			g.truth.OutOfOrder++
		}
		if end := s.seq + uint32(s.n); seqBefore(sentTop, end) {
			sentTop = end
		}
		g.tick(5, 20)
		if err := g.send(c, true, fACK|fPSH, s.seq, c.snext, s.n); err != nil {
			return err
		}
		beyond[s.seq] = s.seq + uint32(s.n)
		for {
			end, ok := beyond[cum]
			if !ok {
				break
			}
			delete(beyond, cum)
			cum = end
		}
		if g.rng.Intn(2) == 0 {
			g.tick(1, 5)
			return g.send(c, false, fACK, c.snext, cum, 0)
		}
		return nil
	}
	// Budget checked per block: a block and the stragglers make at most
	// 2*(64+8) packets, plus the close.
	for g.more(2*(64+8) + 4) {
		b := 4 + g.rng.Intn(61)
		block := make([]seg, 0, b+len(carry))
		for i := 0; i < b; i++ {
			// At least 2 bytes: a 1-byte segment just below the highest
			// sequence number is, by definition, a keep-alive.
			n := 2 + g.rng.Intn(1447)
			block = append(block, seg{c.cnext, n})
			c.cnext += uint32(n)
		}
		g.rng.Shuffle(len(block), func(i, j int) { block[i], block[j] = block[j], block[i] })
		block = append(block, carry...) // the last block's stragglers come last
		carry = carry[:0]
		for i, s := range block {
			if i < b && g.rng.Intn(8) == 0 {
				carry = append(carry, s) // held back into the next block
				continue
			}
			if err := emit(s); err != nil {
				return err
			}
		}
	}
	for _, s := range carry {
		if err := emit(s); err != nil {
			return err
		}
	}
	if cum != c.cnext {
		return fmt.Errorf("ooo: receiver at %d, sender at %d", cum, c.cnext)
	}
	return g.closeConn(c, rtt)
}

// seqBefore reports a < b in sequence space.
func seqBefore(a, b uint32) bool { return int32(a-b) < 0 }

// genOverlap: one connection, both sides resend overlapping ranges.
func genOverlap(g *advGen) error {
	const rtt = 2e6
	c := &advConn{cip: [4]byte{10, 4, 0, 1}, sip: [4]byte{10, 4, 0, 2}, cport: 40002, sport: 8080,
		cnext: g.rng.Uint32(), snext: g.rng.Uint32()}
	if err := g.handshake(c, rtt); err != nil {
		return err
	}
	// The new-data segments each side sent, oldest first (up to 4,096): a
	// resend starts inside one sent at least two round trips earlier (as a
	// fast retransmission or a tail loss probe would, never sooner), at an
	// odd offset, and runs for an unrelated length.
	type sent struct {
		seq uint32
		n   int
		ts  int64
	}
	var hist, resent [2][]sent // resent: the resends of the last two round trips
	overlaps := func(rs []sent, seq uint32, n int) bool {
		for _, r := range rs {
			if g.ts-r.ts < 2*rtt && seqBefore(seq, r.seq+uint32(r.n)) && seqBefore(r.seq, seq+uint32(n)) {
				return true
			}
		}
		return false
	}
	for g.more(4) {
		fromClient := g.rng.Intn(10) < 7
		next, s := &c.snext, 1
		ack := c.cnext
		if fromClient {
			next, s, ack = &c.cnext, 0, c.snext
		}
		g.tick(20, 100)
		h := hist[s]
		old := sort.Search(len(h), func(i int) bool { return h[i].ts > g.ts-2*rtt }) // h[:old] are old enough
		if old > 0 && g.rng.Intn(100) < 35 {
			partial := g.rng.Intn(4) == 0 // runs past the top: new data too
			o := h[g.rng.Intn(old)]
			if partial {
				o = h[old-1-g.rng.Intn(min(old, 16))]
			}
			seq := o.seq + uint32(g.rng.Intn(o.n))
			n := 2 + g.rng.Intn(3000)
			if partial {
				n = int(*next-seq) + 1 + g.rng.Intn(1448)
			}
			n = min(n, 65495)
			// A byte resent twice within a round trip is what a capture
			// copy looks like, not what TCP does: pick another range.
			if overlaps(resent[s], seq, n) {
				continue
			}
			if err := g.send(c, fromClient, fACK|fPSH, seq, ack, n); err != nil {
				return err
			}
			g.retrans(c, 1)
			resent[s] = append(resent[s], sent{seq, n, g.ts})
			if len(resent[s]) > 64 {
				resent[s] = append(resent[s][:0], resent[s][32:]...)
			}
			if end := seq + uint32(n); seqBefore(*next, end) {
				g.truth.Partial++
				*next = end
			}
		} else {
			n := 1 + g.rng.Intn(1448)
			if err := g.send(c, fromClient, fACK|fPSH, *next, ack, n); err != nil {
				return err
			}
			hist[s] = append(hist[s], sent{*next, n, g.ts})
			if len(hist[s]) > 8192 {
				hist[s] = append(hist[s][:0], hist[s][4096:]...)
			}
			*next += uint32(n)
		}
		if g.rng.Intn(2) == 0 {
			g.tick(1, 10)
			if fromClient {
				if err := g.send(c, false, fACK, c.snext, c.cnext, 0); err != nil {
					return err
				}
			} else if err := g.send(c, true, fACK, c.cnext, c.snext, 0); err != nil {
				return err
			}
		}
	}
	return g.closeConn(c, rtt)
}

// genLongConn: a connection open for a year, keep-alives, bursts of short
// connections around it.
func genLongConn(g *advGen) error {
	const (
		rtt  = 2e6
		year = 365 * 24 * 3600 * int64(1e9)
	)
	start := g.ts
	long := &advConn{cip: [4]byte{10, 5, 0, 1}, sip: [4]byte{10, 5, 0, 2}, cport: 40003, sport: 5432,
		cnext: g.rng.Uint32(), snext: g.rng.Uint32()}
	g.truth.Long = long.key()
	if err := g.handshake(long, rtt); err != nil {
		return err
	}
	// Rounds: the long connection gets about a tenth of the packets.
	budget := g.n
	if budget == 0 {
		budget = g.size / 120
	}
	rounds := max(int64(4), budget/140)
	gap := (year - 10e9) / rounds
	// Linux's default tcp_keepalive_time, or shorter when the rounds are
	// close together (large captures): about three probes per idle gap.
	keepalive := min(2*3600*int64(1e9), gap/4)
	var short uint32
	for r := int64(0); r < rounds; r++ {
		roundStart := start + r*gap
		if g.ts < roundStart {
			g.ts = roundStart
		}
		// A request and its response on the long connection.
		n := 50 + g.rng.Intn(450)
		if err := g.send(long, true, fACK|fPSH, long.cnext, long.snext, n); err != nil {
			return err
		}
		long.cnext += uint32(n)
		g.ts += rtt
		for k := 1 + g.rng.Intn(3); k > 0; k-- {
			n := 1 + g.rng.Intn(1448)
			if err := g.send(long, false, fACK|fPSH, long.snext, long.cnext, n); err != nil {
				return err
			}
			long.snext += uint32(n)
			g.tick(10, 100)
		}
		if err := g.send(long, true, fACK, long.cnext, long.snext, 0); err != nil {
			return err
		}
		// A burst of short connections, one after the other, all closed.
		burst := 1 + g.rng.Intn(24)
		// Leave room in the budget for the long connection's remaining
		// rounds (about 14 packets each) and its close.
		for i := 0; i < burst && g.more(int64(rounds-r)*14+12); i++ {
			short++
			c := &advConn{cip: [4]byte{10, byte(6 + short>>24), byte(short >> 16), byte(short >> 8)},
				sip: [4]byte{10, 5, 0, byte(3 + short%5)}, cport: uint16(1024 + short%60000), sport: 443,
				cnext: g.rng.Uint32(), snext: g.rng.Uint32()}
			c.cip[3] = byte(short)
			g.tick(100, 2000)
			if err := g.shortConn(c, 300e3); err != nil {
				return err
			}
		}
		// Idle until the next round, with keep-alive probes every 2 h: the
		// Linux one (empty, seq = next-1) or the Windows one (one byte).
		end := roundStart + gap
		if r == rounds-1 {
			end = start + year - 5e9
		}
		for ka := g.ts + keepalive; ka < end-rtt; ka += keepalive {
			g.ts = ka
			n := 0
			if g.rng.Intn(3) == 0 {
				n = 1
			}
			if err := g.send(long, true, fACK, long.cnext-1, long.snext, n); err != nil {
				return err
			}
			g.truth.KeepAlives++
			g.ts += rtt
			if err := g.send(long, false, fACK, long.snext, long.cnext, 0); err != nil {
				return err
			}
		}
	}
	g.ts = start + year - 1e9
	if err := g.closeConn(long, rtt); err != nil {
		return err
	}
	return nil
}

// shortConn writes a whole short connection: handshake, a request, a
// response of one or two segments, the client's close.
func (g *advGen) shortConn(c *advConn, rtt int64) error {
	if err := g.handshake(c, rtt); err != nil {
		return err
	}
	n := 100 + g.rng.Intn(400)
	g.tick(10, 50)
	if err := g.send(c, true, fACK|fPSH, c.cnext, c.snext, n); err != nil {
		return err
	}
	c.cnext += uint32(n)
	g.ts += rtt
	for k := 1 + g.rng.Intn(2); k > 0; k-- {
		n := 1 + g.rng.Intn(1448)
		if err := g.send(c, false, fACK|fPSH, c.snext, c.cnext, n); err != nil {
			return err
		}
		c.snext += uint32(n)
		g.tick(10, 50)
	}
	if err := g.send(c, true, fACK, c.cnext, c.snext, 0); err != nil {
		return err
	}
	return g.closeConn(c, rtt)
}

// genTimeJump: interleaved short connections while the clock jumps.
func genTimeJump(g *advGen) error {
	const (
		rtt  = 1e6
		year = 365 * 24 * 3600 * int64(1e9)
		last = int64(0xffffffff) * 1e9 // the last second a pcap record holds
	)
	// Each live connection is a little script of packets still to send.
	type live struct {
		c    *advConn
		step int
		resp int
	}
	var (
		active []*live
		id     uint32
		jumps  int
	)
	newConn := func() *live {
		id++
		c := &advConn{cip: [4]byte{10, byte(8 + id>>24), byte(id >> 16), byte(id >> 8)}, sip: [4]byte{10, 9, 0, 1},
			cport: uint16(1024 + id%60000), sport: 8443, cnext: g.rng.Uint32(), snext: g.rng.Uint32()}
		c.cip[3] = byte(id)
		g.truth.Connections++
		return &live{c: c, resp: 1 + g.rng.Intn(3)}
	}
	// step sends the next packet of l's script; it reports whether l is done.
	step := func(l *live) (bool, error) {
		c := l.c
		l.step++
		switch l.step {
		case 1:
			err := g.send(c, true, fSYN, c.cnext, 0, 0)
			c.cnext++
			return false, err
		case 2:
			err := g.send(c, false, fSYN|fACK, c.snext, c.cnext, 0)
			c.snext++
			return false, err
		case 3:
			return false, g.send(c, true, fACK, c.cnext, c.snext, 0)
		case 4:
			n := 100 + g.rng.Intn(400)
			err := g.send(c, true, fACK|fPSH, c.cnext, c.snext, n)
			c.cnext += uint32(n)
			return false, err
		case 5:
			n := 1 + g.rng.Intn(1448)
			err := g.send(c, false, fACK|fPSH, c.snext, c.cnext, n)
			c.snext += uint32(n)
			if l.resp--; l.resp > 0 {
				l.step--
			}
			return false, err
		case 6:
			return false, g.send(c, true, fACK, c.cnext, c.snext, 0)
		case 7:
			err := g.send(c, true, fFIN|fACK, c.cnext, c.snext, 0)
			c.cnext++
			return false, err
		case 8:
			err := g.send(c, false, fFIN|fACK, c.snext, c.cnext, 0)
			c.snext++
			return false, err
		default:
			return true, g.send(c, true, fACK, c.cnext, c.snext, 0)
		}
	}
	for len(active) < 16 {
		active = append(active, newConn())
	}
	// About one jump per 2,000 packets, at least 12 in all.
	every := int64(2000)
	if g.n > 0 {
		every = min(every, max(g.n/12, 50))
	}
	for g.more(int64(9 * len(active))) {
		if g.rng.Int63n(every) == 0 {
			switch r := g.rng.Intn(6); {
			case r == 0 && g.ts > 1e9: // multi-queue capture: a few milliseconds back
				g.ts -= int64(1+g.rng.Intn(50)) * 1e6
			case r == 1 && g.ts > 3*year:
				g.ts -= 3 * year
				jumps++
			case r == 2 && g.ts+7*year < last-year:
				g.ts += 7 * year
				jumps++
			case r == 3: // a device without a clock: back to 1970-01-01T00:00:00
				g.ts = 0
				jumps++
			case r == 4: // the end of the 32-bit pcap time (2106)
				g.ts = last - 24*3600*int64(1e9)
				jumps++
			default: // back to a sane time, 2023
				g.ts = 1_700_000_000e9 + g.rng.Int63n(1e9)*1e6
				jumps++
			}
		} else {
			g.tick(20, 400)
		}
		i := g.rng.Intn(len(active))
		done, err := step(active[i])
		if err != nil {
			return err
		}
		if done {
			active[i] = newConn()
		}
	}
	// Finish every live connection.
	for _, l := range active {
		for {
			g.tick(20, 400)
			done, err := step(l)
			if err != nil {
				return err
			}
			if done {
				break
			}
		}
	}
	g.truth.Jumps = jumps
	return nil
}

// genSeqWrap: 64 KB segments whose sequence numbers cross 2^32 again and
// again, with out-of-order arrival and a retransmission at each crossing.
func genSeqWrap(g *advGen) error {
	const rtt = 1e6
	if g.w.snaplen == 0 {
		g.w.snaplen = 96
	}
	c := &advConn{cip: [4]byte{10, 7, 0, 1}, sip: [4]byte{10, 7, 0, 2}, cport: 40004, sport: 8080,
		cnext: 0xffffffff - 3000, snext: 0xffffffff - 100_000}
	if err := g.handshake(c, rtt); err != nil {
		return err
	}
	segLen := func() int { return 60000 + g.rng.Intn(5496) }
	sinceAck, sinceResp := 0, 0
	ack := func() error {
		g.tick(1, 5)
		return g.send(c, false, fACK, c.snext, c.cnext, 0)
	}
	for g.more(8) {
		n := segLen()
		seq := c.cnext
		if seq+uint32(n) < seq && g.more(12) {
			// This segment straddles 2^32: the next one arrives first, then
			// this one fills the hole, then it is retransmitted after 30 ms.
			g.truth.Wraps++
			n2 := segLen()
			seq2 := seq + uint32(n)
			g.tick(40, 60)
			if err := g.send(c, true, fACK|fPSH, seq2, c.snext, n2); err != nil {
				return err
			}
			g.tick(2, 5)
			if err := g.send(c, true, fACK|fPSH, seq, c.snext, n); err != nil {
				return err
			}
			g.truth.OutOfOrder++
			c.cnext = seq2 + uint32(n2)
			if err := ack(); err != nil {
				return err
			}
			g.ts += 30e6
			if err := g.send(c, true, fACK|fPSH, seq, c.snext, n); err != nil {
				return err
			}
			g.retrans(c, 1)
			continue
		}
		g.tick(40, 60)
		if err := g.send(c, true, fACK|fPSH, seq, c.snext, n); err != nil {
			return err
		}
		c.cnext += uint32(n)
		if sinceAck++; sinceAck == 4 {
			sinceAck = 0
			if err := ack(); err != nil {
				return err
			}
		}
		if sinceResp++; sinceResp == 16 {
			sinceResp = 0
			n := segLen()
			g.tick(1, 5)
			if err := g.send(c, false, fACK|fPSH, c.snext, c.cnext, n); err != nil {
				return err
			}
			c.snext += uint32(n)
		}
	}
	if err := ack(); err != nil {
		return err
	}
	return g.closeConn(c, rtt)
}

// genAdversarial is `benchgen gen -kind KIND` for the adversarial kinds.
func genAdversarial(w *writer, rng *rand.Rand, kind string, packets, size int64, out string) error {
	t, err := writeAdversarial(w, rng, kind, packets, size)
	if err != nil {
		return err
	}
	var retrans []string
	for k, n := range t.Retransmissions {
		retrans = append(retrans, fmt.Sprintf("%s %d", k, n))
	}
	sort.Strings(retrans)
	fmt.Fprintf(os.Stderr, "benchgen: wrote %s (%s): %d packets, %d bytes, %d connections; retransmissions %v, out-of-order %d, partial overlaps %d, wraps %d, clock jumps %d, keep-alives %d\n",
		out, kind, w.packets, w.written, t.Connections, retrans, t.OutOfOrder, t.Partial, t.Wraps, t.Jumps, t.KeepAlives)
	return nil
}

// writeCaptureFile writes the capture of kind (an adversarial kind or
// synflood) with packets packets to path: what `benchgen gen` does, for the
// tests. A synflood's Truth holds only the packet and connection counts.
func writeCaptureFile(path, kind string, packets int64, snaplen int, seed int64) (Truth, error) {
	f, err := os.Create(path)
	if err != nil {
		return Truth{}, err
	}
	defer f.Close()
	w := &writer{w: bufio.NewWriterSize(f, 4<<20), snaplen: snaplen, ts: 1_700_000_000e9,
		buf: make([]byte, 14+40+mss+100), payload: make([]byte, mss+100)}
	for i := range w.payload {
		w.payload[i] = byte('a' + i%26)
	}
	if err := w.header(); err != nil {
		return Truth{}, err
	}
	rng := rand.New(rand.NewSource(seed))
	var t Truth
	if kind == "synflood" {
		err = synflood(w, rng, packets, 0) // prints a line on standard error
		t = Truth{Kind: kind, Packets: w.packets, Connections: w.packets}
	} else {
		t, err = writeAdversarial(w, rng, kind, packets, 0)
	}
	if err != nil {
		return t, err
	}
	return t, f.Close()
}
