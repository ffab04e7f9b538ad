// Package man is the `pcapsleuth man DIR` command: man pages for every
// command, generated from the command tree by github.com/spf13/cobra/doc, so
// they never drift from --help.
package man

import (
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/cobra/doc"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
)

// Options holds what one run of `man` needs.
type Options struct {
	IO cli.Streams
	// Root is the command tree to document.
	Root *cobra.Command
	Dir  string
	// Date is the date printed in the pages' footer (reproducible builds set
	// it, e.g. from SOURCE_DATE_EPOCH; zero = today).
	Date time.Time
}

// NewCmdMan returns the command; runF (tests) replaces the run.
func NewCmdMan(io cli.Streams, root *cobra.Command, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: io, Root: root}
	cmd := &cobra.Command{
		Use:   "man DIR",
		Short: "Write man pages for every command into DIR",
		Long: `Man writes one man page per command (pcapsleuth.1, pcapsleuth-analyze.1, ...)
into DIR, generated from the same definitions as --help.

  pcapsleuth man /usr/local/share/man/man1 && man pcapsleuth-analyze

SOURCE_DATE_EPOCH, when set, fixes the date in the pages (reproducible builds).`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Dir = args[0]
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	return cmd
}

// Run writes the pages.
func Run(opts *Options) error {
	if err := os.MkdirAll(opts.Dir, 0o755); err != nil {
		return cli.UsageError(fmt.Errorf("man: %w", err))
	}
	date := opts.Date
	if date.IsZero() {
		if t, ok := cli.SourceDate(); ok {
			date = t
		}
	}
	hdr := &doc.GenManHeader{Title: "PCAPSLEUTH", Section: "1", Source: "pcapsleuth " + opts.Root.Version, Manual: "pcapsleuth manual"}
	if !date.IsZero() {
		hdr.Date = &date
	}
	opts.Root.DisableAutoGenTag = true
	if err := doc.GenManTree(opts.Root, hdr, opts.Dir); err != nil {
		return fmt.Errorf("man: write pages: %w", err)
	}
	fmt.Fprintf(opts.IO.Err, "pcapsleuth: man pages written to %s\n", opts.Dir)
	return nil
}
