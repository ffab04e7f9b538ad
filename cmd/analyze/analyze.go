// Package analyze is the `pcapsleuth analyze` command.
package analyze

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// Options holds everything one run of `analyze` needs.
type Options struct {
	IO      cli.Streams
	Version string
	Now     func() time.Time // the wall clock, injected (report footer only)

	Inputs    []string
	Output    string // "" = text summary on stdout; "-" = stdout in Format
	Format    string // json | text | html | md ("" = from Output's extension)
	Detectors []string
	FailOn    string
	Quiet     bool

	Config detectors.Config
	Flows  flows.Config
	Reader decode.ReaderOptions
}

// NewCmdAnalyze returns the command; runF (tests) replaces the run.
func NewCmdAnalyze(io cli.Streams, version string, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: io, Version: version, Now: time.Now, Config: detectors.DefaultConfig(), Flows: flows.DefaultConfig()}
	cmd := &cobra.Command{
		Use:   "analyze CAPTURE",
		Short: "Analyze a capture and report what went wrong",
		Long: `Analyze reads one capture (pcap or pcapng, plain, gzip or zstd; "-" for standard
input), follows every TCP connection in a single pass and runs every detector.

The output format follows the extension of -o (.html, .json, .md, .txt);
--format overrides it. Without -o, a text summary goes to the terminal.

Exit status: 0 when the analysis ran, 1 when --fail-on matched a finding,
2 on bad usage or an unreadable input.`,
		Example: `  pcapsleuth analyze dump.pcap
  pcapsleuth analyze dump.pcap -o report.html
  pcapsleuth analyze dump.pcapng.gz -o out.json --fail-on warning
  pcapsleuth analyze - --format json -o - < dump.pcap
  pcapsleuth analyze dump.pcap --detectors close-wait-leak,idle-timeout-close --close-wait-grace 10s`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "write the report to this file (- for standard output)")
	f.StringVar(&opts.Format, "format", "", "output format: json, text, html or md (default: from the -o extension)")
	f.StringSliceVar(&opts.Detectors, "detectors", nil, "run only these detectors (comma-separated; see `pcapsleuth detectors`)")
	f.StringVar(&opts.FailOn, "fail-on", "", "exit with status 1 when a finding at or above this severity exists: info, warning or critical")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on standard error but errors")
	f.IntVar(&opts.Flows.MaxConns, "max-conns", opts.Flows.MaxConns, "live connections kept in memory; beyond it the least recently active are finished early (reported)")
	f.IntVar(&opts.Flows.AppBytes, "app-bytes", opts.Flows.AppBytes, "bytes of each direction reassembled for TLS and HTTP context")
	f.IntVar(&opts.Config.MaxFlows, "max-flows", opts.Config.MaxFlows, "flows listed per finding (flow_count stays exact)")
	f.IntVar(&opts.Config.MaxExemplars, "max-exemplars", opts.Config.MaxExemplars, "exemplar flows (ladder diagrams) per finding")
	BindOptions(f, &opts.Config.Teardown)
	BindOptions(f, &opts.Config.Transport)
	return cmd
}

// Run analyzes the inputs and writes the report.
func Run(opts *Options) error {
	format, err := outputFormat(opts.Output, opts.Format)
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	var failOn detectors.Severity
	if opts.FailOn != "" {
		s, ok := detectors.ParseSeverity(opts.FailOn)
		if !ok {
			return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("--fail-on %q: want info, warning or critical", opts.FailOn)}
		}
		failOn = s
	}
	if _, err := detectors.Select(opts.Detectors); err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: fmt.Errorf("%w (see `pcapsleuth detectors`)", err)}
	}
	if len(opts.Inputs) > 1 {
		return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("analyze takes one capture")}
	}
	if opts.Inputs[0] == "-" {
		if f, ok := opts.IO.In.(*os.File); ok && cli.IsTerminal(f) {
			return &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("reading a capture from standard input, but it is a terminal: pipe a capture in (e.g. tcpdump -w - | pcapsleuth analyze -)")}
		}
	}
	res, err := analysis.Run(analysis.Options{
		Paths: opts.Inputs, Detectors: opts.Detectors, Config: opts.Config, Flows: opts.Flows,
		Reader: opts.Reader, Version: opts.Version, Stdin: opts.IO.In,
	})
	if err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: explainInputError(err)}
	}
	defer res.Close()
	rep := res.Report
	if opts.Now != nil {
		rep.GeneratedAt = opts.Now().UTC().Format(time.RFC3339)
	}
	if !opts.Quiet {
		for _, c := range rep.Captures {
			for _, e := range c.Errors {
				fmt.Fprintf(opts.IO.Err, "pcapsleuth: warning: %s: %s\n", c.Path, e)
			}
		}
	}
	if err := writeReport(opts, format, rep); err != nil {
		return &cli.ExitError{Code: cli.ExitUsage, Err: err}
	}
	if failOn != 0 {
		for _, f := range rep.Findings {
			if f.Severity >= failOn && f.Kind != detectors.KindInternal {
				return &cli.ExitError{Code: cli.ExitFindings}
			}
		}
	}
	return nil
}

// explainInputError turns an input error into one helpful line.
func explainInputError(err error) error {
	var ie *analysis.InputError
	if !errors.As(err, &ie) {
		return err
	}
	switch {
	case errors.Is(err, os.ErrNotExist):
		return fmt.Errorf("%s: no such file", ie.Path)
	case errors.Is(err, decode.ErrNotCapture):
		return fmt.Errorf("%s: not a pcap or pcapng capture (nor a gzip/zstd-compressed one); check the file, or convert it with editcap", ie.Path)
	case errors.Is(err, decode.ErrUnsupported):
		return fmt.Errorf("%s: %v", ie.Path, ie.Err)
	}
	return err
}

// outputFormat picks the format from --format or the -o extension.
func outputFormat(output, format string) (string, error) {
	if format != "" {
		switch format {
		case "json", "text", "html", "md":
			return format, nil
		case "markdown":
			return "md", nil
		case "txt":
			return "text", nil
		}
		return "", fmt.Errorf("--format %q: want json, text, html or md", format)
	}
	if output == "" || output == "-" {
		return "text", nil
	}
	switch strings.ToLower(filepath.Ext(output)) {
	case ".json":
		return "json", nil
	case ".html", ".htm":
		return "html", nil
	case ".md", ".markdown":
		return "md", nil
	case ".txt", ".text":
		return "text", nil
	}
	return "", fmt.Errorf("-o %s: cannot tell the format from the extension; use .html, .json, .md or .txt, or --format", output)
}

// writeReport writes the report atomically: to a temporary file renamed into
// place, so a failed run never leaves half a report behind.
func writeReport(opts *Options, format string, rep *render.Report) error {
	write := func(w io.Writer) error {
		switch format {
		case "json":
			return render.WriteJSON(w, rep)
		case "html":
			return render.WriteHTML(w, rep)
		case "md":
			return render.WriteMarkdown(w, rep)
		default:
			return render.WriteText(w, rep)
		}
	}
	if opts.Output == "" || opts.Output == "-" {
		return write(opts.IO.Out)
	}
	dir := filepath.Dir(opts.Output)
	tmp, err := os.CreateTemp(dir, ".pcapsleuth-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", opts.Output, err)
	}
	defer os.Remove(tmp.Name())
	if err := write(tmp); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", opts.Output, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", opts.Output, err)
	}
	if err := os.Rename(tmp.Name(), opts.Output); err != nil {
		return fmt.Errorf("write %s: %w", opts.Output, err)
	}
	return nil
}
