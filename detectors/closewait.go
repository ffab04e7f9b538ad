package detectors

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func closeWaitSpec() *Spec {
	return &Spec{
		Kind:     KindCloseWaitLeak,
		Title:    "sockets left in CLOSE_WAIT: the peer closed, the application never did",
		Severity: Critical,
		Doc: `A side received the peer's FIN, its kernel ACKed it (the socket moved to
CLOSE_WAIT), and the application never sent its own FIN: not within the grace
period (CloseWaitGrace), or not before the capture ended. Findings aggregate
per holder: the server's sockets on one listener, or one client host's sockets
to one listener. Younger half-closed sockets at the end of the capture join a
finding only when older sockets of the same holder show the leak; a lone young
one is never reported. A legitimate half-close (the holder keeps writing its
response after the FIN, then closes) is not a leak; neither is a socket the
peer reset, nor one whose writes after the FIN are still being retransmitted
(write-after-fin-blackholed).`,
		New: func(cfg *Config) Detector { return newCloseWait(cfg) },
	}
}

// leakCause is what a leaked socket had been doing, for the explanation.
type leakCause uint8

const (
	causeOther         leakCause = iota
	causeProbe                   // connect-and-close probe, no data
	causeTLS                     // TLS handshake never finished
	causeUnanswered              // request ACKed, never answered
	causeAfterExchange           // request and response done, then the client's FIN
	causeNoData                  // connected, nothing sent, client closed (not a quick probe)
	causeIdleClose               // the server closed after an idle period
	causeServerClose             // the server closed (not idle)
	causeWroteAfter              // the holder wrote after the FIN, then stopped
	numLeakCauses
)

// leakCauseOf classifies a leaked socket.
func leakCauseOf(c *flows.Conn, hc halfClose, opt *TeardownOptions) leakCause {
	switch {
	case hc.Holder == flows.Resp && isProbe(c, ns(opt.ProbeMaxLifetime)):
		return causeProbe
	case c.App().TLS.Seen && !c.App().TLS.HandshakeComplete:
		return causeTLS
	case hc.LastWrite != 0:
		return causeWroteAfter
	}
	if hc.Holder == flows.Resp {
		t, ok := lastTurnBefore(c, hc.PeerFIN)
		switch {
		case !ok:
			return causeNoData
		case t.Dir == flows.Orig:
			return causeUnanswered
		}
		return causeAfterExchange
	}
	if idle, _, _, ok := idleBefore(c, hc.PeerFIN); ok && idle >= ns(opt.MinIdleTimeout) {
		return causeIdleClose
	}
	return causeServerClose
}

// leakRec is one half-closed socket remembered until Finish decides.
type leakRec struct {
	peerFIN   int64
	idleStart int64
	closeTS   int64   // the holder's late FIN or RST (0 = open at the end)
	idle      float64 // causeIdleClose: how long the connection was idle before the peer's FIN
	// silentSince is when the holder's silence began for a request it never
	// answered (the request, or the TLS ClientHello): a holder that has left
	// a request unanswered for the grace period is not about to close.
	silentSince int64
	ref         uint32 // in the detector's refTab
	quiet       bool   // the holder wrote nothing after the FIN
	cause       leakCause
}

// old reports whether the socket shows the leak on its own at capture end.
func (r *leakRec) old(end, grace int64) bool {
	return r.closeTS != 0 || end-r.idleStart >= grace || (r.silentSince != 0 && end-r.silentSince >= grace)
}

// recCap bounds the half-closed sockets remembered per holder; beyond it
// sockets are classified on arrival against the latest time seen.
func (b *teardownBase) recCap() int { return max(b.maxFlows, 10_000) }

