package analyze

import (
	"reflect"
	"strings"
	"time"
	"unicode"

	"github.com/spf13/pflag"
)

// BindOptions registers one flag per exported field of the options struct
// opts points to (int, float64, bool, string, time.Duration). The flag name
// is the field's `flag` tag or its name in kebab case; the help is its
// `help` tag. Detector packages so declare their thresholds once, in one
// place, and every threshold is a flag with its default shown.
func BindOptions(f *pflag.FlagSet, opts any) {
	v := reflect.ValueOf(opts).Elem()
	t := v.Type()
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
			help = "threshold of the detectors (see docs/detectors.md)"
		}
		if f.Lookup(name) != nil {
			continue
		}
		p := v.Field(i).Addr().Interface()
		switch ptr := p.(type) {
		case *time.Duration:
			f.DurationVar(ptr, name, *ptr, help)
		case *int:
			f.IntVar(ptr, name, *ptr, help)
		case *int64:
			f.Int64Var(ptr, name, *ptr, help)
		case *float64:
			f.Float64Var(ptr, name, *ptr, help)
		case *bool:
			f.BoolVar(ptr, name, *ptr, help)
		case *string:
			f.StringVar(ptr, name, *ptr, help)
		}
	}
}

// kebab turns CloseWaitGrace into close-wait-grace (and MSS into mss).
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
