package detectors

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

func tlsAbandonSpec() *Spec {
	return &Spec{
		Kind:     KindTLSHandshakeAbandoned,
		Title:    "TLS handshakes the client abandoned and the server never closed",
		Severity: Critical,
		Doc: `A connection to a TLS listener (TLS recognised by content, on any port) that
the client closed (FIN or RST) before the handshake finished, and that the server
never closed (no FIN, no RST) up to the end of the capture: the server is stuck
in its handshake loop and the socket sits in CLOSE_WAIT (incident 000). The
stage is read from the records the capture shows: no ClientHello (the client
sent nothing), ClientHello without any server reply, a server reply without
ServerHello, or after the ServerHello; on a headers-only capture the record
start is enough. A connection whose client bytes were cut by the snaplen
counts when other connections show the listener speaks TLS. The finding needs
at least one abandoned handshake whose FIN is older than CloseWaitGrace at the
end of the capture; younger ones then join it.`,
		New: func(cfg *Config) Detector { return newTLSAbandon(cfg) },
	}
}

// tlsStage is how far a TLS handshake got.
type tlsStage uint8

const (
	stageNoClientHello    tlsStage = iota // the client sent nothing
	stageUncaptured                       // the client sent bytes the snaplen cut off
	stageNoServerReply                    // ClientHello, then nothing from the server
	stageNoServerHello                    // ClientHello, then server bytes but no ServerHello
	stageAfterServerHello                 // ServerHello seen, handshake not finished
	numTLSStages
)

var tlsStageText = [numTLSStages]string{
	"before the ClientHello (the client sent nothing)",
	"after the client's first bytes (not captured: headers-only capture), with no server reply",
	"after the ClientHello, with no ServerHello (the server sent nothing)",
	"after the ClientHello, with a server reply that was not a ServerHello",
	"after the ServerHello, before the handshake finished",
}

type tlsRec struct {
	closeTS  int64 // the client's FIN or RST
	waited   int64 // from the client's last handshake step to its close
	helloFrm int64
	ref      uint32 // in the detector's refTab
	stage    tlsStage
	byRST    bool
	acked    bool // the server's kernel ACKed the FIN
}

type tlsGroup struct {
	recs []tlsRec
	over int
	ex   exemplarSet
}

// tlsAbandon implements tls-handshake-abandoned.
type tlsAbandon struct {
	teardownBase
	tlsConns map[netip.AddrPort]int // connections that showed TLS, per listener
	groups   map[sockGroup]*tlsGroup
}

func newTLSAbandon(cfg *Config) *tlsAbandon {
	return &tlsAbandon{teardownBase: newTeardownBase(cfg), tlsConns: make(map[netip.AddrPort]int),
		groups: make(map[sockGroup]*tlsGroup)}
}

