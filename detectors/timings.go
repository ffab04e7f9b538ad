package detectors

import (
	"fmt"
	"math"
	"sort"
	"strings"
	"time"
)

// This file holds the timing arithmetic the teardown detectors share: bounded
// samples of durations, the search for a consistent value (a hidden timeout)
// among them, the split between two outcomes (a middlebox's drop window), a
// bounded timeline for accumulation charts, and the wording of durations.

// sampleCap is how many values a durSample keeps for its quantiles.
const sampleCap = 4096

// durSample is a bounded sample of durations in seconds: the first sampleCap
// values are kept for quantiles; count, min, max and sum are exact.
type durSample struct {
	vals     []float64
	n        int
	min, max float64
	sum      float64
	limit    int // values kept; 0 means sampleCap
}

func (s *durSample) add(v float64) {
	if s.n == 0 || v < s.min {
		s.min = v
	}
	if s.n == 0 || v > s.max {
		s.max = v
	}
	s.n++
	s.sum += v
	if lim := s.limit; len(s.vals) < sampleCap && (lim == 0 || len(s.vals) < lim) {
		s.vals = append(s.vals, v)
	}
}

// quantile returns the q-quantile of the kept values (0 when empty).
func (s *durSample) quantile(q float64) float64 {
	if len(s.vals) == 0 {
		return 0
	}
	return Quantile(append([]float64(nil), s.vals...), q)
}

// median returns the median of the kept values.
func (s *durSample) median() float64 { return s.quantile(0.5) }

// cluster is the densest group of similar values in a sample: the signature
// of a timer (an idle timeout, a request timeout) that fired on many
// connections.
type cluster struct {
	Median float64 // median of the members
	Lo, Hi float64 // smallest and largest member
	N      int     // members
	Total  int     // values searched
}

// densestCluster finds the largest window of sorted values whose spread is
// at most rel times its smallest value plus abs seconds; ties go to the
// smaller values. vals is not modified.
func densestCluster(vals []float64, rel, abs float64) cluster {
	if len(vals) == 0 {
		return cluster{}
	}
	v := append([]float64(nil), vals...)
	sort.Float64s(v)
	bestI, bestJ := 0, 0
	j := 0
	for i := range v {
		if j < i {
			j = i
		}
		for j+1 < len(v) && v[j+1]-v[i] <= rel*v[i]+abs {
			j++
		}
		if j-i > bestJ-bestI {
			bestI, bestJ = i, j
		}
	}
	m := v[bestI : bestJ+1]
	return cluster{Median: Quantile(append([]float64(nil), m...), 0.5), Lo: m[0], Hi: m[len(m)-1], N: len(m), Total: len(v)}
}

// holds reports whether x lies within the cluster's range.
func (c cluster) holds(x float64) bool { return c.N > 0 && x >= c.Lo && x <= c.Hi }

// memberBand widens the cluster's range for membership: once a timer is
// established from the values that agree closely, a connection whose close
// came a little earlier or later (a loaded host's scheduling, a timer wheel's
// granularity) still belongs to it. The band is three times the spread
// around the median, plus slack, and always covers the cluster itself.
func (c cluster) memberBand(spread, slack float64) (lo, hi float64) {
	return math.Min(c.Lo, c.Median*(1-3*spread)-slack), math.Max(c.Hi, c.Median*(1+3*spread)+slack)
}

// consistent reports whether the cluster is the pattern of a timer: at least
// min members, and at least half of all values.
func (c cluster) consistent(min int) bool {
	return c.N >= min && c.N >= 2 && 2*c.N >= c.Total
}

// dropWindow is the split between writes that were answered with RST and
// writes that met silence, as a function of their delay after the peer's
// FIN: a middlebox that forgets a closing connection after Window seconds.
type dropWindow struct {
	Window    float64 // inferred boundary, seconds after the FIN
	MaxRST    float64 // largest delay still answered by RST
	MinSilent float64 // smallest delay met with silence
	Errors    int     // values on the wrong side of the boundary
	OK        bool    // RST and silence both seen, and they separate
}

