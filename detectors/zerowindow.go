package detectors

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// zeroWindowSpec describes zero-window-stall.
func zeroWindowSpec() *Spec {
	return &Spec{
		Kind:     KindZeroWindowStall,
		Title:    "a receiver advertises a zero window and the sender stalls",
		Severity: Critical,
		Doc: `A receiver whose socket buffer is full advertises a zero window: the
sender must stop and send only window probes (persist timer) until the window
opens again. The stall lasts from the first zero-window advertisement to the
next one with room (or to the end of the connection). Per slow receiver
endpoint: the stalls, their total and longest duration, the sender's probes
and their interval, and whether a stall was still going at the end. The
receiver is the slow side: its application does not read fast enough.
Stalls shorter than ZeroWindowWarn are info (normal flow control under load),
longer ones a warning, and stalls over ZeroWindowCrit or never resolved are
critical.`,
		New: func(cfg *Config) Detector { return newZeroWindow(cfg) },
	}
}

// zwDir tracks the zero windows advertised by one side of a connection.
type zwDir struct {
	stalled     bool
	start       int64
	startFrame  int64
	stalls      int64
	total       int64
	longest     int64
	zeroSegs    int64
	probes      int64
	lastProbe   int64
	probeGaps   []float64 // bounded
	openedFrame int64
}

type zwConn struct{ d [2]zwDir }

// zwReceiver aggregates one slow receiver endpoint.
type zwReceiver struct {
	addr                     netip.AddrPort
	stalls, zeroSegs, probes int64
	total, longest           int64
	unresolved               int64
	probeGaps                []float64
	flows                    FlowList
	ex                       exemplarSet
	hl                       trFrames
	first, last              int64
	peers                    map[netip.Addr]int64
	durations                []Point
	ackedUnseen, notCaptured int64
}

type zeroWindow struct {
	transportBase
	conns connStates[zwConn]
	recvs map[netip.AddrPort]*zwReceiver
	lastC *flows.Conn
	lastS *zwConn
}

func newZeroWindow(cfg *Config) *zeroWindow {
	return &zeroWindow{transportBase: newTransportBase(cfg), conns: newConnStates[zwConn](cfg),
		recvs: make(map[netip.AddrPort]*zwReceiver)}
}

// Segment implements SegmentDetector.
func (d *zeroWindow) Segment(c *flows.Conn, s *flows.Segment) {
	st := d.lastS
	if d.lastC != c {
		st = d.conns.get(c)
		if st == nil {
			if !s.Kind.Has(flows.SegZeroWindow) {
				// The common case: no zero window on this connection yet.
				// (The slot is in the cache, c.Orig.ZeroWindows and
				// c.Resp.ZeroWindows, read here before, often were not.)
				return
			}
			st = d.conns.fresh()
			d.conns.put(c, st)
		}
		d.lastC, d.lastS = c, st
	}
	p := s.P
	me, peer := &st.d[s.Dir], &st.d[s.Dir.Reverse()]
	if s.Kind&(flows.SegZeroWindowProbe|flows.SegKeepAlive) != 0 && peer.stalled {
		// A probe: one new byte (most stacks), or an empty segment one
		// byte below the next sequence number (Linux), which flows and
		// Wireshark call a keep-alive.
		peer.probes++
		if peer.lastProbe != 0 && len(peer.probeGaps) < 64 {
			peer.probeGaps = append(peer.probeGaps, Seconds(p.TS-peer.lastProbe))
		}
		peer.lastProbe = p.TS
	}
	if p.Flags&(decode.FlagSYN|decode.FlagRST) != 0 {
		if p.Flags.Has(decode.FlagRST) && me.stalled {
			me.end(p.TS, p.Frame)
		}
		return
	}
	switch {
	case s.Kind.Has(flows.SegZeroWindow):
		me.zeroSegs++
		if !me.stalled {
			me.stalled, me.start, me.startFrame = true, p.TS, p.Frame
			me.stalls++
			me.lastProbe = 0
		}
	case me.stalled && p.Window != 0:
		me.end(p.TS, p.Frame)
	}
}

func (z *zwDir) end(ts, frame int64) {
	dur := ts - z.start
	z.total += dur
	z.longest = max(z.longest, dur)
	z.stalled = false
	z.openedFrame = frame
}

// ConnDone implements Detector.
func (d *zeroWindow) ConnDone(c *flows.Conn) {
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
		z := &st.d[dir]
		if z.stalls == 0 {
			continue
		}
		unresolved := z.stalled
		if z.stalled {
			z.end(c.LastTS, 0)
		}
		addr := c.Endpoint(dir).Addr
		r := d.recvs[addr]
		if r == nil {
			r = &zwReceiver{addr: addr, flows: NewFlowList(d.maxFlows), ex: exemplarSet{max: d.maxExemplars}, peers: map[netip.Addr]int64{}}
			d.recvs[addr] = r
		}
		r.stalls += z.stalls
		r.zeroSegs += z.zeroSegs
		r.probes += z.probes
		r.total += z.total
		r.longest = max(r.longest, z.longest)
		if unresolved {
			r.unresolved++
		}
		if len(r.probeGaps) < 1024 {
			r.probeGaps = append(r.probeGaps, z.probeGaps...)
		}
		if len(r.peers) < 64 {
			r.peers[c.Endpoint(dir.Reverse()).Addr.Addr()]++
		}
		r.flows.Add(c)
		r.ex.offer(c, Seconds(z.longest))
		r.hl.add(z.startFrame, z.openedFrame)
		if r.first == 0 || c.FirstTS < r.first {
			r.first = c.FirstTS
		}
		r.last = max(r.last, c.LastTS)
		if len(r.durations) < 512 {
			r.durations = append(r.durations, Point{X: float64(c.ID), Y: round3(Seconds(z.longest)), Label: fmt.Sprintf("connection %d", c.ID)})
		}
		au, nc := connLoss(c)
		r.ackedUnseen += au
		r.notCaptured += nc
	}
}

