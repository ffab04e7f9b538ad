package detectors

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func upstreamTimeoutSpec() *Spec {
	return &Spec{
		Kind:     KindUpstreamTimeout,
		Title:    "the client gives up on requests after a consistent time without a response",
		Severity: Warning,
		Doc: `The initiator sent a request (its payload was the last before the close),
received no response byte, and closed the connection first (FIN, or RST as some
proxies do) at least MinRequestTimeout after the request. Per client host and
listener, when at least TimeoutSamples such gaps, and at least half of them,
agree within TimeoutSpread (plus TimeoutSlack), their median is the client's
request timeout (request_timeout_s): a load balancer or proxy timing out its
upstream (incident 004: 20 s). The finding also says what the server did
afterwards: answered late (see write-after-fin-reset / -blackholed) or never.
TLS connections whose handshake never finished are left to
tls-handshake-abandoned.`,
		New: func(cfg *Config) Detector { return newUpstreamTimeout(cfg) },
	}
}

// lateAnswer is what the server did after the client gave up.
type lateAnswer uint8

const (
	answerNever   lateAnswer = iota // no response byte at all
	answerRST                       // responded after the close; the client answered RST
	answerDropped                   // responded after the close; nothing came back
	answerOther                     // responded after the close; ACKed (half-close)
	numLateAnswers
)

type upstreamRec struct {
	gap     float64 // request → close, seconds
	closeTS int64
	late    float64 // the client's close → the server's first response byte
	ref     uint32  // in the detector's refTab
	byRST   bool
	answer  lateAnswer
	// expects tells the connection shows a request/response protocol: an
	// HTTP request line, earlier responses, or a late answer.
	expects bool
}

type upstreamGroup struct {
	recs  []upstreamRec
	over  valueHist
	lines map[string]int
	ex    exemplarSet
	all   durSample
}

// upstreamTimeout implements upstream-timeout.
type upstreamTimeout struct {
	teardownBase
	groups map[sockGroup]*upstreamGroup
	// responders counts, per listener, connections on which the server sent
	// payload: evidence that it answers requests at all.
	responders map[netip.AddrPort]int
}

func newUpstreamTimeout(cfg *Config) *upstreamTimeout {
	return &upstreamTimeout{teardownBase: newTeardownBase(cfg), groups: make(map[sockGroup]*upstreamGroup),
		responders: make(map[netip.AddrPort]int)}
}

// ConnDone implements Detector.
func (d *upstreamTimeout) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	if c.Resp.Bytes > 0 {
		d.responders[c.Resp.Addr]++
	}
	closer, ts, ok := closerOf(c)
	if !ok || closer != flows.Orig || !c.DirKnown {
		return
	}
	if c.App().TLS.Seen && !c.App().TLS.HandshakeComplete {
		return // tls-handshake-abandoned
	}
	t, ok := lastTurnBefore(c, ts)
	if !ok || t.Dir != flows.Orig {
		return
	}
	gap := ts - t.EndTS
	if gap < ns(d.opt.MinRequestTimeout) {
		return
	}
	key := groupOf(c, flows.Orig)
	g := groupFor(d.groups, key, func() *upstreamGroup {
		return &upstreamGroup{over: make(valueHist), lines: make(map[string]int), ex: d.exemplars()}
	})
	if g == nil {
		d.dropped++
		return
	}
	r := upstreamRec{gap: Seconds(gap), closeTS: ts, byRST: c.Orig.FINTS == 0 || c.Orig.RSTTS == ts}
	if a := c.Resp.DataAfterPeerFIN(); a.FirstTS != 0 {
		r.late = Seconds(a.FirstTS - ts)
		switch {
		case a.RSTAfterTS != 0:
			r.answer = answerRST
		case !a.Acked:
			r.answer = answerDropped
		default:
			r.answer = answerOther
		}
	} else if c.Resp.LastDataTS > ts {
		r.answer, r.late = answerOther, Seconds(c.Resp.LastDataTS-ts)
	}
	r.expects = t.FirstLine != "" || r.answer != answerNever || c.App().HTTP.Responses > 0
	for _, x := range c.Turns {
		if x.Dir == flows.Resp && x.StartTS < t.StartTS {
			r.expects = true // the server answered earlier requests
		}
	}
	g.all.add(r.gap)
	if d.keep(len(g.recs)) {
		r.ref = d.ref(c)
		g.recs = append(g.recs, r)
	} else {
		g.over.add(r.gap)
	}
	if t.FirstLine != "" && len(g.lines) < 8 {
		g.lines[t.FirstLine]++
	}
	g.ex.offer(c, -Seconds(ts))
}

