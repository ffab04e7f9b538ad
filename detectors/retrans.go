package detectors

import (
	"fmt"
	"math"
	"net/netip"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// retransSpec describes retransmission-storm.
func retransSpec() *Spec {
	return &Spec{
		Kind:     KindRetransmissionStorm,
		Title:    "retransmissions far above normal between two hosts, with RTO backoff where present",
		Severity: Critical,
		Doc: `Counts the retransmissions of every host pair, told apart by kind: fast
retransmissions (after duplicate ACKs), RTO retransmissions (a timer fired),
tail loss probes (the first resend of the last segment sent) and spurious
resends (data the peer had already ACKed). A resend soon after the receiver
reported a hole (SACK blocks or duplicate ACKs) counts as fast recovery even
without Wireshark's two duplicate ACKs (Linux recovers with SACK and RACK). Copies of one packet captured twice
within half an RTT are capture duplicates, not retransmissions, and are left
to capture-quality. The loss rate (fast and RTO resends per data segment) is
measured over a sliding window (RetransWindow) and judged against absolute
thresholds and against the rest of the capture. A segment resent again and
again with doubling intervals is an RTO backoff episode: its first RTO
(rto_initial_s), the number of backoffs and how it ended (ACK, RST, give-up,
end of capture) are reported. One finding per host pair, never per packet;
an occasional tail loss probe (a retransmitted FIN) is normal and not reported.`,
		New: func(cfg *Config) Detector { return newRetrans(cfg) },
	}
}

// rsSub is the number of sub-buckets of the sliding window.
const rsSub = 10

// rsCounts counts a host pair's segments by kind.
type rsCounts struct {
	Data, Fast, RTO, TLP, Spurious, Dup int64
	AfterFIN                            int64 // resends of data written after the peer's FIN
}

func (a *rsCounts) add(b rsCounts) {
	a.Data += b.Data
	a.Fast += b.Fast
	a.RTO += b.RTO
	a.TLP += b.TLP
	a.Spurious += b.Spurious
	a.Dup += b.Dup
	a.AfterFIN += b.AfterFIN
}

// loss is the number of resends that signal loss (fast and RTO).
func (a *rsCounts) loss() int64 { return a.Fast + a.RTO }

// all is every retransmission except capture duplicates.
func (a *rsCounts) all() int64 { return a.Fast + a.RTO + a.TLP + a.Spurious }

// rsDir is the per-direction state of one connection. Its fields are
// ordered by size, so that the struct has no padding: with rsTally and the
// dupTracker, a connection's rsConn fits the 192-byte size class (it was
// 360 bytes, the 384 class). Its first 8 bytes are what a segment of
// either direction reads (see rsConn).
type rsDir struct {
	sent     bool
	resent   bool // a resend was seen: retxSeq holds the last one
	retxOpen bool
	tsWait   bool
	maxEnd   uint32 // highest relative sequence end sent

	retxSeq uint32 // last retransmitted relative seq (valid once resent)
	retxEnd uint32 // end of the resent data waiting for an ACK
	tsVal   uint32 // TSval waiting for its echo, for RTT samples

	ackedTS        int64 // when the peer last ACKed all resent data
	firstRetxFrame int64
	tsValTS        int64
	tsRTT          int64 // smallest echo delay seen for this direction's TSvals
}

// rsTally counts what ConnDone judges one connection by, both directions
// together. The counts of the host pair (rsPair.counts) are kept apart:
// the retransmissions go there at once (they are rare), the data segments
// when the connection is done. No one reads a pair's counts while it has
// a connection open (fold takes only pairs without one; Finish comes
// after every ConnDone), so they end the same as adding the connection's
// counts in ConnDone, and the connection keeps 3 counters instead of 14.
type rsTally struct {
	data  int64 // segments carrying new data
	loss  int64 // fast and RTO retransmissions
	probe int64 // tail loss probes and spurious resends
}

// rsConn is the state of one connection. The last ACK of the peer that
// reported a hole is dups[dir].fb: dupTracker.observe records it on
// exactly the segments where this detector would.
//
// The directions come first, so that the flags and maxEnd of both are in
// the state's first cache line (the 192-byte size class starts its objects
// on a line): a pure ACK without timestamps reads only the peer's
// retxOpen, and a data segment its own maxEnd (TestRsConnFirstLine).
type rsConn struct {
	d    [2]rsDir
	pair *rsPair
	n    rsTally
	dups dupTracker
}

// rsEpisode is one RTO backoff episode: a segment resent again and again.
type rsEpisode struct {
	// the connection's last packet and the resending side and its peer
	// (the episode does not keep the connection: see flows.Frozen)
	connLast int64
	from, to netip.AddrPort
	dir      flows.Dir
	times    []int64 // original (0 if not captured) then each resend
	resends  int
	ackedTS  int64 // the peer ACKed the resent data (0 = never)
	rstTS    int64 // a RST after the last resend (0 = none)
	rstDir   flows.Dir
}

// rsWin counts segments of one window (or sub-bucket).
type rsWin struct{ data, loss int32 }

// rsPair aggregates one host pair.
type rsPair struct {
	key    trPair
	counts rsCounts
	conns  int64

	win    [rsSub]rsWin
	cur    int64 // index of the current sub-bucket (ts / sub width)
	peak   rsWin
	peakAt int64

	fast, rto, probe trSeries

	flows FlowList
	ex    exemplarSet
	hl    trFrames
	first int64
	last  int64

	rtts        []float64 // per-connection RTT estimates, bounded
	live        int       // connections of the pair with a state (not done yet)
	worstRate   float64   // highest loss rate of one connection (with RetransMinCount resends)
	worstConn   int64
	episode     *rsEpisode
	ackedUnseen int64
	notCaptured int64
}

// retrans is the retransmission-storm detector.
type retrans struct {
	transportBase
	sub   int64 // sub-bucket width, ns
	conns connStates[rsConn]
	pairs map[trPair]*rsPair
	lastC *flows.Conn
	lastS *rsConn
	// dupSeg is the segment the duplicate tracker saw last, and dupCopied
	// what it said: capture-quality, which runs after this detector, reads
	// it instead of keeping a second tracker (see quality.rs).
	dupSeg    *flows.Segment
	dupCopied bool

	// The pair table is bounded (see fold): pairCap is its size limit,
	// folded the counts of the pairs folded away, foldedPairs their number.
	pairCap     int
	nextFold    int
	folded      rsCounts
	foldedPairs int
}

// rsPairCap bounds the host pairs retransmission-storm keeps in detail. A
// capture of an internet-facing server holds a host pair per client
// address, millions of them: without a bound the pair table would grow
// with the capture rather than with its live connections.
const rsPairCap = 8192

func newRetrans(cfg *Config) *retrans {
	b := newTransportBase(cfg)
	return &retrans{transportBase: b, sub: max(ns(b.opt.RetransWindow)/rsSub, 1),
		conns: newConnStates[rsConn](cfg), pairs: make(map[trPair]*rsPair),
		pairCap: rsPairCap, nextFold: rsPairCap}
}

// lookup returns c's state, nil when it has none yet.
func (d *retrans) lookup(c *flows.Conn) *rsConn {
	if d.lastC == c {
		return d.lastS
	}
	st := d.conns.get(c)
	if st != nil {
		d.lastC, d.lastS = c, st
	}
	return st
}

// newState makes c's state, in its host pair.
func (d *retrans) newState(c *flows.Conn) *rsConn {
	key := pairOf(c.Orig.Addr.Addr(), c.Resp.Addr.Addr())
	pr := d.pairs[key]
	if pr == nil {
		if len(d.pairs) >= d.nextFold {
			d.fold()
		}
		pr = &rsPair{key: key, flows: NewFlowList(d.maxFlows), ex: exemplarSet{max: d.maxExemplars}}
		d.pairs[key] = pr
	}
	pr.live++
	st := d.conns.fresh()
	st.pair = pr
	d.conns.put(c, st)
	d.lastC, d.lastS = c, st
	return st
}

// recoveryWindow is how long after the receiver reported a hole a resend
// still counts as receiver-driven recovery: two RTTs (at least 20 ms), or
// 200 ms when the RTT is unknown.
func recoveryWindow(v flows.ConnView) int64 {
	if r := viewRTT(v); r > 0 {
		return max(2*r, 20e6)
	}
	return 200e6
}

// Segment implements SegmentDetector.
func (d *retrans) Segment(c *flows.Conn, s *flows.Segment) {
	p := s.P
	if p.Flags.Has(decode.FlagSYN) {
		return // handshake resends are handshake-failure's
	}
	st := d.lookup(c)
	if p.PayloadLen == 0 && !p.Flags.Has(decode.FlagFIN) && !p.Opts.HasTS && !dupSees(s) &&
		(st == nil || !p.Flags.Has(decode.FlagACK) || !st.d[s.Dir.Reverse()].retxOpen) {
		// A pure ACK without timestamps that reports no hole changes
		// nothing here unless it may ACK a resend of the peer: most ACKs
		// return here, and none makes a state.
		return
	}
	if st == nil {
		st = d.newState(c)
	}
	copied := st.dups.observe(s)
	d.dupSeg, d.dupCopied = s, copied
	me, peer := &st.d[s.Dir], &st.d[s.Dir.Reverse()]
	if p.Flags.Has(decode.FlagACK) {
		if peer.retxOpen && flows.SeqDiff(peer.retxEnd, s.RelAck) >= 0 {
			peer.retxOpen, peer.ackedTS = false, p.TS
		}
	}
	if p.Opts.HasTS {
		if peer.tsWait && p.Opts.TSEcr == peer.tsVal {
			if r := p.TS - peer.tsValTS; r >= 0 && (peer.tsRTT == 0 || r < peer.tsRTT) {
				peer.tsRTT = max(r, 1)
			}
			peer.tsWait = false
		}
		if !me.tsWait && p.Opts.TSVal != me.tsVal {
			me.tsVal, me.tsValTS, me.tsWait = p.Opts.TSVal, p.TS, true
		}
	}
	fin := p.Flags.Has(decode.FlagFIN)
	if p.PayloadLen == 0 && !fin {
		return
	}
	end := s.RelSeq + uint32(p.PayloadLen)
	if fin {
		end++
	}
	pr := st.pair
	if s.Kind&flows.AnyRetransmission == 0 {
		st.n.data++
		pr.tick(p.TS, d.sub, false)
		if !me.sent || flows.SeqDiff(me.maxEnd, end) > 0 {
			me.maxEnd, me.sent = end, true
		}
		return
	}
	if copied {
		pr.counts.Dup++ // the same packet captured twice
		return
	}
	if s.Kind.Has(flows.SegAfterPeerFIN) {
		// Data written after the peer's FIN and resent: the middlebox
		// pattern of write-after-fin-blackholed (incident 004), reported
		// there with its backoff; not a path that loses packets.
		pr.counts.AfterFIN++
		return
	}
	repeat := me.resent && s.RelSeq == me.retxSeq
	me.retxSeq, me.resent = s.RelSeq, true
	switch {
	case s.Kind.Has(flows.SegSpurious):
		pr.counts.Spurious++
		st.n.probe++
		pr.probe.add(p.TS, 1)
		return
	case s.Kind.Has(flows.SegFastRetransmission) || (st.dups[s.Dir].fb != 0 && p.TS-st.dups[s.Dir].fb <= recoveryWindow(s.View)):
		// Wireshark's fast retransmission (two duplicate ACKs within 20 ms),
		// or a resend soon after the receiver reported a hole with SACK
		// blocks or a duplicate ACK: loss recovery driven by the receiver
		// (fast retransmit, SACK or RACK recovery), not by a timer.
		pr.counts.Fast++
		st.n.loss++
		pr.fast.add(p.TS, 1)
	case !repeat && me.sent && end == me.maxEnd:
		// The first resend of the last segment sent: Linux's tail loss
		// probe (or, with one segment outstanding, an RTO: the wire cannot
		// tell them apart; either way one probe is no storm).
		pr.counts.TLP++
		st.n.probe++
		pr.probe.add(p.TS, 1)
		me.noteRetx(end, p)
		return
	default:
		pr.counts.RTO++
		st.n.loss++
		pr.rto.add(p.TS, 1)
	}
	me.noteRetx(end, p)
	pr.tick(p.TS, d.sub, true)
}

// noteRetx remembers a resend that waits for the peer's ACK.
func (me *rsDir) noteRetx(end uint32, p *decode.Packet) {
	if !me.retxOpen || flows.SeqDiff(me.retxEnd, end) > 0 {
		me.retxEnd = end
	}
	me.retxOpen = true
	if me.firstRetxFrame == 0 {
		me.firstRetxFrame = p.Frame
	}
}

// tick counts a data segment (or a loss retransmission) in the sliding
// window and keeps the window with the most loss retransmissions.
func (pr *rsPair) tick(ts, sub int64, loss bool) {
	i := ts / sub
	if i > pr.cur {
		for j := pr.cur + 1; j <= i && j <= pr.cur+rsSub; j++ {
			pr.win[j%rsSub] = rsWin{}
		}
		pr.cur = i
	}
	b := &pr.win[pr.cur%rsSub]
	if !loss {
		b.data++
		return
	}
	b.loss++
	var sum rsWin
	for _, w := range pr.win {
		sum.data += w.data
		sum.loss += w.loss
	}
	if sum.loss > pr.peak.loss || (sum.loss == pr.peak.loss && sum.data < pr.peak.data) {
		pr.peak = sum
		pr.peakAt = (pr.cur - rsSub + 1) * sub
	}
}

// ConnDone implements Detector.
func (d *retrans) ConnDone(c *flows.Conn) {
	st := d.conns.get(c)
	if st == nil {
		return
	}
	d.conns.del(c)
	defer d.conns.release(st)
	if d.lastC == c {
		d.lastC, d.lastS = nil, nil
	}
	pr := st.pair
	pr.conns++
	pr.live--
	cc := st.n
	pr.counts.Data += cc.data
	if cc.loss == 0 {
		// Tail loss probes, spurious resends and capture duplicates alone
		// are normal: such a connection is not part of a storm.
		return
	}
	if pr.first == 0 || c.FirstTS < pr.first {
		pr.first = c.FirstTS
	}
	pr.last = max(pr.last, c.LastTS)
	pr.flows.Add(c)
	if r := rate(cc.loss, cc.data); cc.loss >= int64(d.opt.RetransMinCount) && r > pr.worstRate {
		pr.worstRate, pr.worstConn = r, c.ID
	}
	au, nc := connLoss(c)
	pr.ackedUnseen += au
	pr.notCaptured += nc
	rtt := rttOf(c)
	if c.Orig.SYNs > 1 && c.RTTMin > 0 {
		rtt = c.RTTMin // the handshake RTT counts from the first SYN
	}
	if ts := st.d[0].tsRTT + st.d[1].tsRTT; st.d[0].tsRTT > 0 && st.d[1].tsRTT > 0 && (rtt == 0 || ts < rtt) {
		rtt = ts
	}
	if rtt > 0 && len(pr.rtts) < 4096 {
		pr.rtts = append(pr.rtts, Seconds(rtt))
	}
	score := float64(cc.loss) + 0.5*float64(cc.probe)
	for dir := flows.Orig; dir <= flows.Resp; dir++ {
		me := &st.d[dir]
		pr.hl.add(me.firstRetxFrame)
		e := c.Endpoint(dir)
		ch := e.Backoff()
		if ch.Count < 2 || ch.Seq == 0 || len(ch.Times) < 2 {
			continue
		}
		if a := e.DataAfterPeerFIN().FirstTS; a != 0 && ch.Times[1] >= a {
			continue // resends of data written after the peer's FIN
		}
		// Copies of one packet captured twice are not resends.
		times := []int64{ch.Times[0]}
		win := dupWindow(c.View())
		for _, t := range ch.Times[1:] {
			if prev := times[len(times)-1]; prev != 0 && t-prev < win {
				continue
			}
			times = append(times, t)
		}
		resends := ch.Count - (len(ch.Times) - len(times))
		if resends < 2 || len(times) < 2 {
			continue
		}
		ep := &rsEpisode{connLast: c.LastTS, from: e.Addr, to: c.Endpoint(dir.Reverse()).Addr, dir: dir, times: times, resends: resends}
		lastResend := times[len(times)-1]
		if me.ackedTS >= lastResend {
			ep.ackedTS = me.ackedTS
		}
		for _, side := range []flows.Dir{flows.Orig, flows.Resp} {
			if e := c.Endpoint(side); e.RSTTS >= lastResend && e.RSTTS != 0 && (ep.rstTS == 0 || e.RSTTS < ep.rstTS) {
				ep.rstTS, ep.rstDir = e.RSTTS, side
			}
		}
		score += 10 * float64(resends)
		if pr.episode == nil || ep.resends > pr.episode.resends {
			pr.episode = ep
		}
	}
	pr.ex.offer(c, score)
}

// fold keeps the pair table bounded. When it holds nextFold pairs, the
// pairs that cannot make a finding as they stand (fewer loss resends than
// any finding needs, no backoff episode) and have no connection open are
// folded away, quietest first (fewest loss resends, then the earliest last
// loss), until half of pairCap remain: their counts stay in the
// capture's totals, the baseline the other pairs are judged against, and
// a pair that comes back starts again from zero. When too few can go the
// table is allowed to grow to twice its size before the next pass, so a
// pass costs O(1) per pair added.
func (d *retrans) fold() {
	minLoss := int64(min(d.opt.RetransMinCount, 10))
	d.nextFold = foldTable(d.pairs, d.pairCap, func(pr *rsPair) trPair { return pr.key },
		func(pr *rsPair) bool {
			return pr.live == 0 && pr.counts.loss() < minLoss && (pr.episode == nil || pr.episode.resends < d.opt.BackoffMinResends)
		},
		func(a, b *rsPair) bool {
			if la, lb := a.counts.loss(), b.counts.loss(); la != lb {
				return la < lb
			}
			if a.last != b.last {
				return a.last < b.last
			}
			if a.key.Lo != b.key.Lo {
				return a.key.Lo.Less(b.key.Lo)
			}
			return a.key.Hi.Less(b.key.Hi)
		},
		func(pr *rsPair) {
			d.folded.add(pr.counts)
			d.foldedPairs++
		})
}

// Finish implements Detector.
func (d *retrans) Finish(env *Env) []Finding {
	total := d.folded
	for _, pr := range d.pairs {
		total.add(pr.counts)
	}
	keys := sortedKeys(d.pairs, func(a, b trPair) bool {
		if a.Lo != b.Lo {
			return a.Lo.Less(b.Lo)
		}
		return a.Hi.Less(b.Hi)
	})
	var out []Finding
	for _, k := range keys {
		if f, ok := d.finding(d.pairs[k], total, env); ok {
			out = append(out, f)
		}
	}
	return out
}

// rate returns loss resends per segment sent (new data plus loss resends).
// rsAlpha is the chance, per host pair, of taking a burst of uniform loss
// for a storm (shared among the positions of the pair's sliding window).
const rsAlpha = 1e-3

// burstUnlikely reports whether k or more losses among n segments are too
// many to be chance at the loss rate p0, with tries windows examined: the
// Poisson upper tail P(X >= k), X ~ Poisson(n*p0), is below rsAlpha/tries.
// Without any loss elsewhere (p0 = 0) every burst is.
func burstUnlikely(k, n int64, p0, tries float64) bool {
	if p0 <= 0 {
		return true
	}
	lambda := float64(n) * p0
	if float64(k) <= lambda {
		return false
	}
	// Sum the tail from k up, the first term in log space; the terms then
	// shrink by lambda/(i+1) < 1.
	lg, _ := math.Lgamma(float64(k) + 1)
	term := math.Exp(-lambda + float64(k)*math.Log(lambda) - lg)
	tail := 0.0
	for i := k; term > tail*1e-12 && i < k+100000; i++ {
		tail += term
		term *= lambda / float64(i+1)
	}
	return tail < rsAlpha/tries
}

func rate(loss, data int64) float64 {
	if loss+data == 0 {
		return 0
	}
	return float64(loss) / float64(loss+data)
}

// backoffFit describes the timing of an RTO backoff episode.
type backoffFit struct {
	Intervals []float64 // seconds between successive transmissions
	RTO0      float64   // first RTO, seconds
	Doubling  bool      // the intervals roughly double
	Probe     bool      // the first resend came well before the fitted RTO (a tail loss probe)
}

// fitBackoff fits times (the original transmission, 0 when not captured,
// then each resend) to an exponential backoff rto0·2^k.
func fitBackoff(times []int64) backoffFit {
	var f backoffFit
	origKnown := len(times) > 0 && times[0] != 0
	start := 0
	if !origKnown {
		start = 1
	}
	for i := start + 1; i < len(times); i++ {
		f.Intervals = append(f.Intervals, Seconds(times[i]-times[i-1]))
	}
	n := len(f.Intervals)
	if n == 0 {
		return f
	}
	// Interval k (counting from the original) is rto0·2^k. Without the
	// original, the first interval is the second one.
	off := 0
	if !origKnown {
		off = 1
	}
	fitFrom := 0
	if origKnown && n >= 3 {
		fitFrom = 1 // the first resend may be a tail loss probe: fit the rest
	}
	var logSum float64
	var m int
	for k := fitFrom; k < n; k++ {
		if f.Intervals[k] <= 0 {
			continue
		}
		logSum += math.Log2(f.Intervals[k]) - float64(k+off)
		m++
	}
	if m == 0 {
		return f
	}
	r := math.Exp2(logSum / float64(m))
	f.RTO0 = r
	if origKnown {
		iv0 := f.Intervals[0]
		switch {
		case iv0 < 0.6*r:
			// A tail loss probe came first; the RTO timer restarted after
			// it, so the later intervals count from one step earlier.
			f.Probe = true
			f.RTO0 = 2 * r
		case math.Abs(iv0-r) <= 0.35*r:
			f.RTO0 = iv0
		}
	}
	good, judged := 0, 0
	for k := max(1, fitFrom+1); k < n; k++ {
		judged++
		if q := f.Intervals[k] / f.Intervals[k-1]; q >= 1.5 && q <= 2.7 {
			good++
		}
	}
	f.Doubling = judged > 0 && good*3 >= judged*2
	return f
}

// episodeEnd says how a backoff episode ended.
func episodeEnd(ep *rsEpisode, fit backoffFit, env *Env) (string, bool) {
	last := ep.times[len(ep.times)-1]
	switch {
	case ep.ackedTS != 0:
		return fmt.Sprintf("recovered: the peer ACKed the data %s after the last resend", trDur(Seconds(ep.ackedTS-last))), false
	case ep.rstTS != 0:
		who := "the sender"
		if ep.rstDir != ep.dir {
			who = "the receiver"
		}
		return fmt.Sprintf("ended by a RST from %s %s after the last resend", who, trDur(Seconds(ep.rstTS-last))), true
	}
	next := 2 * fit.RTO0 * math.Exp2(float64(len(fit.Intervals)))
	if n := len(fit.Intervals); n > 0 {
		next = 2 * fit.Intervals[n-1]
	}
	end := trEnd(env, ep.connLast)
	if Seconds(end-last) > 1.5*next && next > 0 {
		return fmt.Sprintf("the sender gave up: no resend in the %s after the last one (the next was due after %s)",
			trDur(Seconds(end-last)), trDur(next)), true
	}
	// Still retrying when the capture ended: bad once the sender has
	// backed off several times.
	if end-last < 1e6 {
		return "still unacknowledged when the capture ended, right after the last resend", ep.resends >= 4
	}
	return fmt.Sprintf("still unacknowledged when the capture ended, %s after the last resend", trDur(Seconds(end-last))), ep.resends >= 4
}

func (d *retrans) finding(pr *rsPair, total rsCounts, env *Env) (Finding, bool) {
	o := d.opt
	loss := pr.counts.loss()
	pairRate := rate(loss, pr.counts.Data)
	peakRate := rate(int64(pr.peak.loss), int64(pr.peak.data))
	otherLoss, otherData := total.loss()-loss, total.Data-pr.counts.Data
	otherRate := rate(otherLoss, otherData)

	var sev Severity
	var why []string
	// Sustained loss: the whole pair above the warning rate.
	if loss >= int64(o.RetransMinCount) && pairRate >= o.RetransWarnRate {
		sev = Warning
		why = append(why, fmt.Sprintf("%s of its data segments were loss retransmissions", trPct(pairRate)))
	}
	// A burst: the worst window above the warning rate, with more losses
	// than chance gives at the rest of the capture's rate. With uniform,
	// low loss some window of a busy pair always holds a few losses close
	// together (1 % loss made 22 warnings among 100 host pairs). The
	// window slides by sub-buckets: each position is one more chance.
	positions := max(float64(pr.last-pr.first)/float64(d.sub), 1)
	peakBase := rate(total.loss()-int64(pr.peak.loss), total.Data-int64(pr.peak.data))
	if sev == 0 && int(pr.peak.loss) >= o.RetransMinCount && peakRate >= o.RetransWarnRate &&
		burstUnlikely(int64(pr.peak.loss), int64(pr.peak.loss)+int64(pr.peak.data), peakBase, positions) {
		sev = Warning
		why = append(why, fmt.Sprintf("%s of the segments in the worst %s were loss retransmissions", trPct(peakRate), trDur(o.RetransWindow.Seconds())))
	}
	if int(pr.peak.loss) >= o.RetransCritCount && peakRate >= o.RetransCritRate {
		sev = Critical
	}
	if sev == 0 && loss >= int64(o.RetransMinCount) && otherData > 0 && otherRate > 0 && pairRate >= o.RetransBaselineFactor*otherRate {
		sev = Warning
		why = append(why, fmt.Sprintf("the loss rate, %s, is %.0f times the rest of the capture's (%s)", trPct(pairRate), pairRate/otherRate, trPct(otherRate)))
	}
	var fit backoffFit
	var endText string
	ep := pr.episode
	if ep != nil && ep.resends >= o.BackoffMinResends {
		fit = fitBackoff(ep.times)
		var bad bool
		endText, bad = episodeEnd(ep, fit, env)
		sev = max(sev, Warning)
		if bad {
			sev = Critical
		}
	}
	if sev == 0 && loss >= 10 {
		sev = Info // Zeek's first threshold: worth a line, not an alarm
	}
	if sev == 0 {
		return Finding{}, false
	}

	f := Finding{Kind: KindRetransmissionStorm, Severity: sev, Subject: pr.key.String(),
		At: pr.first, Until: pr.last, Flows: pr.flows.Refs(), FlowCount: pr.flows.Count(),
		Exemplars: pr.ex.best(), Highlight: pr.hl.list()}
	c := pr.counts
	rtt := 0.0
	if len(pr.rtts) > 0 {
		rtt = Median(pr.rtts)
	}
	title := fmt.Sprintf("%s: %s retransmissions in %s (%s of data segments",
		pr.key, count(c.all()), trPlural(int64(pr.flows.Count()), "connection", "connections"), trPct(pairRate))
	if pr.peak.loss > 0 && peakRate > pairRate {
		title += fmt.Sprintf(", peak %s over %s", trPct(peakRate), trDur(o.RetransWindow.Seconds()))
	}
	title += ")"
	if ep != nil && ep.resends >= o.BackoffMinResends {
		title += fmt.Sprintf("; one segment resent %d times with RTO backoff", ep.resends)
		if n := len(fit.Intervals); n > 0 {
			title += " up to " + trDur(fit.Intervals[n-1])
		}
	}
	f.Title = title

	var ex strings.Builder
	fmt.Fprintf(&ex, "Between %s and %s, %s of %s segments carrying data were sent again: %s (the receiver reported a hole with duplicate ACKs or SACK), %s (the sender's timer fired because nothing came back), %s and %s of data already ACKed.",
		pr.key.Lo, pr.key.Hi, count(c.all()), count(c.Data+c.all()), trPlural(c.Fast, "fast retransmission", "fast retransmissions"),
		trPlural(c.RTO, "RTO retransmission", "RTO retransmissions"), trPlural(c.TLP, "tail loss probe", "tail loss probes"),
		trPlural(c.Spurious, "spurious resend", "spurious resends"))
	if len(why) > 0 {
		ex.WriteString(" This is far above normal: " + strings.Join(why, "; ") + ".")
	}
	if rtt > 0 {
		fmt.Fprintf(&ex, " The round-trip time measured at the capture point is about %s.", trDur(rtt))
	}
	if c.Fast > c.RTO {
		ex.WriteString(" Most losses were repaired by fast retransmission: packets are being dropped on the path (congestion, a lossy link, a policer) while the connection keeps flowing.")
	} else if c.RTO > 0 {
		ex.WriteString(" Most resends waited for the retransmission timer: whole flights were lost, or the path went silent, which stalls the application for at least the RTO each time.")
	}
	if ep != nil && ep.resends >= o.BackoffMinResends {
		fmt.Fprintf(&ex, " Connection %s→%s resent one segment %d times;", ep.from, ep.to, ep.resends)
		if len(fit.Intervals) > 0 {
			fmt.Fprintf(&ex, " the gaps were %s", fmtIntervals(fit.Intervals))
			if fit.Doubling {
				fmt.Fprintf(&ex, ", doubling each time (exponential RTO backoff) from a first RTO of %s", trDur(fit.RTO0))
			}
			if fit.Probe {
				ex.WriteString(" (the first resend was a tail loss probe)")
			}
			ex.WriteString(";")
		}
		fmt.Fprintf(&ex, " %s.", endText)
		if ep.ackedTS == 0 {
			ex.WriteString(" Nothing came back at all, not even a RST: something on the path (a firewall or NAT that forgot the connection, a dead peer) silently drops this connection's packets.")
		}
	}
	if c.AfterFIN > 0 {
		fmt.Fprintf(&ex, " %s of data written after the peer's FIN were not counted: write-after-fin-blackholed reports them.", trPlural(c.AfterFIN, "resend", "resends"))
	}
	if c.Dup > 0 {
		fmt.Fprintf(&ex, " %d more copies of packets arrived within half an RTT of the original; they are capture duplicates and were not counted.", c.Dup)
	}
	f.Explanation = ex.String()
	f.Actions = []string{
		"Check interface error and drop counters (ip -s link, ethtool -S) and the queues of every hop between the hosts.",
		"Compare with a capture taken at the other end: segments lost before this capture point show as retransmissions here only.",
	}
	if ep != nil && ep.ackedTS == 0 && ep.resends >= o.BackoffMinResends {
		f.Actions = append(f.Actions, "Look for a stateful middlebox (firewall, NAT, load balancer, conntrack) whose idle or closing timeout drops the connection: no ACK and no RST came back.",
			"Make applications time out and close sockets they can no longer write to, and keep TCP keepalive or user timeouts (TCP_USER_TIMEOUT) shorter than the middlebox timeouts.")
	}
	if c.Fast > 0 {
		f.Actions = append(f.Actions, "Look for congestion or a policer on the path (drops under load); enable SACK on both ends if it is off.")
	}

	f.Evidence = []Metric{
		trMetric("retransmissions", float64(c.all()), "", "all resends except capture duplicates"),
		trMetric("fast_retransmissions", float64(c.Fast), "", "after duplicate ACKs"),
		trMetric("rto_retransmissions", float64(c.RTO), "", "after a retransmission timeout"),
		trMetric("tail_loss_probes", float64(c.TLP), "", "first resend of the last segment sent"),
		trMetric("spurious_retransmissions", float64(c.Spurious), "", "data the peer had already ACKed"),
		trMetric("data_segments", float64(c.Data), "", "segments carrying new data"),
		trMetric("loss_rate", round3(pairRate), "", "fast+RTO resends per segment sent"),
		trMetric("peak_loss_rate", round3(peakRate), "", fmt.Sprintf("worst %s window, %d resends", trDur(o.RetransWindow.Seconds()), pr.peak.loss)),
		trMetric("baseline_loss_rate", round3(otherRate), "", "the rest of the capture"),
	}
	if pr.worstConn != 0 {
		f.Evidence = append(f.Evidence, trMetric("worst_connection_loss_rate", round3(pr.worstRate), "", fmt.Sprintf("connection %d", pr.worstConn)))
	}
	if pr.peak.loss > 0 {
		// Windows are aligned on sub-buckets: the first may start before
		// the capture did.
		origin := trOrigin(env, pr.first)
		f.Evidence = append(f.Evidence, trMetric("peak_window_start_s", round3(Seconds(max(pr.peakAt, origin)-origin)), "s", "since the capture start"))
	}
	if c.Dup > 0 {
		f.Evidence = append(f.Evidence, trMetric("capture_duplicates", float64(c.Dup), "", "copies within half an RTT, not counted"))
	}
	if rtt > 0 {
		f.Evidence = append(f.Evidence, trMetric("rtt_s", round3(rtt*1000)/1000, "s", "median per connection: handshake, data→ACK or timestamp echo"))
	}
	if ep != nil && ep.resends >= o.BackoffMinResends {
		f.Evidence = append(f.Evidence, trMetric("backoff_resends", float64(ep.resends), "", "resends of one segment"))
		if fit.RTO0 > 0 {
			f.Inferred.RTOInitialS = F(round3(fit.RTO0))
			f.Evidence = append(f.Evidence, trMetric("rto_initial_s", round3(fit.RTO0), "s", "first retransmission timeout of the episode"))
		}
		f.Evidence = append(f.Evidence, Metric{Name: "episode_end", Value: float64(len(ep.times) - 1), Note: endText})
	}
	f.Caveat = CaptureCaveat(env, pr.ackedUnseen, pr.notCaptured)
	if d.foldedPairs > 0 {
		folded := fmt.Sprintf("The capture has more host pairs than this detector keeps in detail (%d): %d quiet pairs with fewer than %d loss retransmissions "+
			"were folded into the capture's totals, which the rates here are compared with; a pair that came back after that was judged from its return.",
			d.pairCap, d.foldedPairs, min(o.RetransMinCount, 10))
		f.Caveat = strings.TrimSpace(f.Caveat + " " + folded)
	}
	f.Charts = d.charts(pr, ep, fit, env)
	return f, true
}

func fmtIntervals(iv []float64) string {
	parts := make([]string, len(iv))
	for i, v := range iv {
		parts[i] = trDur(v)
	}
	return strings.Join(parts, ", ")
}

func (d *retrans) charts(pr *rsPair, ep *rsEpisode, fit backoffFit, env *Env) []Chart {
	origin := trOrigin(env, pr.first)
	id := "retransmission-storm-" + chartKey(pr.key.String())
	over := Chart{ID: id + "-time", Title: "Retransmissions over time, " + pr.key.String(), XLabel: "seconds since capture start",
		YLabel: "retransmissions", Type: ChartBar}
	for _, s := range []struct {
		name string
		ser  *trSeries
	}{{"fast", &pr.fast}, {"RTO", &pr.rto}, {"probe / spurious", &pr.probe}} {
		if pts := s.ser.points(origin); len(pts) > 0 {
			over.Series = append(over.Series, Series{Name: s.name, Points: pts})
		}
	}
	var out []Chart
	if len(over.Series) > 0 {
		out = append(out, over)
	}
	if ep != nil && len(fit.Intervals) > 1 {
		bo := Chart{ID: id + "-backoff", Title: "RTO backoff: gap before each resend", XLabel: "resend", YLabel: "seconds", Type: ChartLine}
		var got, want []Point
		for i, v := range fit.Intervals {
			got = append(got, Point{X: float64(i + 1), Y: round3(v)})
			want = append(want, Point{X: float64(i + 1), Y: round3(fit.RTO0 * math.Exp2(float64(i)))})
		}
		bo.Series = []Series{{Name: "observed", Points: got}, {Name: "doubling from the first RTO", Points: want}}
		out = append(out, bo)
	}
	return out
}

// chartKey turns a subject into a chart id fragment.
func chartKey(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			if b.Len() > 0 && !strings.HasSuffix(b.String(), "-") {
				b.WriteByte('-')
			}
		}
	}
	return strings.TrimSuffix(b.String(), "-")
}
