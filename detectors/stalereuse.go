package detectors

import (
	"fmt"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func staleReuseSpec() *Spec {
	return &Spec{
		Kind:     KindStaleConnectionReuse,
		Title:    "requests sent on connections the server had already closed",
		Severity: Warning,
		Doc: `The server sent the first FIN; at least MinReuseGap later the client (the
initiator, which had not closed) sent payload on the same connection, and the
server answered it with RST (incident 003). The client's write succeeded (the
data only went into its kernel), its read then returns EOF or "connection
reset". Findings aggregate per client host and listener, and report how stale
the reuse was (the gap between the server's FIN and the request) against the
idle time after which the server had closed (its idle timeout, inferred when
TimeoutSamples connections agree). Writes sooner than MinReuseGap after the
FIN raced the close and are left to write-after-fin-reset, as are writes by
the server after the client's FIN.`,
		New: func(cfg *Config) Detector { return newStaleReuse(cfg) },
	}
}

type reuseGroup struct {
	refs      refList
	delays    durSample // server FIN → client request
	idle      durSample // server idle before its FIN
	rstAfter  durSample // request → RST
	poolIdle  durSample // last exchange → reuse: how long the connection sat idle
	exchanged int       // connections that carried an exchange before the FIN (pool reuse)
	lines     map[string]int
	first     int64
	last      int64
	ex        exemplarSet
}

// staleReuse implements stale-connection-reuse.
type staleReuse struct {
	teardownBase
	groups map[sockGroup]*reuseGroup
}

func newStaleReuse(cfg *Config) *staleReuse {
	return &staleReuse{teardownBase: newTeardownBase(cfg), groups: make(map[sockGroup]*reuseGroup)}
}

// isStaleReuse reports whether the client wrote on c after the server had
// closed it, at least gap later, and got a RST. A client's own close
// sequence (a few bytes, then its FIN at once) is no request.
func isStaleReuse(c *flows.Conn, gap int64) bool {
	a := c.Orig.DataAfterPeerFIN()
	return a.FirstTS != 0 && a.RSTAfterTS != 0 && a.Delay >= gap && c.Resp.FINTS != 0 &&
		(c.Orig.FINTS == 0 || c.Orig.FINTS >= a.FirstTS) && !closingBytes(&c.Orig, a, gap)
}

// ConnDone implements Detector.
func (d *staleReuse) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	if !isStaleReuse(c, ns(d.opt.MinReuseGap)) {
		return
	}
	a := c.Orig.DataAfterPeerFIN()
	key := groupOf(c, flows.Orig)
	g := groupFor(d.groups, key, func() *reuseGroup {
		return &reuseGroup{refs: d.refs(), ex: d.exemplars(), lines: make(map[string]int)}
	})
	if g == nil {
		d.dropped++
		return
	}
	g.refs.add(Ref(c))
	g.delays.add(Seconds(a.Delay))
	g.rstAfter.add(Seconds(a.RSTAfterTS - a.FirstTS))
	if idle, _, had, ok := idleBefore(c, c.Resp.FINTS); ok {
		g.idle.add(Seconds(idle))
		g.poolIdle.add(Seconds(idle + a.Delay))
		if had {
			g.exchanged++
		}
	}
	if t, ok := firstTurnFrom(c, flows.Orig, a.FirstTS); ok && t.FirstLine != "" && len(g.lines) < 8 {
		g.lines[t.FirstLine]++
	}
	if g.first == 0 || c.Resp.FINTS < g.first {
		g.first = c.Resp.FINTS
	}
	g.last = max(g.last, a.RSTAfterTS)
	g.ex.offer(c, Seconds(a.Delay))
}

// Finish implements Detector.
func (d *staleReuse) Finish(env *Env) []Finding {
	var out []Finding
	for _, key := range sortedGroups(d.groups) {
		out = append(out, d.finding(key, d.groups[key], env))
	}
	return out
}

