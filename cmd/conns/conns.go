// Package conns is the `pcapsleuth flows` command: the connections of a
// capture as a table or JSON, filterable by packet filter, final state,
// finding and retransmissions, with the IDs `pcapsleuth follow --flow` takes.
package conns

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"
	"unicode"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/batch"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/interrupt"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/memory"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// Options holds what one run of `flows` needs.
type Options struct {
	IO      cli.Streams
	Now     func() time.Time
	Analyze func(analysis.Options) (*analysis.Result, error)
	// Progress is true when a progress bar may be drawn.
	Progress bool

	Inputs     []string
	Format     string // table | json
	States     []string
	Findings   []string
	MinRetrans int64
	Limit      int
	Quiet      bool

	Settings *config.Settings
	// Memory is --memory-limit and --huge-pages (package memory).
	Memory memory.Flags
}

// NewCmdFlows returns the command; runF (tests) replaces the run.
func NewCmdFlows(io cli.Streams, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: io, Now: time.Now, Analyze: analysis.Run, Progress: cli.IsTerminal(io.Err), Settings: config.New()}
	cmd := &cobra.Command{
		Use:   "flows CAPTURE...",
		Short: "List the TCP connections of a capture",
		Long: `Flows lists every TCP connection of a capture: its ID (as tshark's tcp.stream
+ 1; the ID pcapsleuth follow --flow takes), client and server, packets,
retransmissions, each side's inferred state at the end, start (from the first
packet), duration, Zeek-style history, TLS SNI or HTTP request, and the
findings that list it. Several files are read as one timeline (rotated
captures), ordered by their first packet, as analyze --merge does.

The packet filter flags (--host, --port, --net, --filter, --since, --until)
select packets before tracking; --state, --finding and --min-retrans select
connections. Connection IDs depend on the packet filter: give follow the same
one.

Ctrl-C stops the reading and still lists the connections of what was read
(standard input reads on until its writer closes it; press Ctrl-C twice to
stop it too), exit status 130 (143 for SIGTERM).`,
		Example: `  pcapsleuth flows dump.pcap
  pcapsleuth flows dump.pcap --port 8080 --state CLOSE_WAIT
  pcapsleuth flows dump.pcap --finding close-wait-leak --format json | jq '.[].id'`,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return errors.New("flows needs a capture (\"-\" for standard input)")
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Inputs = args
			if err := opts.Settings.Prepare(cmd); err != nil {
				return cli.UsageError(err)
			}
			for i, s := range opts.States {
				s = strings.ToUpper(strings.ReplaceAll(strings.TrimSpace(s), "-", "_"))
				if s == "SYN_RECV" {
					s = "SYN_RECEIVED" // ss spells it so
				}
				if _, ok := flows.ParseState(s); !ok {
					return cli.UsageError(fmt.Errorf("--state %s: not a TCP state (ESTABLISHED, FIN_WAIT_1, FIN_WAIT_2, CLOSE_WAIT, LAST_ACK, CLOSING, TIME_WAIT, SYN_SENT, SYN_RECEIVED, CLOSED, UNKNOWN)", opts.States[i]))
				}
				opts.States[i] = s
			}
			for _, f := range opts.Findings {
				if _, ok := detectors.ParseKind(f); !ok {
					return cli.UsageError(fmt.Errorf("--finding %s: unknown detector (see pcapsleuth detectors)", f))
				}
			}
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	f := cmd.Flags()
	cli.StringEnumFlag(cmd, &opts.Format, "format", "", "table", []string{"table", "json"}, "output format")
	f.StringSliceVar(&opts.States, "state", nil, "only connections with a side in this final state, e.g. CLOSE_WAIT (repeatable)")
	f.StringSliceVar(&opts.Findings, "finding", nil, "only connections listed by a finding of this detector (repeatable)")
	f.Int64Var(&opts.MinRetrans, "min-retrans", 0, "only connections with at least this many retransmissions")
	f.IntVar(&opts.Limit, "limit", 0, "print at most this many connections (0 = all)")
	f.BoolVarP(&opts.Quiet, "quiet", "q", false, "no progress bar")
	opts.Memory.Bind(f)
	opts.Settings.Bind(cmd)
	return cmd
}

// Run lists the connections.
func Run(opts *Options) error {
	paths, err := Timeline(opts.Inputs, opts.Settings)
	if err != nil {
		return err
	}
	stop, err := opts.Memory.Start(1)
	if err != nil {
		return cli.UsageError(err)
	}
	defer stop()
	var prog *cli.Progress
	if opts.Progress && !opts.Quiet {
		prog = cli.NewProgress(opts.IO.Err, opts.Now, totalSize(paths), len(paths))
	}
	stops := interrupt.New("table", func(format string, args ...any) {
		prog.Clear()
		fmt.Fprintf(opts.IO.Err, format, args...)
	}, os.Exit)
	defer stops.Watch()()
	ao := opts.Settings.Options(paths)
	ao.Stdin = opts.IO.In
	ao.Progress = prog.Func()
	ao.Stop = stops.Stop
	res, err := opts.Analyze(ao)
	prog.Clear()
	if err != nil {
		return stops.Cut(&cli.ExitError{Code: cli.ExitUsage, Err: cli.Explain(err)})
	}
	defer res.Close()
	return stops.Cut(write(opts, res.Report))
}

