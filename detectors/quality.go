package detectors

import (
	"fmt"
	"strings"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// qualitySpec describes capture-quality.
func qualitySpec() *Spec {
	return &Spec{
		Kind:     KindCaptureQuality,
		Title:    "the capture itself misses data: unseen segments, drops, truncation, duplicates, a cut-off file",
		Severity: Warning,
		Doc: `Tells capture problems apart from network problems. A segment the receiver
ACKed but the capture never showed (ACKed-unseen), or a sequence gap that is
never filled, was lost by the capture, not by the network. Also reported:
the interface drop counters of a pcapng file, frames cut by the snaplen
(headers-only captures), the same packet captured twice (a copy within half
an RTT of the original: mirror ports that see both directions, or two
interfaces), timestamps going backwards, and a file that ends in the middle
of a record. It is a warning when the capture dropped packets, the file is
cut off, at least LossWarnShare of the connections miss data, or one
retransmission in ten is a capture duplicate; otherwise info. Other findings
whose evidence could be an artifact of such a capture carry a caveat
(see CaptureCaveat).`,
		New: func(cfg *Config) Detector { return newQuality(cfg) },
	}
}

type quality struct {
	transportBase
	nconns      int64
	missing     int64 // connections with ACKed-unseen or not-captured segments
	ackedUnseen int64
	notCaptured int64
	truncSegs   int64
	truncConns  int64
	dups        int64
	dupConns    int64
	retrans     int64
	midstream   int64 // connections whose start the capture missed
	oneSided    int64 // connections seen in one direction only
	dupFrames   trFrames

	// dupLive holds the live connections with a segment captured twice,
	// until ConnDone lists them (a capture that holds everything twice
	// puts every live connection here; other captures few or none).
	// lastDupC is the latest of them, which saves the map most lookups.
	dupLive  map[*flows.Conn]struct{}
	lastDupC *flows.Conn
	// rs, when set, is retransmission-storm running before this detector
	// in the engine (see shareDups). It keeps the same duplicate tracker
	// per connection, and hands every segment that dupSees admits to it,
	// but SYNs: so this detector reads its verdict instead of keeping a
	// second tracker, a cache line fewer per data segment. A connection
	// gets a tracker of its own here only at its first SYN that dupSees
	// admits (a SYN|ACK with SACK blocks: hostile input), a copy of
	// retransmission-storm's, which was the same until then.
	rs    *retrans
	conns connStates[dupTracker]
	lastC *flows.Conn
	lastS *dupTracker
	flows FlowList
	ex    exemplarSet
	hl    trFrames
	first int64
	last  int64
}

func newQuality(cfg *Config) *quality {
	b := newTransportBase(cfg)
	return &quality{transportBase: b, flows: NewFlowList(b.maxFlows), ex: exemplarSet{max: b.maxExemplars},
		conns: newConnStates[dupTracker](cfg), dupLive: map[*flows.Conn]struct{}{}}
}

// Segment implements SegmentDetector: it looks for packets captured twice.
func (d *quality) Segment(c *flows.Conn, s *flows.Segment) {
	if s.Kind&flows.AnyRetransmission != 0 {
		d.retrans++
	}
	if !dupSees(s) {
		return // most pure ACKs: nothing to look up
	}
	var copied bool
	if d.rs != nil {
		copied = d.sharedDup(c, s)
	} else {
		st := d.lastS
		if d.lastC != c {
			st = d.conns.get(c)
			if st == nil {
				st = d.conns.fresh()
				d.conns.put(c, st)
			}
			d.lastC, d.lastS = c, st
		}
		copied = st.observe(s)
	}
	if copied {
		d.dups++
		d.dupFrames.add(s.P.Frame)
		if d.lastDupC != c {
			d.lastDupC = c
			if _, seen := d.dupLive[c]; !seen {
				d.dupLive[c] = struct{}{}
				d.dupConns++
			}
		}
	}
}

// sharedDup is Segment's duplicate test while retransmission-storm keeps
// the tracker (see rs).
func (d *quality) sharedDup(c *flows.Conn, s *flows.Segment) bool {
	st := d.conns.get(c)
	if st == nil {
		if !s.P.Flags.Has(decode.FlagSYN) {
			return d.rs.dupSeg == s && d.rs.dupCopied
		}
		st = d.conns.fresh()
		if rst := d.rs.conns.get(c); rst != nil {
			*st = rst.dups
		}
		d.conns.put(c, st)
	}
	return st.observe(s)
}

// shareDups makes d read rs's duplicate tracker (see quality.rs). nil
// (retransmission-storm failed) makes d keep its own trackers from then on,
// new ones for the connections that had none.
func (d *quality) shareDups(rs *retrans) { d.rs = rs }

// ConnDone implements Detector.
func (d *quality) ConnDone(c *flows.Conn) {
	st := d.conns.get(c)
	d.conns.del(c)
	d.conns.release(st) // nothing below reads it
	if d.lastC == c {
		d.lastC, d.lastS = nil, nil
	}
	var dup bool
	if len(d.dupLive) > 0 {
		if _, dup = d.dupLive[c]; dup {
			delete(d.dupLive, c)
		}
	}
	if d.lastDupC == c {
		d.lastDupC = nil // c may be reused for another connection
	}
	d.nconns++
	if !c.DirKnown {
		d.midstream++
	}
	if oneSided(c) {
		d.oneSided++
		d.flows.Add(c)
		d.ex.offer(c, 1)
		if d.first == 0 || c.FirstTS < d.first {
			d.first = c.FirstTS
		}
		d.last = max(d.last, c.LastTS)
		return
	}
	au, nc := connLoss(c)
	tr := c.Orig.Truncated + c.Resp.Truncated
	if tr > 0 {
		d.truncSegs += tr
		d.truncConns++
	}
	if au+nc == 0 && !dup {
		return
	}
	if au+nc > 0 {
		d.missing++
		d.ackedUnseen += au
		d.notCaptured += nc
	}
	d.flows.Add(c)
	d.ex.offer(c, float64(au+nc))
	for _, le := range c.Log {
		if le.Kind&(flows.SegAckedUnseen|flows.SegPrevNotCaptured) != 0 {
			d.hl.add(le.Frame)
			break
		}
	}
	if d.first == 0 || c.FirstTS < d.first {
		d.first = c.FirstTS
	}
	d.last = max(d.last, c.LastTS)
}

// Finish implements Detector.
func (d *quality) Finish(env *Env) []Finding {
	if env == nil {
		env = &Env{}
	}
	var sev Severity
	var parts, expl []string
	warn := func(s Severity) { sev = max(sev, s) }
	if env.HasDropped && env.Dropped > 0 {
		warn(Warning)
		parts = append(parts, "the capture interface dropped "+count(env.Dropped)+" packets")
		expl = append(expl, fmt.Sprintf("The pcapng interface statistics say the capturing host dropped %s packets (its buffer overflowed): they are missing from the file although they crossed the wire.", count(env.Dropped)))
	}
	if len(env.ReadErrors) > 0 {
		warn(Warning)
		parts = append(parts, "the file is cut off")
		expl = append(expl, "Reading stopped early: "+strings.Join(env.ReadErrors, "; ")+". The capture was probably copied while still being written, or the disk filled; whatever happened after the cut is not in the analysis.")
	}
	if env.Interrupted != "" {
		warn(Warning)
		parts = append(parts, "the analysis was interrupted")
		expl = append(expl, "The run was interrupted ("+env.Interrupted+") and the analysis covers what was read until then: whatever came after is not in it, and connections still open at that point count as open at the end.")
	}
	if d.missing > 0 {
		share := float64(d.missing) / float64(max(d.nconns, 1))
		if share >= d.opt.LossWarnShare && d.missing >= 2 {
			warn(Warning)
		} else {
			warn(Info)
		}
		var what []string
		if d.ackedUnseen > 0 {
			what = append(what, trPlural(d.ackedUnseen, "ACK for data never captured", "ACKs for data never captured"))
		}
		if d.notCaptured > 0 {
			what = append(what, trPlural(d.notCaptured, "sequence gap never filled", "sequence gaps never filled"))
		}
		parts = append(parts, fmt.Sprintf("%s of %s miss data (%s)",
			trPlural(d.missing, "connection", "connections"), count(d.nconns), strings.Join(what, ", ")))
		expl = append(expl, fmt.Sprintf("In %s the receiver ACKed data the capture never showed, or the sequence numbers jump over data that never appears: the capture missed those segments (the capture host was too slow, a mirror port dropped them, or the capture started or ended in the middle). Unlike network loss, these were not resent, because the receiver got them.",
			trPlural(d.missing, "connection", "connections")))
	}
	if d.oneSided > 0 {
		warn(Info)
		parts = append(parts, fmt.Sprintf("%s seen in one direction only", trPlural(d.oneSided, "connection", "connections")))
		expl = append(expl, fmt.Sprintf("In %s only one side's packets were captured, although that side was ACKing the other's: asymmetric routing around the capture point, or a capture filter on one direction. Nothing can be said about what the missing side sent.",
			trPlural(d.oneSided, "connection", "connections")))
	}
	if d.dups > 0 {
		if d.dups*10 >= d.retrans && d.dups >= 10 {
			warn(Warning)
		} else {
			warn(Info)
		}
		parts = append(parts, count(d.dups)+" packets were captured twice")
		expl = append(expl, fmt.Sprintf("%s of %s segments that look like retransmissions came within half a round trip of the original, faster than any TCP stack resends: the same packet was captured twice (a mirror port seeing both directions, or the capture taken on two interfaces, e.g. both sides of a router). tshark counts them as retransmissions; pcapsleuth does not count them in retransmission storms.",
			count(d.dups), count(d.retrans)))
	}
	if d.truncSegs > 0 || env.SnapTruncated > 0 {
		warn(Info)
		parts = append(parts, count(d.truncSegs+env.SnapTruncated)+" segments cut by the snaplen")
		expl = append(expl, fmt.Sprintf("%s segments were captured without all of their payload (a short snaplen, e.g. tcpdump -s 96): sequence analysis still works from the headers, but TLS and HTTP details are missing.", count(d.truncSegs+env.SnapTruncated)))
	}
	if env.Backwards > 0 {
		if env.Backwards*100 >= max(env.TCPPackets, 1) {
			warn(Warning)
		} else {
			warn(Info)
		}
		parts = append(parts, fmt.Sprintf("timestamps go backwards %s", trPlural(env.Backwards, "time", "times")))
		expl = append(expl, fmt.Sprintf("%s later in the file carry an earlier time (merged captures, clock steps, or multi-queue capture): timings around them are unreliable.", trPlural(env.Backwards, "packet", "packets")))
	}
	if env.Evicted > 0 {
		warn(Info)
		parts = append(parts, count(env.Evicted)+" connections were handed on early to bound memory")
		expl = append(expl, count(env.Evicted)+" connections were evicted from the connection table to keep memory bounded; later packets of them started new entries.")
	}
	if sev == 0 {
		return nil
	}
	f := Finding{Kind: KindCaptureQuality, Severity: sev, Subject: "capture", At: d.first, Until: d.last,
		Flows: d.flows.Refs(), FlowCount: d.flows.Count(), Exemplars: d.ex.best()}
	if f.At == 0 {
		f.At, f.Until = env.Start, env.End
	}
	hl := d.hl
	hl.add(d.dupFrames.list()...)
	f.Highlight = hl.list()
	f.Title = "The capture is incomplete: " + strings.Join(parts, "; ")
	f.Explanation = strings.Join(expl, " ") + " Findings built on missing or unanswered packets may be artifacts of the capture; they say so in their caveat."
	f.Actions = []string{
		"Capture with a larger buffer (tcpdump -B 16384), write to a fast local disk, filter to the traffic you need, and check tcpdump's \"dropped by kernel\" line.",
		"Use a snaplen that keeps the headers you need (-s 96 for TCP analysis, -s 0 for TLS/HTTP detail).",
	}
	f.Evidence = []Metric{
		trMetric("connections", float64(d.nconns), "", ""),
		trMetric("connections_missing_data", float64(d.missing), "", "ACKed-unseen or never-filled gaps"),
		trMetric("acked_unseen", float64(d.ackedUnseen), "", "ACKs for data the capture never showed"),
		trMetric("previous_segment_not_captured", float64(d.notCaptured), "", "sequence gaps never filled"),
		trMetric("capture_duplicates", float64(d.dups), "", "packets captured twice"),
		trMetric("snaplen_truncated", float64(d.truncSegs+env.SnapTruncated), "", "segments without all their payload"),
		trMetric("timestamps_backwards", float64(env.Backwards), "", ""),
		trMetric("interface_drops", float64(env.Dropped), "", "pcapng interface statistics"),
		trMetric("midstream_connections", float64(d.midstream), "", "the capture missed their handshake"),
		trMetric("one_sided_connections", float64(d.oneSided), "", "only one direction captured"),
	}
	if env.Interrupted != "" {
		f.Evidence = append(f.Evidence, Metric{Name: "interrupted", Value: 1, Note: env.Interrupted})
	}
	if len(env.ReadErrors) > 0 {
		f.Evidence = append(f.Evidence, Metric{Name: "read_errors", Value: float64(len(env.ReadErrors)), Note: strings.Join(env.ReadErrors, "; ")})
	}
	return []Finding{f}
}

// oneSided reports whether the capture shows only one direction of c while
// that side ACKs the other: at least two ACK segments (besides SYNs) from one
// side and not a single packet from the other.
func oneSided(c *flows.Conn) bool {
	o, r := &c.Orig, &c.Resp
	switch {
	case r.Packets == 0:
		return o.Packets-int64(o.SYNs) >= 2
	case o.Packets == 0:
		return r.Packets-int64(r.SYNs) >= 2 && (!c.DirKnown || c.SYNACKTS != 0)
	}
	return false
}
