package detectors

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// handshakeSpec describes handshake-failure.
func handshakeSpec() *Spec {
	return &Spec{
		Kind:     KindHandshakeFailure,
		Title:    "connection attempts that fail: SYNs unanswered or refused, SYN-ACKs resent, listen queue overflow",
		Severity: Critical,
		Doc: `Judges every connection whose SYN the capture shows, per server endpoint
(listener): SYNs never answered (with the client's SYN retry times), SYNs
answered by RST (nothing listening), SYNs answered only after a retry,
SYN-ACKs resent (the client's final ACK never reached the server), and
handshakes that completed on one side only: the client sent its request into
a connection the server's kernel ACKed, then nothing (no response, the
client's FIN left unanswered) or the server never ACKed it at all. When a
listener shows both (served nothing on connections its kernel accepted, and
dropped later SYNs) its accept queue overflowed: the application stopped
calling accept(). A SYN sent less than SYNTimeout before the capture ended
is not judged.`,
		New: func(cfg *Config) Detector { return newHandshake(cfg) },
	}
}

// hsFail is a set of handshake problems of one connection.
type hsFail uint16

const (
	hsSynUnanswered hsFail = 1 << iota // no answer to the SYN at all
	hsRefused                          // SYN answered by RST
	hsSynRetrans                       // SYN resent, answered later
	hsSynAckRetrans                    // SYN-ACK resent
	hsDataUnacked                      // handshake done at the client, its data never ACKed
	hsNoResponse                       // request ACKed by the server's kernel, no response
	hsFinUnanswered                    // the client's FIN got no FIN back (on an unserved connection)
	hsHalfOpen                         // SYN-ACK sent, the client never completed the handshake
)

// hsSyns keeps the times of the SYNs (SYN-ACKs aside) of a connection that
// sent more than one: the first 8, and how many there were; and the copies
// of a SYN or SYN-ACK the capture holds twice (hsDupSYN), which are no
// retries.
type hsSyns struct {
	syn  [8]int64
	nSyn int
	// dups counts, per direction (flows.Orig: SYNs, flows.Resp: SYN-ACKs),
	// the copies; lastSynAck is the latest SYN-ACK's time.
	dups       [2]int32
	lastSynAck int64
}

// hsDupSYN is how soon after the previous one a SYN or SYN-ACK counts as a
// second copy of it in the capture rather than a retry: a capture on two
// interfaces (tcpdump -i any on a host with a tunnel or a bridge: the
// encapsulated and the plain packet) or a mirror port seeing both
// directions holds copies microseconds apart, where stacks wait 1 s (Linux,
// Windows) or, tuned by BPF in data centres, some milliseconds before they
// resend.
const hsDupSYN = 1e6 // 1 ms

// last is the time of the latest SYN recorded.
func (st *hsSyns) last() int64 { return st.syn[min(st.nSyn, len(st.syn))-1] }

// realSYNs returns how many SYNs (dir Orig) or SYN-ACKs (Resp) c sent,
// copies in the capture aside.
func realSYNs(c *flows.Conn, st *hsSyns, dir flows.Dir) int64 {
	n := int64(c.Endpoint(dir).SYNs)
	if st != nil {
		n -= int64(st.dups[dir])
	}
	return n
}

func (st *hsSyns) add(ts int64) {
	if st.nSyn < len(st.syn) {
		st.syn[st.nSyn] = ts
	}
	st.nSyn++
}

// hsListener aggregates one server endpoint.
type hsListener struct {
	addr     netip.AddrPort
	attempts int64
	counts   map[hsFail]int64
	synsLost int64 // SYNs sent and never answered

	flows   FlowList
	pending []FlowRef // unserved connections, listed if the listener overflowed
	pendN   int64
	ex      exemplarSet
	hl      trFrames
	first   int64
	last    int64

	retries      [][]float64 // SYN send times relative to the first SYN, per failed connection (bounded)
	synAckDelays []float64

	ackedUnseen, notCaptured int64
	// pendConns counts the pending SYNs that kept their connection (as a
	// possible exemplar); the others keep only what the finding needs.
	pendConns int
	// pendRefs counts the entries of handshake.pending that point here:
	// such a listener is never folded.
	pendRefs int
	seen     int64 // the end of the last connection it saw
}

