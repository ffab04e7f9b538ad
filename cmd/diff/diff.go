// Package diff is the `pcapsleuth diff BEFORE AFTER` command: which findings
// appeared, disappeared or changed between two captures or JSON reports, for
// "did the fix work?" in CI.
//
// Findings are paired by detector name and subject (the endpoint or host
// pair a finding aggregates over); several findings with the same pair are
// matched in report order. A pair changes when its severity, flow count or
// inferred settings differ. Something got worse, and diff exits 1, when a
// finding appeared, its severity rose, or its flow count grew, for findings
// at or above --fail-on (info, i.e. any, by default).
package diff

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/interrupt"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/memory"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// Options holds what one run of `diff` needs.
type Options struct {
	IO       cli.Streams
	Version  string
	Now      func() time.Time
	Analyze  func(analysis.Options) (*analysis.Result, error)
	Progress bool

	Before, After string
	Output        string // "" or "-" = standard output
	Format        string // text | json | md ("" = from Output's extension)
	FailOn        string // severity from which a change counts as worse (default info)
	Quiet         bool

	Settings *config.Settings
	// Memory is --memory-limit and --huge-pages (package memory), for
	// the sides that are captures (analyzed one after the other).
	Memory memory.Flags
}

// NewCmdDiff returns the command; runF (tests) replaces the run.
func NewCmdDiff(io cli.Streams, version string, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: io, Version: version, Now: time.Now, Analyze: analysis.Run,
		Progress: cli.IsTerminal(io.Err), Settings: config.New()}
	cmd := &cobra.Command{
		Use:   "diff BEFORE AFTER",
		Short: "Compare the findings of two captures or JSON reports",
		Long: `Diff compares the findings of BEFORE and AFTER, each a capture (analyzed with
the same settings) or a JSON report of pcapsleuth analyze, and says which
findings appeared, disappeared or changed (severity, flow count, inferred
settings), paired by detector name and subject.

Ctrl-C stops the reading and still writes the comparison of what was read
(standard input reads on until its writer closes it; press Ctrl-C twice to
stop it too); interrupted before AFTER, diff writes none.

Exit status: 0 when nothing got worse, 1 when a finding appeared, rose in
severity or grew in flows (counting findings at or above --fail-on, by default
all), 2 on bad usage or an unreadable input, 130 (143) when SIGINT (SIGTERM)
cut the reading short.`,
		Example: `  pcapsleuth diff before.pcap after.pcap
  pcapsleuth diff baseline.json after.pcap --fail-on warning
  pcapsleuth diff before.json after.json --format md >> "$GITHUB_STEP_SUMMARY"`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) != 2 {
				return fmt.Errorf("diff takes two arguments, BEFORE and AFTER (captures or JSON reports), got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Before, opts.After = args[0], args[1]
			if opts.Before == "-" && opts.After == "-" {
				return cli.UsageError(errors.New("only one of BEFORE and AFTER can be standard input"))
			}
			if err := opts.Settings.Prepare(cmd); err != nil {
				return cli.UsageError(err)
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "write the comparison to this file (- for standard output)")
	cli.StringEnumFlag(cmd, &opts.Format, "format", "", "", []string{"text", "json", "md"}, "output format (default: from the -o extension, else text)")
	cli.StringEnumFlag(cmd, &opts.FailOn, "fail-on", "", "info", []string{"info", "warning", "critical"}, "only findings at or above this severity count when deciding whether things got worse")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	opts.Memory.Bind(f)
	opts.Settings.Bind(cmd)
	return cmd
}

// Side is one of the two inputs.
type Side struct {
	Source string `json:"source"`
	Kind   string `json:"kind"` // capture | report
	// Findings counts the side's findings.
	Findings int `json:"findings"`
}

// Brief is a finding as the comparison shows it.
type Brief struct {
	Severity  string             `json:"severity"`
	Title     string             `json:"title"`
	FlowCount int                `json:"flow_count"`
	Inferred  detectors.Inferred `json:"inferred"`
}

// Change is one finding pair.
type Change struct {
	// Status is appeared, disappeared, changed or unchanged.
	Status string `json:"status"`
	// Verdict is worse, better or same.
	Verdict  string `json:"verdict"`
	Detector string `json:"detector"`
	Subject  string `json:"subject,omitempty"`
	Before   *Brief `json:"before,omitempty"`
	After    *Brief `json:"after,omitempty"`
	// Details are the differences, e.g. "flows 12 → 40", "idle_timeout_s 65 → 30".
	Details []string `json:"details,omitempty"`
}

// Result is the comparison.
type Result struct {
	Tool    render.Tool `json:"tool"`
	Before  Side        `json:"before"`
	After   Side        `json:"after"`
	FailOn  string      `json:"fail_on"`
	Worse   bool        `json:"worse"`
	Counts  Counts      `json:"counts"`
	Changes []Change    `json:"changes"`
}

// Counts add up the changes.
type Counts struct {
	Appeared    int `json:"appeared"`
	Disappeared int `json:"disappeared"`
	Changed     int `json:"changed"`
	Unchanged   int `json:"unchanged"`
	Worse       int `json:"worse"`
	Better      int `json:"better"`
}

// Run compares the two sides and writes the result; it exits 1 when
// something got worse.
func Run(opts *Options) error {
	format, err := outputFormat(opts.Output, opts.Format)
	if err != nil {
		return cli.UsageError(err)
	}
	if opts.Output != "" && opts.Output != "-" {
		if err := cli.NotAnInput(opts.Output, []string{opts.Before, opts.After}); err != nil {
			return cli.UsageError(fmt.Errorf("-o: %w", err))
		}
		if err := cli.CheckWritable(opts.Output); err != nil {
			return cli.UsageError(fmt.Errorf("-o: %w", err))
		}
	}
	th, _ := detectors.ParseSeverity(opts.FailOn)
	if th == 0 {
		th = detectors.Info
	}
	// Each side's kind is decided once: the memory policy is for the
	// analyses, and a side that is a report needs none.
	beforeReport, afterReport := isReport(opts.Before), isReport(opts.After)
	if !beforeReport || !afterReport {
		stop, err := opts.Memory.Start(1)
		if err != nil {
			return cli.UsageError(err)
		}
		defer stop()
	}
	stops := interrupt.New("comparison", func(format string, args ...any) {
		fmt.Fprintf(opts.IO.Err, format, args...)
	}, os.Exit)
	defer stops.Watch()()
	before, bs, err := load(opts, opts.Before, beforeReport, stops.Stop)
	if err != nil {
		return stops.Cut(err)
	}
	if why, skip := stops.Skip(); skip {
		return stops.Cut(&cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("%s: %s; no comparison written", opts.After, why)})
	}
	after, as, err := load(opts, opts.After, afterReport, stops.Stop)
	if err != nil {
		return stops.Cut(err)
	}
	res := Compare(before, after, th)
	res.Tool = render.Tool{Name: "pcapsleuth", Version: opts.Version}
	res.Before, res.After = bs, as
	res.FailOn = th.String()
	write := func(w io.Writer) error {
		switch format {
		case "json":
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(res)
		case "md":
			return writeMarkdown(w, res)
		}
		return writeText(w, res)
	}
	if opts.Output == "" || opts.Output == "-" {
		err = write(opts.IO.Out)
	} else {
		err = cli.WriteFile(opts.Output, write)
	}
	if err != nil {
		return stops.Cut(&cli.ExitError{Code: cli.ExitUsage, Err: err})
	}
	if res.Worse {
		return stops.Cut(cli.Exit(cli.ExitFindings))
	}
	return stops.Cut(nil)
}

