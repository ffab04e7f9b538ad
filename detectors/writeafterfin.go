package detectors

import (
	"fmt"
	"math"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func writeAfterFINResetSpec() *Spec {
	return &Spec{
		Kind:     KindWriteAfterFINReset,
		Title:    "writes after the peer's FIN answered by RST",
		Severity: Warning,
		Doc: `A side sent payload after it had received the peer's FIN, and the peer answered
with RST: the peer had closed its socket entirely (close(), not shutdown()), so
the late data - typically a response to a request the peer already gave up on -
is rejected (incident 004: the load balancer's FIN at its 20 s request timeout,
the backend's response later). A client request sent on a connection the server
closed at least MinReuseGap earlier is reported as stale-connection-reuse
instead. Writes the peer ACKs are a legitimate half-close and are not reported.
Across the connections of a group the split between delays answered by RST and
delays met with silence gives the middlebox's post-FIN window (drop_window_s).`,
		New: func(cfg *Config) Detector { return newWriteAfterFIN(cfg, KindWriteAfterFINReset) },
	}
}

func writeAfterFINBlackholedSpec() *Spec {
	return &Spec{
		Kind:     KindWriteAfterFINBlackholed,
		Title:    "writes after the peer's FIN silently dropped",
		Severity: Critical,
		Doc: `A side sent payload after the peer's FIN and got neither ACK nor RST: it
retransmits with exponential backoff until it gives up or the capture ends
(at least one retransmission, or BlackholeWait of silence). Something in the
path drops packets of a connection it considers closed (incident 004: a virtual
switch forgot connections 16 s after the load balancer's FIN; a conntrack
firewall drops them as INVALID once its closing-state timeout expires).
Meanwhile the sender's socket sits in CLOSE_WAIT with a full send buffer and
the writing thread blocks. When the same group also has writes answered by RST,
the delay after the FIN that separates RST from silence is the middlebox's
post-FIN window (drop_window_s), with the largest RST delay and the smallest
silent delay as evidence.`,
		New: func(cfg *Config) Detector { return newWriteAfterFIN(cfg, KindWriteAfterFINBlackholed) },
	}
}

// wafRec is one write after the peer's FIN.
type wafRec struct {
	delay    float64 // seconds after the peer's FIN
	firstTS  int64
	lastTS   int64
	retrans  int64
	bytes    int64
	rstAfter float64 // RST after the write (seconds), when answered by RST
	rto      []float64
	ref      uint32 // in the detector's refTab
	closing  bool   // only the writer's closing bytes, sent with its own FIN (late)
}

type wafGroup struct {
	rst, silent []wafRec // silent: no ACK, no RST (decided at Finish)
	overRefs    refList  // writes beyond recCap of this detector's outcome
	ex          exemplarSet
}

// writeAfterFIN implements write-after-fin-reset and
// write-after-fin-blackholed: both read the same writes, and both need the
// other outcome to infer the drop window.
type writeAfterFIN struct {
	teardownBase
	kind   Kind
	groups map[sockGroup]*wafGroup
}

func newWriteAfterFIN(cfg *Config, kind Kind) *writeAfterFIN {
	return &writeAfterFIN{teardownBase: newTeardownBase(cfg), kind: kind, groups: make(map[sockGroup]*wafGroup)}
}

// ConnDone implements Detector.
func (d *writeAfterFIN) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	for _, dir := range [2]flows.Dir{flows.Resp, flows.Orig} {
		d.write(c, dir)
	}
}

