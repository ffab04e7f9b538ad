package detectors

import (
	"fmt"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func healthcheckSpec() *Spec {
	return &Spec{
		Kind:     KindHealthcheckFINUnanswered,
		Title:    "health-check probes whose FIN the server never answers",
		Severity: Critical,
		Doc: `Short probe connections (handshake, then an immediate FIN from the initiator
within ProbeMaxLifetime, no data in either direction) from one source to one
listener, at least MinProbes of them, where the server's kernel ACKs the probe's
FIN but the server never sends its own: one CLOSE_WAIT socket per probe
(incident 001). The detector infers the checker's cadence (probe_interval_s,
the median interval when at least 60 % of the intervals are within
CadenceTolerance of it) and says when the server stopped answering: before the
capture (no probe answered), at a point in time (answered, then never), or
intermittently. Probes answered with the server's FIN within CloseWaitGrace are
healthy; unanswered probes younger than the grace at the end of the capture
are reported only with older ones, or (info) when at least two of them
follow a steady cadence.`,
		New: func(cfg *Config) Detector { return newHealthcheck(cfg) },
	}
}

type probeOutcome struct {
	ts       int64 // the probe's FIN
	answered bool
}

type probeRec struct {
	fin     int64
	closeTS int64  // the server's late FIN or RST (0 = never)
	ref     uint32 // in the detector's refTab
}

type probeGroup struct {
	probes     int
	starts     []int64 // probe SYN times (first sampleCap)
	outcomes   []probeOutcome
	unanswered []probeRec
	over       int // unanswered probes beyond recCap
	overOld    int
	overRefs   refList
	answered   durSample // the server's FIN delay when it answered
	unknown    int       // FIN never seen ACKed: outcome unknown
	ex         exemplarSet
	all, lost  *timeline
	first      int64
	last       int64
}

// healthcheck implements healthcheck-fin-unanswered.
type healthcheck struct {
	teardownBase
	groups map[sockGroup]*probeGroup
}

func newHealthcheck(cfg *Config) *healthcheck {
	return &healthcheck{teardownBase: newTeardownBase(cfg), groups: make(map[sockGroup]*probeGroup)}
}

// ConnDone implements Detector.
func (d *healthcheck) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	if !isProbe(c, ns(d.opt.ProbeMaxLifetime)) {
		return
	}
	key := groupOf(c, flows.Orig)
	g := groupFor(d.groups, key, func() *probeGroup {
		return &probeGroup{ex: d.exemplars(), overRefs: d.refs(), all: newTimeline(), lost: newTimeline()}
	})
	if g == nil {
		d.dropped++
		return
	}
	g.probes++
	start := c.SYNTS
	if start == 0 {
		start = c.FirstTS
	}
	if len(g.starts) < sampleCap {
		g.starts = append(g.starts, start)
	}
	if g.first == 0 || start < g.first {
		g.first = start
	}
	g.last = max(g.last, start)
	g.all.add(start, 1)

	fin := c.Orig.FINTS
	srvClose := c.Resp.FINTS
	if c.Resp.RSTTS != 0 && (srvClose == 0 || c.Resp.RSTTS < srvClose) {
		srvClose = c.Resp.RSTTS
	}
	answered := false
	switch {
	case srvClose != 0 && srvClose-fin < d.grace():
		answered = true
		g.answered.add(Seconds(srvClose - fin))
	case srvClose == 0 && c.Orig.FINAckedTS == 0:
		g.unknown++
		return
	}
	if len(g.outcomes) < sampleCap {
		g.outcomes = append(g.outcomes, probeOutcome{ts: fin, answered: answered})
	}
	if answered {
		return
	}
	g.lost.add(start, 1)
	rec := probeRec{fin: fin, closeTS: srvClose}
	if d.keep(len(g.unanswered)) {
		rec.ref = d.ref(c)
		g.unanswered = append(g.unanswered, rec)
	} else {
		g.over++
		if rec.closeTS != 0 || d.now-rec.fin >= d.grace() {
			g.overOld++
		}
		g.overRefs.add(Ref(c))
	}
	g.ex.offer(c, -Seconds(fin))
}

// Finish implements Detector.
func (d *healthcheck) Finish(env *Env) []Finding {
	var out []Finding
	end := d.end(env)
	for _, key := range sortedGroups(d.groups) {
		if f, ok := d.finding(key, d.groups[key], end, env); ok {
			out = append(out, f)
		}
	}
	return out
}

// cadence is the checker's probe interval.
type cadence struct {
	Interval float64 // median interval, seconds
	Steady   bool    // most intervals are close to it
	Share    float64 // share of intervals within tolerance
}

