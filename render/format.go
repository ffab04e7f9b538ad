package render

import (
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// fmtInt writes n with thousands separators: 1234567 → "1,234,567"
// (detectors.FormatCount, so that reports and findings agree).
func fmtInt(n int64) string { return detectors.FormatCount(n) }

// fmtSeconds writes a duration in seconds the way people read them:
// "412 s", "20.0 s", "1.5 s", "200 ms", "3.2 ms", "85 µs".
func fmtSeconds(s float64) string {
	a := math.Abs(s)
	switch {
	case math.IsNaN(s) || math.IsInf(s, 0):
		return "?"
	case a >= 100:
		return fmtInt(int64(math.Round(s))) + " s"
	case a >= 1:
		return strconv.FormatFloat(s, 'f', 1, 64) + " s"
	case a >= 0.01:
		return strconv.FormatFloat(s*1e3, 'f', 0, 64) + " ms"
	case a >= 0.001:
		return strconv.FormatFloat(s*1e3, 'f', 1, 64) + " ms"
	case a == 0:
		return "0 s"
	default:
		return strconv.FormatFloat(s*1e6, 'f', 0, 64) + " µs"
	}
}

// fmtSecondsFine is fmtSeconds with one more digit between 1 and 10 s
// ("1.00 s", "1.50 s"), for inferred settings and evidence, where 1.0 and
// 1.04 s are different answers.
func fmtSecondsFine(s float64) string {
	if a := math.Abs(s); a >= 1 && a < 10 {
		return strconv.FormatFloat(s, 'f', 2, 64) + " s"
	}
	return fmtSeconds(s)
}

// fmtNS is fmtSeconds for capture-time nanoseconds.
func fmtNS(ns int64) string { return fmtSeconds(float64(ns) / 1e9) }

// fmtNumber writes a metric value compactly: integers with separators,
// others with at most three decimals and no trailing zeros.
func fmtNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return strconv.FormatFloat(v, 'g', -1, 64)
	}
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmtInt(int64(v))
	}
	a := math.Abs(v)
	var s string
	switch {
	case a >= 100:
		return fmtInt(int64(math.Round(v)))
	case a >= 1:
		s = strconv.FormatFloat(v, 'f', 2, 64)
	default:
		s = strconv.FormatFloat(v, 'f', 4, 64)
	}
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// fmtValue writes a value with its unit: seconds adaptively ("65.0 s"),
// bytes with separators ("87,040 bytes"), other units after a space.
func fmtValue(v float64, unit string) string {
	switch unit {
	case "s":
		return fmtSecondsFine(v)
	case "ms":
		return fmtSecondsFine(v / 1e3)
	case "":
		return fmtNumber(v)
	case "%":
		return fmtNumber(v) + " %"
	}
	return fmtNumber(v) + " " + unit
}

// fmtTime writes a capture time (Unix ns) in UTC with milliseconds.
func fmtTime(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format("2006-01-02 15:04:05.000 UTC")
}

// fmtClock writes only the time of day of a capture time, for ranges.
func fmtClock(ns int64) string {
	return time.Unix(0, ns).UTC().Format("15:04:05.000")
}

// fmtRange writes a capture-time range, omitting the repeated date.
func fmtRange(from, until int64) string {
	switch {
	case from == 0:
		return ""
	case until == 0 || until == from:
		return fmtTime(from)
	}
	a, b := time.Unix(0, from).UTC(), time.Unix(0, until).UTC()
	if a.Format("2006-01-02") == b.Format("2006-01-02") {
		return fmtTime(from) + " – " + fmtClock(until) + " (" + fmtNS(until-from) + ")"
	}
	return fmtTime(from) + " – " + fmtTime(until)
}

// plural returns "1 connection" or "3 connections".
func plural(n int64, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmtInt(n) + " " + many
}

// inferredSetting is one hidden setting a detector read off the capture.
type inferredSetting struct {
	Name  string // the contract's name, e.g. "idle_timeout_s"
	Label string // what people call it
	Value string // formatted with its unit
}

// inferredSettings lists the set fields of in, in the contract's order.
func inferredSettings(in detectors.Inferred) []inferredSetting {
	var out []inferredSetting
	sec := func(name, label string, v *float64) {
		if v != nil {
			out = append(out, inferredSetting{name, label, fmtSecondsFine(*v)})
		}
	}
	sec("idle_timeout_s", "idle timeout", in.IdleTimeoutS)
	sec("request_timeout_s", "request timeout", in.RequestTimeoutS)
	sec("drop_window_s", "middlebox post-FIN drop window", in.DropWindowS)
	if in.MSS != nil {
		out = append(out, inferredSetting{"mss", "MSS", fmtInt(int64(*in.MSS)) + " bytes"})
	}
	sec("probe_interval_s", "probe interval", in.ProbeIntervalS)
	sec("rto_initial_s", "initial retransmission timeout", in.RTOInitialS)
	return out
}

// severityClass is the CSS class suffix of a severity.
func severityClass(s detectors.Severity) string {
	switch s {
	case detectors.Critical, detectors.Warning, detectors.Info:
		return s.String()
	}
	return "info"
}

// tunnelText says how many TCP segments came out of each kind of tunnel,
// e.g. "13 in VXLAN, 5 in GRE" ("" for none). The names come from the
// report (decode.Tunnel's), cleaned like any report string.
func tunnelText(m map[string]int64) string {
	var parts []string
	for _, k := range sortedKeys(m) {
		parts = append(parts, fmtInt(m[k])+" in "+cleanLine(k, 32))
	}
	return strings.Join(parts, ", ")
}