type handshake struct {
	transportBase
	// syns are the SYN times of the live connections that sent more than
	// one SYN without ACK or more than one SYN-ACK (ConnDone reads the
	// times of SYN retries only, and the copies of both).
	// The first one's time is the connection's SYNTS (Segment.FirstSYN): a
	// map of every live connection's first SYN, written and deleted for
	// every connection, was 0.3 s of the detectors' time on h1g.
	syns      map[*flows.Conn]*hsSyns
	listeners map[netip.AddrPort]*hsListener
	// now is the latest packet time seen; pending holds, oldest first, the
	// lone SYNs handed on too early to judge, until now or the capture end
	// tells. Under a SYN flood they are most connections: each costs a
	// small record, never the connection itself.
	now     int64
	pending []hsPending
	head    int // pending[:head] are resolved

	// The listener table is bounded (see fold): listenerCap listeners in
	// detail, folding at nextFold. foldedQuiet counts the listeners without
	// a failure folded away; scans holds, per host, the listeners of a port
	// scan folded together, and scanFolded their number.
	listenerCap int
	nextFold    int
	foldedQuiet int
	scans       map[netip.Addr]*hsScan
	scanFolded  int
}

// hsListenerCap is how many listeners handshake-failure keeps in detail.
const hsListenerCap = 8192

func newHandshake(cfg *Config) *handshake {
	return &handshake{transportBase: newTransportBase(cfg), syns: make(map[*flows.Conn]*hsSyns),
		listeners: make(map[netip.AddrPort]*hsListener), listenerCap: hsListenerCap, nextFold: hsListenerCap,
		scans: make(map[netip.Addr]*hsScan)}
}

// Segment implements SegmentDetector: it only records SYN times.
func (d *handshake) Segment(c *flows.Conn, s *flows.Segment) {
	p := s.P
	if p.TS > d.now {
		d.now = p.TS
	}
	if !p.Flags.Has(decode.FlagSYN) || s.FirstSYN {
		// The first SYN's time is c.SYNTS, which the tracker never changes
		// again: only a connection that sends another needs a record.
		return
	}
	// The SYN counts are read from s.View: the tracker goes on changing
	// the Conn's while this runs behind it (cmd/analysis's pipeline).
	if p.Flags.Has(decode.FlagACK) {
		if s.Dir != flows.Resp || s.View.SYNs[flows.Resp] < 2 {
			return // the first SYN-ACK: its time is c.SYNACKTS
		}
		st := d.record(c)
		prev := st.lastSynAck
		if prev == 0 {
			// Set once, before the first SYN-ACK was handed on, and never
			// again: safe to read from a later one.
			prev = c.SYNACKTS
		}
		if p.TS-prev < hsDupSYN {
			st.dups[flows.Resp]++
		}
		st.lastSynAck = p.TS
		return
	}
	st := d.record(c)
	if st.nSyn > 0 && p.TS-st.last() < hsDupSYN {
		st.dups[flows.Orig]++
		return
	}
	st.add(p.TS)
}

// record returns c's SYN record, made at its second SYN or SYN-ACK with the
// first SYN's time (c.SYNTS, set before any later SYN was handed on).
func (d *handshake) record(c *flows.Conn) *hsSyns {
	st := d.syns[c]
	if st == nil {
		st = &hsSyns{}
		if c.SYNTS != 0 {
			st.add(c.SYNTS)
		}
		d.syns[c] = st
	}
	return st
}

// serverAck returns the highest acknowledgment (relative to the client's
// ISN) the server sent, from the connection's packet log.
func serverAck(c *flows.Conn) (uint32, bool) {
	var best uint32
	ok := false
	for _, le := range c.Log {
		if le.Dir != flows.Resp || !le.Flags.Has(decode.FlagACK) || le.Flags.Has(decode.FlagSYN) {
			continue
		}
		if !ok || flows.SeqDiff(best, le.RelAck) > 0 {
			best, ok = le.RelAck, true
		}
	}
	return best, ok
}

