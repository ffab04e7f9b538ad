// Package analyze is the `pcapsleuth analyze` command: one capture, a batch
// of captures (files, folders, globs; analyzed in parallel, one report each
// plus an index), or one timeline of rotated files (--merge).
package analyze

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/batch"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/interrupt"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/memory"
	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// Options holds everything one run of `analyze` needs: first the injected
// dependencies, then what the arguments and flags say.
type Options struct {
	IO      cli.Streams
	Version string
	// Now is the wall clock (report footers, the progress bar).
	Now func() time.Time
	// Analyze runs one analysis: analysis.Run, or a fake in tests.
	Analyze func(analysis.Options) (*analysis.Result, error)
	// Progress is true when a progress bar may be drawn (standard error is a
	// terminal); --quiet turns it off.
	Progress bool

	Inputs []string
	Output string // "" = text on stdout; "-" = stdout in Format; a folder for one report per capture
	Format string // html | json | md | text | junit ("" = from Output's extension)
	FailOn string // "" | info | warning | critical
	Quiet  bool
	Merge  bool
	Jobs   int
	JUnit  string // --junit FILE: also write JUnit XML of the run
	// Memory is --memory-limit and --huge-pages: the runtime's memory
	// policy for the whole run.
	Memory  memory.Flags
	Summary string // --summary FILE: also write the Markdown summary of the run

	Settings *config.Settings
}

// Formats are the output formats of --format.
var formats = []string{"html", "json", "md", "text", "junit"}

