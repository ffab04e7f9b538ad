package detectors

import (
	"fmt"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func idleTimeoutSpec() *Spec {
	return &Spec{
		Kind:     KindIdleTimeoutClose,
		Title:    "one side closes connections after a consistent idle time",
		Severity: Warning,
		Doc: `For every connection closed first by one side (FIN, or RST), the idle time before
the close is the gap since the last payload in either direction (since the
handshake when there was none). Connections where the last payload was an
unanswered request are left out (that is a request timeout, see
upstream-timeout), and so are gaps shorter than MinIdleTimeout (a close right
after the exchange, e.g. "Connection: close"). Per closer (a server listener,
or a client host towards a listener), when at least TimeoutSamples gaps, and
at least half of them, agree within TimeoutSpread (plus TimeoutSlack), their
median is the closer's idle timeout (idle_timeout_s). The finding is
informational unless the other side then misbehaves: it leaves the socket in
CLOSE_WAIT (incident 002) or later writes on it and gets a RST (incident 003),
which makes it a warning.`,
		New: func(cfg *Config) Detector { return newIdleTimeout(cfg) },
	}
}

// idleOutcome is what the other side did after the idle close.
type idleOutcome uint8

const (
	idleClean     idleOutcome = iota // closed its end in time
	idleLeft                         // never closed: CLOSE_WAIT at the end of the capture
	idleLateClose                    // closed, but only after the grace period
	idleReused                       // wrote on the closed connection and got RST
	idleOther                        // anything else (reset, writes answered, ...)
	numIdleOutcomes
)

type idleRec struct {
	idle    float64 // seconds
	closeTS int64
	finFrm  int64
	ref     uint32 // in the detector's refTab
	out     idleOutcome
}

type idleGroup struct {
	recs  []idleRec
	over  valueHist // idle times beyond recCap
	nOver int
	all   durSample
	ex    exemplarSet
}

// idleTimeout implements idle-timeout-close.
type idleTimeout struct {
	teardownBase
	groups map[sockGroup]*idleGroup
}

func newIdleTimeout(cfg *Config) *idleTimeout {
	return &idleTimeout{teardownBase: newTeardownBase(cfg), groups: make(map[sockGroup]*idleGroup)}
}

// idleOutcomeOf says what the other side did after side closer's close.
func idleOutcomeOf(c *flows.Conn, closer flows.Dir, grace int64) idleOutcome {
	other := c.Endpoint(closer.Reverse())
	if a := other.DataAfterPeerFIN(); a.FirstTS != 0 {
		if a.RSTAfterTS != 0 {
			return idleReused
		}
		return idleOther
	}
	hc, ok := halfCloseOf(c)
	if !ok || hc.Holder != closer.Reverse() {
		return idleOther
	}
	switch hc.How {
	case stillOpen:
		return idleLeft
	case holderFIN, holderRST:
		if hc.CloseTS-hc.idleStart() >= grace {
			return idleLateClose
		}
		return idleClean
	}
	return idleOther
}

// ConnDone implements Detector.
func (d *idleTimeout) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	closer, ts, ok := closerOf(c)
	if !ok || (c.App().TLS.Seen && !c.App().TLS.HandshakeComplete) {
		return // an unfinished TLS handshake times out; it is not idle (tls-handshake-abandoned)
	}
	idle, _, _, ok := idleBefore(c, ts)
	if !ok || idle < ns(d.opt.MinIdleTimeout) {
		return
	}
	// Servers' timers are per listener; clients' are per client software,
	// but one group per client host would grow with the capture's hosts:
	// the clients of a listener are one group.
	key := sockGroup{Side: closer, Listener: c.Resp.Addr}
	g := groupFor(d.groups, key, func() *idleGroup { return &idleGroup{ex: d.exemplars(), over: make(valueHist)} })
	if g == nil {
		d.dropped++
		return
	}
	r := idleRec{idle: Seconds(idle), closeTS: ts, out: idleOutcomeOf(c, closer, d.grace()),
		finFrm: c.Endpoint(closer).FINFrame}
	g.all.add(r.idle)
	if d.keep(len(g.recs)) {
		r.ref = d.ref(c)
		g.recs = append(g.recs, r)
	} else {
		g.over.add(r.idle)
		g.nOver++
	}
	score := -Seconds(ts)
	if r.out == idleLeft || r.out == idleReused {
		score += 1e12 // prefer exemplars where the other side then misbehaves
	}
	g.ex.offer(c, score)
}

// Finish implements Detector.
func (d *idleTimeout) Finish(env *Env) []Finding {
	var out []Finding
	end := d.end(env)
	for _, key := range sortedGroups(d.groups) {
		if f, ok := d.finding(key, d.groups[key], end, env); ok {
			out = append(out, f)
		}
	}
	return out
}

