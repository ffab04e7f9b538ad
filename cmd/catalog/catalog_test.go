package catalog

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/detectors"
)

func run(t *testing.T, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	cmd := NewCmdDetectors(cli.Streams{Out: &out, Err: &bytes.Buffer{}}, nil)
	cmd.SetArgs(args)
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	err := cmd.Execute()
	return out.String(), err
}

func TestDetectors(t *testing.T) {
	specs := detectors.Specs()
	out, err := run(t)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range specs {
		if !strings.Contains(out, s.Name()) || !strings.Contains(out, s.Title) {
			t.Errorf("the list lacks %s", s.Name())
		}
	}
	for _, th := range config.AllThresholds() {
		if !strings.Contains(out, "--"+th.Flag) {
			t.Errorf("the list lacks the threshold --%s", th.Flag)
		}
	}
	out, err = run(t, "--format", "json")
	if err != nil {
		t.Fatal(err)
	}
	var c Catalog
	if err := json.Unmarshal([]byte(out), &c); err != nil {
		t.Fatal(err)
	}
	if len(c.Detectors) != len(specs) || len(c.Thresholds) != len(config.AllThresholds()) {
		t.Errorf("json: %d detectors, %d thresholds", len(c.Detectors), len(c.Thresholds))
	}
	for _, d := range c.Detectors {
		if _, ok := detectors.ParseSeverity(d.Severity); !ok {
			t.Errorf("%s: severity %q", d.Name, d.Severity)
		}
	}
	if len(specs) > 0 {
		out, err = run(t, specs[0].Name())
		if err != nil || !strings.Contains(out, specs[0].Name()+" ("+specs[0].Severity.String()+")") {
			t.Errorf("one detector: %v\n%s", err, out)
		}
	}
	if _, err := run(t, "no-such-detector"); err == nil || !strings.Contains(err.Error(), "unknown detector no-such-detector") {
		t.Errorf("unknown name: %v", err)
	}
	out, _ = run(t, "--format", "config")
	if out != string(config.Template()) {
		t.Error("--format config should print the template")
	}
}
