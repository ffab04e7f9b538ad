package detectors

import (
	"fmt"
	"math"
	"net/netip"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// TransportOptions are the thresholds of the transport detectors
// (retransmissions, TSO, zero windows, handshakes, capture quality). Zero
// fields take the defaults of DefaultTransportOptions. See
// docs/detectors.md, "Transport detectors".
type TransportOptions struct {
	// RetransWindow is the width of the sliding window over which the
	// retransmission rate of a host pair is measured (its peak is reported).
	RetransWindow time.Duration `help:"sliding window over which a host pair's retransmission rate is measured"`
	// RetransMinCount is the fewest loss retransmissions (fast and RTO; tail
	// loss probes, spurious resends and capture duplicates excluded) a host
	// pair needs in one window before its rate is judged at all.
	RetransMinCount int `help:"fewest loss retransmissions in one window before a host pair's rate is judged"`
	// RetransWarnRate is the share of data segments retransmitted within a
	// window that makes a warning.
	RetransWarnRate float64 `help:"share of segments retransmitted within a window that makes a warning"`
	// RetransCritRate is the share that makes a storm critical, together
	// with at least RetransCritCount retransmissions in the window.
	RetransCritRate  float64 `help:"share of segments retransmitted within a window that makes a critical storm"`
	RetransCritCount int     `help:"retransmissions within a window needed, with retrans-crit-rate, for a critical storm"`
	// RetransBaselineFactor: a host pair whose rate is this many times the
	// rest of the capture's (and at least RetransMinCount retransmissions)
	// is reported as a warning even below RetransWarnRate.
	RetransBaselineFactor float64 `help:"how many times the rest of the capture's retransmission rate makes a host pair a warning"`
	// BackoffMinResends is how many resends of one segment make an RTO
	// backoff episode worth a warning (the first resend alone may be a tail
	// loss probe).
	BackoffMinResends int `help:"resends of one segment that make an RTO backoff episode a warning"`

	// ZeroWindowWarn and ZeroWindowCrit are the longest stall (zero window
	// advertised until it reopens) that make a warning or a critical finding;
	// shorter stalls are info.
	ZeroWindowWarn time.Duration `help:"zero-window stall that makes a warning"`
	ZeroWindowCrit time.Duration `help:"zero-window stall that makes a critical finding"`

	// SYNTimeout is how long a SYN must go unanswered before the capture
	// ends for it to count as unanswered (Linux retries a SYN after 1 s).
	SYNTimeout time.Duration `flag:"syn-timeout" help:"how long a lone SYN must go unanswered before the capture ends to count as unanswered"`
	// HandshakeCritShare is the share of a listener's connection attempts
	// that must go unanswered (at least 3 of them) for a critical finding.
	HandshakeCritShare float64 `help:"share of a listener's connection attempts left unanswered (3 at least) that makes a critical finding"`

	// LossWarnShare is the share of connections with data missing from the
	// capture (ACKed-unseen or previous-segment-not-captured) that makes the
	// capture-quality finding a warning; fewer make it info.
	LossWarnShare float64 `help:"share of connections missing data in the capture that makes capture-quality a warning"`
}

// DefaultTransportOptions returns the defaults.
func DefaultTransportOptions() TransportOptions {
	return TransportOptions{
		RetransWindow:         time.Second,
		RetransMinCount:       5,
		RetransWarnRate:       0.03,
		RetransCritRate:       0.20,
		RetransCritCount:      50,
		RetransBaselineFactor: 10,
		BackoffMinResends:     2,
		ZeroWindowWarn:        time.Second,
		ZeroWindowCrit:        10 * time.Second,
		SYNTimeout:            time.Second,
		HandshakeCritShare:    0.5,
		LossWarnShare:         0.05,
	}
}

// withDefaults fills zero fields with the defaults.
func (o TransportOptions) withDefaults() TransportOptions {
	d := DefaultTransportOptions()
	if o.RetransWindow <= 0 {
		o.RetransWindow = d.RetransWindow
	}
	if o.RetransMinCount <= 0 {
		o.RetransMinCount = d.RetransMinCount
	}
	if o.RetransWarnRate <= 0 {
		o.RetransWarnRate = d.RetransWarnRate
	}
	if o.RetransCritRate <= 0 {
		o.RetransCritRate = d.RetransCritRate
	}
	if o.RetransCritCount <= 0 {
		o.RetransCritCount = d.RetransCritCount
	}
	if o.RetransBaselineFactor <= 0 {
		o.RetransBaselineFactor = d.RetransBaselineFactor
	}
	if o.BackoffMinResends <= 0 {
		o.BackoffMinResends = d.BackoffMinResends
	}
	if o.ZeroWindowWarn <= 0 {
		o.ZeroWindowWarn = d.ZeroWindowWarn
	}
	if o.ZeroWindowCrit <= 0 {
		o.ZeroWindowCrit = d.ZeroWindowCrit
	}
	if o.SYNTimeout <= 0 {
		o.SYNTimeout = d.SYNTimeout
	}
	if o.HandshakeCritShare <= 0 {
		o.HandshakeCritShare = d.HandshakeCritShare
	}
	if o.LossWarnShare <= 0 {
		o.LossWarnShare = d.LossWarnShare
	}
	return o
}

// transportSpecs lists the transport detectors in report order.
func transportSpecs() []*Spec {
	return []*Spec{retransSpec(), handshakeSpec(), zeroWindowSpec(), tsoSpec(), qualitySpec()}
}

// transportBase is what every transport detector keeps from the Config.
type transportBase struct {
	opt          TransportOptions
	maxFlows     int
	maxExemplars int
}

func newTransportBase(cfg *Config) transportBase {
	b := transportBase{opt: cfg.Transport.withDefaults(), maxFlows: cfg.MaxFlows, maxExemplars: cfg.MaxExemplars}
	if b.maxFlows <= 0 {
		b.maxFlows = 10_000
	}
	if b.maxExemplars < 0 {
		b.maxExemplars = 0
	}
	return b
}

// CaptureCaveat returns the caveat to attach to a finding whose evidence
// could be an artifact of a lossy capture, or "" when the capture shows no
// sign of loss. ackedUnseen and notCaptured count the segments of the
// finding's own connections that the capture missed (flows.Endpoint's
// AckedUnseen and PrevNotCaptured). The Engine, or a detector, calls it when
// it builds a finding; capture-quality reports the loss itself.
func CaptureCaveat(env *Env, ackedUnseen, notCaptured int64) string {
	var why []string
	if env != nil {
		if env.HasDropped && env.Dropped > 0 {
			why = append(why, "the capture interface dropped "+count(env.Dropped)+" packets")
		}
		if len(env.ReadErrors) > 0 {
			why = append(why, "the capture file is cut off or damaged")
		}
		if env.Interrupted != "" {
			why = append(why, "the analysis was interrupted before the end of the capture")
		}
	}
	if ackedUnseen+notCaptured > 0 {
		why = append(why, count(ackedUnseen+notCaptured)+" segments of these connections were ACKed or skipped without being captured")
	}
	if len(why) == 0 {
		return ""
	}
	return "The capture itself missed packets (" + strings.Join(why, "; ") +
		"): a packet that looks lost or unanswered may only be missing from the file."
}

// connCaveat sums the capture-loss counters of c for CaptureCaveat.
func connLoss(c *flows.Conn) (ackedUnseen, notCaptured int64) {
	return c.Orig.AckedUnseen + c.Resp.AckedUnseen, c.Orig.UnfilledGaps + c.Resp.UnfilledGaps
}

// trPair is an unordered pair of hosts, the unit retransmission storms are
// aggregated over (Lo sorts before Hi).
type trPair struct{ Lo, Hi netip.Addr }

func pairOf(a, b netip.Addr) trPair {
	if b.Less(a) {
		return trPair{b, a}
	}
	return trPair{a, b}
}

func (p trPair) String() string { return p.Lo.String() + " ↔ " + p.Hi.String() }

// trLink is a directed pair of hosts: the sender of segments and their
// receiver.
type trLink struct{ From, To netip.Addr }

func (l trLink) String() string { return l.From.String() + " → " + l.To.String() }

// trFrames collects highlight frames, bounded and sorted.
type trFrames struct{ f []int64 }

const trMaxHighlights = 32

func (h *trFrames) add(frames ...int64) {
	for _, f := range frames {
		if f > 0 && len(h.f) < trMaxHighlights {
			h.f = append(h.f, f)
		}
	}
}

func (h *trFrames) list() []int64 {
	out := append([]int64(nil), h.f...)
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	k := 0
	for i, f := range out {
		if i == 0 || f != out[k-1] {
			out[k] = f
			k++
		}
	}
	return out[:k]
}

// trSeries counts events over capture time in at most trSeriesBuckets
// buckets; the bucket width doubles (merging neighbours) when the capture
// outgrows it, so memory stays bounded on long captures.
type trSeries struct {
	start  int64 // bucket 0 starts here (Unix ns)
	width  int64
	counts []int32
}

const trSeriesBuckets = 256

func (s *trSeries) add(ts int64, n int32) {
	if s.width == 0 {
		s.start, s.width = ts, int64(100e6)
	}
	if ts < s.start {
		ts = s.start
	}
	i := (ts - s.start) / s.width
	for i >= trSeriesBuckets {
		half := (len(s.counts) + 1) / 2
		for j := 0; j < half; j++ {
			v := s.counts[2*j]
			if 2*j+1 < len(s.counts) {
				v += s.counts[2*j+1]
			}
			s.counts[j] = v
		}
		s.counts = s.counts[:half]
		s.width *= 2
		i = (ts - s.start) / s.width
	}
	for int64(len(s.counts)) <= i {
		s.counts = append(s.counts, 0)
	}
	s.counts[i] += n
}

// points returns the series as chart points: x = seconds since origin.
func (s *trSeries) points(origin int64) []Point {
	var out []Point
	for i, v := range s.counts {
		if v == 0 {
			continue
		}
		x := Seconds(s.start+int64(i)*s.width-origin) + Seconds(s.width)/2
		out = append(out, Point{X: round3(x), Y: float64(v)})
	}
	return out
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// trMetric builds an evidence Metric.
func trMetric(name string, v float64, unit, note string) Metric {
	return Metric{Name: name, Value: v, Unit: unit, Note: note}
}

// FormatCount writes a count the way the findings' prose does, with
// thousands separators: 1234567 → "1,234,567". The reports and the command
// line use it too, so a number reads the same everywhere.
func FormatCount(n int64) string {
	var buf [32]byte
	b := strconv.AppendInt(buf[:0], n, 10)
	digits := b
	if n < 0 {
		digits = b[1:]
	}
	if len(digits) <= 3 {
		return string(b)
	}
	out := make([]byte, 0, len(b)+len(digits)/3)
	if n < 0 {
		out = append(out, '-')
	}
	lead := len(digits) % 3
	if lead == 0 {
		lead = 3
	}
	out = append(out, digits[:lead]...)
	for i := lead; i < len(digits); i += 3 {
		out = append(out, ',')
		out = append(out, digits[i:i+3]...)
	}
	return string(out)
}

// count is FormatCount for the counters' types.
func count[T ~int | ~int32 | ~int64 | ~uint64](n T) string { return FormatCount(int64(n)) }

// trPlural returns "1 connection" or "3 connections" ("12,345 connections").
func trPlural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return FormatCount(n) + " " + many
}

// trDur formats seconds for titles: "850 µs", "12 ms", "1.3 s", "4 min 10 s".
func trDur(s float64) string {
	switch {
	case s < 0:
		return "-" + trDur(-s)
	case s < 1e-3:
		return fmt.Sprintf("%.0f µs", s*1e6)
	case s < 1:
		return fmt.Sprintf("%.0f ms", s*1e3)
	case s < 10:
		return fmt.Sprintf("%.2g s", s)
	case s < 120:
		return fmt.Sprintf("%.0f s", s)
	}
	return fmt.Sprintf("%d min %d s", int(s)/60, int(s)%60)
}

// trPct formats a share as a percentage.
func trPct(x float64) string {
	switch {
	case x >= 0.1:
		return fmt.Sprintf("%.0f%%", x*100)
	case x >= 0.01:
		return fmt.Sprintf("%.1f%%", x*100)
	case x > 0 && x < 0.0001:
		return "<0.01%"
	}
	return fmt.Sprintf("%.2f%%", x*100)
}

// trOrigin is the time charts count from: the capture start, else the
// first evidence.
func trOrigin(env *Env, first int64) int64 {
	if env != nil && env.Start != 0 {
		return env.Start
	}
	return first
}

// trEnd is the capture's last packet time, else last.
func trEnd(env *Env, last int64) int64 {
	if env != nil && env.End != 0 {
		return env.End
	}
	return last
}

// rttOf returns the best round-trip estimate of c at the capture point: the
// handshake RTT, else the smallest data→ACK sample (0 when unknown).
func rttOf(c *flows.Conn) int64 { return viewRTT(c.View()) }

// viewRTT is rttOf for a segment's view of its connection (Segment.View).
func viewRTT(v flows.ConnView) int64 {
	if v.HandshakeRTT > 0 {
		return v.HandshakeRTT
	}
	return v.RTTMin
}

// dupTracker recognises the same packet captured twice (a mirror port that
// sees both directions, a capture on both sides of a router): a
// retransmission that comes within dupWindow of the original, or of the
// identical previous segment, with no hole reported by the peer in between.
// No TCP stack resends that fast: a fast retransmission waits for duplicate
// ACKs, a tail loss probe at least 10 ms, an RTO at least 200 ms (Linux).
type dupTracker [2]struct {
	seq, end uint32 // previous data segment of the direction
	ts       int64
	fb       int64 // last ACK of the peer reporting a hole (SACK or duplicate ACK)
}

// dupSees reports whether observe has anything to do with s: a segment
// with payload or a FIN (not a SYN), or an ACK reporting a hole. For any
// other segment (most pure ACKs) observe changes nothing and returns false,
// so a caller may skip it, and the lookup of the tracker, altogether.
func dupSees(s *flows.Segment) bool {
	p := s.P
	if p.Flags.Has(decode.FlagACK) && (p.Opts.NSACK > 0 || s.Kind.Has(flows.SegDupAck)) {
		return true
	}
	return (p.PayloadLen != 0 || p.Flags.Has(decode.FlagFIN)) && !p.Flags.Has(decode.FlagSYN)
}

// observe updates the tracker with s and reports whether s is a copy.
func (t *dupTracker) observe(s *flows.Segment) bool {
	p := s.P
	if p.Flags.Has(decode.FlagACK) && (p.Opts.NSACK > 0 || s.Kind.Has(flows.SegDupAck)) {
		t[s.Dir.Reverse()].fb = p.TS
	}
	if p.PayloadLen == 0 && !p.Flags.Has(decode.FlagFIN) || p.Flags.Has(decode.FlagSYN) {
		return false
	}
	end := s.RelSeq + uint32(p.PayloadLen)
	if p.Flags.Has(decode.FlagFIN) {
		end++
	}
	me := &t[s.Dir]
	copied := false
	if s.Kind&flows.AnyRetransmission != 0 && !s.Kind.Has(flows.SegFastRetransmission) {
		win := dupWindow(s.View)
		switch {
		case s.SinceFirstTx > 0 && s.SinceFirstTx < win:
			copied = me.fb < p.TS-s.SinceFirstTx
		case me.ts != 0 && me.seq == s.RelSeq && me.end == end && p.TS-me.ts < win:
			copied = me.fb < me.ts
		}
	}
	me.seq, me.end, me.ts = s.RelSeq, end, p.TS
	return copied
}

// dupWindow is how soon after the original a copy counts as the same packet:
// half the round trip, between 1 and 5 ms. The handshake RTT is trusted
// first; data→ACK samples may be tiny on a capture that holds copies.
func dupWindow(v flows.ConnView) int64 {
	r := v.HandshakeRTT
	if r == 0 || v.SYNs[flows.Orig] > 1 {
		r = v.RTTMin
	}
	return min(max(r/2, 1e6), 5e6)
}