type closeWaitGroup struct {
	recs []leakRec
	// Sockets beyond recCap, classified on arrival.
	overOld, overYoung, overClosed int
	overRefs                       refList
	overAges                       durSample
	overTimeline                   *timeline
	overCauses                     [numLeakCauses]int
	// answered is how long the holder took to close when it did so in time.
	answered durSample
	ex       exemplarSet
	// probes holds, for a server group, the start times of connect-and-close
	// probes per source host (first sampleCap), answered or not: a steady
	// checker makes its young unanswered probes a pattern.
	probes map[netip.Addr][]int64
}

// closeWait implements close-wait-leak.
type closeWait struct {
	teardownBase
	groups map[sockGroup]*closeWaitGroup
}

func newCloseWait(cfg *Config) *closeWait {
	return &closeWait{teardownBase: newTeardownBase(cfg), groups: make(map[sockGroup]*closeWaitGroup)}
}

// ConnDone implements Detector.
func (d *closeWait) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	if isProbe(c, ns(d.opt.ProbeMaxLifetime)) {
		if g := d.group(groupOf(c, flows.Resp)); g != nil {
			d.noteProbe(g, c)
		}
	}
	hc, ok := halfCloseOf(c)
	if !ok {
		return
	}
	switch {
	case hc.How == peerRST:
		return // the peer reset it: the socket is gone (write-after-fin-reset)
	case hc.How == stillOpen && hc.WriteUnacked:
		return // still retransmitting its writes (write-after-fin-blackholed)
	}
	key := groupOf(c, hc.Holder)
	if hc.How != stillOpen && hc.CloseTS-hc.idleStart() < d.grace() {
		// Answered in time. Server groups keep the figure for comparison;
		// client groups (one per client host) are made only by leaks.
		if g := d.groups[key]; g != nil || key.Side == flows.Resp {
			if g = d.group(key); g != nil {
				g.answered.add(Seconds(hc.CloseTS - hc.PeerFIN))
			}
		}
		return
	}
	g := d.group(key)
	if g == nil {
		return
	}
	rec := leakRec{peerFIN: hc.PeerFIN, idleStart: hc.idleStart(), quiet: hc.LastWrite == 0,
		cause: leakCauseOf(c, hc, &d.opt)}
	if rec.cause == causeIdleClose {
		idle, _, _, _ := idleBefore(c, hc.PeerFIN)
		rec.idle = Seconds(idle)
	}
	if hc.How != stillOpen {
		rec.closeTS = hc.CloseTS
	}
	switch {
	case rec.cause == causeUnanswered:
		if t, ok := lastTurnBefore(c, hc.PeerFIN); ok {
			rec.silentSince = t.EndTS
		}
	case rec.cause == causeTLS && c.App().TLS.ClientHelloTS != 0 && c.Resp.Bytes == 0:
		rec.silentSince = c.App().TLS.ClientHelloTS
	}
	if d.keep(len(g.recs)) {
		rec.ref = d.ref(c)
		g.recs = append(g.recs, rec)
	} else {
		d.overflow(g, rec, Ref(c))
	}
	score := -Seconds(rec.idleStart)
	if !rec.quiet {
		score -= 1e12 // prefer sockets that went quiet
	}
	g.ex.offer(c, score)
}

// noteProbe remembers a probe's start for the cadence of its source.
func (d *closeWait) noteProbe(g *closeWaitGroup, c *flows.Conn) {
	if g.probes == nil {
		g.probes = make(map[netip.Addr][]int64)
	}
	if h := c.Orig.Addr.Addr(); len(g.probes[h]) < sampleCap {
		g.probes[h] = append(g.probes[h], c.FirstTS)
	}
}

// group returns the state of a group, creating it; nil when the detector
// tracks too many groups already.
func (d *closeWait) group(key sockGroup) *closeWaitGroup {
	g := groupFor(d.groups, key, func() *closeWaitGroup {
		return &closeWaitGroup{ex: d.exemplars(), overRefs: d.refs(), answered: durSample{limit: 256}}
	})
	if g == nil {
		d.dropped++
	}
	return g
}