// classify returns the handshake problems of c; st holds its SYNs' times
// and copies (nil when it sent one of each at most).
func (d *handshake) classify(c *flows.Conn, st *hsSyns) hsFail {
	var f hsFail
	o, r := &c.Orig, &c.Resp
	syns, synAcks := realSYNs(c, st, flows.Orig), realSYNs(c, st, flows.Resp)
	if syns > 1 {
		f |= hsSynRetrans
	}
	if synAcks > 1 {
		f |= hsSynAckRetrans
	}
	if c.SYNACKTS == 0 {
		switch {
		case r.RSTTS != 0:
			f |= hsRefused
		case r.Packets == 0 && o.Packets == int64(o.SYNs):
			f |= hsSynUnanswered
		}
		// A client that goes on sending after its SYN got a SYN-ACK the
		// capture did not show (a one-sided capture): nothing to judge.
		return f &^ hsSynRetrans
	}
	if c.EstablishedTS == 0 {
		if synAcks > 1 && o.Packets <= int64(o.SYNs) {
			f |= hsHalfOpen
		}
		if o.UniqueBytes == 0 {
			return f
		}
	}
	if o.UniqueBytes > 0 && r.Bytes == 0 && r.RSTTS == 0 {
		end := uint32(1 + o.UniqueBytes)
		if ack, ok := serverAck(c); !ok || flows.SeqDiff(ack, end) > 0 {
			f |= hsDataUnacked
		} else {
			f |= hsNoResponse
		}
		if o.FINTS != 0 && r.FINTS == 0 {
			f |= hsFinUnanswered
		}
	}
	return f
}

// ConnDone implements Detector.
func (d *handshake) ConnDone(c *flows.Conn) {
	d.resolveDue(d.now, false)
	var st *hsSyns // nil: one SYN at most, no retry to show
	if len(d.syns) > 0 {
		st = d.syns[c]
		delete(d.syns, c)
	}
	if !c.DirKnown || c.Orig.SYNs == 0 {
		return
	}
	l := d.listeners[c.Resp.Addr]
	if l == nil {
		if len(d.listeners) >= d.nextFold {
			d.fold()
		}
		l = &hsListener{addr: c.Resp.Addr, counts: map[hsFail]int64{}, flows: NewFlowList(d.maxFlows), ex: exemplarSet{max: d.maxExemplars}}
		d.listeners[c.Resp.Addr] = l
	}
	l.attempts++
	l.seen = max(l.seen, c.LastTS)
	f := d.classify(c, st)
	if f&hsSynUnanswered != 0 && realSYNs(c, st, flows.Orig) == 1 && c.LastTS-c.SYNTS < ns(d.opt.SYNTimeout) {
		// One SYN just before the connection was handed on: too soon to
		// judge; Finish re-checks against the capture end.
		f = f&^hsSynUnanswered | hsPendingSYN
	}
	if f == 0 {
		return
	}
	for b := hsFail(1); b != 0 && b <= hsPendingSYN; b <<= 1 {
		if f&b != 0 {
			l.counts[b]++
		}
	}
	if f&hsSynUnanswered != 0 {
		l.synsLost += realSYNs(c, st, flows.Orig)
	}
	if c.SYNACKTS != 0 && c.SYNTS != 0 && len(l.synAckDelays) < 4096 {
		l.synAckDelays = append(l.synAckDelays, Seconds(c.SYNACKTS-c.SYNTS))
	}
	if f&(hsSynUnanswered|hsSynRetrans) != 0 && st != nil && len(l.retries) < 64 {
		n := min(st.nSyn, len(st.syn))
		ts := make([]float64, n)
		for i := 0; i < n; i++ {
			ts[i] = Seconds(st.syn[i] - st.syn[0])
		}
		l.retries = append(l.retries, ts)
	}
	ref := Ref(c)
	if f&^(hsNoResponse|hsFinUnanswered|hsPendingSYN) == 0 {
		// Served nothing but the handshake itself was fine: only part of
		// the finding if the listener turns out to overflow.
		if f&hsNoResponse != 0 {
			if len(l.pending) < d.maxFlows {
				l.pending = append(l.pending, ref)
			}
			l.pendN++
		}
		if f&hsPendingSYN != 0 {
			e := hsEntryOf(c, hsSynUnanswered)
			if l.pendConns < d.maxExemplars {
				l.pendConns++
				e.frozen = c.Freeze()
			}
			e.conn = nil
			d.pending = append(d.pending, hsPending{l: l, e: e})
			l.pendRefs++
		}
		return
	}
	d.add(l, hsEntryOf(c, f))
}

// hsPendingSYN marks a single SYN too recent to judge yet.
const hsPendingSYN hsFail = 1 << 15

// hsPending is a connection whose only SYN was sent shortly before the
// tracker handed it on.
type hsPending struct {
	l *hsListener
	e hsEntry
}