func (d *idleTimeout) finding(key sockGroup, g *idleGroup, end int64, env *Env) (Finding, bool) {
	vals := make([]float64, len(g.recs))
	for i, r := range g.recs {
		vals[i] = r.idle
	}
	cl := densestCluster(vals, d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	if !cl.consistent(d.opt.TimeoutSamples) {
		return Finding{}, false
	}
	refs := d.refs()
	ids := make(map[int64]bool)
	var outs [numIdleOutcomes]int
	var members durSample
	leftOld := 0
	first, last := int64(0), int64(0)
	lo, hi := cl.memberBand(d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	var in []float64
	for _, r := range g.recs {
		if r.idle < lo || r.idle > hi {
			continue
		}
		in = append(in, r.idle)
		ref := d.tab.at(r.ref)
		refs.add(ref)
		ids[ref.ID] = true
		outs[r.out]++
		members.add(r.idle)
		if r.out == idleLeft && end-r.closeTS >= d.grace() {
			leftOld++
		}
		if first == 0 || r.closeTS < first {
			first = r.closeTS
		}
		last = max(last, r.closeTS)
	}
	refs.count += g.over.countIn(lo, hi)
	spreadLo, spreadHi := minMax(in)
	total := refs.count
	// Sockets left open: a leak once one of them is past the grace period.
	leaked := outs[idleLateClose]
	if leftOld > 0 || leaked > 0 {
		leaked += outs[idleLeft]
	}
	sev := Info
	if leaked > 0 || outs[idleReused] > 0 {
		sev = Warning
	}
	timeout := cl.Median
	ex := g.ex.conns(func(id int64) bool { return ids[id] })
	f := Finding{
		Kind:      KindIdleTimeoutClose,
		Severity:  sev,
		Subject:   key.String(),
		At:        first,
		Until:     last,
		Flows:     refs.sorted(),
		FlowCount: total,
		Exemplars: ex,
		Caveat:    d.caveat(env),
	}
	f.Inferred.IdleTimeoutS = roundInferred(timeout)
	closer, other := key.sideName(), key.peerName()
	who := key.Listener.String() + " closes"
	if key.Side == flows.Orig {
		who = "Clients of " + key.Listener.String() + " close"
	}
	f.Title = fmt.Sprintf("%s connections after %s idle (%s, %s)", who, fmtSec(timeout),
		plural(total, "connection", "connections"), fmtRange(spreadLo, spreadHi))
	switch {
	case leaked > 0:
		f.Title += fmt.Sprintf("; the %s left %d of them in CLOSE_WAIT", other, leaked)
	case outs[idleReused] > 0:
		f.Title += fmt.Sprintf("; the %s reused %d of them and got RST", other, outs[idleReused])
	}

	var b strings.Builder
	fmt.Fprintf(&b, "On %s the %s sent the first FIN after the connection had been idle (no payload in either direction) for "+
		"%s (median; all within %s). Timers that agree this closely are a configured idle timeout: the %s's keep-alive or "+
		"read timeout is about %s.", plural(total, "connection", "connections"), closer, fmtSec(timeout),
		fmtRange(spreadLo, spreadHi), closer, fmtSec(timeout))
	if n := cl.Total - len(in); n > 0 {
		fmt.Fprintf(&b, " %d other idle closes of the same %s had different gaps.", n, closer)
	}
	var then []string
	if outs[idleClean] > 0 {
		then = append(then, fmt.Sprintf("on %d the %s closed its end too, as it should", outs[idleClean], other))
	}
	if leaked > 0 {
		then = append(then, fmt.Sprintf("on %d the %s ACKed the FIN but never closed its socket, which stays in CLOSE_WAIT "+
			"(incident 002: nginx closed idle keep-alive connections after 65 s and the client application never read the EOF, "+
			"so the sockets lingered for two hours until TCP keepalive reaped them)", leaked, other))
	} else if outs[idleLeft] > 0 {
		then = append(then, fmt.Sprintf("on %d the %s had not closed its end yet when the capture ended", outs[idleLeft], other))
	}
	if outs[idleReused] > 0 {
		then = append(then, fmt.Sprintf("on %d the %s later sent a request on the closed connection and got a RST back "+
			"(see stale-connection-reuse; incident 003)", outs[idleReused], other))
	}
	if len(then) > 0 {
		b.WriteString(" Then: ")
		b.WriteString(strings.Join(then, "; "))
		b.WriteString(".")
	}
	f.Explanation = b.String()
	if key.Side == flows.Resp {
		f.Actions = []string{
			fmt.Sprintf("Configure clients of %s (connection pools, keep-alive) to drop idle connections before %s, e.g. after %s.",
				key.Listener, fmtSec(timeout), fmtSec(timeout*0.8)),
			"Make clients close a connection as soon as a read returns EOF, and validate pooled connections before reuse.",
		}
	} else {
		f.Actions = []string{
			fmt.Sprintf("This is the clients' own idle timeout (%s); check that %s closes its end when it reads EOF.", fmtSec(timeout), key.Listener),
		}
	}
	f.Evidence = []Metric{
		metric("idle_closes", float64(total), "", "connections closed after the inferred idle time"),
		metric("idle_timeout_s", timeout, "s", "median idle time before the FIN"),
		metric("idle_min_s", spreadLo, "s", ""),
		metric("idle_max_s", spreadHi, "s", ""),
		metric("peer_closed_too", float64(outs[idleClean]), "", ""),
		metric("peer_left_close_wait", float64(outs[idleLeft]+outs[idleLateClose]), "", ""),
		metric("peer_reused_and_got_rst", float64(outs[idleReused]), "", ""),
	}
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 {
		d, _, _ := closerOf(c)
		return []int64{c.Endpoint(d).FINFrame, c.Endpoint(d).RSTFrame}
	})
	f.Charts = []Chart{{
		ID:     key.chartID(KindIdleTimeoutClose, "idle"),
		Title:  "Idle time before " + key.String() + " closed a connection",
		XLabel: "idle time before the FIN (s)",
		YLabel: "connections",
		Type:   ChartBar,
		Series: []Series{{Name: "idle closes", Points: histogram(g.all.vals, 30)}},
		Marks:  []Mark{{X: roundMilli(timeout), Label: "idle timeout " + fmtSec(timeout)}},
	}}
	return f, true
}
