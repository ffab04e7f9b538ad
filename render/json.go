package render

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// FindingJSON is a finding as the JSON report writes it (CONTRACT.md's "A
// finding" plus details).
type FindingJSON struct {
	Detector    string             `json:"detector"`
	Severity    string             `json:"severity"`
	Title       string             `json:"title"`
	Explanation string             `json:"explanation,omitempty"`
	Actions     []string           `json:"actions,omitempty"`
	Subject     string             `json:"subject,omitempty"`
	Start       string             `json:"start,omitempty"`
	End         string             `json:"end,omitempty"`
	Flows       []FlowJSON         `json:"flows"`
	FlowCount   int                `json:"flow_count"`
	Inferred    detectors.Inferred `json:"inferred"`
	Evidence    []detectors.Metric `json:"evidence,omitempty"`
	Highlight   []int64            `json:"highlight_frames,omitempty"`
	Exemplars   []int64            `json:"exemplar_flows,omitempty"`
	Caveat      string             `json:"caveat,omitempty"`
	ExplainedBy string             `json:"explained_by,omitempty"` // the root-cause finding's detector
}

// FlowJSON is one flow reference of a finding.
type FlowJSON struct {
	ID     int64  `json:"id"`
	Client string `json:"client"`
	Server string `json:"server"`
}

// StateSeriesJSON is the "ss view" of one endpoint in JSON.
type StateSeriesJSON struct {
	Endpoint     string             `json:"endpoint"`
	Side         string             `json:"side"` // client | server
	Start        string             `json:"start"`
	BucketWidthS float64            `json:"bucket_width_s"`
	Connections  int64              `json:"connections"`
	Counts       map[string][]int32 `json:"counts"` // state → count per bucket (states that occur)
}

// NewFindingJSON converts a finding.
func NewFindingJSON(f *detectors.Finding) FindingJSON {
	out := FindingJSON{
		Detector: f.Kind.String(), Severity: f.Severity.String(), Title: f.Title,
		Explanation: f.Explanation, Actions: f.Actions, Subject: f.Subject,
		Flows: make([]FlowJSON, 0, len(f.Flows)), FlowCount: f.FlowCount,
		Inferred: f.Inferred, Evidence: f.Evidence, Highlight: f.Highlight, Caveat: f.Caveat,
		Start: timeString(f.At), End: timeString(f.Until),
	}
	for _, r := range f.Flows {
		out.Flows = append(out.Flows, FlowJSON{ID: r.ID, Client: r.Client.String(), Server: r.Server.String()})
	}
	for _, c := range f.Exemplars {
		out.Exemplars = append(out.Exemplars, c.ID)
	}
	if f.ExplainedBy != 0 {
		out.ExplainedBy = f.ExplainedBy.String()
	}
	return out
}

// NewStateSeriesJSON converts one endpoint's state series.
func NewStateSeriesJSON(s *flows.StateSeries) StateSeriesJSON {
	out := StateSeriesJSON{Endpoint: s.Endpoint, Side: "server", Start: timeString(s.BucketStart),
		BucketWidthS: float64(s.BucketWidth) / 1e9, Connections: s.Conns, Counts: map[string][]int32{}}
	if s.Side == flows.Orig {
		out.Side = "client"
	}
	for st := 0; st < flows.NumStates; st++ {
		if flows.State(st) == flows.StateClosed || flows.State(st) == flows.StateUnknown {
			continue
		}
		var col []int32
		any := false
		for _, c := range s.Counts {
			col = append(col, c[st])
			any = any || c[st] != 0
		}
		if any {
			out.Counts[flows.State(st).String()] = col
		}
	}
	return out
}

func timeString(ns int64) string {
	if ns == 0 {
		return ""
	}
	return time.Unix(0, ns).UTC().Format(time.RFC3339Nano)
}

// WriteJSON writes the report as JSON following CONTRACT.md. Connections are
// streamed from the ConnSource, so the output size does not bound memory.
func WriteJSON(w io.Writer, r *Report) error {
	bw := bufio.NewWriterSize(w, 256<<10)
	enc := func(v any) error {
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		_, err = bw.Write(b)
		return err
	}
	fields := []struct {
		name string
		v    any
	}{
		{"schema_version", SchemaVersion},
		{"tool", r.Tool},
		{"captures", capturesOrEmpty(r.Captures)},
	}
	bw.WriteString("{\n")
	for _, f := range fields {
		fmt.Fprintf(bw, "  %q: ", f.name)
		if err := enc(f.v); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		bw.WriteString(",\n")
	}
	bw.WriteString("  \"summary\": ")
	if err := enc(r.Summary); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	bw.WriteString(",\n  \"findings\": [")
	for i := range r.Findings {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		if err := enc(NewFindingJSON(&r.Findings[i])); err != nil {
			return fmt.Errorf("write finding: %w", err)
		}
	}
	if len(r.Findings) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n  \"states\": [")
	for i := range r.States {
		if i > 0 {
			bw.WriteString(",")
		}
		bw.WriteString("\n    ")
		if err := enc(NewStateSeriesJSON(&r.States[i])); err != nil {
			return fmt.Errorf("write states: %w", err)
		}
	}
	if len(r.States) > 0 {
		bw.WriteString("\n  ")
	}
	bw.WriteString("],\n  \"settings\": ")
	if err := enc(r.Settings); err != nil {
		return fmt.Errorf("write settings: %w", err)
	}
	bw.WriteString(",\n  \"connections\": [")
	first := true
	if r.Conns != nil {
		err := eachAhead(r.Conns, func(c *ConnSummary) error {
			if !first {
				bw.WriteString(",")
			}
			first = false
			bw.WriteString("\n    ")
			return enc(c)
		})
		if err != nil {
			return fmt.Errorf("write connections: %w", err)
		}
	}
	if !first {
		bw.WriteString("\n  ")
	}
	bw.WriteString("]\n}\n")
	return bw.Flush()
}

func capturesOrEmpty(c []Capture) []Capture {
	if c == nil {
		return []Capture{}
	}
	return c
}