// load reads one side: a JSON report (report, from isReport), or a capture
// to analyze, whose reading stop may cut short (analysis.Options.Stop).
func load(opts *Options, path string, report bool, stop func(stream bool) string) ([]render.FindingJSON, Side, error) {
	side := Side{Source: path, Kind: "capture"}
	if report {
		side.Kind = "report"
		fs, err := readReport(path)
		if err != nil {
			return nil, side, &cli.ExitError{Code: cli.ExitUsage, Err: err}
		}
		side.Findings = len(fs)
		return fs, side, nil
	}
	ao := opts.Settings.Options([]string{path})
	ao.Stdin = opts.IO.In
	ao.Version = opts.Version
	ao.Stop = stop
	if opts.Progress && !opts.Quiet {
		var size int64
		if fi, err := os.Stat(path); err == nil {
			size = fi.Size()
		}
		p := cli.NewProgress(opts.IO.Err, opts.Now, size, 1)
		defer p.Clear()
		ao.Progress = p.Func()
	}
	res, err := opts.Analyze(ao)
	if err != nil {
		return nil, side, &cli.ExitError{Code: cli.ExitUsage, Err: cli.Explain(err)}
	}
	defer res.Close()
	fs := make([]render.FindingJSON, 0, len(res.Report.Findings))
	for i := range res.Report.Findings {
		fs = append(fs, render.NewFindingJSON(&res.Report.Findings[i]))
	}
	side.Findings = len(fs)
	return fs, side, nil
}

