package cli

import (
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
)

// groupAnnotation is the flag annotation naming its help group.
const groupAnnotation = "pcapsleuth_group"

// SetFlagGroup puts the named flags of cmd in a help group under heading
// (e.g. "Packet filter flags"); GroupedUsage prints the groups in the order
// of their first SetFlagGroup call, after the ungrouped flags.
func SetFlagGroup(cmd *cobra.Command, heading string, names ...string) {
	for _, n := range names {
		_ = cmd.Flags().SetAnnotation(n, groupAnnotation, []string{heading})
	}
	if cmd.Annotations == nil {
		cmd.Annotations = map[string]string{}
	}
	order := groupOrder(cmd)
	for _, h := range order {
		if h == heading {
			return
		}
	}
	cmd.Annotations[groupAnnotation] = strings.Join(append(order, heading), "\n")
}

// groupOrder returns the headings in the order SetFlagGroup saw them.
func groupOrder(cmd *cobra.Command) []string {
	if s := cmd.Annotations[groupAnnotation]; s != "" {
		return strings.Split(s, "\n")
	}
	return nil
}

// GroupedUsage makes cmd's usage list its flags by group, in the order the
// groups first appear, ungrouped flags first. It is set per command (cobra's
// template functions are global state, which pcapsleuth avoids).
func GroupedUsage(cmd *cobra.Command) {
	cmd.SetUsageFunc(func(c *cobra.Command) error {
		w := c.OutOrStderr()
		writeUsage(w, c)
		return nil
	})
}

func writeUsage(w io.Writer, c *cobra.Command) {
	fmt.Fprintf(w, "Usage:\n  %s\n", c.UseLine())
	if len(c.Aliases) > 0 {
		fmt.Fprintf(w, "\nAliases:\n  %s\n", strings.Join(c.Aliases, ", "))
	}
	if c.HasExample() {
		fmt.Fprintf(w, "\nExamples:\n%s\n", c.Example)
	}
	groups := map[string]*pflag.FlagSet{}
	order := append([]string{"Flags"}, groupOrder(c)...)
	c.LocalFlags().VisitAll(func(f *pflag.Flag) {
		if f.Hidden {
			return
		}
		g := "Flags"
		if a := f.Annotations[groupAnnotation]; len(a) > 0 {
			g = a[0]
		}
		fs := groups[g]
		if fs == nil {
			fs = pflag.NewFlagSet(g, pflag.ContinueOnError)
			groups[g] = fs
		}
		fs.AddFlag(f)
	})
	for _, g := range order {
		if fs := groups[g]; fs != nil {
			fmt.Fprintf(w, "\n%s:\n%s", g, fs.FlagUsages())
		}
	}
	if c.HasAvailableInheritedFlags() {
		fmt.Fprintf(w, "\nGlobal flags:\n%s", c.InheritedFlags().FlagUsages())
	}
	if c.HasAvailableSubCommands() {
		fmt.Fprintf(w, "\nUse \"%s [command] --help\" for more information about a command.\n", c.CommandPath())
	}
}
