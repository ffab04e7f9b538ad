// Package config holds the analysis settings that analyze, diff, flows and
// follow share: which detectors run, their thresholds, the memory limits and
// the packet filter. Each is a flag; all but the filter may also come from a
// JSON file given with --config (see docs/cli.md and docs/config.example.json).
//
// Flags given on the command line win over the file, and the file wins over
// the defaults.
package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/filter"
	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/flows"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// Settings are the analysis settings of one command run.
type Settings struct {
	// File is the --config file ("" = none).
	File      string
	Detectors []string
	Config    detectors.Config
	Flows     flows.Config
	Reader    decode.ReaderOptions
	Filter    filter.Spec

	compiled *filter.Filter
	keys     map[string]bool // flags a config file may set on this command
}

// commandKeys are flags of some commands (not of all) that a config file may
// hold; a command without the flag ignores the key.
var commandKeys = []string{"fail-on", "jobs", "quiet"}

// New returns the default settings.
func New() *Settings {
	return &Settings{Config: detectors.DefaultConfig(), Flows: flows.DefaultConfig()}
}

// Bind registers the settings' flags on cmd: --config, --detectors, the
// limits, every detector threshold and the filter flags; cmd's help lists
// them in groups.
func (s *Settings) Bind(cmd *cobra.Command) {
	f := cmd.Flags()
	before := map[string]bool{}
	f.VisitAll(func(fl *pflag.Flag) { before[fl.Name] = true })
	f.StringVar(&s.File, "config", "", "read settings (thresholds, detectors, limits) from this JSON file; flags win over it (docs/config.example.json)")
	f.StringSliceVar(&s.Detectors, "detectors", nil, "run only these detectors (comma-separated; see pcapsleuth detectors)")
	f.IntVar(&s.Flows.MaxConns, "max-conns", s.Flows.MaxConns, "live connections kept in memory; beyond it the least recently active are finished early (reported)")
	f.IntVar(&s.Flows.MaxHalfOpen, "max-half-open", s.Flows.MaxHalfOpen, "half-open connections kept (nothing seen but the client's SYNs); beyond it the oldest are finished early, so a SYN flood costs this many (reported)")
	f.IntVar(&s.Flows.AppBytes, "app-bytes", s.Flows.AppBytes, "bytes of each direction reassembled for TLS and HTTP context")
	f.IntVar(&s.Config.MaxFlows, "max-flows", s.Config.MaxFlows, "flows listed per finding (flow_count stays exact)")
	f.IntVar(&s.Config.MaxExemplars, "max-exemplars", s.Config.MaxExemplars, "exemplar flows (ladder diagrams) per finding")
	BindOptions(f, &s.Config.Teardown)
	BindOptions(f, &s.Config.Transport)
	s.Filter.Bind(f)
	_ = cmd.RegisterFlagCompletionFunc("detectors", func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		var names []string
		for _, sp := range detectors.Specs() {
			names = append(names, sp.Name()+"\t"+sp.Title)
		}
		return names, cobra.ShellCompDirectiveNoFileComp
	})
	s.keys = map[string]bool{}
	f.VisitAll(func(fl *pflag.Flag) {
		if !before[fl.Name] && fl.Name != "config" {
			s.keys[fl.Name] = true
		}
	})
	cli.SetFlagGroup(cmd, "Packet filter flags", "host", "port", "net", "filter", "since", "until")
	cli.SetFlagGroup(cmd, "Detector flags", "config", "detectors")
	for _, th := range AllThresholds() {
		cli.SetFlagGroup(cmd, "Threshold flags (also keys of --config; see pcapsleuth detectors)", th.Flag)
	}
	cli.SetFlagGroup(cmd, "Limit flags", "max-conns", "max-half-open", "app-bytes", "max-flows", "max-exemplars")
	cli.GroupedUsage(cmd)
	for _, k := range commandKeys {
		s.keys[k] = true
	}
}

