package config

import (
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
)

// Threshold describes one detector threshold: its flag (and config-file key),
// default, help, the options struct it belongs to and, when the field says
// so, the detectors it tunes.
type Threshold struct {
	Flag      string
	Default   string
	Help      string
	Group     string   // the options struct, e.g. "TeardownOptions"
	Detectors []string // from the field's `detector:"a,b"` tag; empty when not tagged
	ptr       any
}

// Thresholds lists the exported fields of the options struct opts points to
// (int, int64, float64, bool, string, time.Duration), as BindOptions binds
// them.
func Thresholds(opts any) []Threshold {
	v := reflect.ValueOf(opts).Elem()
	t := v.Type()
	var out []Threshold
	for i := 0; i < t.NumField(); i++ {
		field := t.Field(i)
		if !field.IsExported() {
			continue
		}
		name := field.Tag.Get("flag")
		if name == "-" {
			continue
		}
		if name == "" {
			name = kebab(field.Name)
		}
		help := field.Tag.Get("help")
		if help == "" {
			help = "see docs/detectors.md"
		}
		th := Threshold{Flag: name, Help: help, Group: t.Name(), ptr: v.Field(i).Addr().Interface()}
		if d := field.Tag.Get("detector"); d != "" {
			for _, s := range strings.Split(d, ",") {
				th.Detectors = append(th.Detectors, strings.TrimSpace(s))
			}
		}
		switch p := th.ptr.(type) {
		case *time.Duration:
			th.Default = p.String()
		case *int, *int64, *float64, *bool, *string:
			th.Default = strings.TrimSpace(stringOf(p))
		default:
			continue
		}
		out = append(out, th)
	}
	return out
}

// BindOptions registers one flag per exported field of the options struct
// opts points to (int, int64, float64, bool, string, time.Duration). The flag
// name is the field's `flag` tag or its name in kebab case; the help is its
// `help` tag; an optional `detector` tag names the detectors it tunes (for
// `pcapsleuth detectors`). Detector packages so declare their thresholds
// once, in one place, and every threshold is a flag with its default shown
// and a key of the --config file.
func BindOptions(f *pflag.FlagSet, opts any) {
	for _, th := range Thresholds(opts) {
		if f.Lookup(th.Flag) != nil {
			continue
		}
		switch ptr := th.ptr.(type) {
		case *time.Duration:
			f.DurationVar(ptr, th.Flag, *ptr, th.Help)
		case *int:
			f.IntVar(ptr, th.Flag, *ptr, th.Help)
		case *int64:
			f.Int64Var(ptr, th.Flag, *ptr, th.Help)
		case *float64:
			f.Float64Var(ptr, th.Flag, *ptr, th.Help)
		case *bool:
			f.BoolVar(ptr, th.Flag, *ptr, th.Help)
		case *string:
			f.StringVar(ptr, th.Flag, *ptr, th.Help)
		}
	}
}

func stringOf(p any) string {
	switch p := p.(type) {
	case *int:
		return itoa(int64(*p))
	case *int64:
		return itoa(*p)
	case *float64:
		return ftoa(*p)
	case *bool:
		if *p {
			return "true"
		}
		return "false"
	case *string:
		return *p
	}
	return ""
}

// kebab turns CloseWaitGrace into close-wait-grace (and MSS into mss,
// RTOMin into rto-min).
func kebab(s string) string {
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		if unicode.IsUpper(r) {
			prevLower := i > 0 && unicode.IsLower(rs[i-1])
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1]) && i > 0 && unicode.IsUpper(rs[i-1])
			if i > 0 && (prevLower || nextLower) {
				b.WriteByte('-')
			}
			b.WriteRune(unicode.ToLower(r))
		} else {
			b.WriteRune(r)
		}
	}
	return b.String()
}