func (d *staleReuse) finding(key sockGroup, g *reuseGroup, env *Env) Finding {
	n := g.refs.count
	ex := g.ex.conns(nil)
	f := Finding{
		Kind:      KindStaleConnectionReuse,
		Severity:  Warning,
		Subject:   key.String(),
		At:        g.first,
		Until:     g.last,
		Flows:     g.refs.sorted(),
		FlowCount: n,
		Exemplars: ex,
		Caveat:    d.caveat(env),
	}
	cl := densestCluster(g.idle.vals, d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	idleKnown := cl.consistent(d.opt.TimeoutSamples) && cl.Median >= d.opt.MinIdleTimeout.Seconds()
	if idleKnown {
		f.Inferred.IdleTimeoutS = roundInferred(cl.Median)
	}
	f.Title = fmt.Sprintf("%s sent %s on %s %s after %s had closed them; each was answered by RST",
		key.Host, plural(n, "request", "requests"), plural(n, "connection", "connections"),
		fmtRange(g.delays.min, g.delays.max), key.Listener)

	var b strings.Builder
	fmt.Fprintf(&b, "The server %s closed %s with a FIN", key.Listener, plural(n, "connection", "connections"))
	switch {
	case idleKnown:
		fmt.Fprintf(&b, " after %s of idleness (its idle timeout, inferred from %d connections)", fmtSec(cl.Median), cl.N)
	case g.idle.n > 0 && g.idle.max < d.opt.MinIdleTimeout.Seconds():
		fmt.Fprintf(&b, " right after accepting %s (within %s)", map[bool]string{true: "it", false: "them"}[n == 1], fmtSec(g.idle.max))
	case g.idle.n > 0:
		fmt.Fprintf(&b, " after %s idle (median)", fmtSec(g.idle.median()))
	}
	each, sock := "each FIN", "the sockets sat"
	if n == 1 {
		each, sock = "the FIN", "the socket sat"
	}
	fmt.Fprintf(&b, "; the client's kernel ACKed %s and %s in CLOSE_WAIT. %s later", each, sock, fmtRange(g.delays.min, g.delays.max))
	if m := fmtSec(g.delays.median()); m != fmtRange(g.delays.min, g.delays.max) {
		fmt.Fprintf(&b, " (median %s)", m)
	}
	b.WriteString(" the client sent a request on the closed connection")
	if len(g.lines) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(sortedLines(g.lines), "; "))
	}
	fmt.Fprintf(&b, " and the server's kernel, which no longer had a socket for it, answered with RST %s later.", fmtSec(g.rstAfter.median()))
	if g.exchanged > 0 {
		fmt.Fprintf(&b, " %d of these connections had carried earlier exchanges: a connection pool handed out a connection the server had closed while it was idle in the pool.", g.exchanged)
	}
	b.WriteString(" The client's write reported success because it only copied the data into the kernel; the failure shows up on the next read, " +
		"as EOF (-1) or \"connection reset\" (incident 003). Every such request fails, or is retried if the client is lucky.")
	if idleKnown {
		fmt.Fprintf(&b, " The pool kept connections idle for up to %s, longer than the server's %s idle timeout: the pool's idle TTL must be shorter than the server's.",
			fmtSec(g.delays.max+cl.Median), fmtSec(cl.Median))
	}
	f.Explanation = b.String()
	ttl := "the server's idle timeout"
	if idleKnown {
		ttl = fmt.Sprintf("the server's idle timeout (%s), e.g. %s", fmtSec(cl.Median), fmtSec(cl.Median*0.8))
	}
	f.Actions = []string{
		"Set the client pool's idle TTL (max idle time) shorter than " + ttl + ".",
		"Validate connections on borrow (check for a pending EOF / a cheap read with zero timeout) or evict idle ones in the background.",
		"Retry idempotent requests once when a reused connection fails with EOF or reset.",
	}
	f.Evidence = []Metric{
		metric("reused_after_close", float64(n), "", "requests sent after the server's FIN and answered by RST"),
		metric("reuse_delay_min_s", g.delays.min, "s", "server FIN → client request"),
		metric("reuse_delay_p50_s", g.delays.median(), "s", ""),
		metric("reuse_delay_max_s", g.delays.max, "s", ""),
		metric("rst_after_request_p50_s", g.rstAfter.median(), "s", ""),
		metric("with_earlier_exchange", float64(g.exchanged), "", "connections reused from a pool"),
	}
	if g.idle.n > 0 {
		f.Evidence = append(f.Evidence, metric("server_idle_before_fin_p50_s", g.idle.median(), "s", "idle time after which the server closed"))
	}
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 {
		return []int64{c.Resp.FINFrame, c.Orig.DataAfterPeerFIN().FirstFrame, c.Resp.RSTFrame}
	})
	if g.poolIdle.n > 0 {
		f.Evidence = append(f.Evidence, metric("idle_when_reused_p50_s", g.poolIdle.median(), "s", "last exchange → reuse"))
		ch := Chart{
			ID:     key.chartID(KindStaleConnectionReuse, "idle"),
			Title:  "How long connections to " + key.Listener.String() + " sat idle before the client reused them",
			XLabel: "idle time when reused (s)",
			YLabel: "requests answered by RST",
			Type:   ChartBar,
			Series: []Series{{Name: "reused after the server's close", Points: histogram(g.poolIdle.vals, 30)}},
		}
		if idleKnown {
			ch.Marks = []Mark{{X: roundMilli(cl.Median), Label: "server idle timeout " + fmtSec(cl.Median)}}
		}
		f.Charts = []Chart{ch}
	}
	return f
}

// sortedLines returns the HTTP first lines, most frequent first, quoted.
func sortedLines(m map[string]int) []string {
	type kv struct {
		k string
		v int
	}
	var s []kv
	for k, v := range m {
		s = append(s, kv{k, v})
	}
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (s[j].v > s[j-1].v || (s[j].v == s[j-1].v && s[j].k < s[j-1].k)); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	out := make([]string, 0, len(s))
	for _, x := range s {
		if len(out) == 3 {
			break
		}
		out = append(out, fmt.Sprintf("%q", x.k))
	}
	return out
}
