package config

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"
)

var update = flag.Bool("update", false, "rewrite docs/config.example.json from Template")

// newCmd returns a command with the settings bound, and a --fail-on flag as
// analyze has.
func newCmd() (*cobra.Command, *Settings, *string) {
	s := New()
	var failOn string
	cmd := &cobra.Command{Use: "x", RunE: func(*cobra.Command, []string) error { return nil }}
	cmd.Flags().StringVar(&failOn, "fail-on", "", "")
	s.Bind(cmd)
	return cmd, s, &failOn
}

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		args    []string
		check   func(t *testing.T, s *Settings, failOn string)
		wantErr string
	}{
		{
			name: "values of every kind",
			file: `{"close-wait-grace": 10, "timeout-spread": 0.1, "max-flows": 123, "detectors": ["close-wait-leak", "upstream-timeout"],
				"fail-on": "warning", "jobs": 4, "port": [80, 443], "_note": "ignored", "// also": "ignored", "app-bytes": null, "min-probes": ""}`,
			check: func(t *testing.T, s *Settings, failOn string) {
				if s.Config.Teardown.CloseWaitGrace != 10*time.Second {
					t.Errorf("close-wait-grace = %v (a number is seconds)", s.Config.Teardown.CloseWaitGrace)
				}
				if s.Config.Teardown.TimeoutSpread != 0.1 || s.Config.MaxFlows != 123 {
					t.Errorf("timeout-spread %v max-flows %v", s.Config.Teardown.TimeoutSpread, s.Config.MaxFlows)
				}
				if strings.Join(s.Detectors, ",") != "close-wait-leak,upstream-timeout" || failOn != "warning" {
					t.Errorf("detectors %v fail-on %q", s.Detectors, failOn)
				}
				if strings.Join(s.Filter.Ports, ",") != "80,443" {
					t.Errorf("ports %v", s.Filter.Ports)
				}
				if s.Flows.AppBytes != New().Flows.AppBytes || s.Config.Teardown.MinProbes != New().Config.Teardown.MinProbes {
					t.Error("null and \"\" should leave the defaults")
				}
			},
		},
		{
			name: "the command line wins",
			file: `{"close-wait-grace": "10s", "detectors": ["close-wait-leak"]}`,
			args: []string{"--close-wait-grace", "3s", "--detectors", "upstream-timeout"},
			check: func(t *testing.T, s *Settings, failOn string) {
				if s.Config.Teardown.CloseWaitGrace != 3*time.Second || strings.Join(s.Detectors, ",") != "upstream-timeout" {
					t.Errorf("close-wait-grace %v detectors %v", s.Config.Teardown.CloseWaitGrace, s.Detectors)
				}
			},
		},
		{name: "typo", file: `{"close-wait-grase": "1s"}`, wantErr: `unknown setting "close-wait-grase" (did you mean "close-wait-grace"?)`},
		{name: "bad value", file: `{"close-wait-grace": "soon"}`, wantErr: `close-wait-grace: invalid argument "soon"`},
		{name: "list for a scalar", file: `{"max-flows": [1, 2]}`, wantErr: "max-flows: want a single value"},
		{name: "object value", file: `{"max-flows": {"a": 1}}`, wantErr: "want a string, number or boolean"},
		{name: "syntax", file: "{\n  \"max-flows\": 1,\n}", wantErr: "line 3: invalid character '}'"},
		{name: "not an object", file: `[1]`, wantErr: "must be one JSON object"},
		{name: "unknown detector", file: `{"detectors": ["nope"]}`, wantErr: "unknown detector nope"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cmd, s, failOn := newCmd()
			path := write(strings.ReplaceAll(tt.name, " ", "_")+".json", tt.file)
			if err := cmd.ParseFlags(append([]string{"--config", path}, tt.args...)); err != nil {
				t.Fatal(err)
			}
			err := s.Prepare(cmd)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, s, *failOn)
		})
	}
}

// TestExampleFile keeps docs/config.example.json equal to Template: every
// setting a config file may hold, with its default. Run with -update after
// adding a threshold.
func TestExampleFile(t *testing.T) {
	const path = "../../docs/config.example.json"
	got := Template()
	if !json.Valid(got) {
		t.Fatalf("Template is not JSON:\n%s", got)
	}
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s is out of date with the thresholds; run go test ./cmd/config -update", path)
	}
	// The example loads, and leaves every setting at its default.
	cmd, s, _ := newCmd()
	if err := cmd.ParseFlags([]string{"--config", path}); err != nil {
		t.Fatal(err)
	}
	if err := s.Prepare(cmd); err != nil {
		t.Fatal(err)
	}
	def := New()
	if s.Config != def.Config || s.Flows != def.Flows || len(s.Detectors) != 0 {
		t.Errorf("the example changes settings:\n%+v\n%+v", s.Config, def.Config)
	}
	// Every threshold flag is in the example.
	vals, _ := Parse(want)
	for _, th := range AllThresholds() {
		if _, ok := vals[th.Flag]; !ok {
			t.Errorf("threshold %s missing from %s", th.Flag, path)
		}
	}
}

func TestKebab(t *testing.T) {
	for in, want := range map[string]string{"CloseWaitGrace": "close-wait-grace", "MSS": "mss", "RTOMin": "rto-min", "MaxFlows": "max-flows"} {
		if got := kebab(in); got != want {
			t.Errorf("kebab(%s) = %s, want %s", in, got, want)
		}
	}
}