// isReport reports whether path is a JSON report: a .json name, or a file
// whose first non-blank byte is '{'.
func isReport(path string) bool {
	if path == "-" {
		return false
	}
	if strings.EqualFold(filepath.Ext(path), ".json") {
		return true
	}
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 64)
	n, _ := f.Read(head)
	t := bytes.TrimLeft(head[:n], " \t\r\n\xef\xbb\xbf")
	return len(t) > 0 && t[0] == '{'
}

// readReport reads the findings of a JSON report.
func readReport(path string) ([]render.FindingJSON, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, cli.ExplainPath(path, err)
	}
	defer f.Close()
	var rep struct {
		SchemaVersion *int                 `json:"schema_version"`
		Findings      []render.FindingJSON `json:"findings"`
	}
	if err := json.NewDecoder(bufio.NewReader(f)).Decode(&rep); err != nil {
		return nil, fmt.Errorf("%s: not a readable JSON report: %v", path, err)
	}
	switch {
	case rep.SchemaVersion == nil:
		return nil, fmt.Errorf("%s: not a pcapsleuth report (no schema_version); write one with pcapsleuth analyze CAPTURE -o report.json", path)
	case *rep.SchemaVersion > render.SchemaVersion:
		return nil, fmt.Errorf("%s: report schema_version %d is newer than this pcapsleuth reads (%d); upgrade pcapsleuth", path, *rep.SchemaVersion, render.SchemaVersion)
	}
	return rep.Findings, nil
}

// Compare pairs the findings by detector and subject and classifies each
// pair; threshold is the severity from which a change counts as worse.
func Compare(before, after []render.FindingJSON, threshold detectors.Severity) *Result {
	type key struct{ det, subj string }
	var order []key
	b := map[key][]render.FindingJSON{}
	a := map[key][]render.FindingJSON{}
	for _, f := range before {
		k := key{f.Detector, f.Subject}
		if b[k] == nil && a[k] == nil {
			order = append(order, k)
		}
		b[k] = append(b[k], f)
	}
	for _, f := range after {
		k := key{f.Detector, f.Subject}
		if b[k] == nil && a[k] == nil {
			order = append(order, k)
		}
		a[k] = append(a[k], f)
	}
	res := &Result{Changes: []Change{}}
	counts := func(sev string) bool {
		s, _ := detectors.ParseSeverity(sev)
		return s >= threshold
	}
	for _, k := range order {
		bl, al := b[k], a[k]
		for i := 0; i < max(len(bl), len(al)); i++ {
			c := Change{Detector: k.det, Subject: k.subj, Verdict: "same"}
			switch {
			case i >= len(bl):
				f := al[i]
				c.Status, c.After = "appeared", brief(f)
				if counts(f.Severity) {
					c.Verdict = "worse"
				}
			case i >= len(al):
				f := bl[i]
				c.Status, c.Before = "disappeared", brief(f)
				c.Verdict = "better"
			default:
				c.Before, c.After = brief(bl[i]), brief(al[i])
				c.Status, c.Verdict, c.Details = compareOne(c.Before, c.After, counts)
			}
			res.Changes = append(res.Changes, c)
		}
	}
	rank := map[string]int{"appeared": 0, "changed": 1, "disappeared": 2, "unchanged": 3}
	vrank := map[string]int{"worse": 0, "better": 1, "same": 2}
	sev := func(c *Change) int {
		br := c.After
		if br == nil {
			br = c.Before
		}
		s, _ := detectors.ParseSeverity(br.Severity)
		return -int(s)
	}
	sort.SliceStable(res.Changes, func(i, j int) bool {
		x, y := &res.Changes[i], &res.Changes[j]
		if vrank[x.Verdict] != vrank[y.Verdict] {
			return vrank[x.Verdict] < vrank[y.Verdict]
		}
		if rank[x.Status] != rank[y.Status] {
			return rank[x.Status] < rank[y.Status]
		}
		return sev(x) < sev(y)
	})
	for _, c := range res.Changes {
		switch c.Status {
		case "appeared":
			res.Counts.Appeared++
		case "disappeared":
			res.Counts.Disappeared++
		case "changed":
			res.Counts.Changed++
		default:
			res.Counts.Unchanged++
		}
		switch c.Verdict {
		case "worse":
			res.Counts.Worse++
			res.Worse = true
		case "better":
			res.Counts.Better++
		}
	}
	return res
}