// Finish implements Detector.
func (d *upstreamTimeout) Finish(env *Env) []Finding {
	var out []Finding
	for _, key := range sortedGroups(d.groups) {
		if f, ok := d.finding(key, d.groups[key], env); ok {
			out = append(out, f)
		}
	}
	return out
}

func (d *upstreamTimeout) finding(key sockGroup, g *upstreamGroup, env *Env) (Finding, bool) {
	// A server that never sends anything may speak a one-way protocol:
	// without other evidence, a client closing after its last message is
	// no timeout.
	answers := d.responders[key.Listener] > 0
	var vals []float64
	for _, r := range g.recs {
		if r.expects || answers {
			vals = append(vals, r.gap)
		}
	}
	cl := densestCluster(vals, d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	sev := Warning
	switch {
	case cl.consistent(d.opt.TimeoutSamples):
	case cl.N == 1 && cl.Total == 1 && len(g.recs) == 1:
		sev = Info // a single request: the timeout is read off one connection
	default:
		return Finding{}, false
	}
	refs := d.refs()
	in := make(map[int64]bool)
	var outcome [numLateAnswers]int
	var late durSample
	rsts := 0
	first, last := int64(0), int64(0)
	lo, hi := cl.memberBand(d.opt.TimeoutSpread, d.opt.TimeoutSlack.Seconds())
	var gaps []float64
	for _, r := range g.recs {
		if r.gap < lo || r.gap > hi || !(r.expects || answers) {
			continue
		}
		gaps = append(gaps, r.gap)
		ref := d.tab.at(r.ref)
		refs.add(ref)
		in[ref.ID] = true
		outcome[r.answer]++
		if r.answer != answerNever {
			late.add(r.late)
		}
		if r.byRST {
			rsts++
		}
		if first == 0 || r.closeTS < first {
			first = r.closeTS
		}
		last = max(last, r.closeTS)
	}
	refs.count += g.over.countIn(lo, hi)
	spreadLo, spreadHi := minMax(gaps)
	n := refs.count
	timeout := cl.Median
	ex := g.ex.conns(func(id int64) bool { return in[id] })
	f := Finding{
		Kind:      KindUpstreamTimeout,
		Severity:  sev,
		Subject:   key.String(),
		At:        first,
		Until:     last,
		Flows:     refs.sorted(),
		FlowCount: n,
		Exemplars: ex,
		Caveat:    d.caveat(env),
	}
	f.Inferred.RequestTimeoutS = roundInferred(timeout)
	how := "FIN"
	switch {
	case rsts == len(in):
		how = "RST"
	case rsts > 0:
		how = "FIN or RST"
	}
	f.Title = fmt.Sprintf("%s gave up on %s to %s after %s without a response (request timeout), closing with %s",
		key.Host, plural(n, "request", "requests"), key.Listener, fmtSec(timeout), how)

	var b strings.Builder
	fmt.Fprintf(&b, "On %s the client %s sent a request", plural(n, "connection", "connections"), key.Host)
	if len(g.lines) > 0 {
		fmt.Fprintf(&b, " (%s)", strings.Join(sortedLines(g.lines), "; "))
	}
	fmt.Fprintf(&b, " and closed the connection with %s %s later (median; all within %s) without having received a single byte of response. "+
		"%s"+
		"The client is typically a load balancer or proxy timing out its upstream; in incident 004 the balancer gave up after 20 s and "+
		"sent FIN to the backend, whose queued requests were still processed afterwards.", how, fmtSec(timeout), fmtRange(spreadLo, spreadHi), timeoutSentence(n, timeout))
	var then []string
	if outcome[answerNever] > 0 {
		then = append(then, fmt.Sprintf("on %d the server never answered at all within the capture", outcome[answerNever]))
	}
	if k := outcome[answerRST] + outcome[answerDropped] + outcome[answerOther]; k > 0 {
		s := fmt.Sprintf("on %d the server answered anyway, %s after the client's close (median)", k, fmtSec(late.median()))
		var sub []string
		if outcome[answerRST] > 0 {
			sub = append(sub, fmt.Sprintf("%d answered by RST (write-after-fin-reset)", outcome[answerRST]))
		}
		if outcome[answerDropped] > 0 {
			sub = append(sub, fmt.Sprintf("%d silently dropped (write-after-fin-blackholed)", outcome[answerDropped]))
		}
		if len(sub) > 0 {
			s += ": " + strings.Join(sub, ", ")
		}
		then = append(then, s)
	}
	if len(then) > 0 {
		b.WriteString(" Afterwards, ")
		b.WriteString(strings.Join(then, "; "))
		b.WriteString(".")
	}
	f.Explanation = b.String()
	f.Actions = []string{
		fmt.Sprintf("Find why %s takes longer than %s to answer: request queueing (an unbounded executor queue), slow dependencies, overload.", key.Listener, fmtSec(timeout)),
		fmt.Sprintf("Make the server give up before the client does (processing timeout below %s) and drop requests whose client already closed.", fmtSec(timeout)),
		"If the client's timeout is too short for legitimate requests, raise it deliberately rather than letting the server's late answers hit a closed connection.",
	}
	f.Evidence = []Metric{
		metric("requests_timed_out", float64(n), "", ""),
		metric("request_timeout_s", timeout, "s", "median request → close"),
		metric("request_to_close_min_s", spreadLo, "s", ""),
		metric("request_to_close_max_s", spreadHi, "s", ""),
		metric("closed_with_rst", float64(rsts), "", ""),
		metric("never_answered", float64(outcome[answerNever]), "", ""),
		metric("answered_after_close", float64(outcome[answerRST]+outcome[answerDropped]+outcome[answerOther]), "", ""),
	}
	if late.n > 0 {
		f.Evidence = append(f.Evidence, metric("late_answer_after_close_p50_s", late.median(), "s", ""))
	}
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 {
		_, ts, _ := closerOf(c)
		t, _ := lastTurnBefore(c, ts)
		return []int64{t.Frame, c.Orig.FINFrame, c.Orig.RSTFrame}
	})
	f.Charts = []Chart{{
		ID:     key.chartID(KindUpstreamTimeout, "gap"),
		Title:  "Request → client close on " + key.String(),
		XLabel: "request → close (s)",
		YLabel: "requests",
		Type:   ChartBar,
		Series: []Series{{Name: "closed without a response", Points: histogram(g.all.vals, 30)}},
		Marks:  []Mark{{X: roundMilli(timeout), Label: "request timeout " + fmtSec(timeout)}},
	}}
	return f, true
}

// timeoutSentence says what the request-to-close time means.
func timeoutSentence(n int, timeout float64) string {
	if n == 1 {
		return fmt.Sprintf("On a single connection this is only a hint of the client's request (read) timeout: about %s; more connections would confirm it. ", fmtSec(timeout))
	}
	return fmt.Sprintf("A close that follows the request by the same time every time is the client's request (read) timeout: about %s. ", fmtSec(timeout))
}