// NewCmdAnalyze returns the command; runF (tests) replaces the run.
func NewCmdAnalyze(io cli.Streams, version string, runF func(*Options) error) *cobra.Command {
	opts := &Options{
		IO: io, Version: version, Now: time.Now, Analyze: analysis.Run,
		Progress: cli.IsTerminal(io.Err), Jobs: runtime.NumCPU(), Settings: config.New(),
	}
	cmd := &cobra.Command{
		Use:   "analyze CAPTURE|FOLDER|GLOB...",
		Short: "Analyze captures and report what went wrong",
		Long: `Analyze reads captures (pcap or pcapng, plain, gzip or zstd; "-" for standard
input), follows every TCP connection in a single pass and runs every detector.

One capture: the report goes to -o (format from its extension: .html, .json,
.md, .txt, .xml for JUnit; --format overrides it), or a text summary to the
terminal.

Several captures, folders (searched recursively) or globs: each capture is
analyzed on its own, in parallel (-j), and a bad file is reported while the
others go on. With -o FOLDER (an existing folder, a path ending in /, or a
name without extension) each gets its report there (format from --format,
html by default) plus index.html, index.json and index.md summarizing all of
them; otherwise the summary alone goes to -o or the terminal in --format.

--merge reads the captures as one timeline instead (rotated tcpdump -C/-G
files), ordered by their first packet: a connection spanning two files stays
one connection.

Ctrl-C stops the reading and still writes the report of what was read
(standard input reads on until its writer closes it; press Ctrl-C twice to
stop it too, three times to quit without a report).

Exit status: 0 when the analysis ran, 1 when --fail-on matched a finding,
2 on bad usage or an unreadable input (in a batch, 2 outranks 1), 130 (143)
when SIGINT (SIGTERM) cut the reading short.`,
		Example: `  pcapsleuth analyze dump.pcap
  pcapsleuth analyze dump.pcap -o report.html
  pcapsleuth analyze dump.pcapng.gz -o out.json --fail-on warning
  pcapsleuth analyze captures/ -o out/ --fail-on critical -j 4
  pcapsleuth analyze 'rotated/dump.pcap*' --merge -o merged.html
  pcapsleuth analyze captures/ --format junit -o junit.xml --summary "$GITHUB_STEP_SUMMARY"
  pcapsleuth analyze dump.pcap --filter 'host 10.0.0.5 and port 8080' --since +30s --until +5m
  pcapsleuth analyze - --format json -o - < dump.pcap
  pcapsleuth analyze dump.pcap --detectors close-wait-leak,idle-timeout-close --close-wait-grace 10s`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("analyze needs a capture, a folder or a glob (\"-\" for standard input); see pcapsleuth analyze --help")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			if err := opts.Settings.Prepare(cmd); err != nil {
				return cli.UsageError(err)
			}
			if opts.Jobs < 1 {
				return cli.UsageError(fmt.Errorf("-j %d: want at least 1", opts.Jobs))
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	f := cmd.Flags()
	f.StringVarP(&opts.Output, "output", "o", "", "write the report to this file, or one report per capture into this folder (- for standard output)")
	cli.StringEnumFlag(cmd, &opts.Format, "format", "", "", formats, "output format (default: from the -o extension; html in a folder)")
	cli.StringEnumFlag(cmd, &opts.FailOn, "fail-on", "", "", []string{"info", "warning", "critical"}, "exit with status 1 when a finding at or above this severity exists")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "print nothing on standard error but errors (no progress bar)")
	f.BoolVar(&opts.Merge, "merge", false, "analyze the captures as one timeline (rotated files), ordered by their first packet")
	f.IntVarP(&opts.Jobs, "jobs", "j", opts.Jobs, "captures analyzed in parallel (memory grows with it: each analysis is bounded by --max-conns)")
	opts.Memory.Bind(f)
	f.StringVar(&opts.JUnit, "junit", "", "also write JUnit XML of the run to this file (a test per capture and detector)")
	f.StringVar(&opts.Summary, "summary", "", "also write a Markdown summary of the run to this file (e.g. $GITHUB_STEP_SUMMARY)")
	opts.Settings.Bind(cmd)
	return cmd
}

// job is one analysis: one capture, or the files of a --merge timeline.
type job struct {
	name   string
	inputs []batch.Input
	// err is set for an argument that yielded nothing to analyze.
	err error
}

func (j *job) paths() []string {
	p := make([]string, len(j.inputs))
	for i, in := range j.inputs {
		p[i] = in.Path
	}
	return p
}

// Run analyzes the inputs and writes the reports; the error carries the
// exit status (cli.ExitError).
func Run(opts *Options) error {
	var failOn detectors.Severity
	if opts.FailOn != "" {
		s, ok := detectors.ParseSeverity(opts.FailOn)
		if !ok {
			return cli.UsageError(fmt.Errorf("--fail-on %q: want info, warning or critical", opts.FailOn))
		}
		failOn = s
	}
	ex, err := batch.Expand(opts.Inputs)
	if err != nil {
		return cli.UsageError(err)
	}
	if len(ex.Inputs) == 1 && ex.Inputs[0].Path == "-" && cli.IsTerminal(opts.IO.In) {
		return cli.UsageError(errors.New("reading a capture from standard input, but it is a terminal: pipe a capture in (e.g. tcpdump -w - | pcapsleuth analyze -)"))
	}
	jobs := planJobs(opts, ex)
	parallel := min(opts.Jobs, len(jobs))
	stop, err := opts.Memory.Start(parallel)
	if err != nil {
		return cli.UsageError(err)
	}
	defer stop()
	outDir, err := isOutDir(opts.Output, len(jobs) > 1 || ex.Batch)
	if err != nil {
		return cli.UsageError(err)
	}
	if err := checkDestinations(opts, outDir, ex.Inputs); err != nil {
		return cli.UsageError(err)
	}
	r := &runner{opts: opts, failOn: failOn}
	r.stops = interrupt.New("report", r.say, os.Exit)
	defer r.stops.Watch()()
	return r.stops.Cut(r.dispatch(jobs, ex, outDir))
}

// dispatch runs the jobs: into the -o folder, as one analysis (a capture
// or a --merge timeline), or as a batch summary.
func (r *runner) dispatch(jobs []job, ex batch.Expansion, outDir bool) error {
	switch {
	case outDir:
		return r.toFolder(jobs)
	case len(jobs) == 1 && jobs[0].err == nil && (!ex.Batch || r.opts.Merge):
		return r.single(&jobs[0], problemsOf(jobs))
	case r.opts.Merge && len(jobs) > 1 && jobs[0].err == nil:
		return r.single(&jobs[0], problemsOf(jobs[1:]))
	}
	return r.summary(jobs)
}

// checkDestinations makes sure, before any capture is read, that every
// file the run will write can be written and is none of its inputs: -o (a
// file, or the folder of a batch, made here when missing), --junit and
// --summary. A typo in a path then costs nothing rather than a large
// capture's analysis, or the capture itself (--format json -o dump.pcap).
func checkDestinations(opts *Options, outDir bool, inputs []batch.Input) error {
	paths := make([]string, len(inputs))
	for i, in := range inputs {
		paths[i] = in.Path
	}
	if outDir {
		if err := os.MkdirAll(opts.Output, 0o755); err != nil {
			return fmt.Errorf("-o %s: %w", opts.Output, err)
		}
		if err := cli.CheckWritable(filepath.Join(opts.Output, "index.json")); err != nil {
			return fmt.Errorf("-o: %w", err)
		}
	}
	for _, d := range []struct{ flag, path string }{{"-o", opts.Output}, {"--junit", opts.JUnit}, {"--summary", opts.Summary}} {
		if d.path == "" || d.path == "-" || (outDir && d.flag == "-o") {
			continue
		}
		if err := cli.NotAnInput(d.path, paths); err != nil {
			return fmt.Errorf("%s: %w", d.flag, err)
		}
		if err := cli.CheckWritable(d.path); err != nil {
			return fmt.Errorf("%s: %w", d.flag, err)
		}
	}
	return nil
}

// planJobs turns the expanded inputs into analyses, in argument order.
func planJobs(opts *Options, ex batch.Expansion) []job {
	var jobs []job
	if opts.Merge && len(ex.Inputs) > 0 {
		ordered, probs := batch.FirstPacketOrder(ex.Inputs, opts.Settings.Reader)
		if len(ordered) > 0 {
			name := batch.Names([]string{ordered[0].Path})[0]
			if len(ordered) > 1 {
				name += "-merged"
			}
			jobs = append(jobs, job{name: name, inputs: ordered})
		}
		for _, p := range probs {
			jobs = append(jobs, job{inputs: []batch.Input{{Path: p.Path}}, err: cli.ExplainPath(p.Path, p.Err)})
		}
	} else {
		for _, in := range ex.Inputs {
			jobs = append(jobs, job{inputs: []batch.Input{in}})
		}
	}
	for _, p := range ex.Problems {
		jobs = append(jobs, job{inputs: []batch.Input{{Path: p.Path}}, err: p})
	}
	paths := make([]string, len(jobs))
	for i := range jobs {
		paths[i] = jobs[i].inputs[0].Path
	}
	names := batch.Names(paths)
	for i := range jobs {
		if jobs[i].name == "" || len(jobs[i].inputs) == 1 {
			jobs[i].name = names[i]
		}
	}
	return jobs
}

func problemsOf(jobs []job) []job {
	var out []job
	for _, j := range jobs {
		if j.err != nil {
			out = append(out, j)
		}
	}
	return out
}

// isOutDir reports whether -o names a folder: an existing folder, a path
// ending in a separator, or, when there are several captures, a path
// without extension.
func isOutDir(out string, several bool) (bool, error) {
	if out == "" || out == "-" {
		return false, nil
	}
	if strings.HasSuffix(out, "/") || strings.HasSuffix(out, string(os.PathSeparator)) {
		return true, nil
	}
	fi, err := os.Stat(out)
	if err == nil {
		return fi.IsDir(), nil
	}
	return several && filepath.Ext(out) == "", nil
}

// outputFormat picks the format of a file from --format or its extension.
func outputFormat(output, format, def string) (string, error) {
	if format != "" {
		return format, nil
	}
	if output == "" || output == "-" {
		return def, nil
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
	case ".xml":
		return "junit", nil
	}
	return "", fmt.Errorf("-o %s: cannot tell the format from the extension; use .html, .json, .md, .txt or .xml (JUnit), or --format", output)
}

// extension is the file extension of a report format.
func extension(format string) string {
	switch format {
	case "text":
		return ".txt"
	case "junit":
		return ".xml"
	}
	return "." + format
}