// Finish implements Detector.
func (d *zeroWindow) Finish(env *Env) []Finding {
	keys := sortedKeys(d.recvs, hsLess)
	var out []Finding
	for _, k := range keys {
		out = append(out, d.finding(d.recvs[k], env))
	}
	return out
}

func (d *zeroWindow) finding(r *zwReceiver, env *Env) Finding {
	longest, total := Seconds(r.longest), Seconds(r.total)
	sev := Info
	switch {
	case longest >= d.opt.ZeroWindowCrit.Seconds() || (r.unresolved > 0 && longest >= d.opt.ZeroWindowWarn.Seconds()):
		sev = Critical
	case longest >= d.opt.ZeroWindowWarn.Seconds():
		sev = Warning
	}
	f := Finding{Kind: KindZeroWindowStall, Severity: sev, Subject: r.addr.String(), At: r.first, Until: r.last,
		Flows: r.flows.Refs(), FlowCount: r.flows.Count(), Exemplars: r.ex.best(), Highlight: r.hl.list()}
	title := fmt.Sprintf("%s advertised a zero window %s in %s; senders stalled %s in all, longest %s",
		r.addr, trPlural(r.stalls, "time", "times"), trPlural(int64(r.flows.Count()), "connection", "connections"),
		trDur(total), trDur(longest))
	if r.unresolved > 0 {
		title += fmt.Sprintf(" (%d still stalled at the end)", r.unresolved)
	}
	f.Title = title
	peers := make([]string, 0, len(r.peers))
	for a := range r.peers {
		peers = append(peers, a.String())
	}
	sort.Strings(peers)
	var ex strings.Builder
	fmt.Fprintf(&ex, "%s told its peer (%s) %d times that its receive buffer was full (window 0), so the sender had to stop. ",
		r.addr, strings.Join(peers, ", "), r.zeroSegs)
	fmt.Fprintf(&ex, "The slow side is %s: its application did not read the data as fast as it arrived (busy, blocked, or waiting on something else). ", r.addr)
	if r.probes > 0 {
		fmt.Fprintf(&ex, "The sender sent %s to see whether the window had opened", trPlural(r.probes, "zero-window probe", "zero-window probes"))
		if len(r.probeGaps) > 0 {
			fmt.Fprintf(&ex, ", about every %s (persist timer, backing off)", trDur(Median(append([]float64(nil), r.probeGaps...))))
		}
		ex.WriteString(". ")
	}
	if r.unresolved > 0 {
		fmt.Fprintf(&ex, "%s never reopened before the connection or the capture ended. ", trPlural(r.unresolved, "window", "windows"))
	}
	f.Explanation = strings.TrimSpace(ex.String())
	f.Actions = []string{
		fmt.Sprintf("Look at the application on %s while it stalls: ss -tmi shows a full receive queue (Recv-Q) on the affected sockets; a thread dump shows why it is not reading.", r.addr),
		"If the reader is merely slow for bursts, a larger receive buffer (SO_RCVBUF / tcp_rmem) smooths them; a reader that stops entirely needs fixing, not tuning.",
	}
	f.Evidence = []Metric{
		trMetric("stalls", float64(r.stalls), "", "zero-window periods"),
		trMetric("stalled_s", round3(total), "s", "total, all connections"),
		trMetric("longest_stall_s", round3(longest), "s", "one connection"),
		trMetric("zero_window_segments", float64(r.zeroSegs), "", "advertisements of a zero window"),
		trMetric("window_probes", float64(r.probes), "", "the sender's persist probes"),
		trMetric("unresolved", float64(r.unresolved), "", "still zero when the connection or capture ended"),
	}
	if len(r.probeGaps) > 0 {
		f.Evidence = append(f.Evidence, trMetric("probe_interval_s", round3(Median(append([]float64(nil), r.probeGaps...))), "s", "median gap between probes"))
	}
	f.Caveat = CaptureCaveat(env, r.ackedUnseen, r.notCaptured)
	if len(r.durations) > 1 {
		f.Charts = []Chart{{ID: "zero-window-stall-" + chartKey(r.addr.String()), Title: "Longest stall per connection, " + r.addr.String(),
			XLabel: "connection", YLabel: "seconds", Type: ChartBar, Series: []Series{{Name: "longest stall", Points: r.durations}}}}
	}
	return f
}