// hsEntry is what a listener's finding keeps of one failed connection.
type hsEntry struct {
	ref                      FlowRef
	firstFrame, rstFrame     int64
	firstTS, lastTS          int64
	ackedUnseen, notCaptured int64
	score                    float64 // as an exemplar
	// conn is the connection, offered as an exemplar when the entry is
	// added from ConnDone; an entry that waits (hsPending) keeps it frozen
	// instead, as the connection may be reused once ConnDone returns. Both
	// unset: never an exemplar.
	conn   *flows.Conn
	frozen flows.Frozen
}

func hsEntryOf(c *flows.Conn, f hsFail) hsEntry {
	score := 1.0
	if f&(hsNoResponse|hsDataUnacked) != 0 {
		score = 3 // shows the one-sided handshake best
	}
	au, nc := connLoss(c)
	return hsEntry{ref: Ref(c), firstFrame: c.FirstFrame, rstFrame: c.Resp.RSTFrame, firstTS: c.FirstTS,
		lastTS: c.LastTS, ackedUnseen: au, notCaptured: nc, score: score + float64(c.Orig.SYNs)/10, conn: c}
}

// add lists a failed connection in the listener's finding.
func (d *handshake) add(l *hsListener, e hsEntry) {
	l.flows.addRef(e.ref)
	if e.conn != nil {
		l.ex.offer(e.conn, e.score)
	} else if e.frozen.Size() > 0 {
		l.ex.put(e.frozen, e.score)
	}
	l.hl.add(e.firstFrame)
	if e.rstFrame != 0 {
		l.hl.add(e.rstFrame)
	}
	if l.first == 0 || e.firstTS < l.first {
		l.first = e.firstTS
	}
	l.last = max(l.last, e.lastTS)
	l.ackedUnseen += e.ackedUnseen
	l.notCaptured += e.notCaptured
}

// resolveDue judges the pending lone SYNs that went unanswered for
// SYNTimeout by time end: they count as unanswered. The queue is in the
// order the tracker handed the connections on, close to the order of their
// SYNs, so it stops at the first one not yet due (one judged late still
// counts the same); final judges them all, for the last time.
func (d *handshake) resolveDue(end int64, final bool) {
	timeout := ns(d.opt.SYNTimeout)
	for d.head < len(d.pending) {
		p := &d.pending[d.head]
		if end-p.e.lastTS < timeout {
			if !final {
				break
			}
		} else {
			p.l.counts[hsSynUnanswered]++
			p.l.synsLost++
			d.add(p.l, p.e)
		}
		p.l.pendRefs--
		*p = hsPending{}
		d.head++
	}
	if d.head > 1024 && d.head*2 > len(d.pending) {
		n := copy(d.pending, d.pending[d.head:])
		clear(d.pending[n:])
		d.pending = d.pending[:n]
		d.head = 0
	}
}

// hsScanPorts is how many ports of one host must fail the same way before
// they are reported together, as a port scan or a host-wide drop.
const hsScanPorts = 10

// Finish implements Detector.
func (d *handshake) Finish(env *Env) []Finding {
	keys := sortedKeys(d.listeners, hsLess)
	d.resolveDue(trEnd(env, d.now), true)
	// Listeners that only saw SYNs unanswered or refused, per host: many
	// of them on one host are a port scan (or a firewall dropping the
	// host), reported once.
	plain := map[netip.Addr][]*hsListener{}
	for _, k := range keys {
		l := d.listeners[k]
		if l.flows.Count() > 0 && l.onlyRejected() {
			plain[k.Addr()] = append(plain[k.Addr()], l)
		}
	}
	var out []Finding
	done := map[netip.Addr]bool{}
	for _, k := range keys {
		if ls := plain[k.Addr()]; len(ls) >= hsScanPorts || d.scans[k.Addr()] != nil {
			if !done[k.Addr()] {
				done[k.Addr()] = true
				out = append(out, d.scanFinding(k.Addr(), ls, env))
			}
			continue
		}
		if f, ok := d.finding(d.listeners[k], env); ok {
			out = append(out, f)
		}
	}
	// Scans whose listeners were all folded.
	for _, h := range sortedKeys(d.scans, func(a, b netip.Addr) bool { return a.Less(b) }) {
		if !done[h] {
			out = append(out, d.scanFinding(h, nil, env))
		}
	}
	return out
}

