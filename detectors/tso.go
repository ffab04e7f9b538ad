package detectors

import (
	"fmt"
	"math"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// tsoSpec describes tso-super-segments.
func tsoSpec() *Spec {
	return &Spec{
		Kind:     KindTSOSuperSegments,
		Title:    "segments larger than the MSS: the capture was taken on a host with TSO/GSO (sender) or GRO (receiver)",
		Severity: Info,
		Doc: `A NIC (TSO), the kernel (GSO) or a receiver (GRO/LRO) handles TCP data in
chunks of several MSS, and a capture taken on that host shows the chunks:
"super-segments" larger than the MSS. This is a fact about where the capture
was taken, not a fault, but it changes what the capture can show: one lost
super-segment is several lost wire packets, and the segment sizes are not
what crossed the network. The MSS is read from the SYNs (minus 12 bytes when
both sides use TCP timestamps) or, without a handshake, inferred from the
sizes: the largest common divisor of the super-segment sizes that explains
(nearly) as many segments as any smaller one (mss). The report gives the
sizes as multiples of the MSS, the bursts the sender sent between two ACKs
and the largest flight in MSS units (the congestion window they imply), and
which side of the wire the capture was taken on, from the handshake timing:
the sending host (TSO/GSO) or the receiving host (GRO).`,
		New: func(cfg *Config) Detector { return newTSO(cfg) },
	}
}

// tsoHistMax bounds the distinct segment sizes kept per link.
const tsoHistMax = 64

// tsoSize is one bar of a size histogram.
type tsoSize struct {
	Size  int
	Count int64
}

// tsoDir is the per-direction state of one connection. The fields are
// ordered by size (no padding): tsoConn takes 128 bytes, two cache lines
// exactly in its size class (at 144 bytes, three for most connections;
// every data segment and most ACKs touch it). burstBytes and super
// saturate: a burst between two ACKs is under 1 GiB (the largest TCP
// window), and 1<<32 super-segments on one connection would take a
// capture hundreds of terabytes long.
type tsoDir struct {
	firstFrame int64
	maxEnd     uint32
	una        uint32

	burstSizes [6]int32 // the sizes of the burst's first segments
	burstBytes int32
	super      uint32
	// maxFlight is the most data in flight after a data segment of 256
	// bytes or more; the link takes it when the connection is done.
	maxFlight int32

	// sizeCache and sizeN are the segments of one size (256 bytes to
	// 64 KiB) that the link's histogram has not counted yet: a data
	// segment of the size the connection sent last leaves the link
	// alone, whose lines (the link, its sizes and their counts) were
	// most of this detector's misses on a busy capture. The histogram
	// counts them when another size comes, when sizeN would wrap, and
	// when the connection is done (fold and Finish only read links no
	// connection holds); the link saw the size itself when it came
	// first, so which sizes the histogram keeps is the same.
	sizeCache uint16
	sizeN     uint8
	// bits holds the burst's segment count up to len(burstSizes)
	// (bitsSegs: it stays there, as the sizes kept are all that is read
	// of it, and whether it is 0) and three flags.
	bits uint8
}

// tsoDir.bits.
const (
	bitsSegs      = 0x7  // segments in the burst, up to len(burstSizes)
	bitBurstSuper = 0x8  // the burst has a super-segment
	bitSent       = 0x10 // the direction sent new data: maxEnd is set
	bitHasUna     = 0x20 // the peer acknowledged: una is set
)

func (d *tsoDir) burstSegs() int     { return int(d.bits & bitsSegs) }
func (d *tsoDir) has(bit uint8) bool { return d.bits&bit != 0 }
func (d *tsoDir) set(bit uint8)      { d.bits |= bit }

type tsoConn struct {
	lk [2]*tsoLink // the links of both directions, once looked up; first, where warmSlots reads
	d  [2]tsoDir
}

// tsoLink aggregates one sender → receiver host pair.
type tsoLink struct {
	key       trLink
	segs      int64
	live      int // connections holding the link (see tso.fold)
	sizes     tsoHist
	maxSize   int
	maxFlight int
	// sup is what only a link with super-segments needs, for its finding:
	// nil until one of its connections sends one. Most links of a busy
	// capture never do, and take 144 bytes instead of 352.
	sup *tsoSuper
}

// tsoSuper is the part of a link that only super-segments fill.
type tsoSuper struct {
	synMSS   map[int]int64 // effective MSS from the handshakes, by connections
	rawMSS   int
	bursts   []tsoBurst // a few bursts with super-segments, for the explanation
	burstMax int
	near     [3]int64 // connections whose capture point is near the sender, the receiver, unknown

	flows FlowList
	ex    exemplarSet
	hl    trFrames
	first int64
	last  int64
}

// super returns l's super-segment part, made on first use.
func (d *tso) super(l *tsoLink) *tsoSuper {
	if l.sup == nil {
		l.sup = &tsoSuper{synMSS: map[int]int64{}, flows: NewFlowList(d.maxFlows), ex: exemplarSet{max: d.maxExemplars}}
	}
	return l.sup
}

// hasFlows reports whether a connection with super-segments was done on l.
func (l *tsoLink) hasFlows() bool { return l.sup != nil && l.sup.flows.Count() > 0 }

// tsoBurst is one run of segments sent between two ACKs.
type tsoBurst struct {
	Bytes int
	Sizes []int32
}

// tso is the tso-super-segments detector.
type tso struct {
	transportBase
	conns connStates[tsoConn]
	links map[trLink]*tsoLink
	lastC *flows.Conn
	lastS *tsoConn

	// The link table is bounded (see fold): linkCap is its size limit,
	// foldedLinks the number of links folded away.
	linkCap     int
	nextFold    int
	foldedLinks int
}

// tsoLinkCap bounds the links tso-super-segments keeps: one per sender and
// receiver host, so a capture of an internet-facing server would otherwise
// hold one per client address, each with its size histogram.
const tsoLinkCap = 8192

func newTSO(cfg *Config) *tso {
	return &tso{transportBase: newTransportBase(cfg), conns: newConnStates[tsoConn](cfg), links: make(map[trLink]*tsoLink),
		linkCap: tsoLinkCap, nextFold: tsoLinkCap}
}

// effMSS returns the largest payload the receiver in direction dir accepts
// per segment, from the handshake (0 when unknown): its MSS option, minus
// the timestamp option when both sides negotiated it.
func effMSS(v flows.ConnView, dir flows.Dir) int {
	m := int(v.MSS[dir.Reverse()])
	if m == 0 {
		return 0
	}
	if v.Timestamps[flows.Orig] && v.Timestamps[flows.Resp] {
		m -= 12
	}
	return m
}

// superBound is the payload above which a segment is surely a super-segment
// while the capture runs: the MSS when the handshake gave it, else the
// Ethernet maximum (Finish re-judges with the inferred MSS).
func superBound(v flows.ConnView, dir flows.Dir) int {
	if m := effMSS(v, dir); m > 0 {
		return m
	}
	return 1460
}

// Segment implements SegmentDetector.
func (d *tso) Segment(c *flows.Conn, s *flows.Segment) {
	p := s.P
	st := d.lastS
	if d.lastC != c {
		st = d.conns.get(c)
		if st == nil {
			if p.PayloadLen == 0 {
				return
			}
			st = d.conns.fresh()
			d.conns.put(c, st)
		}
		d.lastC, d.lastS = c, st
	}
	me, peer := &st.d[s.Dir], &st.d[s.Dir.Reverse()]
	if p.Flags.Has(decode.FlagACK) && (!peer.has(bitHasUna) || flows.SeqDiff(peer.una, s.RelAck) > 0) {
		if peer.has(bitHasUna) && peer.burstSegs() > 0 {
			d.endBurst(c, st, s.Dir.Reverse())
		}
		peer.una = s.RelAck
		peer.set(bitHasUna)
	}
	if p.PayloadLen == 0 || s.Kind&flows.AnyRetransmission != 0 {
		return
	}
	end := s.RelSeq + uint32(p.PayloadLen)
	if !me.has(bitSent) || flows.SeqDiff(me.maxEnd, end) > 0 {
		me.maxEnd = end
		me.set(bitSent)
	}
	if n := me.burstSegs(); n < len(me.burstSizes) {
		me.burstSizes[n] = int32(p.PayloadLen)
		me.bits++ // the count is the low bits
	}
	me.burstBytes = addSat32(me.burstBytes, p.PayloadLen)
	if p.PayloadLen > superBound(s.View, s.Dir) {
		me.set(bitBurstSuper)
		if me.super < math.MaxUint32 {
			me.super++
		}
		if me.firstFrame == 0 {
			me.firstFrame = p.Frame
		}
	}
	if p.PayloadLen >= 256 {
		if me.has(bitHasUna) {
			me.maxFlight = max(me.maxFlight, flows.SeqDiff(me.una, me.maxEnd))
		}
		if n := p.PayloadLen; n == int(me.sizeCache) && me.sizeN < math.MaxUint8 {
			me.sizeN++
			return
		}
		l := d.connLink(c, st, s.Dir)
		countSizes(l, me)
		l.segs++
		l.addSize(p.PayloadLen)
		if p.PayloadLen < 1<<16 {
			me.sizeCache = uint16(p.PayloadLen)
		}
	}
}

// countSizes adds the segments me kept aside (tsoDir.sizeCache) to l, its
// direction's link.
func countSizes(l *tsoLink, me *tsoDir) {
	if me.sizeN > 0 {
		l.segs += int64(me.sizeN)
		l.sizes.addN(int(me.sizeCache), uint32(me.sizeN))
		me.sizeN = 0
	}
}

// addSat32 returns b+n (n >= 0), at most math.MaxInt32.
func addSat32(b int32, n int) int32 {
	if n >= math.MaxInt32-int(b) {
		return math.MaxInt32
	}
	return b + int32(n)
}

// connLink returns the link of c's direction dir, looked up once per
// connection and direction.
func (d *tso) connLink(c *flows.Conn, st *tsoConn, dir flows.Dir) *tsoLink {
	l := st.lk[dir]
	if l == nil {
		l = d.link(c, dir)
		st.lk[dir] = l
		l.live++
	}
	return l
}

func (d *tso) link(c *flows.Conn, dir flows.Dir) *tsoLink {
	key := trLink{From: c.Endpoint(dir).Addr.Addr(), To: c.Endpoint(dir.Reverse()).Addr.Addr()}
	l := d.links[key]
	if l == nil {
		if len(d.links) >= d.nextFold {
			d.fold()
		}
		l = &tsoLink{key: key}
		d.links[key] = l
	}
	return l
}

// tsoHist is a link's size histogram: the first tsoHistMax distinct
// segment sizes (later ones are not counted) and their segment counts.
// Most links of a busy capture fill it, so it is kept small: 384 bytes
// when full, not 768. Sizes are 2 bytes and counts 4, in two slices, so
// that looking a size up scans 128 bytes (it is most of Segment's time).
// A count that wraps around 1<<32 (a link may carry more segments than
// that) carries into rare, and so does a size of 1<<16 bytes or more
// (BIG TCP and IPv6 jumbograms allow them): both exact, and allocated only
// when needed.
type tsoHist struct {
	sizes []uint16
	n     []uint32 // n[i]: segments of sizes[i] modulo 1<<32
	rare  *tsoHistRare
}

// tsoHistRare is the part of a tsoHist that few links need.
type tsoHistRare struct {
	carry [tsoHistMax]uint32 // carry[i]: the times n[i] wrapped around
	big   []tsoSize          // sizes of 1<<16 bytes or more, counted here
}

// add counts a segment of n bytes.
func (h *tsoHist) add(n int) {
	if n < 1<<16 {
		for i, size := range h.sizes {
			if int(size) == n {
				h.n[i]++
				if h.n[i] == 0 {
					h.more().carry[i]++
				}
				return
			}
		}
	} else if h.rare != nil {
		for i := range h.rare.big {
			if h.rare.big[i].Size == n {
				h.rare.big[i].Count++
				return
			}
		}
	}
	switch {
	case h.len() >= tsoHistMax:
	case n < 1<<16:
		h.sizes = append(h.sizes, uint16(n))
		h.n = append(h.n, 1)
	default:
		h.more().big = append(h.more().big, tsoSize{Size: n, Count: 1})
	}
}

// addN counts k more segments of n bytes (n < 1<<16), a size add was
// given before: nothing when the histogram was full then.
func (h *tsoHist) addN(n int, k uint32) {
	for i, size := range h.sizes {
		if int(size) == n {
			v := h.n[i] + k
			if v < k {
				h.more().carry[i]++
			}
			h.n[i] = v
			return
		}
	}
}

func (h *tsoHist) more() *tsoHistRare {
	if h.rare == nil {
		h.rare = &tsoHistRare{}
	}
	return h.rare
}

// len is the number of distinct sizes counted.
func (h *tsoHist) len() int {
	n := len(h.sizes)
	if h.rare != nil {
		n += len(h.rare.big)
	}
	return n
}

// list returns the histogram: the sizes below 1<<16 bytes in the order
// first seen, then the larger ones (no reader depends on the order).
func (h *tsoHist) list() []tsoSize {
	out := make([]tsoSize, len(h.sizes), h.len())
	for i := range h.sizes {
		out[i] = tsoSize{Size: int(h.sizes[i]), Count: int64(h.n[i])}
		if h.rare != nil {
			out[i].Count += int64(h.rare.carry[i]) << 32
		}
	}
	if h.rare != nil {
		out = append(out, h.rare.big...)
	}
	return out
}

func (l *tsoLink) addSize(n int) {
	l.maxSize = max(l.maxSize, n)
	l.sizes.add(n)
}

// hist returns the size histogram.
func (l *tsoLink) hist() []tsoSize { return l.sizes.list() }

// endBurst closes the burst of direction dir when the receiver's ACK moves.
func (d *tso) endBurst(c *flows.Conn, st *tsoConn, dir flows.Dir) {
	me := &st.d[dir]
	if me.has(bitBurstSuper) {
		sup := d.super(d.connLink(c, st, dir))
		sup.burstMax = max(sup.burstMax, int(me.burstBytes))
		if len(sup.bursts) < 4 {
			sup.bursts = append(sup.bursts, tsoBurst{Bytes: int(me.burstBytes), Sizes: append([]int32(nil), me.burstSizes[:me.burstSegs()]...)})
		}
	}
	me.burstBytes = 0
	me.bits &^= bitsSegs | bitBurstSuper
}

// ConnDone implements Detector.
func (d *tso) ConnDone(c *flows.Conn) {
	st := d.conns.get(c)
	if st == nil {
		return
	}
	d.conns.del(c)
	defer d.conns.release(st)
	if d.lastC == c {
		d.lastC, d.lastS = nil, nil
	}
	for dir := flows.Orig; dir <= flows.Resp; dir++ {
		me := &st.d[dir]
		if l := st.lk[dir]; l != nil {
			countSizes(l, me)
			l.maxFlight = max(l.maxFlight, int(me.maxFlight))
		}
		if me.burstSegs() > 0 {
			d.endBurst(c, st, dir)
		}
		if me.super == 0 {
			continue
		}
		sup := d.super(d.connLink(c, st, dir))
		sup.flows.Add(c)
		sup.ex.offer(c, float64(me.super))
		sup.hl.add(me.firstFrame)
		if m := effMSS(c.View(), dir); m > 0 {
			sup.synMSS[m]++
			sup.rawMSS = int(c.Endpoint(dir.Reverse()).MSS)
		}
		sup.near[nearSide(c, dir)]++
		if sup.first == 0 || c.FirstTS < sup.first {
			sup.first = c.FirstTS
		}
		sup.last = max(sup.last, c.LastTS)
	}
	for _, l := range st.lk {
		if l != nil {
			l.live--
		}
	}
}

// fold keeps the link table bounded. When it holds nextFold links, the
// links with no super-segment so far (no connection listed: they cannot
// make a finding as they stand) and no connection open are dropped, those
// with the fewest segments first, until half of linkCap remain. A link
// that comes back starts a new size histogram. When too few can go the
// table is allowed to grow to twice its size before the next pass.
func (d *tso) fold() {
	d.nextFold = foldTable(d.links, d.linkCap, func(l *tsoLink) trLink { return l.key },
		func(l *tsoLink) bool { return l.live == 0 && !l.hasFlows() },
		func(a, b *tsoLink) bool {
			if a.segs != b.segs {
				return a.segs < b.segs
			}
			if a.key.From != b.key.From {
				return a.key.From.Less(b.key.From)
			}
			return a.key.To.Less(b.key.To)
		},
		func(*tsoLink) { d.foldedLinks++ })
}

// Vantage points.
const (
	nearSender = iota
	nearReceiver
	nearUnknown
)

// nearSide tells from the handshake timing which end of the connection the
// capture point was next to, for data sent in direction dir: the side that
// answers at once (its SYN-ACK right after the SYN, or its ACK right after
// the SYN-ACK) is the local one.
func nearSide(c *flows.Conn, dir flows.Dir) int {
	if c.SYNTS == 0 || c.SYNACKTS == 0 || c.EstablishedTS == 0 || c.Orig.SYNs > 1 || c.Resp.SYNs > 1 {
		return nearUnknown
	}
	a := c.SYNACKTS - c.SYNTS         // the server's turnaround as seen here
	b := c.EstablishedTS - c.SYNACKTS // the client's
	// Below a millisecond, the kernels' own processing time is as long as
	// the path: only a clear difference counts.
	var near flows.Dir
	switch {
	case a*3 < b || (a*3 < b*2 && b >= 1e6):
		near = flows.Resp
	case b*3 < a || (b*3 < a*2 && a >= 1e6):
		near = flows.Orig
	default:
		return nearUnknown
	}
	if near == dir {
		return nearSender
	}
	return nearReceiver
}

// inferMSS returns the segment size that best explains the sizes: the
// largest candidate (a size, or the GCD of two sizes, of 256 to 9000 bytes)
// that divides nearly as many segments as the best one.
func inferMSS(hist []tsoSize) int {
	cand := map[int]bool{}
	top := append([]tsoSize(nil), hist...)
	sort.Slice(top, func(i, j int) bool {
		if top[i].Count != top[j].Count {
			return top[i].Count > top[j].Count
		}
		return top[i].Size < top[j].Size
	})
	if len(top) > 24 {
		top = top[:24]
	}
	for i, a := range top {
		if a.Size >= 256 && a.Size <= 9000 {
			cand[a.Size] = true
		}
		for _, b := range top[i+1:] {
			if g := gcd(a.Size, b.Size); g >= 256 && g <= 9000 {
				cand[g] = true
			}
		}
	}
	score := func(m int) int64 {
		var n int64
		for _, h := range hist {
			if h.Size%m == 0 {
				n += h.Count
			}
		}
		return n
	}
	var best int64
	scores := map[int]int64{}
	for m := range cand {
		s := score(m)
		scores[m] = s
		best = max(best, s)
	}
	pick := 0
	for m, s := range scores {
		if float64(s) >= 0.9*float64(best) && m > pick {
			pick = m
		}
	}
	return pick
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// Finish implements Detector.
func (d *tso) Finish(env *Env) []Finding {
	keys := sortedKeys(d.links, func(a, b trLink) bool {
		if a.From != b.From {
			return a.From.Less(b.From)
		}
		return a.To.Less(b.To)
	})
	var out []Finding
	for _, k := range keys {
		if f, ok := d.finding(d.links[k], env); ok {
			out = append(out, f)
		}
	}
	return out
}

func (d *tso) finding(l *tsoLink, env *Env) (Finding, bool) {
	if !l.hasFlows() {
		return Finding{}, false
	}
	sup := l.sup
	// The MSS: the handshakes' when it explains the sizes, else inferred.
	synM, votes := 0, int64(0)
	for m, n := range sup.synMSS {
		if n > votes || (n == votes && m < synM) {
			synM, votes = m, n
		}
	}
	hist := l.hist()
	dataM := inferMSS(hist)
	bound := dataM // a segment above it is a super-segment
	mss, from := dataM, "inferred from the segment sizes (no handshake in the capture)"
	if synM > 0 {
		bound = synM
		mss, from = synM, "from the SYN's MSS option"
		if sup.rawMSS != synM {
			from += fmt.Sprintf(" (%d, minus 12 bytes of TCP timestamps)", sup.rawMSS)
		}
	}
	if bound == 0 {
		return Finding{}, false
	}
	superOf := func(m int) (super, multiples int64) {
		for _, h := range hist {
			if h.Size > bound {
				super += h.Count
				if h.Size%m == 0 {
					multiples += h.Count
				}
			}
		}
		return super, multiples
	}
	super, multiples := superOf(mss)
	if super == 0 {
		return Finding{}, false // all were within the MSS (jumbo frames, loopback)
	}
	if synM > 0 && dataM > 0 && dataM < synM {
		// Segments cut smaller than the MSS allows (IP options, a path MTU
		// below the MSS): the super-segments are multiples of the real size.
		if _, m := superOf(dataM); m > multiples {
			mss, from = dataM, fmt.Sprintf("inferred from the segment sizes (the SYN allowed %d)", synM)
			multiples = m
		}
	}
	sizes := append([]tsoSize(nil), hist...)
	sort.Slice(sizes, func(i, j int) bool { return sizes[i].Size < sizes[j].Size })

	vantage, vantageText := d.vantage(l)
	f := Finding{Kind: KindTSOSuperSegments, Severity: Info, Subject: l.key.String(), At: sup.first, Until: sup.last,
		Flows: sup.flows.Refs(), FlowCount: sup.flows.Count(), Exemplars: sup.ex.best(), Highlight: sup.hl.list()}
	f.Inferred.MSS = &mss
	f.Title = fmt.Sprintf("%s: %s super-segments up to %s bytes (%s × MSS %s) in %s; %s",
		l.key, count(super), count(l.maxSize), fmtMultiple(float64(l.maxSize)/float64(mss)), count(mss),
		trPlural(int64(sup.flows.Count()), "connection", "connections"), vantage)

	var ex strings.Builder
	fmt.Fprintf(&ex, "%s of %s data segments from %s to %s carry more than one MSS of payload (MSS %s bytes, %s); %s of them are exact multiples of it. ",
		count(super), count(l.segs), l.key.From, l.key.To, count(mss), from, count(multiples))
	ex.WriteString(vantageText)
	if len(sup.bursts) > 0 {
		b := sup.bursts[0]
		parts := make([]string, len(b.Sizes))
		for i, s := range b.Sizes {
			parts[i] = count(s)
		}
		fmt.Fprintf(&ex, " Between two ACKs the sender sent bursts such as %s bytes (%s bytes, %s MSS).",
			strings.Join(parts, " + "), count(b.Bytes), fmtMultiple(float64(b.Bytes)/float64(mss)))
	}
	if l.maxFlight > 0 {
		fmt.Fprintf(&ex, " The most data in flight at once was %s bytes, %s MSS: the congestion (or receive) window allowed about %d segments.",
			count(l.maxFlight), fmtMultiple(float64(l.maxFlight)/float64(mss)), int(math.Round(float64(l.maxFlight)/float64(mss))))
	}
	ex.WriteString(" Other analyses count a lost or resent super-segment once, though it stands for several packets on the wire.")
	f.Explanation = ex.String()
	f.Actions = []string{
		"Nothing to fix: this describes the capture point. To see the packets as they crossed the network, capture on a switch port, a router or the peer, or turn offloads off on the capture interface for the test (ethtool -K IFACE tso off gso off gro off).",
	}
	f.Evidence = []Metric{
		trMetric("mss", float64(mss), "bytes", from),
		trMetric("super_segments", float64(super), "", "payload larger than the MSS"),
		trMetric("exact_multiples", float64(multiples), "", "super-segments whose size is a multiple of the MSS"),
		trMetric("data_segments", float64(l.segs), "", "segments of 256 bytes or more"),
		trMetric("max_segment", float64(l.maxSize), "bytes", fmtMultiple(float64(l.maxSize)/float64(mss))+" MSS"),
	}
	if synM > 0 {
		f.Evidence = append(f.Evidence, trMetric("syn_mss", float64(sup.rawMSS), "bytes", "MSS option of the receiver's SYN"))
	}
	if sup.burstMax > 0 {
		f.Evidence = append(f.Evidence, trMetric("max_burst_mss", round3(float64(sup.burstMax)/float64(mss)), "MSS", fmt.Sprintf("%d bytes between two ACKs", sup.burstMax)))
	}
	if l.maxFlight > 0 {
		f.Evidence = append(f.Evidence, trMetric("max_flight_mss", round3(float64(l.maxFlight)/float64(mss)), "MSS", "the congestion window it implies"))
	}
	f.Evidence = append(f.Evidence, Metric{Name: "vantage", Value: float64(sup.near[nearSender] - sup.near[nearReceiver]), Note: vantage})

	ch := Chart{ID: "tso-super-segments-" + chartKey(l.key.String()), Title: "Segment sizes in MSS, " + l.key.String(),
		XLabel: fmt.Sprintf("payload / MSS (%d bytes)", mss), YLabel: "segments", Type: ChartBar}
	var pts []Point
	for _, h := range sizes {
		x := math.Round(float64(h.Size)/float64(mss)*100) / 100
		pts = append(pts, Point{X: x, Y: float64(h.Count), Label: fmt.Sprintf("%d bytes", h.Size)})
	}
	ch.Series = []Series{{Name: "segments", Points: pts}}
	f.Charts = []Chart{ch}
	if d.foldedLinks > 0 {
		folded := fmt.Sprintf("The capture has more sender and receiver pairs than this detector keeps (%d): %d without super-segments were dropped "+
			"on the way; a pair that came back after that was counted from its return.", d.linkCap, d.foldedLinks)
		f.Caveat = strings.TrimSpace(f.Caveat + " " + folded)
	}
	return f, true
}

// vantage describes the capture point from the connections' handshakes.
func (d *tso) vantage(l *tsoLink) (short, long string) {
	s, r, u := l.sup.near[nearSender], l.sup.near[nearReceiver], l.sup.near[nearUnknown]
	switch {
	case s > r && s >= u:
		return "captured on the sender (TSO/GSO)", fmt.Sprintf("The capture was taken on the sending host %s (its SYN-ACK or ACK leaves right after the peer's packet in %d of %d connections): TCP segmentation offload or GSO cuts these chunks into MSS-sized packets after the capture point, so the wire carried MSS-sized packets.", l.key.From, s, s+r+u)
	case r > s && r >= u:
		return "captured on the receiver (GRO/LRO)", fmt.Sprintf("The capture was taken on the receiving host %s (its handshake answers leave right after the peer's packets in %d of %d connections): generic receive offload (GRO/LRO) merged MSS-sized packets before the capture point.", l.key.To, r, s+r+u)
	}
	return "capture point unknown", "The handshake timing does not tell which host the capture was taken on (the round trip is too short or the handshake is missing): either the sender used TSO/GSO, or the receiver merged packets with GRO/LRO."
}

// fmtMultiple formats a multiple of the MSS: "5", "0.8", "9.8".
func fmtMultiple(x float64) string {
	if math.Abs(x-math.Round(x)) < 0.005 {
		return fmt.Sprintf("%.0f", x)
	}
	return fmt.Sprintf("%.1f", x)
}
