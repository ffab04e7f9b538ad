package batch

import (
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// IndexSchemaVersion is the version of index.json; it changes on any
// incompatible change (docs/cli.md describes the file).
const IndexSchemaVersion = 1

// Entry statuses.
const (
	StatusClean    = "clean"    // analyzed, no findings
	StatusFindings = "findings" // analyzed, findings below --fail-on (or no --fail-on)
	StatusFail     = "fail"     // analyzed, a finding at or above --fail-on: exit status 1
	StatusError    = "error"    // not analyzed (missing, not a capture, unwritable report): exit status 2
)

// Index summarizes a batch: one entry per analysis (per capture, or one for
// a --merge timeline).
type Index struct {
	SchemaVersion int         `json:"schema_version"`
	Tool          render.Tool `json:"tool"`
	GeneratedAt   string      `json:"generated_at,omitempty"`
	// Merged is true when the captures were analyzed as one timeline.
	Merged bool `json:"merged"`
	// FailOn is --fail-on ("" when not given).
	FailOn string `json:"fail_on,omitempty"`
	// Filter describes the packet filter ("" = none).
	Filter string `json:"filter,omitempty"`
	// ExitStatus is the status pcapsleuth exits with.
	ExitStatus int     `json:"exit_status"`
	Totals     Totals  `json:"totals"`
	Entries    []Entry `json:"captures"`
}

// Totals add up the entries.
type Totals struct {
	Captures    int            `json:"captures"` // entries
	Analyzed    int            `json:"analyzed"`
	Errors      int            `json:"errors"`
	Failed      int            `json:"failed"` // entries with status fail
	Packets     int64          `json:"packets"`
	Connections int64          `json:"connections"`
	Findings    map[string]int `json:"findings"` // per severity
}

// Entry is one analysis of the batch.
type Entry struct {
	// Name is the report's base name; Report the report file relative to
	// the index ("" when none was written).
	Name   string `json:"name"`
	Report string `json:"report,omitempty"`
	// Paths are the capture files (several for a --merge timeline).
	Paths  []string `json:"paths"`
	Status string   `json:"status"`
	// Error says why the capture was not analyzed, and what to try.
	Error string `json:"error,omitempty"`
	// skipped: not analyzed because the run was interrupted first.
	skipped     bool
	Format      string  `json:"format,omitempty"`
	Compression string  `json:"compression,omitempty"`
	Packets     int64   `json:"packets"`
	TCPPackets  int64   `json:"tcp_packets"`
	Connections int64   `json:"connections"`
	Start       string  `json:"start,omitempty"`
	End         string  `json:"end,omitempty"`
	DurationS   float64 `json:"duration_s"`
	// Warnings are the captures' read errors (cut-off files) and warnings.
	Warnings []string `json:"warnings,omitempty"`
	// Worst is the most severe finding's severity ("" when none).
	Worst string `json:"worst,omitempty"`
	// Counts are the findings per severity.
	Counts map[string]int `json:"counts"`
	// Detectors are the detectors that ran.
	Detectors []string  `json:"detectors"`
	Findings  []Finding `json:"findings"`
}

// Finding is a finding as the index lists it.
type Finding struct {
	Detector  string `json:"detector"`
	Severity  string `json:"severity"`
	Title     string `json:"title"`
	Subject   string `json:"subject,omitempty"`
	FlowCount int    `json:"flow_count"`
}

// NewEntry summarizes an analyzed report. failOn is the --fail-on severity
// (0 = none); internal-error findings never fail a run.
func NewEntry(name string, paths []string, rep *render.Report, failOn detectors.Severity) Entry {
	e := Entry{Name: name, Paths: paths, Status: StatusClean, Counts: map[string]int{},
		Detectors: rep.Settings.Detectors, Findings: []Finding{}}
	if e.Detectors == nil {
		e.Detectors = []string{}
	}
	var first, last int64
	for i, c := range rep.Captures {
		if i == 0 {
			e.Format, e.Compression = c.Format, c.Compression
		} else if e.Format != c.Format || e.Compression != c.Compression {
			e.Format, e.Compression = "mixed", "mixed"
		}
		e.Packets += c.Packets
		e.TCPPackets += c.TCPPackets
		if c.FirstTS != 0 && (first == 0 || c.FirstTS < first) {
			first, e.Start = c.FirstTS, c.Start
		}
		if c.LastTS > last {
			last, e.End = c.LastTS, c.End
		}
		prefix := ""
		if len(rep.Captures) > 1 {
			prefix = c.Path + ": "
		}
		for _, m := range c.Errors {
			e.Warnings = append(e.Warnings, prefix+m)
		}
		for _, m := range c.Warnings {
			e.Warnings = append(e.Warnings, prefix+m)
		}
	}
	if last > first {
		e.DurationS = float64(last-first) / 1e9
	}
	e.Connections = rep.Summary.Connections
	var worst detectors.Severity
	for i := range rep.Findings {
		f := &rep.Findings[i]
		e.Findings = append(e.Findings, Finding{Detector: f.Kind.String(), Severity: f.Severity.String(),
			Title: f.Title, Subject: f.Subject, FlowCount: f.FlowCount})
		e.Counts[f.Severity.String()]++
		if f.Severity > worst {
			worst = f.Severity
		}
		if e.Status == StatusClean {
			e.Status = StatusFindings
		}
		if failOn != 0 && f.Severity >= failOn && f.Kind != detectors.KindInternal {
			e.Status = StatusFail
		}
	}
	if worst != 0 {
		e.Worst = worst.String()
	}
	return e
}

// NewErrorEntry is an input that could not be analyzed; reason says why
// (without the path, which the entry shows).
func NewErrorEntry(name string, paths []string, reason string) Entry {
	return Entry{Name: name, Paths: paths, Status: StatusError, Error: reason,
		Counts: map[string]int{}, Detectors: []string{}, Findings: []Finding{}}
}

// NewSkippedEntry is an input the run did not get to (it was interrupted
// first): an error entry, which the headline counts as not analyzed
// rather than unreadable.
func NewSkippedEntry(name string, paths []string, reason string) Entry {
	e := NewErrorEntry(name, paths, reason)
	e.skipped = true
	return e
}

// NewIndex adds up the entries; the exit status is 2 when an entry is an
// error, else 1 when one failed --fail-on, else 0.
func NewIndex(tool render.Tool, entries []Entry) *Index {
	ix := &Index{SchemaVersion: IndexSchemaVersion, Tool: tool, Entries: entries,
		Totals: Totals{Captures: len(entries), Findings: map[string]int{}}}
	for _, e := range entries {
		switch e.Status {
		case StatusError:
			ix.Totals.Errors++
			ix.ExitStatus = 2
			continue
		case StatusFail:
			ix.Totals.Failed++
			if ix.ExitStatus < 1 {
				ix.ExitStatus = 1
			}
		}
		ix.Totals.Analyzed++
		ix.Totals.Packets += e.Packets
		ix.Totals.Connections += e.Connections
		for s, n := range e.Counts {
			ix.Totals.Findings[s] += n
		}
	}
	return ix
}

// Failing reports whether a finding's severity reaches the JUnit failure
// threshold: --fail-on when given, else warning.
func failing(severity, failOn string) bool {
	s, ok := detectors.ParseSeverity(severity)
	if !ok {
		return false
	}
	th := detectors.Warning
	if t, ok := detectors.ParseSeverity(failOn); ok {
		th = t
	}
	return s >= th
}