// hsScan is what scanFinding reports of a host's listeners whose
// attempts were all unanswered or refused: a port scan, or a host cut off.
type hsScan struct {
	ports                                       int
	fl                                          FlowList
	ex                                          exemplarSet
	hl                                          trFrames
	clients                                     map[netip.Addr]bool // up to 64
	attempts, unanswered, refused, syns, au, nc int64
	first, last                                 int64
}

func (d *handshake) newScan() *hsScan {
	return &hsScan{fl: NewFlowList(d.maxFlows), ex: exemplarSet{max: d.maxExemplars}, clients: map[netip.Addr]bool{}}
}

// absorb adds listener l to the scan.
func (s *hsScan) absorb(l *hsListener) {
	s.ports++
	for _, r := range l.flows.Refs() {
		s.fl.addRef(r)
		if len(s.clients) < 64 {
			s.clients[r.Client.Addr()] = true
		}
	}
	s.fl.count += l.flows.Count() - l.flows.kept()
	for _, c := range l.ex.best() {
		s.ex.offer(c, float64(l.attempts))
	}
	s.hl.add(l.hl.list()...)
	s.attempts += l.attempts
	s.unanswered += l.counts[hsSynUnanswered]
	s.refused += l.counts[hsRefused]
	s.syns += l.synsLost
	s.au += l.ackedUnseen
	s.nc += l.notCaptured
	if s.first == 0 || (l.first != 0 && l.first < s.first) {
		s.first = l.first
	}
	s.last = max(s.last, l.last)
}

// fold keeps the listener table bounded. When it holds nextFold listeners,
// those no finding needs in detail are folded away, the longest unseen
// first, until half of listenerCap remain:
//   - a listener with no failed connection (nothing but attempts) is
//     dropped; one that comes back counts its attempts from its return;
//   - a listener whose failures were all unanswered or refused SYNs, on a
//     host with at least hsScanPorts such listeners, is folded into the
//     host's port scan, which is what Finish reports of them anyway.
//
// A listener a pending SYN points to is kept. When too few can go, the
// table may grow to twice its size before the next pass (O(1) per
// listener added).
func (d *handshake) fold() {
	plain := map[netip.Addr]int{}
	for _, l := range d.listeners {
		if l.pendRefs == 0 && l.flows.Count() > 0 && l.onlyRejected() {
			plain[l.addr.Addr()]++
		}
	}
	scanMember := func(l *hsListener) bool {
		return l.pendRefs == 0 && l.flows.Count() > 0 && l.onlyRejected() &&
			(plain[l.addr.Addr()] >= hsScanPorts || d.scans[l.addr.Addr()] != nil)
	}
	quiet := func(l *hsListener) bool {
		return l.pendRefs == 0 && l.pendN == 0 && l.flows.Count() == 0 && len(l.counts) == 0
	}
	d.nextFold = foldTable(d.listeners, d.listenerCap,
		func(l *hsListener) netip.AddrPort { return l.addr },
		func(l *hsListener) bool { return quiet(l) || scanMember(l) },
		func(a, b *hsListener) bool {
			if a.seen != b.seen {
				return a.seen < b.seen
			}
			return hsLess(a.addr, b.addr)
		},
		func(l *hsListener) {
			if quiet(l) {
				d.foldedQuiet++
				return
			}
			s := d.scans[l.addr.Addr()]
			if s == nil {
				s = d.newScan()
				d.scans[l.addr.Addr()] = s
			}
			s.absorb(l)
			d.scanFolded++
		})
}

// onlyRejected reports whether every problem of l is an unanswered or
// refused SYN.
func (l *hsListener) onlyRejected() bool {
	for f, n := range l.counts {
		if n > 0 && f&^(hsSynUnanswered|hsRefused|hsPendingSYN) != 0 {
			return false
		}
	}
	return l.pendN == 0
}