func (d *writeAfterFIN) write(c *flows.Conn, dir flows.Dir) {
	e, peer := c.Endpoint(dir), c.Endpoint(dir.Reverse())
	a := e.DataAfterPeerFIN()
	if a.FirstTS == 0 || peer.FINTS == 0 {
		return
	}
	if dir == flows.Orig && isStaleReuse(c, ns(d.opt.MinReuseGap)) {
		return // stale-connection-reuse
	}
	if a.Acked && a.RSTAfterTS == 0 {
		return // a legitimate half-close: the peer took the data
	}
	if closingBytes(e, a, ns(d.opt.MinReuseGap)) && a.Delay < d.grace() {
		// The writer's prompt close sequence (a TLS close_notify answering
		// the peer's, reset by a peer that already closed completely): a
		// normal shutdown. Sent only after the grace period, it is a late
		// close and is reported.
		return
	}
	if a.RSTAfterTS == 0 && peer.RSTTS != 0 && peer.RSTTS >= peer.FINTS {
		return // reset by the peer, but not after this data: something else
	}
	key := groupOf(c, dir)
	g := groupFor(d.groups, key, func() *wafGroup { return &wafGroup{ex: d.exemplars(), overRefs: d.refs()} })
	if g == nil {
		d.dropped++
		return
	}
	r := wafRec{delay: Seconds(a.Delay), firstTS: a.FirstTS, lastTS: max(a.LastTS, a.FirstTS),
		retrans: a.Retransmits, bytes: a.Bytes,
		closing: closingBytes(e, a, ns(d.opt.MinReuseGap))}
	if bo := e.Backoff(); bo.Count > 0 && len(bo.Times) > 1 && bo.Times[len(bo.Times)-1] >= a.FirstTS {
		r.rto = rtoIntervals(bo.Times)
	}
	isRST := a.RSTAfterTS != 0
	if isRST {
		r.rstAfter = Seconds(a.RSTAfterTS - a.FirstTS)
		if d.keep(len(g.rst)) {
			r.ref = d.ref(c)
			g.rst = append(g.rst, r)
		} else if d.kind == KindWriteAfterFINReset {
			g.overRefs.add(Ref(c))
		}
	} else if d.keep(len(g.silent)) {
		r.ref = d.ref(c)
		g.silent = append(g.silent, r)
	} else if d.kind == KindWriteAfterFINBlackholed {
		g.overRefs.add(Ref(c))
	}
	if isRST == (d.kind == KindWriteAfterFINReset) {
		g.ex.offer(c, float64(r.retrans)+r.delay/1e3)
	}
}

// goodbyeBytes is the most payload a close sequence sends after the peer's
// FIN: a TLS close_notify record (31 bytes), a protocol's "QUIT"/"bye".
const goodbyeBytes = 256

// closingBytes reports whether the payload e sent after the peer's FIN is
// only its own close sequence: a few bytes followed at once by its FIN (a
// TLS close_notify answering the peer's, a protocol's "bye"). Such bytes are
// no request and no late response.
func closingBytes(e *flows.Endpoint, a flows.AfterFIN, within int64) bool {
	return a.Bytes <= goodbyeBytes && e.FINTS != 0 && e.FINTS >= a.FirstTS && e.FINTS-max(a.LastTS, a.FirstTS) < within
}

// rtoIntervals returns the gaps between successive transmissions of one
// segment (the original's time may be 0 when it was not captured).
func rtoIntervals(times []int64) []float64 {
	var out []float64
	for i := 1; i < len(times); i++ {
		if times[i-1] != 0 {
			out = append(out, Seconds(times[i]-times[i-1]))
		}
	}
	// An RTO chain doubles: a first "interval" far longer than the next is
	// an original transmission matched from long before, not a timeout.
	for len(out) >= 2 && out[0] > 4*out[1] {
		out = out[1:]
	}
	return out
}

// Finish implements Detector.
func (d *writeAfterFIN) Finish(env *Env) []Finding {
	var out []Finding
	end := d.end(env)
	for _, key := range sortedGroups(d.groups) {
		if f, ok := d.finding(key, d.groups[key], end, env); ok {
			out = append(out, f)
		}
	}
	return out
}

// silentWrites returns the writes that met silence long enough to call it.
func (d *writeAfterFIN) silentWrites(g *wafGroup, end int64) []wafRec {
	var out []wafRec
	for _, r := range g.silent {
		if r.retrans > 0 || end-r.firstTS >= ns(d.opt.BlackholeWait) {
			out = append(out, r)
		}
	}
	return out
}