// overflow classifies a socket beyond what keep allows with the latest time
// seen; ref is its flow (r.ref is not set).
func (d *closeWait) overflow(g *closeWaitGroup, r leakRec, ref FlowRef) {
	if g.overTimeline == nil {
		g.overTimeline = newTimeline()
	}
	switch {
	case r.closeTS != 0:
		g.overClosed++
		g.overAges.add(Seconds(r.closeTS - r.peerFIN))
		g.overTimeline.add(r.closeTS, -1)
	case r.old(d.now, d.grace()):
		g.overOld++
		g.overAges.add(Seconds(d.now - r.peerFIN))
	case r.quiet:
		g.overYoung++
		g.overAges.add(Seconds(d.now - r.peerFIN))
	default:
		return
	}
	g.overTimeline.add(r.peerFIN, 1)
	g.overRefs.add(ref)
	g.overCauses[r.cause]++
}

// maxClientGroups is how many client hosts of one listener get their own
// close-wait-leak finding; beyond it they are reported together ("clients
// of 10.0.0.5:8080"), so a fleet of clients makes one finding, not thousands.
const maxClientGroups = 20

// Finish implements Detector.
func (d *closeWait) Finish(env *Env) []Finding {
	var out []Finding
	end := d.end(env)
	d.mergeClients()
	for _, key := range sortedGroups(d.groups) {
		if f, ok := d.finding(key, d.groups[key], end, env); ok {
			out = append(out, f)
		}
	}
	return out
}