// scanFinding reports many ports of one host whose SYNs went unanswered or
// were refused.
func (d *handshake) scanFinding(host netip.Addr, ls []*hsListener, env *Env) Finding {
	sc := d.scans[host]
	if sc == nil {
		sc = d.newScan()
	}
	for _, l := range ls {
		sc.absorb(l)
	}
	sev := Info
	if len(sc.clients) > 2 {
		sev = Warning // many clients failing on many ports: the host is cut off
	}
	f := Finding{Kind: KindHandshakeFailure, Severity: sev, Subject: host.String(), At: sc.first, Until: sc.last,
		Flows: sc.fl.Refs(), FlowCount: sc.fl.Count(), Exemplars: sc.ex.best(), Highlight: sc.hl.list()}
	f.Title = fmt.Sprintf("%s: connection attempts to %s ports failed (%s unanswered, %s refused, from %s)",
		host, count(sc.ports), count(sc.unanswered), count(sc.refused), trPlural(int64(len(sc.clients)), "client", "clients"))
	if sev == Info {
		f.Explanation = fmt.Sprintf("%s tried %s ports of %s; %s attempts got no answer and %s were refused. Probing many ports, most of them closed or filtered, is a port scan (or a service discovery), not a failing service.",
			strings.Join(sortedAddrs(sc.clients), ", "), count(sc.ports), host, count(sc.unanswered), count(sc.refused))
		f.Actions = []string{"If the scan is unexpected, find the scanning host and why it scans; otherwise ignore this finding."}
	} else {
		f.Explanation = fmt.Sprintf("%s clients failed to connect to %s ports of %s: %s attempts got no answer at all and %s were refused. The host is down, unreachable, or a firewall in front of it drops or rejects new connections.",
			count(len(sc.clients)), count(sc.ports), host, count(sc.unanswered), count(sc.refused))
		f.Actions = []string{"Check that the host is up and reachable, and the firewall rules and security groups in front of it."}
	}
	f.Evidence = []Metric{
		trMetric("ports", float64(sc.ports), "", "listeners with failed attempts"),
		trMetric("connection_attempts", float64(sc.attempts), "", ""),
		trMetric("syn_unanswered", float64(sc.unanswered), "", "no SYN-ACK and no RST"),
		trMetric("syns_lost", float64(sc.syns), "", ""),
		trMetric("refused", float64(sc.refused), "", "SYN answered by RST"),
		trMetric("clients", float64(len(sc.clients)), "", "distinct client addresses (up to 64)"),
	}
	f.Caveat = d.foldCaveat(CaptureCaveat(env, sc.au, sc.nc))
	return f
}

// foldCaveat adds to a finding's caveat what folding the listener table
// may have changed.
func (d *handshake) foldCaveat(c string) string {
	if d.foldedQuiet > 0 {
		c = strings.TrimSpace(c + " " + fmt.Sprintf("The capture has more listeners than this detector keeps in detail (%d): %d without any failed connection "+
			"were dropped on the way; a listener that came back after that counted its attempts from its return.", d.listenerCap, d.foldedQuiet))
	}
	if d.scanFolded > 0 {
		c = strings.TrimSpace(c + " " + fmt.Sprintf("%d listeners of port scans were folded into their host's finding on the way; a port probed again after that counts twice.", d.scanFolded))
	}
	return c
}

func sortedAddrs(m map[netip.Addr]bool) []string {
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a.String())
	}
	sort.Strings(out)
	return out
}

func hsLess(a, b netip.AddrPort) bool {
	if c := a.Addr().Compare(b.Addr()); c != 0 {
		return c < 0
	}
	return a.Port() < b.Port()
}