func (d *writeAfterFIN) finding(key sockGroup, g *wafGroup, end int64, env *Env) (Finding, bool) {
	silent := d.silentWrites(g, end)
	rstDelays := make([]float64, len(g.rst))
	for i, r := range g.rst {
		rstDelays[i] = r.delay
	}
	silentDelays := make([]float64, len(silent))
	for i, r := range silent {
		silentDelays[i] = r.delay
	}
	win := inferDropWindow(rstDelays, silentDelays)
	mine := g.rst
	if d.kind == KindWriteAfterFINBlackholed {
		mine = silent
	}
	if len(mine) == 0 && g.overRefs.count == 0 {
		return Finding{}, false
	}
	refs := d.refs()
	var delays, rstAfter, firstRTO durSample
	var chain []float64
	var bytes, retrans int64
	first, last := int64(0), int64(0)
	stillGoing, closing := 0, 0
	for _, r := range mine {
		if r.closing {
			closing++
		}
		refs.add(d.tab.at(r.ref))
		delays.add(r.delay)
		if r.rstAfter > 0 {
			rstAfter.add(r.rstAfter)
		}
		bytes += r.bytes
		retrans += r.retrans
		if len(r.rto) > 0 {
			firstRTO.add(r.rto[0])
			if len(r.rto) > len(chain) {
				chain = r.rto
			}
			if lastIv := r.rto[len(r.rto)-1]; float64(end-r.lastTS) < 2.5*lastIv*1e9 {
				stillGoing++
			}
		}
		if first == 0 || r.firstTS < first {
			first = r.firstTS
		}
		last = max(last, r.lastTS)
	}
	for _, r := range g.overRefs.list() {
		refs.add(r)
	}
	refs.count += g.overRefs.count - g.overRefs.kept()
	n := refs.count
	ex := g.ex.conns(nil)
	f := Finding{
		Kind:      d.kind,
		Subject:   key.String(),
		At:        first,
		Until:     last,
		Flows:     refs.sorted(),
		FlowCount: n,
		Exemplars: ex,
		Caveat:    d.caveat(env),
	}
	if win.OK {
		f.Inferred.DropWindowS = roundInferred(win.Window)
	}
	writer, peer := key.sideName(), key.peerName()
	who := fmt.Sprintf("the %s %s", writer, key.Listener)
	if key.Side == flows.Orig {
		who = fmt.Sprintf("the client %s (towards %s)", key.Host, key.Listener)
	}
	windowText := ""
	if win.OK {
		windowText = fmt.Sprintf(" Across the connections of %s, writes up to %s after the FIN were answered by RST and writes from %s on met silence: "+
			"something in the path forgets a closing connection about %s after the FIN (the post-FIN drop window; in incident 004 a virtual switch, after 16 s).",
			key, fmtSec(win.MaxRST), fmtSec(win.MinSilent), fmtSec(win.Window))
		if win.Errors > 0 {
			windowText += fmt.Sprintf(" (%d writes fall on the wrong side of that boundary.)", win.Errors)
		}
	}
	var b strings.Builder
	if d.kind == KindWriteAfterFINReset {
		f.Severity = Warning
		f.Title = fmt.Sprintf("%s wrote on %s after the %s's FIN and got RST back (%s after the FIN)",
			capitalize(who), plural(n, "connection", "connections"), peer, fmtRange(delays.min, delays.max))
		fmt.Fprintf(&b, "The %s closed %s with a FIN, and %s kept sending afterwards: %s after the FIN, "+
			"%s bytes in all. The %s had closed its socket completely, so its kernel rejected the data with RST (%s after the write).",
			peer, these(n), who, rangeWithMedian(&delays), count(bytes), peer, medianOf(&rstAfter))
		if key.Side == flows.Resp {
			b.WriteString(" The typical story (incident 004): the client - a load balancer or proxy - timed out the request and closed " +
				"the connection with FIN, not RST; the server did not notice, finished the work and wrote the response to a peer that was gone. " +
				"The work is wasted and the server's write or next read fails with \"connection reset\" / EPIPE.")
		} else {
			b.WriteString(" The client's write raced the server's close: the request was sent on a connection the server was closing.")
		}
		b.WriteString(windowText)
		f.Actions = []string{
			"Make the server's processing timeout shorter than the client's (load balancer's) request timeout, so it never answers after the client gave up.",
			"Stop work on a request when its connection is half-closed (read returns EOF), and bound request queues so requests do not wait past the client's timeout.",
		}
	} else {
		f.Severity = Warning
		if n >= 3 {
			f.Severity = Critical
		}
		f.Title = fmt.Sprintf("%s wrote on %s after the %s's FIN and nothing came back: no ACK, no RST, retransmissions with backoff",
			capitalize(who), plural(n, "connection", "connections"), peer)
		if len(chain) > 0 {
			f.Title += " (" + fmtBackoff(chain) + ")"
		}
		fmt.Fprintf(&b, "The %s closed %s with a FIN, and %s sent data afterwards (%s after the FIN). "+
			"None of it was ACKed and no RST came back: the packets vanished. The sender retransmitted %s times in all",
			peer, these(n), who, rangeWithMedian(&delays), count(retrans))
		if len(chain) > 0 {
			fmt.Fprintf(&b, ", with the exponential RTO backoff of a silent path (intervals %s)", fmtBackoff(chain))
		}
		switch {
		case stillGoing == len(mine) && stillGoing > 0:
			b.WriteString(", and was still retransmitting when the capture ended.")
		case stillGoing > 0:
			fmt.Fprintf(&b, "; %d were still retransmitting when the capture ended.", stillGoing)
		default:
			b.WriteString(".")
		}
		if closing == len(mine) {
			fmt.Fprintf(&b, " These writes are only the sender's closing bytes (at most %d bytes, sent with its own FIN, e.g. a TLS close_notify): "+
				"it held the half-closed connection in CLOSE_WAIT for %s before closing it, and by then the path had forgotten the connection.",
				goodbyeBytes, rangeWithMedian(&delays))
		}
		b.WriteString(" Something in the path silently drops packets of a connection it considers closed: a stateful firewall, " +
			"NAT or virtual switch whose closing-state timer expired (conntrack marks them INVALID and drops them). " +
			"Meanwhile the sender's socket sits in CLOSE_WAIT with a full send buffer and the writing thread blocks until its " +
			"write timeout: in incident 004 each request held a Tomcat thread for ~60 s (three blocked writes of 20 s), 200 threads " +
			"were stuck, and the backends stayed unusable for 40 minutes after the overload.")
		b.WriteString(windowText)
		f.Actions = []string{
			"Make the backend's processing timeout shorter than the load balancer's request timeout, so it never writes after the balancer gave up.",
			"Stop work on a request when its connection is half-closed (read returns EOF), and bound the request queue.",
			"Bound blocked writes: a short write timeout, or TCP_USER_TIMEOUT, so a silent peer fails fast instead of holding a thread.",
		}
		if win.OK {
			f.Actions = append(f.Actions, fmt.Sprintf("Align the middlebox's closing-state timeout (about %s here) with the balancer, or make it answer RST instead of dropping.", fmtSec(win.Window)))
		} else {
			f.Actions = append(f.Actions, "Find the stateful device between the hosts (firewall, NAT, virtual switch) and its closing-state timeout; make it answer RST instead of dropping.")
		}
		if firstRTO.n > 0 {
			f.Inferred.RTOInitialS = roundInferred(firstRTO.median())
		}
	}
	f.Explanation = b.String()
	f.Evidence = []Metric{
		metric("writes_after_fin", float64(n), "", ""),
		metric("delay_after_fin_min_s", delays.min, "s", "peer's FIN → first write"),
		metric("delay_after_fin_p50_s", delays.median(), "s", ""),
		metric("delay_after_fin_max_s", delays.max, "s", ""),
		metric("bytes_after_fin", float64(bytes), "B", ""),
	}
	if d.kind == KindWriteAfterFINBlackholed {
		f.Evidence = append(f.Evidence, metric("retransmissions_after_fin", float64(retrans), "", ""),
			metric("still_retransmitting_at_end", float64(stillGoing), "", ""))
		if len(chain) > 0 {
			f.Evidence = append(f.Evidence, metric("rto_first_s", chain[0], "s", "backoff: "+fmtBackoff(chain)))
		}
	} else if rstAfter.n > 0 {
		f.Evidence = append(f.Evidence, metric("rst_after_write_p50_s", rstAfter.median(), "s", ""))
	}
	if win.OK {
		f.Evidence = append(f.Evidence,
			metric("max_delay_answered_by_rst_s", win.MaxRST, "s", "largest FIN→write delay still answered by RST"),
			metric("min_delay_met_with_silence_s", win.MinSilent, "s", "smallest FIN→write delay met with silence"),
			metric("drop_window_s", win.Window, "s", "midpoint between the two"))
	}
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 {
		e, p := c.Endpoint(key.Side), c.Endpoint(key.Side.Reverse())
		return []int64{p.FINFrame, e.DataAfterPeerFIN().FirstFrame, p.RSTFrame}
	})
	f.Charts = []Chart{d.chart(key, g.rst, silent, win)}
	return f, true
}