func brief(f render.FindingJSON) *Brief {
	return &Brief{Severity: f.Severity, Title: f.Title, FlowCount: f.FlowCount, Inferred: f.Inferred}
}

// compareOne compares a pair of findings.
func compareOne(b, a *Brief, counts func(string) bool) (status, verdict string, details []string) {
	verdict = "same"
	bs, _ := detectors.ParseSeverity(b.Severity)
	as, _ := detectors.ParseSeverity(a.Severity)
	worse, better := false, false
	if bs != as {
		details = append(details, fmt.Sprintf("severity %s → %s", b.Severity, a.Severity))
		if as > bs {
			worse = worse || counts(a.Severity)
		} else {
			better = true
		}
	}
	if b.FlowCount != a.FlowCount {
		details = append(details, fmt.Sprintf("flows %d → %d", b.FlowCount, a.FlowCount))
		if a.FlowCount > b.FlowCount {
			worse = worse || counts(a.Severity)
		} else {
			better = true
		}
	}
	details = append(details, inferredChanges(b.Inferred, a.Inferred)...)
	switch {
	case worse:
		verdict = "worse"
	case better:
		verdict = "better"
	}
	status = "unchanged"
	if len(details) > 0 {
		status = "changed"
	}
	return status, verdict, details
}

// inferredChanges lists the inferred settings that differ.
func inferredChanges(b, a detectors.Inferred) []string {
	var out []string
	f := func(name string, x, y *float64) {
		switch {
		case x == nil && y == nil:
		case x == nil:
			out = append(out, fmt.Sprintf("%s now %s", name, num(*y)))
		case y == nil:
			out = append(out, fmt.Sprintf("%s no longer inferred (was %s)", name, num(*x)))
		case num(*x) != num(*y):
			out = append(out, fmt.Sprintf("%s %s → %s", name, num(*x), num(*y)))
		}
	}
	f("idle_timeout_s", b.IdleTimeoutS, a.IdleTimeoutS)
	f("request_timeout_s", b.RequestTimeoutS, a.RequestTimeoutS)
	f("drop_window_s", b.DropWindowS, a.DropWindowS)
	f("probe_interval_s", b.ProbeIntervalS, a.ProbeIntervalS)
	f("rto_initial_s", b.RTOInitialS, a.RTOInitialS)
	toF := func(p *int) *float64 {
		if p == nil {
			return nil
		}
		v := float64(*p)
		return &v
	}
	f("mss", toF(b.MSS), toF(a.MSS))
	return out
}

// num prints a number with 3 significant decimals at most.
func num(v float64) string {
	s := fmt.Sprintf("%.3f", v)
	s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	return s
}