func (d *handshake) finding(l *hsListener, env *Env) (Finding, bool) {
	n := l.counts
	unanswered, refused := n[hsSynUnanswered], n[hsRefused]
	oneSided := n[hsDataUnacked] + n[hsHalfOpen]
	overflow := (unanswered > 0 || n[hsSynAckRetrans] > 0) && (l.pendN > 0 || n[hsDataUnacked] > 0)
	if overflow {
		for _, r := range l.pending {
			l.flows.addRef(r)
		}
		l.flows.count += int(l.pendN) - len(l.pending)
		oneSided += l.pendN
	}
	if l.flows.Count() == 0 {
		return Finding{}, false
	}
	// Silence is worse than a refusal: the client hangs for its connect
	// timeout instead of failing at once.
	share := float64(unanswered) / float64(max(l.attempts, 1))
	var sev Severity
	switch {
	case overflow:
		sev = Critical
	case unanswered >= 3 && share >= d.opt.HandshakeCritShare:
		sev = Critical
	case unanswered+refused > 0 || oneSided > 0:
		sev = Warning
	case n[hsSynRetrans]+n[hsSynAckRetrans] >= 3:
		sev = Warning
	default:
		sev = Info
	}

	f := Finding{Kind: KindHandshakeFailure, Severity: sev, Subject: l.addr.String(), At: l.first, Until: l.last,
		Flows: l.flows.Refs(), FlowCount: l.flows.Count(), Exemplars: l.ex.best(), Highlight: l.hl.list()}
	var parts []string
	if overflow {
		parts = append(parts, fmt.Sprintf("listen queue overflow: %s completed but never served", trPlural(oneSided, "connection", "connections")))
	}
	if unanswered > 0 {
		parts = append(parts, fmt.Sprintf("%s of %s connection attempts got no SYN-ACK (%s SYNs lost)", count(unanswered), count(l.attempts), count(l.synsLost)))
	}
	if refused > 0 {
		parts = append(parts, fmt.Sprintf("%s refused with RST", trPlural(refused, "attempt", "attempts")))
	}
	if k := n[hsSynRetrans]; k > 0 {
		parts = append(parts, fmt.Sprintf("%s answered only after a SYN retry", trPlural(k, "connection", "connections")))
	}
	if k := n[hsSynAckRetrans]; k > 0 {
		parts = append(parts, fmt.Sprintf("%s with the SYN-ACK resent", trPlural(k, "connection", "connections")))
	}
	if k := n[hsDataUnacked]; k > 0 && !overflow {
		parts = append(parts, fmt.Sprintf("%s whose request the server never ACKed", trPlural(k, "connection", "connections")))
	}
	if k := n[hsHalfOpen]; k > 0 {
		parts = append(parts, fmt.Sprintf("%s left half-open", trPlural(k, "handshake", "handshakes")))
	}
	f.Title = l.addr.String() + ": " + strings.Join(parts, "; ")

	retry := retryPattern(l.retries)
	var ex strings.Builder
	if overflow {
		if l.pendN > 0 {
			fmt.Fprintf(&ex, "The server's kernel completed %s into the accept queue of %s (it ACKed the clients' requests) but the application never took them: no response and no FIN ever came back. ",
				trPlural(l.pendN, "handshake", "handshakes"), l.addr)
		}
		if k := n[hsDataUnacked]; k > 0 {
			fmt.Fprintf(&ex, "On %s the client completed the handshake and sent its request, but the server never ACKed it and resent its SYN-ACK instead: the client's final ACK was dropped, as Linux does while the accept queue of %s is full. ",
				trPlural(k, "connection", "connections"), l.addr)
		}
		if unanswered > 0 {
			fmt.Fprintf(&ex, "Meanwhile %s later connection attempts were dropped without a SYN-ACK: Linux drops SYNs while the accept queue is full. ", count(unanswered))
		}
		ex.WriteString("The listener's accept queue (the backlog of listen()) overflowed because the application stopped calling accept(): it is hung, blocked, out of threads or file descriptors, or was started with a tiny backlog. ")
	} else if unanswered > 0 {
		fmt.Fprintf(&ex, "%s of %s connection attempts to %s got no answer at all: no SYN-ACK and no RST. The SYN was dropped on the way, by a firewall, or by the server (a full SYN or accept queue, a SYN flood protection); a closed port would have answered with RST. ",
			count(unanswered), count(l.attempts), l.addr)
	}
	if retry != "" {
		fmt.Fprintf(&ex, "The clients resent their SYNs %s. ", retry)
	}
	if refused > 0 {
		fmt.Fprintf(&ex, "%s answered with RST: nothing was listening on the port (or a firewall rejected it). ", trPlural(refused, "attempt was", "attempts were"))
	}
	if k := n[hsSynAckRetrans]; k > 0 {
		fmt.Fprintf(&ex, "The server resent its SYN-ACK on %s: the client's final ACK did not arrive (lost, or dropped by a full accept queue). ", trPlural(k, "connection", "connections"))
	}
	if k := n[hsSynRetrans]; k > 0 {
		fmt.Fprintf(&ex, "%s succeeded only after a SYN retry, which costs the client at least a second. ", trPlural(k, "connection", "connections"))
	}
	if k := n[hsDataUnacked]; k > 0 && !overflow {
		fmt.Fprintf(&ex, "On %s the client believed the connection was open and sent data that the server never ACKed: the server had no established socket for it. ", trPlural(k, "connection", "connections"))
	}
	f.Explanation = strings.TrimSpace(ex.String())
	switch {
	case overflow:
		f.Actions = []string{
			"Check the listener with ss -ltn (Recv-Q at or above Send-Q means the accept queue is full) and nstat -az TcpExtListenOverflows TcpExtListenDrops.",
			"Find why the application stopped accepting (thread dump, blocked acceptor thread, file descriptor limit) and raise the listen backlog (and net.core.somaxconn) only after that.",
		}
	case unanswered > 0:
		f.Actions = []string{
			"Check that the server is up and that no firewall or security group drops SYNs to this port (a capture on the server shows whether they arrive).",
			"On the server: nstat -az TcpExtListenDrops TcpExtTCPReqQFullDrop, and ss -ltn for a full accept queue.",
		}
	case refused > 0:
		f.Actions = []string{"Check that the service listens on this address and port (ss -ltn) and that clients use the right port."}
	default:
		f.Actions = []string{"Look for packet loss between client and server during connection setup; a lost SYN or SYN-ACK costs a full retransmission timeout (1 s on Linux)."}
	}
	f.Evidence = []Metric{
		trMetric("connection_attempts", float64(l.attempts), "", "connections with a SYN in the capture"),
		trMetric("syn_unanswered", float64(unanswered), "", "no SYN-ACK and no RST"),
		trMetric("syns_lost", float64(l.synsLost), "", "SYNs of those connections"),
		trMetric("refused", float64(refused), "", "SYN answered by RST"),
		trMetric("syn_retransmitted", float64(n[hsSynRetrans]), "", "answered after a SYN retry"),
		trMetric("synack_retransmitted", float64(n[hsSynAckRetrans]), "", "SYN-ACK resent"),
		trMetric("one_sided", float64(oneSided), "", "handshake completed at the client, connection never served"),
	}
	if len(l.synAckDelays) > 0 {
		f.Evidence = append(f.Evidence, trMetric("syn_to_synack_s", round3(Median(append([]float64(nil), l.synAckDelays...))*1e3)/1e3, "s", "median, answered connections"))
	}
	if retry != "" {
		f.Evidence = append(f.Evidence, Metric{Name: "syn_retry_times", Value: float64(len(l.retries)), Note: retry})
	}
	f.Caveat = d.foldCaveat(CaptureCaveat(env, l.ackedUnseen, l.notCaptured))
	if len(l.retries) > 0 {
		ch := Chart{ID: "handshake-failure-" + chartKey(l.addr.String()) + "-syn", Title: "SYN retry times, " + l.addr.String(),
			XLabel: "SYN number", YLabel: "seconds after the first SYN", Type: ChartScatter}
		var pts []Point
		for _, ts := range l.retries {
			for i, t := range ts {
				pts = append(pts, Point{X: float64(i + 1), Y: round3(t)})
			}
		}
		ch.Series = []Series{{Name: "SYN sent", Points: pts}}
		f.Charts = []Chart{ch}
	}
	return f, true
}