// Prepare finishes the settings after flag parsing: it applies the --config
// file to the flags the command line left alone, checks the detector names
// and compiles the filter. Its errors are usage errors (exit status 2).
func (s *Settings) Prepare(cmd *cobra.Command) error {
	if s.File != "" {
		if err := s.load(s.File, cmd.Flags()); err != nil {
			return err
		}
	}
	if _, err := detectors.Select(s.Detectors); err != nil {
		return fmt.Errorf("%w (see `pcapsleuth detectors`)", err)
	}
	f, err := s.Filter.Compile()
	if err != nil {
		return err
	}
	s.compiled = f
	return nil
}

// Compiled returns the filter compiled by Prepare (nil before).
func (s *Settings) Compiled() *filter.Filter { return s.compiled }

// FilterString describes the packet filter in force ("" for none), compiling
// it when Prepare was not called.
func (s *Settings) FilterString() string { return s.filter().String() }

// Options returns analysis options for one timeline of paths, with a fresh
// filter predicate (relative time windows count per timeline).
func (s *Settings) Options(paths []string) analysis.Options {
	o := analysis.Options{
		Paths: paths, Detectors: s.Detectors, Config: s.Config, Flows: s.Flows, Reader: s.Reader,
	}
	o.Filter = s.filter().Func()
	return o
}

// filter returns the compiled filter; when Prepare was not called (tests
// building Settings by hand) it compiles one without keeping it, so that
// concurrent analyses never write to s.
func (s *Settings) filter() *filter.Filter {
	if s.compiled != nil || s.Filter.Empty() {
		return s.compiled
	}
	f, _ := s.Filter.Compile()
	return f
}

// Annotate records the filter and the config file in the report's settings.
func (s *Settings) Annotate(rep *render.Report) {
	if rep.Settings.Values == nil {
		rep.Settings.Values = map[string]string{}
	}
	if d := s.filter().String(); d != "" {
		rep.Settings.Values["filter"] = d
	}
	if s.File != "" {
		rep.Settings.Values["config"] = s.File
	}
}

// load applies a JSON config file to the flags fs did not get on the
// command line.
func (s *Settings) load(path string, fs *pflag.FlagSet) error {
	b, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("--config %s: no such file", path)
		}
		return fmt.Errorf("--config: %w", err)
	}
	vals, err := Parse(b)
	if err != nil {
		return fmt.Errorf("--config %s: %w", path, err)
	}
	keys := make([]string, 0, len(vals))
	for k := range vals {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if !s.keys[k] {
			return fmt.Errorf("--config %s: unknown setting %q%s", path, k, suggest(k, s.keys))
		}
		fl := fs.Lookup(k)
		if fl == nil || fl.Changed {
			continue // a key for another command, or given on the command line
		}
		v, err := flagValue(vals[k], fl.Value.Type())
		if err != nil {
			return fmt.Errorf("--config %s: %s: %w", path, k, err)
		}
		if v == nil {
			continue
		}
		for _, one := range v {
			if err := fs.Set(k, one); err != nil {
				return fmt.Errorf("--config %s: %s: %w", path, k, err)
			}
		}
	}
	return nil
}

// Parse reads a config file: one JSON object whose keys are flag names.
// Keys starting with "$", "_" or "//" are comments.
func Parse(b []byte) (map[string]json.RawMessage, error) {
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&raw); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			line := 1 + bytes.Count(b[:se.Offset], []byte("\n"))
			return nil, fmt.Errorf("line %d: %v (the file must be one JSON object of flag names and values)", line, err)
		}
		return nil, fmt.Errorf("%v (the file must be one JSON object of flag names and values)", err)
	}
	if raw == nil {
		return nil, errors.New("want a JSON object of flag names and values")
	}
	for k := range raw {
		if strings.HasPrefix(k, "$") || strings.HasPrefix(k, "_") || strings.HasPrefix(k, "//") {
			delete(raw, k)
		}
	}
	return raw, nil
}