// chart draws FIN→write delay against retransmissions, coloured by outcome.
func (d *writeAfterFIN) chart(key sockGroup, rst, silent []wafRec, win dropWindow) Chart {
	pts := func(rs []wafRec) []Point {
		out := make([]Point, 0, min(len(rs), sampleCap))
		for _, r := range rs {
			if len(out) == sampleCap {
				break
			}
			out = append(out, Point{X: roundMilli(r.delay), Y: float64(r.retrans), Label: fmt.Sprintf("connection %d", d.tab.at(r.ref).ID)})
		}
		return out
	}
	ch := Chart{
		ID:     key.chartID(d.kind, "delay"),
		Title:  "Writes after the " + key.peerName() + "'s FIN on " + key.String() + ": answered by RST or met with silence",
		XLabel: "peer's FIN → write (s)",
		YLabel: "retransmissions of the write",
		Type:   ChartScatter,
		Series: []Series{{Name: "answered by RST", Points: pts(rst)}, {Name: "no answer (dropped)", Points: pts(silent)}},
	}
	if win.OK {
		ch.Marks = []Mark{{X: roundMilli(win.Window), Label: "drop window " + fmtSec(win.Window)}}
	}
	return ch
}

// fmtBackoff writes RTO intervals, e.g. "0.21, 0.43, 0.83 s".
func fmtBackoff(iv []float64) string {
	parts := make([]string, 0, len(iv))
	for i, x := range iv {
		if i == 8 {
			parts = append(parts, "…")
			break
		}
		parts = append(parts, fmt.Sprintf("%.2f", math.Round(x*100)/100))
	}
	return strings.Join(parts, ", ") + " s"
}

// these says "this connection" or "these connections".
func these(n int) string {
	if n == 1 {
		return "this connection"
	}
	return "these connections"
}

// rangeWithMedian writes a sample's range, and its median when it differs.
func rangeWithMedian(s *durSample) string {
	r := fmtRange(s.min, s.max)
	if m := fmtSec(s.median()); m != r && s.n > 2 {
		return r + " (median " + m + ")"
	}
	return r
}

// medianOf writes a sample's median, or its only value.
func medianOf(s *durSample) string {
	if s.n == 1 {
		return fmtSec(s.min)
	}
	return "median " + fmtSec(s.median())
}

// capitalize upper-cases the first letter.
func capitalize(s string) string {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return s
	}
	return string(s[0]-'a'+'A') + s[1:]
}
