// Package catalog is the `pcapsleuth detectors` command: every detector with
// its description, severity and the flags (thresholds) that tune it.
package catalog

import (
	"bufio"
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// Options holds what one run of `detectors` needs.
type Options struct {
	IO cli.Streams
	// Names are the detectors to describe in full (all, briefly, when empty).
	Names  []string
	Format string // text | json | md | config
}

// NewCmdDetectors returns the command; runF (tests) replaces the run.
func NewCmdDetectors(io cli.Streams, runF func(*Options) error) *cobra.Command {
	opts := &Options{IO: io}
	cmd := &cobra.Command{
		Use:   "detectors [NAME...]",
		Short: "List the detectors, their severities and thresholds",
		Long: `Detectors lists every detector: its name (for --detectors and the JSON
report), the most severe level it reports, what it looks for, and the flags
that tune it. Every threshold is a flag of analyze, diff, flows and follow and a
key of the --config file; --format config prints a config file with all the
defaults (docs/config.example.json).

With names, it describes those detectors in full.`,
		Example: `  pcapsleuth detectors
  pcapsleuth detectors close-wait-leak
  pcapsleuth detectors --format json
  pcapsleuth detectors --format config > pcapsleuth.json   # then: analyze --config pcapsleuth.json`,
		ValidArgsFunction: func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
			var names []string
			for _, s := range detectors.Specs() {
				names = append(names, s.Name()+"\t"+s.Title)
			}
			return names, cobra.ShellCompDirectiveNoFileComp
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			opts.Names = args
			if runF != nil {
				return runF(opts)
			}
			return Run(opts)
		},
	}
	cli.StringEnumFlag(cmd, &opts.Format, "format", "", "text", []string{"text", "json", "md", "config"}, "output format")
	return cmd
}

// Detector is one detector as `detectors --format json` writes it.
type Detector struct {
	Name     string `json:"name"`
	Severity string `json:"severity"`
	Title    string `json:"title"`
	Doc      string `json:"doc,omitempty"`
	// Flags are the thresholds tagged as tuning this detector.
	Flags []Flag `json:"flags"`
}

// Flag is one threshold flag.
type Flag struct {
	Flag      string   `json:"flag"`
	Default   string   `json:"default"`
	Help      string   `json:"help"`
	Detectors []string `json:"detectors,omitempty"`
}

// Catalog is the whole list.
type Catalog struct {
	Detectors []Detector `json:"detectors"`
	// Thresholds are every threshold flag, tagged or not.
	Thresholds []Flag `json:"thresholds"`
}

// Build collects the catalog of the named detectors (all when empty).
func Build(names []string) (*Catalog, error) {
	specs, err := detectors.Select(names)
	if err != nil {
		return nil, fmt.Errorf("%w (run pcapsleuth detectors for the list)", err)
	}
	c := &Catalog{Detectors: []Detector{}, Thresholds: []Flag{}}
	ths := config.AllThresholds()
	for _, th := range ths {
		c.Thresholds = append(c.Thresholds, Flag{Flag: th.Flag, Default: th.Default, Help: th.Help, Detectors: th.Detectors})
	}
	for _, s := range specs {
		d := Detector{Name: s.Name(), Severity: s.Severity.String(), Title: s.Title, Doc: strings.TrimSpace(s.Doc), Flags: []Flag{}}
		for _, th := range ths {
			for _, n := range th.Detectors {
				if n == d.Name {
					d.Flags = append(d.Flags, Flag{Flag: th.Flag, Default: th.Default, Help: th.Help})
				}
			}
		}
		c.Detectors = append(c.Detectors, d)
	}
	return c, nil
}