// inferDropWindow finds the delay that best separates rst (answered with
// RST) from silent (no answer). The boundary is put in the middle of the
// gap between the two groups; at most a tenth of the values may fall on the
// wrong side.
func inferDropWindow(rst, silent []float64) dropWindow {
	if len(rst) == 0 || len(silent) == 0 {
		return dropWindow{}
	}
	type pt struct {
		d      float64
		silent bool
	}
	pts := make([]pt, 0, len(rst)+len(silent))
	for _, d := range rst {
		pts = append(pts, pt{d, false})
	}
	for _, d := range silent {
		pts = append(pts, pt{d, true})
	}
	sort.Slice(pts, func(i, j int) bool { return pts[i].d < pts[j].d })
	// errors(k) with the boundary after pts[k-1]: silent before it + RST after it.
	rstAfter := len(rst)
	silentBefore := 0
	best, bestK, bestGap := math.MaxInt, -1, -1.0
	for k := 1; k < len(pts); k++ {
		if pts[k-1].silent {
			silentBefore++
		} else {
			rstAfter--
		}
		e := silentBefore + rstAfter
		gap := pts[k].d - pts[k-1].d
		if e < best || (e == best && gap > bestGap) {
			best, bestK, bestGap = e, k, gap
		}
	}
	if bestK < 0 || 10*best > len(pts) {
		return dropWindow{Errors: best}
	}
	w := dropWindow{Window: (pts[bestK-1].d + pts[bestK].d) / 2, Errors: best, OK: true}
	w.MaxRST, w.MinSilent = math.Inf(-1), math.Inf(1)
	for _, p := range pts[:bestK] {
		if !p.silent {
			w.MaxRST = math.Max(w.MaxRST, p.d)
		}
	}
	for _, p := range pts[bestK:] {
		if p.silent {
			w.MinSilent = math.Min(w.MinSilent, p.d)
		}
	}
	if math.IsInf(w.MaxRST, 0) || math.IsInf(w.MinSilent, 0) {
		return dropWindow{Errors: best}
	}
	return w
}

// valueHist counts values in buckets 0.5 % wide on a log scale, so that
// values beyond a sample's capacity can still be counted against a range.
type valueHist map[int32]int

func valueBucket(v float64) int32 {
	if v <= 1e-9 {
		return math.MinInt32
	}
	return int32(math.Floor(math.Log(v) / math.Log1p(0.005)))
}

func (h valueHist) add(v float64) { h[valueBucket(v)]++ }

// countIn returns how many values fall in the buckets of [lo, hi].
func (h valueHist) countIn(lo, hi float64) int {
	a, b := valueBucket(lo), valueBucket(hi)
	n := 0
	for k, c := range h {
		if k >= a && k <= b {
			n += c
		}
	}
	return n
}

// timeline counts events over capture time in at most timelineBuckets
// buckets: when an event would need one more, the bucket width doubles.
// Events may arrive in any order.
type timeline struct {
	width   int64 // ns
	buckets map[int64]int
}

const timelineBuckets = 240

func newTimeline() *timeline {
	return &timeline{width: int64(10 * time.Millisecond), buckets: make(map[int64]int)}
}

// add adds n events at capture time ts (n may be negative: a socket closed).
func (t *timeline) add(ts int64, n int) {
	t.buckets[floorDiv(ts, t.width)] += n
	for len(t.buckets) > timelineBuckets {
		t.width *= 2
		nb := make(map[int64]int, len(t.buckets)/2+1)
		for k, v := range t.buckets {
			nb[floorDiv(k, 2)] += v
		}
		t.buckets = nb
	}
}

func floorDiv(a, b int64) int64 {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// points returns one point per bucket, X in seconds from start (bucket
// start), Y the bucket's sum, or the running total when cumulative.
func (t *timeline) points(start int64, cumulative bool) []Point {
	keys := make([]int64, 0, len(t.buckets))
	for k := range t.buckets {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i] < keys[j] })
	var out []Point
	run := 0
	for _, k := range keys {
		v := t.buckets[k]
		run += v
		y := v
		if cumulative {
			y = run
		}
		out = append(out, Point{X: roundMilli(Seconds(k*t.width - start)), Y: float64(y)})
	}
	return out
}

