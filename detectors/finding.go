package detectors

import (
	"fmt"
	"net/netip"

	"github.com/pcapsleuth/pcapsleuth/flows"
)

// Severity ranks findings. Its JSON form is "info", "warning" or "critical".
type Severity uint8

// Severities, in increasing order.
const (
	Info Severity = iota + 1
	Warning
	Critical
)

// String returns the contract's spelling.
func (s Severity) String() string {
	switch s {
	case Info:
		return "info"
	case Warning:
		return "warning"
	case Critical:
		return "critical"
	}
	return fmt.Sprintf("Severity(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s Severity) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *Severity) UnmarshalText(b []byte) error {
	v, ok := ParseSeverity(string(b))
	if !ok {
		return fmt.Errorf("unknown severity %q", b)
	}
	*s = v
	return nil
}

// ParseSeverity reads "info", "warning" or "critical".
func ParseSeverity(s string) (Severity, bool) {
	switch s {
	case "info":
		return Info, true
	case "warning":
		return Warning, true
	case "critical":
		return Critical, true
	}
	return 0, false
}

// Kind names what a finding is about; its String is the contract's detector
// name (CONTRACT.md), used in JSON, flags and HTML anchors.
type Kind uint8

// The detector kinds of CONTRACT.md.
const (
	KindCloseWaitLeak Kind = iota + 1
	KindHealthcheckFINUnanswered
	KindTLSHandshakeAbandoned
	KindIdleTimeoutClose
	KindStaleConnectionReuse
	KindWriteAfterFINReset
	KindWriteAfterFINBlackholed
	KindUpstreamTimeout
	KindRetransmissionStorm
	KindTSOSuperSegments
	KindZeroWindowStall
	KindHandshakeFailure
	KindCaptureQuality
	KindInternal // a detector failed; reported instead of crashing the run
	numKinds
)

var kindNames = [numKinds]string{"", "close-wait-leak", "healthcheck-fin-unanswered", "tls-handshake-abandoned",
	"idle-timeout-close", "stale-connection-reuse", "write-after-fin-reset", "write-after-fin-blackholed",
	"upstream-timeout", "retransmission-storm", "tso-super-segments", "zero-window-stall", "handshake-failure",
	"capture-quality", "internal-error"}

// String returns the detector name, e.g. "close-wait-leak".
func (k Kind) String() string {
	if k > 0 && k < numKinds {
		return kindNames[k]
	}
	return fmt.Sprintf("Kind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	v, ok := ParseKind(string(b))
	if !ok {
		return fmt.Errorf("unknown detector %q", b)
	}
	*k = v
	return nil
}

// ParseKind returns the Kind named name.
func ParseKind(name string) (Kind, bool) {
	for i := 1; i < int(numKinds); i++ {
		if kindNames[i] == name {
			return Kind(i), true
		}
	}
	return 0, false
}

// FlowRef identifies one connection a finding is about.
type FlowRef struct {
	ID     int64
	Client netip.AddrPort
	Server netip.AddrPort
}

// Metric is one evidence number, e.g. {"probe_interval_s", 1.5, "s", "median of 87 gaps"}.
type Metric struct {
	Name  string  `json:"name"`
	Value float64 `json:"value"`
	Unit  string  `json:"unit,omitempty"`
	Note  string  `json:"note,omitempty"`
}

// Inferred holds the hidden settings a detector read off the capture, with
// the contract's names. Nil means "not inferred".
type Inferred struct {
	IdleTimeoutS    *float64 `json:"idle_timeout_s,omitempty"`
	RequestTimeoutS *float64 `json:"request_timeout_s,omitempty"`
	DropWindowS     *float64 `json:"drop_window_s,omitempty"`
	MSS             *int     `json:"mss,omitempty"`
	ProbeIntervalS  *float64 `json:"probe_interval_s,omitempty"`
	RTOInitialS     *float64 `json:"rto_initial_s,omitempty"`
}

// Empty reports whether nothing was inferred.
func (in Inferred) Empty() bool { return in == Inferred{} }

// F returns a pointer to v, for filling Inferred.
func F(v float64) *float64 { return &v }

// Finding is one diagnosis, aggregated (per endpoint, host pair, ...): every
// connection it concerns is in Flows (up to Config.MaxFlows) and FlowCount
// gives the true total.
type Finding struct {
	Kind     Kind
	Severity Severity
	// Title is the one line a person reads first, with the numbers.
	Title string
	// Explanation says in plain words what happened and why it matters.
	Explanation string
	// Actions are the recommended next steps.
	Actions []string
	// Subject is what the finding aggregates over, e.g. "10.0.0.5:8080".
	Subject string
	// At and Until bound the evidence in capture time (Unix ns).
	At, Until int64
	Flows     []FlowRef
	FlowCount int
	Evidence  []Metric
	Inferred  Inferred
	// Exemplars are a few connections that show the pattern best, for
	// ladder diagrams (their bounded packet logs); at most Config.MaxExemplars.
	Exemplars []*flows.Conn
	// Highlight lists frames that are the evidence (FIN left unanswered, the
	// RST, the first retransmission, ...), for ladders and display filters.
	Highlight []int64
	// Caveat is set when the evidence could be an artifact of the capture
	// (lost packets, a one-sided capture...).
	Caveat string
	// Charts are the finding's own charts, drawn only when present.
	Charts []Chart
	// ExplainedBy is set (by the Engine) on a symptom whose connections are
	// mostly covered by a root-cause finding of that kind.
	ExplainedBy Kind
}

// ChartType is how a chart draws its series.
type ChartType uint8

// Chart types.
const (
	ChartScatter ChartType = iota + 1
	ChartBar
	ChartLine
)

// Chart is data a detector offers the report to draw (e.g. FIN-to-write
// delay coloured by outcome, idle time before close, segment sizes in MSS).
type Chart struct {
	ID     string // stable, unique in a report, used as the chart's element id
	Title  string
	XLabel string
	YLabel string
	Type   ChartType
	Series []Series
	// Marks are labelled vertical lines, e.g. the inferred drop window.
	Marks []Mark
}

// Series is one named set of points of a chart.
type Series struct {
	Name   string
	Points []Point
}

// Point is one chart point; Label (optional) is shown on hover.
type Point struct {
	X, Y  float64
	Label string
}

// Mark is a labelled vertical line at X.
type Mark struct {
	X     float64
	Label string
}