// probeCadence reads the interval off sorted probe start times.
func probeCadence(starts []int64, tol float64) cadence {
	if len(starts) < 3 {
		return cadence{}
	}
	s := append([]int64(nil), starts...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	iv := make([]float64, 0, len(s)-1)
	for i := 1; i < len(s); i++ {
		iv = append(iv, Seconds(s[i]-s[i-1]))
	}
	m := Median(append([]float64(nil), iv...))
	if m <= 0 {
		return cadence{}
	}
	in := 0
	for _, x := range iv {
		if x >= m*(1-tol) && x <= m*(1+tol) {
			in++
		}
	}
	share := float64(in) / float64(len(iv))
	return cadence{Interval: m, Steady: share >= 0.6, Share: share}
}

func (d *healthcheck) finding(key sockGroup, g *probeGroup, end int64, env *Env) (Finding, bool) {
	if g.probes < d.opt.MinProbes {
		return Finding{}, false
	}
	grace := d.grace()
	refs := d.refs()
	old, young, open, late := g.overOld, g.over-g.overOld, g.over, 0
	var ages durSample
	in := make(map[int64]bool)
	for _, r := range g.unanswered {
		ref := d.tab.at(r.ref)
		refs.add(ref)
		in[ref.ID] = true
		switch {
		case r.closeTS != 0:
			late++
			old++
			ages.add(Seconds(r.closeTS - r.fin))
		case end-r.fin >= grace:
			old++
			open++
			ages.add(Seconds(end - r.fin))
		default:
			young++
			open++
			ages.add(Seconds(end - r.fin))
		}
	}
	for _, r := range g.overRefs.list() {
		refs.add(r)
		in[r.ID] = true
	}
	refs.count += g.overRefs.count - g.overRefs.kept()
	cad := probeCadence(g.starts, d.opt.CadenceTolerance)
	sev := Warning
	switch {
	case old > 0:
		if open >= d.opt.CriticalSockets {
			sev = Critical
		}
	case young >= minProbePattern && cad.Steady:
		sev = Info
	default:
		return Finding{}, false
	}
	unanswered := refs.count
	ex := g.ex.conns(func(id int64) bool { return in[id] })
	f := Finding{
		Kind:      KindHealthcheckFINUnanswered,
		Severity:  sev,
		Subject:   key.String(),
		At:        g.first,
		Until:     end,
		Flows:     refs.sorted(),
		FlowCount: unanswered,
		Exemplars: ex,
		Caveat:    d.caveat(env),
	}
	if cad.Steady {
		f.Inferred.ProbeIntervalS = roundInferred(cad.Interval)
	}
	judged := len(g.outcomes)
	story := probeStory(g.outcomes, envStart(env, g.first))
	checker := fmt.Sprintf("%s opened and closed %d probe connections to %s", key.Host, g.probes, key.Listener)
	if cad.Steady {
		checker = fmt.Sprintf("Health checker %s probes %s every %s", key.Host, key.Listener, fmtSec(cad.Interval))
	}
	f.Title = fmt.Sprintf("%s; the server never answered the FIN of %d of %d probes (CLOSE_WAIT)", checker, unanswered, g.probes)

	var b strings.Builder
	b.WriteString("Each probe completes the TCP handshake and closes at once with a FIN, without sending any data: a TCP health check")
	if cad.Steady {
		fmt.Fprintf(&b, " (one every %s from %s, %.0f %% of the intervals within %.0f %% of that)", fmtSec(cad.Interval), key.Host, cad.Share*100, d.opt.CadenceTolerance*100)
	}
	b.WriteString(". A healthy server reads the EOF and closes its end within milliseconds")
	if g.answered.n > 0 {
		fmt.Fprintf(&b, "; this one did so for %d probes (median %s after the probe's FIN)", g.answered.n, fmtSec(g.answered.median()))
	}
	fmt.Fprintf(&b, ". For %d probes its kernel ACKed the FIN but the application never closed the socket: each such probe leaves one socket in CLOSE_WAIT", unanswered)
	if cad.Steady && judged > 0 {
		fmt.Fprintf(&b, ", piling up at about %.1f per minute", 60/cad.Interval*float64(unanswered)/float64(judged))
	}
	b.WriteString(". ")
	b.WriteString(story)
	b.WriteString(" In incident 001 the acceptor had taken the socket (accept() succeeded) but registering it for events threw " +
		"OutOfMemoryError during a batch job that filled the heap; the catch-all handler logged, slept and never closed it. " +
		"The listen queue is not the problem here: the handshakes completed and the FINs were ACKed, whereas an overflowing " +
		"backlog shows SYN-ACK retransmissions and dropped third ACKs (handshake-failure).")
	if open > 0 && ages.n > 0 {
		fmt.Fprintf(&b, " %d were still open at the end of the capture, the oldest for %s.", open, fmtSec(ages.max))
	}
	f.Explanation = b.String()
	f.Actions = []string{
		fmt.Sprintf("Count them over time: `ss -tan state close-wait '( sport = :%d )' | wc -l` on %s grows at the probe rate.", key.Listener.Port(), key.Listener.Addr()),
		"Check the server's accept path: any exception after accept() (event registration, OutOfMemoryError, too many open files) must close the accepted socket.",
		"Look at heap usage and GC logs around the time the server stopped answering, and at jobs scheduled then.",
		"Make the health check test the application, not only the port (an HTTP check that expects a response notices a stuck acceptor).",
	}
	f.Evidence = []Metric{
		metric("probes", float64(g.probes), "", "connect-and-close connections from this source"),
		metric("unanswered", float64(unanswered), "", "probe FIN ACKed, no FIN from the server"),
		metric("answered", float64(g.answered.n), "", "server FIN within the grace period"),
		metric("open_at_capture_end", float64(open), "", ""),
		metric("closed_late", float64(late), "", ""),
	}
	if g.unknown > 0 {
		f.Evidence = append(f.Evidence, metric("outcome_unknown", float64(g.unknown), "", "probe FIN never seen ACKed"))
	}
	if cad.Interval > 0 {
		f.Evidence = append(f.Evidence, metric("probe_interval_p50_s", cad.Interval, "s", fmt.Sprintf("%.0f %% of intervals within tolerance", cad.Share*100)))
	}
	if g.answered.n > 0 {
		f.Evidence = append(f.Evidence, metric("answer_delay_p50_s", g.answered.median(), "s", "server FIN after the probe's FIN, when answered"))
	}
	f.Evidence = append(f.Evidence, secondsMetrics("age", &ages, "time since the probe's FIN")...)
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 { return []int64{c.Orig.FINFrame} })
	g.all.widen(g.lost.width)
	g.lost.widen(g.all.width)
	start := envStart(env, g.first)
	answeredTL := &timeline{width: g.all.width, buckets: make(map[int64]int)}
	for k, v := range g.all.buckets {
		if a := v - g.lost.buckets[k]; a > 0 {
			answeredTL.buckets[k] = a
		}
	}
	f.Charts = []Chart{{
		ID:     key.chartID(KindHealthcheckFINUnanswered, "probes"),
		Title:  "Probes from " + key.Host.String() + " to " + key.Listener.String() + ": answered vs left in CLOSE_WAIT",
		XLabel: "seconds into the capture",
		YLabel: "probes",
		Type:   ChartBar,
		Series: []Series{
			{Name: "answered (server FIN)", Points: answeredTL.points(start, false)},
			{Name: "unanswered (CLOSE_WAIT)", Points: g.lost.points(start, false)},
		},
	}}
	return f, true
}

