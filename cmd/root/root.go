// Package root is pcapsleuth's root command: it wires the subcommands and
// maps errors to the exit codes of CONTRACT.md.
package root

import (
	"errors"
	"fmt"
	"io"
	"runtime/debug"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/analyze"
	"github.com/pcapsleuth/pcapsleuth/cmd/catalog"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/conns"
	"github.com/pcapsleuth/pcapsleuth/cmd/diff"
	"github.com/pcapsleuth/pcapsleuth/cmd/follow"
	"github.com/pcapsleuth/pcapsleuth/cmd/man"
)

// Version is pcapsleuth's release version.
const Version = "0.1.0"

// Streams are the standard streams (injected, so tests can capture them).
type Streams = cli.Streams

// NewCmdRoot builds the command tree.
func NewCmdRoot(io cli.Streams) *cobra.Command {
	root := &cobra.Command{
		Use:   "pcapsleuth",
		Short: "Turn a packet capture into an incident diagnosis",
		Long: `pcapsleuth reads a packet capture (pcap or pcapng, optionally gzip or zstd
compressed), follows every TCP connection and names the root cause behind what it
sees: CLOSE_WAIT leaks, writes after FIN that a middlebox resets or silently drops,
stale pooled connections, idle and request timeouts, abandoned TLS handshakes,
retransmission storms and more. It writes a self-contained HTML report, JSON for
CI, a Markdown summary for tickets, or a text summary for the terminal.`,
		Example: `  pcapsleuth analyze dump.pcap                   # text summary in the terminal
  pcapsleuth analyze dump.pcap -o report.html    # the incident report
  pcapsleuth analyze dump.pcap.zst -o out.json   # JSON (CONTRACT.md), zstd input
  pcapsleuth analyze captures/ -o out/           # one report per capture + index.html
  tcpdump -w - -s 96 port 8080 | pcapsleuth analyze - -o -   # from stdin
  pcapsleuth diff before.pcap after.pcap         # did the fix work?
  pcapsleuth flows dump.pcap --port 8080         # list the connections
  pcapsleuth follow dump.pcap --flow 17          # every packet of one connection
  pcapsleuth detectors                           # what is detected, and the thresholds`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       versionString(),
	}
	root.SetIn(io.In)
	root.SetOut(io.Out)
	root.SetErr(io.Err)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return cli.UsageError(fmt.Errorf("%w (see pcapsleuth %s --help)", err, c.Name()))
	})
	root.AddCommand(
		analyze.NewCmdAnalyze(io, versionString(), nil),
		diff.NewCmdDiff(io, versionString(), nil),
		conns.NewCmdFlows(io, nil),
		follow.NewCmdFollow(io, nil),
		catalog.NewCmdDetectors(io, nil),
		man.NewCmdMan(io, root, nil),
		newCmdVersion(io),
	)
	return root
}

func versionString() string {
	v := Version
	if bi, ok := debug.ReadBuildInfo(); ok {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" && len(s.Value) >= 12 {
				v += " (" + s.Value[:12] + ")"
			}
		}
	}
	return v
}

func newCmdVersion(io cli.Streams) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print pcapsleuth's version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			fmt.Fprintln(io.Out, "pcapsleuth", versionString())
			return nil
		},
	}
}

// Main runs pcapsleuth with args and returns the exit status: 0 when the
// analysis ran, 1 when --fail-on matched a finding, 2 on bad usage or an
// unreadable input.
func Main(args []string, io cli.Streams) int {
	cmd := NewCmdRoot(io)
	var prof profiler
	prof.bind(cmd)
	cmd.SetArgs(args)
	err := cmd.Execute()
	if perr := prof.stop(); err == nil && perr != nil {
		err = perr
	}
	if err == nil {
		return int(cli.ExitOK)
	}
	var ee *cli.ExitError
	if errors.As(err, &ee) {
		if ee.Err != nil {
			printErr(io.Err, ee.Err)
		}
		return int(ee.Code)
	}
	// Cobra's own errors: unknown commands, wrong argument counts.
	printErr(io.Err, err)
	return int(cli.ExitUsage)
}

func printErr(w io.Writer, err error) {
	fmt.Fprintln(w, "pcapsleuth:", err)
}