func (d *closeWait) finding(key sockGroup, g *closeWaitGroup, end int64, env *Env) (Finding, bool) {
	grace := d.grace()
	var old, young []leakRec
	for _, r := range g.recs {
		switch {
		case r.old(end, grace):
			old = append(old, r)
		case r.quiet:
			young = append(young, r)
		}
	}
	nOld := len(old) + g.overOld + g.overClosed
	nYoung := len(young) + g.overYoung
	sev := Warning
	switch {
	case nOld > 0:
		// Old leaks pull in the young sockets that were doing the same
		// thing (probes with probes, idle closes with idle closes): a young
		// socket of another kind may still be a close about to happen.
		var causes [numLeakCauses]bool
		for _, r := range old {
			causes[r.cause] = true
		}
		for c, n := range g.overCauses {
			causes[c] = causes[c] || n > 0
		}
		kept := young[:0]
		for _, r := range young {
			if causes[r.cause] {
				kept = append(kept, r)
			}
		}
		young = kept
	case nYoung >= d.opt.YoungPattern:
		sev = Info
	default:
		// Young sockets the peer closed after one consistent idle time (the
		// peer's idle timeout, and a holder that does not react to it), or
		// probes of a steady health checker the server never answered.
		young = append(d.idlePattern(young), d.probePattern(g, young)...)
		if len(young) == 0 {
			return Finding{}, false
		}
		sev = Info
	}
	members := append(old, young...)
	refs := d.refs()
	in := make(map[int64]bool, len(members))
	var ages durSample
	tl := newTimeline()
	causes := g.overCauses
	open, closedLate := g.overOld+g.overYoung, g.overClosed
	first, last := int64(0), int64(0)
	for _, r := range members {
		ref := d.tab.at(r.ref)
		refs.add(ref)
		in[ref.ID] = true
		causes[r.cause]++
		tl.add(r.peerFIN, 1)
		if r.closeTS != 0 {
			closedLate++
			ages.add(Seconds(r.closeTS - r.peerFIN))
			tl.add(r.closeTS, -1)
		} else {
			open++
			ages.add(Seconds(end - r.peerFIN))
		}
		if first == 0 || r.peerFIN < first {
			first = r.peerFIN
		}
		last = max(last, r.peerFIN)
	}
	for _, v := range g.overAges.vals {
		ages.add(v)
	}
	for _, r := range g.overRefs.list() {
		refs.add(r)
		in[r.ID] = true
	}
	refs.count += g.overRefs.count - g.overRefs.kept()
	if g.overTimeline != nil {
		for k, v := range g.overTimeline.buckets {
			tl.add(k*g.overTimeline.width, v)
		}
	}
	total := refs.count
	switch {
	case open >= d.opt.CriticalSockets:
		sev = Critical
	case open == 0 && closedLate < d.opt.YoungPattern:
		// A few sockets that were closed, only late: a slow application
		// rather than a leak.
		sev = Info
	}
	ex := g.ex.conns(func(id int64) bool { return in[id] })

	f := Finding{
		Kind:      KindCloseWaitLeak,
		Severity:  sev,
		Subject:   key.String(),
		At:        first,
		Until:     end,
		Flows:     refs.sorted(),
		FlowCount: total,
		Exemplars: ex,
	}
	f.Title = closeWaitTitle(key, total, open, ages.max, nOld == 0, d.opt)
	f.Explanation = closeWaitExplanation(key, total, total-len(young)-g.overYoung, open, closedLate, &ages, &g.answered, causes, first, last, env, d.opt)
	f.Actions = closeWaitActions(key, causes)
	f.Evidence = append(f.Evidence,
		metric("sockets", float64(total), "", "half-closed sockets held past the grace period, plus younger ones of the same holder"),
		metric("open_at_capture_end", float64(open), "", "still in CLOSE_WAIT when the capture ended"),
		metric("closed_late", float64(closedLate), "", "closed, but only after the grace period"),
		metric("answered_in_time", float64(g.answered.n), "", "FINs of the same holder answered within the grace period"),
	)
	f.Evidence = append(f.Evidence, secondsMetrics("age", &ages, "time since the peer's FIN (to the capture end, or to the late close)")...)
	if g.answered.n > 0 {
		f.Evidence = append(f.Evidence, metric("normal_close_delay_p50_s", g.answered.median(), "s", "how fast the holder closes when it does"))
	}
	if rate, ok := perMinute(total, first, last); ok {
		f.Evidence = append(f.Evidence, metric("accumulation_per_min", rate, "1/min", "new leaked sockets per minute"))
	}
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 {
		hc, _ := halfCloseOf(c)
		return []int64{hc.PeerFINFrame}
	})
	f.Caveat = d.caveat(env)
	if pts := tl.points(envStart(env, first), true); len(pts) > 1 {
		f.Charts = append(f.Charts, Chart{
			ID:     key.chartID(KindCloseWaitLeak, "accumulation"),
			Title:  "Sockets of " + key.String() + " in CLOSE_WAIT over time",
			XLabel: "seconds into the capture",
			YLabel: "sockets in CLOSE_WAIT",
			Type:   ChartLine,
			Series: []Series{{Name: "CLOSE_WAIT", Points: pts}},
		})
	}
	return f, true
}