// addRef counts a connection known only by its reference and lists it
// while there is room.
func (l *FlowList) addRef(r FlowRef) {
	l.count++
	if l.list.len() < l.max {
		l.list.add(r)
	}
}

// retryPattern describes the SYN retry intervals: "after 1 s and 2 s
// (intervals 1 s, 1 s: linear)".
func retryPattern(retries [][]float64) string {
	var best []float64
	for _, r := range retries {
		if len(r) > len(best) {
			best = r
		}
	}
	if len(best) < 2 {
		return ""
	}
	var at, iv []string
	var ivs []float64
	for i := 1; i < len(best); i++ {
		at = append(at, trDur(best[i]))
		d := best[i] - best[i-1]
		ivs = append(ivs, d)
		iv = append(iv, trDur(d))
	}
	kind := ""
	if len(ivs) >= 2 {
		doubling, same := true, true
		for i := 1; i < len(ivs); i++ {
			q := ivs[i] / ivs[i-1]
			doubling = doubling && q >= 1.6 && q <= 2.5
			same = same && q >= 0.8 && q <= 1.25
		}
		switch {
		case doubling:
			kind = ", doubling each time (exponential backoff)"
		case same:
			kind = ", at a fixed interval (Linux's tcp_syn_linear_timeouts)"
		}
	}
	return fmt.Sprintf("%s after the first (intervals %s%s)", strings.Join(at, ", "), strings.Join(iv, ", "), kind)
}