// Run prints the catalog.
func Run(opts *Options) error {
	if opts.Format == "config" {
		_, err := opts.IO.Out.Write(config.Template())
		return err
	}
	c, err := Build(opts.Names)
	if err != nil {
		return cli.UsageError(err)
	}
	w := bufio.NewWriter(opts.IO.Out)
	defer w.Flush()
	switch opts.Format {
	case "json":
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(c)
	case "md":
		writeMarkdown(w, c)
		return nil
	}
	if len(c.Detectors) == 0 {
		fmt.Fprintln(w, "No detectors are built into this pcapsleuth.")
	}
	if len(opts.Names) == 0 {
		tagged := false
		for _, d := range c.Detectors {
			tagged = tagged || len(d.Flags) > 0
		}
		if len(c.Detectors) > 0 {
			tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
			head := "DETECTOR\tSEVERITY\tWHAT IT FINDS"
			if tagged {
				head += "\tFLAGS"
			}
			fmt.Fprintln(tw, head)
			for _, d := range c.Detectors {
				line := fmt.Sprintf("%s\t%s\t%s", d.Name, d.Severity, d.Title)
				if tagged {
					var fl []string
					for _, f := range d.Flags {
						fl = append(fl, "--"+f.Flag)
					}
					line += "\t" + strings.Join(fl, " ")
				}
				fmt.Fprintln(tw, line)
			}
			tw.Flush()
		}
		fmt.Fprintln(w, "\n`pcapsleuth detectors NAME` describes one in full; docs/detectors.md has the background.")
	} else {
		for i, d := range c.Detectors {
			if i > 0 {
				fmt.Fprintln(w)
			}
			fmt.Fprintf(w, "%s (%s)\n  %s\n", d.Name, d.Severity, d.Title)
			if d.Doc != "" {
				fmt.Fprintf(w, "\n%s\n", indent(wrap(d.Doc, 76), "  "))
			}
			if len(d.Flags) > 0 {
				fmt.Fprintln(w, "\n  Flags:")
				writeFlags(w, d.Flags, "    ")
			}
		}
	}
	if len(c.Thresholds) > 0 && (len(opts.Names) == 0 || untagged(c)) {
		fmt.Fprintln(w, "\nThresholds (flags of analyze, diff, flows and follow; keys of --config):")
		writeFlags(w, c.Thresholds, "  ")
	}
	return nil
}

// untagged reports whether some threshold names no detector (so a detector's
// own list may be incomplete and the full list is worth printing).
func untagged(c *Catalog) bool {
	for _, t := range c.Thresholds {
		if len(t.Detectors) == 0 {
			return true
		}
	}
	return false
}

func writeFlags(w *bufio.Writer, flags []Flag, prefix string) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	for _, f := range flags {
		who := ""
		if len(f.Detectors) > 0 {
			who = " (" + strings.Join(f.Detectors, ", ") + ")"
		}
		fmt.Fprintf(tw, "%s--%s\t%s\t%s%s\n", prefix, f.Flag, f.Default, f.Help, who)
	}
	tw.Flush()
}

func writeMarkdown(w *bufio.Writer, c *Catalog) {
	fmt.Fprintln(w, "| detector | severity | what it finds | flags |")
	fmt.Fprintln(w, "|---|---|---|---|")
	for _, d := range c.Detectors {
		var fl []string
		for _, f := range d.Flags {
			fl = append(fl, fmt.Sprintf("`--%s` (%s)", f.Flag, f.Default))
		}
		fmt.Fprintf(w, "| `%s` | %s | %s | %s |\n", d.Name, d.Severity, strings.ReplaceAll(d.Title, "|", "\\|"), strings.Join(fl, ", "))
	}
	if len(c.Thresholds) > 0 {
		fmt.Fprintln(w, "\n| flag | default | meaning |")
		fmt.Fprintln(w, "|---|---|---|")
		for _, f := range c.Thresholds {
			fmt.Fprintf(w, "| `--%s` | %s | %s |\n", f.Flag, f.Default, strings.ReplaceAll(f.Help, "|", "\\|"))
		}
	}
}

// wrap folds text at width columns, keeping paragraphs.
func wrap(s string, width int) string {
	var out []string
	for _, para := range strings.Split(s, "\n\n") {
		words := strings.Fields(para)
		var line strings.Builder
		var lines []string
		for _, wd := range words {
			if line.Len() > 0 && line.Len()+1+len(wd) > width {
				lines = append(lines, line.String())
				line.Reset()
			}
			if line.Len() > 0 {
				line.WriteByte(' ')
			}
			line.WriteString(wd)
		}
		if line.Len() > 0 {
			lines = append(lines, line.String())
		}
		out = append(out, strings.Join(lines, "\n"))
	}
	return strings.Join(out, "\n\n")
}

func indent(s, prefix string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = prefix + l
		}
	}
	return strings.Join(lines, "\n")
}