// idlePattern returns the young sockets that the peer closed after the
// same idle time (at least TimeoutSamples of them): a timer on the peer's
// side that the holder never answers.
func (d *closeWait) idlePattern(young []leakRec) []leakRec {
	var vals []float64
	for _, r := range young {
		if r.cause == causeIdleClose {
			vals = append(vals, r.idle)
		}
	}
	cl := densestCluster(vals, d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	if !cl.consistent(d.opt.TimeoutSamples) {
		return nil
	}
	lo, hi := cl.memberBand(d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	var out []leakRec
	for _, r := range young {
		if r.cause == causeIdleClose && r.idle >= lo && r.idle <= hi {
			out = append(out, r)
		}
	}
	return out
}

// probePattern returns the young unanswered probes whose source probes the
// listener at a steady cadence (at least MinProbes probes), when there are
// at least minProbePattern of them.
func (d *closeWait) probePattern(g *closeWaitGroup, young []leakRec) []leakRec {
	var out []leakRec
	for _, r := range young {
		starts := g.probes[d.tab.at(r.ref).Client.Addr()]
		if r.cause == causeProbe && len(starts) >= d.opt.MinProbes && probeCadence(starts, d.opt.CadenceTolerance).Steady {
			out = append(out, r)
		}
	}
	if len(out) < minProbePattern {
		return nil
	}
	return out
}

// minProbePattern is how many young unanswered probes of a steady checker
// make a pattern: one could be a close about to happen, two in a row at
// the checker's cadence are not.
const minProbePattern = 2

// mergeClients folds the client-host groups of a listener into one group
// when there are more than maxClientGroups of them.
func (d *closeWait) mergeClients() {
	per := make(map[netip.AddrPort][]sockGroup)
	for k, g := range d.groups {
		if k.Side == flows.Orig && len(g.recs)+g.overRefs.count > 0 {
			per[k.Listener] = append(per[k.Listener], k)
		}
	}
	for l, keys := range per {
		if len(keys) <= maxClientGroups {
			continue
		}
		sort.Slice(keys, func(i, j int) bool { return keys[i].less(keys[j]) })
		m := &closeWaitGroup{ex: d.exemplars(), overRefs: d.refs(), answered: durSample{limit: 256}}
		for _, k := range keys {
			g := d.groups[k]
			delete(d.groups, k)
			for _, r := range g.recs {
				if len(m.recs) < d.recCap() {
					m.recs = append(m.recs, r) // kept already
				} else {
					d.overflow(m, r, d.tab.at(r.ref))
				}
			}
			m.overOld += g.overOld
			m.overYoung += g.overYoung
			m.overClosed += g.overClosed
			for _, r := range g.overRefs.list() {
				m.overRefs.add(r)
			}
			m.overRefs.count += g.overRefs.count - g.overRefs.kept()
			for _, v := range g.overAges.vals {
				m.overAges.add(v)
			}
			if g.overTimeline != nil {
				if m.overTimeline == nil {
					m.overTimeline = newTimeline()
				}
				for b, v := range g.overTimeline.buckets {
					m.overTimeline.add(b*g.overTimeline.width, v)
				}
			}
			for c, n := range g.overCauses {
				m.overCauses[c] += n
			}
			for _, v := range g.answered.vals {
				m.answered.add(v)
			}
			for _, it := range g.ex.items {
				m.ex.put(it.f, it.score)
			}
		}
		d.groups[sockGroup{Side: flows.Orig, Listener: l}] = m
	}
}

// perMinute returns the rate of n events between first and last, per minute,
// when they spread over at least 2 s.
func perMinute(n int, first, last int64) (float64, bool) {
	if n < 3 || last-first < 2e9 {
		return 0, false // a burst, not a rate
	}
	return float64(n-1) / Seconds(last-first) * 60, true
}

// envStart returns the capture's start, or fallback.
func envStart(env *Env, fallback int64) int64 {
	if env != nil && env.Start != 0 {
		return env.Start
	}
	return fallback
}

// teardownCaveat warns when the capture itself may explain missing packets.
func teardownCaveat(env *Env) string {
	if env == nil {
		return ""
	}
	switch {
	case env.HasDropped && env.Dropped > 0:
		return "the capture dropped " + count(env.Dropped) + " packets: a FIN or RST may be missing from it"
	case len(env.ReadErrors) > 0:
		return "the capture file is cut off or damaged: " + env.ReadErrors[0]
	case env.Interrupted != "":
		return "the analysis was interrupted (" + env.Interrupted + "): a FIN or RST may have come after that point"
	}
	return ""
}

func closeWaitTitle(key sockGroup, total, open int, oldest float64, youngOnly bool, opt TeardownOptions) string {
	var who string
	if key.Side == flows.Resp {
		who = fmt.Sprintf("%s on %s", plural(total, "server socket", "server sockets"), key.Listener)
	} else if key.Host.IsValid() {
		who = fmt.Sprintf("%s from %s to %s", plural(total, "client socket", "client sockets"), key.Host, key.Listener)
	} else {
		who = fmt.Sprintf("%s of many hosts to %s", plural(total, "client socket", "client sockets"), key.Listener)
	}
	if youngOnly {
		return fmt.Sprintf("%s still in CLOSE_WAIT when the capture ended (%s after the %s's FIN at most, too soon to call a leak)",
			who, fmtSec(oldest), key.peerName())
	}
	if open == 0 {
		return fmt.Sprintf("%s stayed in CLOSE_WAIT for up to %s after the %s's FIN before closing",
			who, fmtSec(oldest), key.peerName())
	}
	return fmt.Sprintf("%s never closed after the %s's FIN (%s still in CLOSE_WAIT at the end, oldest %s)",
		who, key.peerName(), count(open), fmtSec(oldest))
}

// leakCauseInfo names each cause (singular, plural) and explains it.
var leakCauseInfo = [numLeakCauses]struct{ one, many, why string }{
	causeOther: {"other connection", "other connections", ""},
	causeProbe: {"connect-and-close probe", "connect-and-close probes",
		"A connect-and-close probe (handshake, then an immediate FIN, no data) is the signature of a health checker: " +
			"the server accepted these and never closed them (see healthcheck-fin-unanswered; in incident 001 the acceptor " +
			"hit OutOfMemoryError while registering such sockets and never closed them)."},
	causeTLS: {"abandoned TLS handshake", "abandoned TLS handshakes",
		"The client gave up on the TLS handshake before it finished and the server never closed its end " +
			"(see tls-handshake-abandoned; in incident 000 the handshake loop never gave the socket up)."},
	causeUnanswered: {"unanswered request", "unanswered requests",
		"The server's kernel acknowledged the request but the application never answered it: it never read it " +
			"(the socket was never accepted, or its worker is stuck)."},
	causeAfterExchange: {"connection closed by the client after its exchange", "connections closed by the client after their exchange",
		"Request and response were complete before the client's FIN: the application was done with the connection " +
			"but never closed it after reading EOF."},
	causeNoData: {"connection without data", "connections without data",
		"The client opened the connection and later closed it without sending anything; the server application never closed its end."},
	causeIdleClose: {"keep-alive connection the server closed when idle", "keep-alive connections the server closed when idle",
		"The server closed idle keep-alive connections (see idle-timeout-close) and the client application never read " +
			"the EOF nor closed its pooled socket (incident 002)."},
	causeServerClose: {"connection the server closed", "connections the server closed",
		"The server closed the connection and the client application never closed its end."},
	causeWroteAfter: {"connection written to after the FIN", "connections written to after the FIN",
		"The holder kept writing after the FIN, then stopped without closing."},
}

// causeSentences explains what the leaked sockets had been doing.
func causeSentences(causes [numLeakCauses]int) string {
	var parts, whys []string
	order := []leakCause{causeProbe, causeTLS, causeUnanswered, causeAfterExchange, causeNoData,
		causeIdleClose, causeServerClose, causeWroteAfter, causeOther}
	for _, c := range order {
		n := causes[c]
		if n == 0 {
			continue
		}
		info := leakCauseInfo[c]
		label := info.many
		if n == 1 {
			label = info.one
		}
		parts = append(parts, fmt.Sprintf("%d %s", n, label))
		if info.why != "" {
			whys = append(whys, info.why)
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return "What they had been doing: " + strings.Join(parts, ", ") + ". " + strings.Join(whys, " ")
}

func closeWaitExplanation(key sockGroup, total, nOld, open, closedLate int, ages, answered *durSample,
	causes [numLeakCauses]int, first, last int64, env *Env, opt TeardownOptions) string {
	var b strings.Builder
	holder, peer := key.sideName(), key.peerName()
	fmt.Fprintf(&b, "The %s closed its side of these connections (FIN) and the %s's kernel acknowledged it, so each %s socket "+
		"moved to CLOSE_WAIT. A socket leaves CLOSE_WAIT only when the application calls close(); ", peer, holder, holder)
	grace := fmtSec(opt.CloseWaitGrace.Seconds())
	switch young := total - nOld; {
	case young == 0:
		fmt.Fprintf(&b, "for %s that did not happen within %s.", plural(total, "socket", "sockets"), grace)
	case nOld == 0:
		fmt.Fprintf(&b, "%s had not been closed when the capture ended, all less than %s after the FIN: too soon to call "+
			"a leak one by one, but they form a pattern.", plural(total, "socket", "sockets"), grace)
	default:
		fmt.Fprintf(&b, "for %s that did not happen within %s, and %d younger ones of the same kind had not been closed "+
			"when the capture ended either.", plural(nOld, "socket", "sockets"), grace, young)
	}
	if open > 0 {
		fmt.Fprintf(&b, " %d were still open when the capture ended", open)
		if ages.n > 0 {
			fmt.Fprintf(&b, " (ages: median %s, p99 %s, max %s)", fmtSec(ages.median()), fmtSec(ages.quantile(0.99)), fmtSec(ages.max))
		}
		b.WriteString(".")
	}
	if closedLate > 0 {
		fmt.Fprintf(&b, " %d were closed eventually, but only after the grace period.", closedLate)
	}
	if first != 0 {
		fmt.Fprintf(&b, " The first leaked socket got its FIN at %s", fmtAt(first, envStart(env, 0)))
		if rate, ok := perMinute(total, first, last); ok {
			fmt.Fprintf(&b, "; they accumulated at %.1f per minute until %s", rate, fmtClock(last))
		}
		b.WriteString(".")
	}
	if answered.n > 0 {
		fmt.Fprintf(&b, " In the same capture the %s closed %s in time (median %s after the FIN), so the leak hits only some connections.",
			holder, plural(answered.n, "other connection", "other connections"), fmtSec(answered.median()))
	}
	if s := causeSentences(causes); s != "" {
		b.WriteString(" ")
		b.WriteString(s)
	}
	b.WriteString(" Every leaked socket keeps a file descriptor and kernel memory until the process exits or TCP keepalive reaps it;" +
		" enough of them exhaust the process's descriptors or its threads.")
	return b.String()
}

func closeWaitActions(key sockGroup, causes [numLeakCauses]int) []string {
	port := key.Listener.Port()
	var acts []string
	if key.Side == flows.Resp {
		acts = append(acts,
			fmt.Sprintf("Find the process that holds them: `ss -tanp state close-wait '( sport = :%d )'` on %s, then a thread dump to see where it accepts and reads sockets.", port, key.Listener.Addr()),
			"Make every path that accepts or reads a socket close it, errors included (finally / try-with-resources / defer): accept and event-registration failures, handshake timeouts, read timeouts.")
		if causes[causeProbe] > 0 {
			acts = append(acts, "Check the acceptor's error handling under memory pressure: a failed registration after accept() must close the socket (incident 001).")
		}
		if causes[causeTLS] > 0 {
			acts = append(acts, "Bound the TLS handshake with a timeout that closes the socket, and upgrade the server's TLS stack (incident 000).")
		}
		if causes[causeUnanswered] > 0 {
			acts = append(acts, "Check that the server accepts and reads every connection: a full accept queue or stuck workers leave requests unread.")
		}
	} else {
		host := "the client hosts"
		if key.Host.IsValid() {
			host = key.Host.String()
		}
		acts = append(acts,
			fmt.Sprintf("Find the process that holds them: `ss -tanp state close-wait '( dport = :%d )'` on %s.", port, host),
			"Make the client close a connection as soon as a read returns EOF (-1 / 0 bytes), and have the pool validate idle connections or evict them before the server's idle timeout (incident 002).")
	}
	acts = append(acts, "TCP keepalive (or an application idle timer) only reaps leaked sockets eventually; the fix is the missing close().")
	return acts
}