// ConnDone implements Detector.
func (d *tlsAbandon) ConnDone(c *flows.Conn) {
	d.seen(c.LastTS)
	t := c.App().TLS
	if t.Seen {
		d.tlsConns[c.Resp.Addr]++
	}
	if t.HandshakeComplete || c.Resp.FINTS != 0 || c.Resp.RSTTS != 0 {
		return
	}
	closeTS, byRST := c.Orig.FINTS, false
	if c.Orig.RSTTS != 0 && (closeTS == 0 || c.Orig.RSTTS < closeTS) {
		closeTS, byRST = c.Orig.RSTTS, true
	}
	est := establishedAt(c)
	if closeTS == 0 || est == 0 || !c.DirKnown {
		return
	}
	var stage tlsStage
	from := est
	switch {
	case t.ClientHelloTS != 0 && t.ServerHelloTS != 0:
		stage, from = stageAfterServerHello, t.ServerHelloTS
	case t.ClientHelloTS != 0 && c.Resp.Bytes == 0:
		stage, from = stageNoServerReply, t.ClientHelloTS
	case t.ClientHelloTS != 0:
		stage, from = stageNoServerHello, t.ClientHelloTS
	case c.Orig.Bytes == 0 && c.Resp.Bytes == 0:
		stage = stageNoClientHello
	case !t.Seen && c.Orig.Bytes > 0 && c.Orig.Truncated > 0 && c.Resp.Bytes == 0:
		stage, from = stageUncaptured, c.Orig.FirstDataTS
	default:
		return // not a TLS handshake, or the client's bytes were not TLS
	}
	key := groupOf(c, flows.Resp)
	g := groupFor(d.groups, key, func() *tlsGroup { return &tlsGroup{ex: d.exemplars()} })
	if g == nil {
		d.dropped++
		return
	}
	r := tlsRec{stage: stage, closeTS: closeTS, byRST: byRST,
		acked: !byRST && c.Orig.FINAckedTS != 0, waited: closeTS - from, helloFrm: t.ClientHelloFrame}
	if d.keep(len(g.recs)) {
		r.ref = d.ref(c)
		g.recs = append(g.recs, r)
	} else {
		g.over++
	}
	score := -Seconds(closeTS)
	if stage == stageNoClientHello || byRST {
		score -= 1e12 // prefer exemplars that show the ClientHello and a FIN
	}
	g.ex.offer(c, score)
}

// Finish implements Detector.
func (d *tlsAbandon) Finish(env *Env) []Finding {
	var out []Finding
	end := d.end(env)
	for _, key := range sortedGroups(d.groups) {
		if d.tlsConns[key.Listener] == 0 {
			continue // nothing shows this listener speaks TLS
		}
		if f, ok := d.finding(key, d.groups[key], end, env); ok {
			out = append(out, f)
		}
	}
	return out
}