// Timeline expands the arguments of flows and follow into the files of one
// timeline, ordered by first packet; any unusable argument is an error
// (exit status 2), since a connection list with a hole would mislead.
func Timeline(args []string, s *config.Settings) ([]string, error) {
	ex, err := batch.Expand(args)
	if err != nil {
		return nil, cli.UsageError(err)
	}
	if len(ex.Problems) > 0 {
		return nil, &cli.ExitError{Code: cli.ExitUsage, Err: ex.Problems[0]}
	}
	inputs := ex.Inputs
	if len(inputs) > 1 {
		var probs []batch.Problem
		inputs, probs = batch.FirstPacketOrder(inputs, s.Reader)
		if len(probs) > 0 {
			return nil, &cli.ExitError{Code: cli.ExitUsage, Err: cli.ExplainPath(probs[0].Path, probs[0].Err)}
		}
	}
	paths := make([]string, len(inputs))
	for i, in := range inputs {
		paths[i] = in.Path
	}
	return paths, nil
}

func totalSize(paths []string) int64 {
	var n int64
	for _, p := range paths {
		if p == "-" {
			return 0
		}
		if sz, ok := fileSize(p); ok {
			n += sz
		}
	}
	return n
}

// keep reports whether a connection passes the connection filters.
func keep(opts *Options, c *render.ConnSummary) bool {
	if len(opts.States) > 0 {
		ok := false
		for _, s := range opts.States {
			if c.ClientState == s || c.ServerState == s {
				ok = true
			}
		}
		if !ok {
			return false
		}
	}
	if len(opts.Findings) > 0 {
		ok := false
		for _, want := range opts.Findings {
			for _, f := range c.Findings {
				if f == want {
					ok = true
				}
			}
		}
		if !ok {
			return false
		}
	}
	return c.Retransmissions >= opts.MinRetrans
}

// errLimit stops the iteration at --limit.
var errLimit = errors.New("limit reached")

func write(opts *Options, rep *render.Report) error {
	w := bufio.NewWriter(opts.IO.Out)
	start := captureStart(rep)
	n := 0
	var err error
	if opts.Format == "json" {
		w.WriteString("[")
		err = each(opts, rep, func(c *render.ConnSummary) error {
			if n > 0 {
				w.WriteString(",")
			}
			w.WriteString("\n  ")
			b, err := json.Marshal(c)
			if err != nil {
				return err
			}
			w.Write(b)
			n++
			return nil
		})
		if n > 0 {
			w.WriteString("\n")
		}
		w.WriteString("]\n")
	} else {
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "ID\tCLIENT\tSERVER\tPKTS\tRETX\tCLIENT STATE\tSERVER STATE\tSTART\tDURATION\tHISTORY\tAPP\tFINDINGS")
		err = each(opts, rep, func(c *render.ConnSummary) error {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", c.ID, c.Client, c.Server, c.Packets, c.Retransmissions,
				c.ClientState, c.ServerState, offset(start, c.Start), seconds(c.DurationS), c.History, app(c), strings.Join(c.Findings, ","))
			n++
			return nil
		})
		tw.Flush()
		if !opts.Quiet {
			total := 0
			if rep.Conns != nil {
				total = rep.Conns.Len()
			}
			fmt.Fprintf(opts.IO.Err, "pcapsleuth: %d of %d connections", n, total)
			if f := opts.Settings.Compiled().String(); f != "" {
				fmt.Fprintf(opts.IO.Err, " (packet filter: %s)", f)
			}
			fmt.Fprintln(opts.IO.Err)
		}
	}
	if err != nil && !errors.Is(err, errLimit) {
		return fmt.Errorf("list connections: %w", err)
	}
	return w.Flush()
}

func each(opts *Options, rep *render.Report, f func(*render.ConnSummary) error) error {
	if rep.Conns == nil {
		return nil
	}
	n := 0
	return rep.Conns.Each(func(c *render.ConnSummary) error {
		if !keep(opts, c) {
			return nil
		}
		if opts.Limit > 0 && n >= opts.Limit {
			return errLimit
		}
		n++
		return f(c)
	})
}

// captureStart is the earliest first-packet time of the report's captures.
func captureStart(rep *render.Report) time.Time {
	var start time.Time
	for _, c := range rep.Captures {
		if c.FirstTS != 0 {
			t := time.Unix(0, c.FirstTS)
			if start.IsZero() || t.Before(start) {
				start = t
			}
		}
	}
	return start
}

// offset writes a connection's start as "+12.345s" from the capture start.
func offset(start time.Time, rfc string) string {
	t, err := time.Parse(time.RFC3339Nano, rfc)
	if err != nil || start.IsZero() {
		return rfc
	}
	return fmt.Sprintf("+%.3fs", t.Sub(start).Seconds())
}

func seconds(s float64) string { return fmt.Sprintf("%.3fs", s) }

// app is the application context, clipped and made safe for a terminal.
func app(c *render.ConnSummary) string {
	s := ""
	switch {
	case c.TLSSNI != "":
		s = "tls " + c.TLSSNI
	case c.TLSVersion != "":
		s = "tls"
	case c.HTTPRequest != "":
		s = c.HTTPRequest
		if c.HTTPStatus != 0 {
			s += fmt.Sprintf(" → %d", c.HTTPStatus)
		}
	}
	return Clip(s, 48)
}

// Clip makes s safe for one terminal cell (no control or bidi characters)
// and at most n runes long.
func Clip(s string, n int) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r) {
			return '?'
		}
		if r == ' ' || unicode.IsSpace(r) {
			return ' '
		}
		return r
	}, s)
	if rs := []rune(s); len(rs) > n {
		return string(rs[:n-1]) + "…"
	}
	return s
}

func fileSize(path string) (int64, bool) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	return fi.Size(), true
}