// probeStory says when the server stopped answering probes.
func probeStory(outs []probeOutcome, start int64) string {
	if len(outs) == 0 {
		return ""
	}
	o := append([]probeOutcome(nil), outs...)
	sort.Slice(o, func(i, j int) bool { return o[i].ts < o[j].ts })
	firstLost := -1
	for i, x := range o {
		if !x.answered {
			firstLost = i
			break
		}
	}
	if firstLost < 0 {
		return ""
	}
	lastAnswered, lastLost := -1, -1
	for i, x := range o {
		if x.answered {
			lastAnswered = i
		} else {
			lastLost = i
		}
	}
	answeredAfter := 0
	for _, x := range o[firstLost:] {
		if x.answered {
			answeredAfter++
		}
	}
	lost := 0
	for _, x := range o {
		if !x.answered {
			lost++
		}
	}
	switch {
	case lastAnswered < 0:
		return fmt.Sprintf("None of the %d probes in the capture was answered: the server stopped answering before the capture began (first probe at %s); capture from earlier to see when.",
			len(o), fmtAt(o[0].ts, start))
	case answeredAfter == 0:
		return fmt.Sprintf("The server answered every probe until %s (%d probes) and none since %s: it stopped answering between those two probes.",
			fmtAt(o[lastAnswered].ts, start), firstLost, fmtAt(o[firstLost].ts, start))
	case lastLost < lastAnswered && lost == lastLost-firstLost+1:
		return fmt.Sprintf("The server stopped answering at %s and answered again from %s (%d probes left unanswered in between).",
			fmtAt(o[firstLost].ts, start), fmtClock(o[lastLost+1].ts), lost)
	}
	return fmt.Sprintf("The server answers intermittently: %d of %d probes between %s and %s were left unanswered (about one in %.0f), "+
		"so the fault hits some accepted sockets, not the listener as a whole.",
		lost, len(o), fmtAt(o[firstLost].ts, start), fmtClock(o[lastLost].ts), float64(len(o))/float64(lost))
}