func (d *tlsAbandon) finding(key sockGroup, g *tlsGroup, end int64, env *Env) (Finding, bool) {
	grace := d.grace()
	old, young := 0, 0
	refs := d.refs()
	var stages [numTLSStages]int
	var waited, ages durSample
	fins, rsts, unacked := 0, 0, 0
	first := int64(0)
	for _, r := range g.recs {
		if r.byRST {
			// The reset freed the server's socket; the stall itself (the
			// server silent for the grace period) is the evidence.
			rsts++
			if r.stage != stageNoClientHello && r.waited >= grace {
				old++
			} else {
				young++
			}
		} else {
			fins++
			ages.add(Seconds(end - r.closeTS))
			// Old enough: the FIN went unanswered for the grace period, or
			// the server left the client's last handshake message
			// unanswered for that long.
			if end-r.closeTS >= grace || (r.stage != stageNoClientHello && end-(r.closeTS-r.waited) >= grace) {
				old++
			} else {
				young++
			}
			if !r.acked {
				unacked++
			}
		}
		refs.add(d.tab.at(r.ref))
		stages[r.stage]++
		waited.add(Seconds(r.waited))
		if first == 0 || r.closeTS < first {
			first = r.closeTS
		}
	}
	refs.count += g.over
	sev := Warning
	switch {
	case old > 0 || g.over > 0:
		if fins >= d.opt.CriticalSockets {
			sev = Critical
		}
	case young >= d.opt.YoungPattern:
		sev = Info
	default:
		return Finding{}, false
	}
	total := refs.count
	ex := g.ex.conns(nil)
	f := Finding{
		Kind:      KindTLSHandshakeAbandoned,
		Severity:  sev,
		Subject:   key.String(),
		At:        first,
		Until:     end,
		Flows:     refs.sorted(),
		FlowCount: total,
		Exemplars: ex,
		Caveat:    d.caveat(env),
	}
	main := 0
	for s := range stages {
		if stages[s] > stages[main] {
			main = s
		}
	}
	stagePhrase := "before the handshake finished"
	if stages[main] == len(g.recs) {
		stagePhrase = tlsStageText[main]
	}
	f.Title = fmt.Sprintf("%s on %s abandoned by the client %s; the server never closed them (CLOSE_WAIT)",
		plural(total, "TLS handshake", "TLS handshakes"), key.Listener, stagePhrase)

	var b strings.Builder
	fmt.Fprintf(&b, "%s speaks TLS (%s showed TLS records). On %s the client closed the connection before the TLS handshake finished:",
		key.Listener, plural(d.tlsConns[key.Listener], "connection", "connections"), plural(total, "connection", "connections"))
	var parts []string
	for s := range stages {
		if stages[s] > 0 {
			parts = append(parts, fmt.Sprintf(" %d %s", stages[s], tlsStageText[s]))
		}
	}
	b.WriteString(strings.Join(parts, ";"))
	b.WriteString(". ")
	var how []string
	if fins > 0 {
		h := fmt.Sprintf("%d with a FIN", fins)
		switch {
		case unacked == 0 && fins > 1:
			h += " (all ACKed by the server's kernel)"
		case unacked == 0:
			h += " (ACKed by the server's kernel)"
		case unacked < fins:
			h += fmt.Sprintf(" (%d ACKed by the server's kernel)", fins-unacked)
		}
		how = append(how, h)
	}
	if rsts > 0 {
		how = append(how, fmt.Sprintf("%d with a RST", rsts))
	}
	fmt.Fprintf(&b, "The client closed %s", strings.Join(how, " and "))
	if waited.n > 0 {
		fmt.Fprintf(&b, ", %s after its last handshake step (median; the client's handshake timeout)", fmtSec(waited.median()))
	}
	b.WriteString(". The server never sent a FIN or a RST on any of them: its end stays in CLOSE_WAIT")
	if ages.n > 0 {
		fmt.Fprintf(&b, " (at the end of the capture the oldest had waited %s since the client's FIN)", fmtSec(ages.max))
	}
	b.WriteString(". This is incident 000: the client dropped the connection after accept() but before the handshake completed, " +
		"and the server's handshake code looped (timeout, error, try to finish the handshake, wait for more data) without ever " +
		"closing the socket. Only the TLS listener shows it; plain-text listeners of the same service are fine.")
	f.Explanation = b.String()
	f.Actions = []string{
		fmt.Sprintf("Confirm on the server: `ss -tanp state close-wait '( sport = :%d )'` lists the stuck sockets and their process.", key.Listener.Port()),
		"Give the TLS handshake a timeout that closes the socket on expiry or on EOF, and upgrade the server's TLS/connector stack (incident 000: a known Tomcat NIO handshake bug).",
		"Check why clients give up: a server that does not start the handshake (busy or blocked acceptor, slow certificate loading) makes every client time out.",
	}
	f.Evidence = []Metric{
		metric("abandoned", float64(total), "", "handshakes the client closed and the server never did"),
		metric("client_fin", float64(fins), "", ""),
		metric("client_rst", float64(rsts), "", ""),
		metric("stage_no_client_hello", float64(stages[stageNoClientHello]), "", ""),
		metric("stage_client_hello_no_reply", float64(stages[stageNoServerReply]), "", ""),
		metric("stage_reply_without_server_hello", float64(stages[stageNoServerHello]), "", ""),
		metric("stage_after_server_hello", float64(stages[stageAfterServerHello]), "", ""),
		metric("stage_not_captured", float64(stages[stageUncaptured]), "", "client bytes cut by the snaplen"),
	}
	if waited.n > 0 {
		f.Evidence = append(f.Evidence, metric("client_gave_up_after_p50_s", waited.median(), "s", "from the client's last handshake step to its close"))
	}
	f.Evidence = append(f.Evidence, secondsMetrics("age", &ages, "time since the client's FIN at the end of the capture")...)
	f.Highlight = highlights(ex, func(c *flows.Conn) []int64 {
		return []int64{c.App().TLS.ClientHelloFrame, c.Orig.FINFrame, c.Orig.RSTFrame}
	})
	return f, true
}