// Verdict is the one-line conclusion.
func (r *Result) Verdict() string {
	c := r.Counts
	parts := []string{}
	add := func(n int, s string) {
		if n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, s))
		}
	}
	add(c.Appeared, "appeared")
	add(c.Disappeared, "disappeared")
	add(c.Changed, "changed")
	add(c.Unchanged, "unchanged")
	detail := strings.Join(parts, ", ")
	if detail == "" {
		detail = "no findings on either side"
	}
	switch {
	case r.Worse:
		return fmt.Sprintf("worse (%d worse, %d better): %s", c.Worse, c.Better, detail)
	case c.Better > 0:
		return fmt.Sprintf("better (%d better): %s", c.Better, detail)
	}
	return "no change for the worse: " + detail
}

func label(c *Change) string {
	switch c.Status {
	case "appeared":
		return "new"
	case "disappeared":
		return "fixed"
	case "changed":
		return c.Verdict
	}
	return "same"
}

// findings says how many findings a side has: "1 finding", "12 findings".
func findings(n int) string {
	if n == 1 {
		return "1 finding"
	}
	return cli.Count(int64(n)) + " findings"
}

func writeText(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "pcapsleuth diff: %s (%s, %s) → %s (%s, %s)\n\n",
		r.Before.Source, r.Before.Kind, findings(r.Before.Findings), r.After.Source, r.After.Kind, findings(r.After.Findings))
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	for i := range r.Changes {
		c := &r.Changes[i]
		br := c.After
		if br == nil {
			br = c.Before
		}
		what := clip(br.Title)
		if len(c.Details) > 0 {
			what = strings.Join(c.Details, "; ")
		}
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", label(c), br.Severity, c.Detector, clip(c.Subject), what)
	}
	tw.Flush()
	if len(r.Changes) > 0 {
		bw.WriteString("\n")
	}
	fmt.Fprintf(bw, "verdict: %s\n", r.Verdict())
	return bw.Flush()
}

func writeMarkdown(w io.Writer, r *Result) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "## pcapsleuth diff: %s\n\n", md(r.Verdict()))
	fmt.Fprintf(bw, "`%s` (%s) → `%s` (%s)\n\n", strings.ReplaceAll(r.Before.Source, "`", "'"), findings(r.Before.Findings),
		strings.ReplaceAll(r.After.Source, "`", "'"), findings(r.After.Findings))
	if len(r.Changes) > 0 {
		fmt.Fprintln(bw, "| change | severity | detector | subject | what |")
		fmt.Fprintln(bw, "|---|---|---|---|---|")
		for i := range r.Changes {
			c := &r.Changes[i]
			br := c.After
			if br == nil {
				br = c.Before
			}
			what := br.Title
			if len(c.Details) > 0 {
				what = strings.Join(c.Details, "; ")
			}
			l := label(c)
			if c.Verdict == "worse" {
				l = "**" + l + "**"
			}
			fmt.Fprintf(bw, "| %s | %s | `%s` | %s | %s |\n", l, br.Severity, c.Detector, md(c.Subject), md(what))
		}
	}
	return bw.Flush()
}

// clip makes a packet-derived string safe for one terminal line.
func clip(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || (r >= 0x80 && r < 0xa0) || r == '\u202e' || r == '\u202d' {
			return '?'
		}
		return r
	}, s)
}

// md escapes text for a Markdown table cell.
func md(s string) string {
	var b strings.Builder
	for _, r := range clip(s) {
		switch r {
		case '\\', '`', '*', '_', '[', ']', '<', '>', '|', '#', '!', '~':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

func outputFormat(output, format string) (string, error) {
	if format != "" {
		return format, nil
	}
	if output == "" || output == "-" {
		return "text", nil
	}
	switch strings.ToLower(filepath.Ext(output)) {
	case ".json":
		return "json", nil
	case ".md", ".markdown":
		return "md", nil
	case ".txt", ".text":
		return "text", nil
	}
	return "", fmt.Errorf("-o %s: cannot tell the format from the extension; use .json, .md or .txt, or --format", output)
}