// flagValue turns a JSON value into the strings to Set on a flag of type typ:
// strings as they are, numbers as written (seconds for durations), booleans,
// and arrays for list flags. null and "" mean "leave the default".
func flagValue(raw json.RawMessage, typ string) ([]string, error) {
	var v any
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	scalar := func(x any) (string, error) {
		switch x := x.(type) {
		case string:
			return x, nil
		case json.Number:
			if typ == "duration" {
				return x.String() + "s", nil
			}
			return x.String(), nil
		case bool:
			return strconv.FormatBool(x), nil
		}
		return "", fmt.Errorf("want a string, number or boolean, got %s", raw)
	}
	switch x := v.(type) {
	case nil:
		return nil, nil
	case string:
		if x == "" {
			return nil, nil
		}
	case []any:
		if !strings.HasSuffix(typ, "Slice") && !strings.HasSuffix(typ, "Array") {
			return nil, fmt.Errorf("want a single value, got a list")
		}
		var parts []string
		for _, e := range x {
			s, err := scalar(e)
			if err != nil {
				return nil, err
			}
			parts = append(parts, s)
		}
		return []string{strings.Join(parts, ",")}, nil
	}
	s, err := scalar(v)
	if err != nil {
		return nil, err
	}
	return []string{s}, nil
}

// suggest returns ` (did you mean "x"?)` for the closest known key.
func suggest(k string, known map[string]bool) string {
	best, bestD := "", 4
	for c := range known {
		if d := distance(k, c); d < bestD || (d == bestD && c < best) {
			best, bestD = c, d
		}
	}
	if best == "" {
		return " (the keys are the flag names of `pcapsleuth analyze --help`)"
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

// distance is the Levenshtein distance of a and b.
func distance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			c := prev[j-1]
			if a[i-1] != b[j-1] {
				c++
			}
			cur[j] = min(c, prev[j]+1, cur[j-1]+1)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func itoa(n int64) string   { return strconv.FormatInt(n, 10) }
func ftoa(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// Template returns a config file holding every setting a file may hold but
// the filter (that one is usually per run), with the defaults: the source of
// docs/config.example.json and of `pcapsleuth detectors --format config`.
func Template() []byte {
	s := New()
	var b bytes.Buffer
	b.WriteString("{\n")
	b.WriteString(`  "$comment": "pcapsleuth --config file: keys are flag names (pcapsleuth analyze --help), values as on the command line; durations as \"10s\" or seconds; flags given on the command line win. These are the defaults.",` + "\n")
	line := func(k string, v any) {
		j, _ := json.Marshal(v)
		fmt.Fprintf(&b, "  %q: %s,\n", k, j)
	}
	line("detectors", []string{})
	line("fail-on", "")
	line("max-conns", s.Flows.MaxConns)
	line("max-half-open", s.Flows.MaxHalfOpen)
	line("app-bytes", s.Flows.AppBytes)
	line("max-flows", s.Config.MaxFlows)
	line("max-exemplars", s.Config.MaxExemplars)
	for _, opts := range []any{&s.Config.Teardown, &s.Config.Transport} {
		for _, th := range Thresholds(opts) {
			switch p := th.ptr.(type) {
			case *int:
				line(th.Flag, *p)
			case *int64:
				line(th.Flag, *p)
			case *float64:
				line(th.Flag, *p)
			case *bool:
				line(th.Flag, *p)
			default:
				line(th.Flag, th.Default)
			}
		}
	}
	out := bytes.TrimSuffix(b.Bytes(), []byte(",\n"))
	return append(out, "\n}\n"...)
}

// AllThresholds lists every detector threshold with its default.
func AllThresholds() []Threshold {
	s := New()
	return append(Thresholds(&s.Config.Teardown), Thresholds(&s.Config.Transport)...)
}