// histogram bins vals (seconds) into at most bins bars, for "how long" charts.
func histogram(vals []float64, bins int) []Point {
	if len(vals) == 0 {
		return nil
	}
	lo, hi := vals[0], vals[0]
	for _, v := range vals {
		lo, hi = math.Min(lo, v), math.Max(hi, v)
	}
	width := niceWidth((hi - lo) / float64(bins))
	start := math.Floor(lo/width) * width
	counts := map[int]int{}
	for _, v := range vals {
		counts[int(math.Floor((v-start)/width))]++
	}
	keys := make([]int, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Ints(keys)
	out := make([]Point, 0, len(keys))
	for _, k := range keys {
		out = append(out, Point{X: roundMilli(start + (float64(k)+0.5)*width), Y: float64(counts[k]),
			Label: fmt.Sprintf("%s–%s", fmtSec(start+float64(k)*width), fmtSec(start+float64(k+1)*width))})
	}
	return out
}

// niceWidth rounds w up to 1, 2 or 5 times a power of ten (at least 1 ms).
func niceWidth(w float64) float64 {
	if w < 0.001 {
		return 0.001
	}
	p := math.Pow(10, math.Floor(math.Log10(w)))
	for _, m := range []float64{1, 2, 5, 10} {
		if w <= m*p {
			return m * p
		}
	}
	return 10 * p
}

func roundMilli(x float64) float64 { return math.Round(x*1000) / 1000 }

// fmtSec writes a duration in seconds the way a person reads it: "45 ms",
// "3.00 s", "1 min 5 s", "2 h 3 min", "12.5 h".
func fmtSec(s float64) string {
	neg := ""
	if s < 0 {
		neg, s = "-", -s
	}
	switch {
	case math.Round(s*1e6) < 1000:
		return fmt.Sprintf("%s%.0f µs", neg, s*1e6)
	case math.Round(s*1e3) < 1000:
		return fmt.Sprintf("%s%.0f ms", neg, s*1e3)
	case s < 9.995:
		return fmt.Sprintf("%s%.2f s", neg, s)
	case s < 119.95:
		return fmt.Sprintf("%s%.1f s", neg, s)
	case s < 3599.5:
		r := int(math.Round(s))
		return fmt.Sprintf("%s%d min %d s", neg, r/60, r%60)
	case s < 36000:
		r := int(math.Round(s / 60))
		return fmt.Sprintf("%s%d h %d min", neg, r/60, r%60)
	}
	return fmt.Sprintf("%s%.1f h", neg, s/3600)
}

// fmtRange writes "3.00 s" or "2.00–3.00 s".
func fmtRange(lo, hi float64) string {
	a, b := fmtSec(lo), fmtSec(hi)
	if a == b {
		if hi-lo < 0.0005 || hi >= 10 || lo < 1 {
			return a
		}
		return fmt.Sprintf("%.3f–%.3f s", lo, hi) // close values: show the spread
	}
	ua, ub := unitOf(a), unitOf(b)
	if ua == ub && ua != "" {
		return strings.TrimSuffix(a, " "+ua) + "–" + b
	}
	return a + "–" + b
}

func unitOf(s string) string {
	if i := strings.LastIndexByte(s, ' '); i >= 0 && !strings.ContainsAny(s[i+1:], "0123456789") {
		return s[i+1:]
	}
	return ""
}

// fmtClock writes a capture time as a UTC wall-clock time with
// milliseconds, e.g. "14:02:31.388 UTC".
func fmtClock(ts int64) string {
	return time.Unix(0, ts).UTC().Format("15:04:05.000") + " UTC"
}

// fmtAt writes a capture time with its offset into the capture, e.g.
// "14:02:31.388 UTC (+12.4 s into the capture)".
func fmtAt(ts, start int64) string {
	if start == 0 || ts < start {
		return fmtClock(ts)
	}
	return fmt.Sprintf("%s (%s into the capture)", fmtClock(ts), fmtSec(Seconds(ts-start)))
}

// metric builds an evidence number.
func metric(name string, v float64, unit, note string) Metric {
	if unit == "s" {
		v = math.Round(v*1e6) / 1e6
	}
	return Metric{Name: name, Value: v, Unit: unit, Note: note}
}

// secondsMetrics returns min/p50/p99/max metrics of a sample, named
// prefix_min_s etc.
func secondsMetrics(prefix string, s *durSample, note string) []Metric {
	if s.n == 0 {
		return nil
	}
	return []Metric{
		metric(prefix+"_min_s", s.min, "s", note),
		metric(prefix+"_p50_s", s.median(), "s", ""),
		metric(prefix+"_p99_s", s.quantile(0.99), "s", ""),
		metric(prefix+"_max_s", s.max, "s", ""),
	}
}

// roundInferred rounds an inferred setting to the millisecond.
func roundInferred(s float64) *float64 { return F(math.Round(s*1000) / 1000) }

// widen merges buckets until the timeline's width is at least w, so two
// timelines can be drawn on the same bars.
func (t *timeline) widen(w int64) {
	for t.width < w {
		t.width *= 2
		nb := make(map[int64]int, len(t.buckets)/2+1)
		for k, v := range t.buckets {
			nb[floorDiv(k, 2)] += v
		}
		t.buckets = nb
	}
}

// minMax returns the smallest and largest of xs (0, 0 for none).
func minMax(xs []float64) (lo, hi float64) {
	for i, x := range xs {
		if i == 0 || x < lo {
			lo = x
		}
		if i == 0 || x > hi {
			hi = x
		}
	}
	return lo, hi
}
