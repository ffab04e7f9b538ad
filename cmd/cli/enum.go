package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"
)

// enumValue is a string flag limited to a set of values (pflag.Value).
type enumValue struct {
	p       *string
	allowed []string
}

func (e *enumValue) String() string { return *e.p }

func (e *enumValue) Type() string { return "string" }

func (e *enumValue) Set(v string) error {
	for _, a := range e.allowed {
		if v == a {
			*e.p = v
			return nil
		}
	}
	return fmt.Errorf("want %s", orList(e.allowed))
}

// StringEnumFlag registers a string flag that accepts only the allowed
// values; a wrong value is a usage error at parse time ("invalid argument
// "x" for "--fail-on" flag: want info, warning or critical"), and shell
// completion offers the values. The help text gets the list appended.
func StringEnumFlag(cmd *cobra.Command, p *string, name, short, def string, allowed []string, help string) {
	*p = def
	cmd.Flags().VarP(&enumValue{p: p, allowed: allowed}, name, short, fmt.Sprintf("%s: {%s}", help, strings.Join(allowed, "|")))
	_ = cmd.RegisterFlagCompletionFunc(name, func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		return allowed, cobra.ShellCompDirectiveNoFileComp
	})
}

// orList writes "a, b or c".
func orList(s []string) string {
	switch len(s) {
	case 0:
		return ""
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}
