package diff

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/memory"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

func f(det, sev, subj string, flows int, idle *float64) render.FindingJSON {
	return render.FindingJSON{Detector: det, Severity: sev, Subject: subj, Title: det + " " + subj, FlowCount: flows,
		Inferred: detectors.Inferred{IdleTimeoutS: idle}}
}

func TestCompare(t *testing.T) {
	before := []render.FindingJSON{
		f("close-wait-leak", "critical", "10.0.0.2:8080", 37, nil),
		f("idle-timeout-close", "warning", "10.0.0.2:80", 12, detectors.F(65)),
		f("upstream-timeout", "warning", "a → b", 3, nil),
		f("stale-connection-reuse", "info", "c → d", 1, nil),
		f("stale-connection-reuse", "info", "c → d", 1, nil),
	}
	after := []render.FindingJSON{
		f("idle-timeout-close", "warning", "10.0.0.2:80", 40, detectors.F(30)),
		f("upstream-timeout", "critical", "a → b", 2, nil),
		f("write-after-fin-reset", "info", "x", 1, nil),
		f("stale-connection-reuse", "info", "c → d", 1, nil),
	}
	res := Compare(before, after, detectors.Info)
	var got []string
	for _, c := range res.Changes {
		got = append(got, c.Status+"/"+c.Verdict+" "+c.Detector+" ["+strings.Join(c.Details, "; ")+"]")
	}
	want := []string{
		"appeared/worse write-after-fin-reset []",
		"changed/worse upstream-timeout [severity warning → critical; flows 3 → 2]",
		"changed/worse idle-timeout-close [flows 12 → 40; idle_timeout_s 65 → 30]",
		"disappeared/better close-wait-leak []",
		"disappeared/better stale-connection-reuse []",
		"unchanged/same stale-connection-reuse []",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("changes\n got %s\nwant %s", strings.Join(got, "\n     "), strings.Join(want, "\n     "))
	}
	if !res.Worse || res.Counts != (Counts{Appeared: 1, Disappeared: 2, Changed: 2, Unchanged: 1, Worse: 3, Better: 2}) {
		t.Errorf("counts %+v worse %v", res.Counts, res.Worse)
	}
	// With --fail-on critical only the severity rise counts.
	res = Compare(before, after, detectors.Critical)
	if !res.Worse || res.Counts.Worse != 1 {
		t.Errorf("fail-on critical: %+v", res.Counts)
	}
	// Only fixes: not worse.
	res = Compare(before, nil, detectors.Info)
	if res.Worse || res.Counts.Disappeared != 5 {
		t.Errorf("all fixed: %+v", res.Counts)
	}
	if v := res.Verdict(); v != "better (5 better): 5 disappeared" {
		t.Errorf("verdict %q", v)
	}
}

// fakeAnalyze returns the findings registered for a path.
func fakeAnalyze(byPath map[string][]detectors.Finding) func(analysis.Options) (*analysis.Result, error) {
	return func(o analysis.Options) (*analysis.Result, error) {
		fs, ok := byPath[filepath.Base(o.Paths[0])]
		if !ok {
			return nil, &analysis.InputError{Path: o.Paths[0], Err: os.ErrNotExist}
		}
		return &analysis.Result{Report: &render.Report{Findings: fs}}, nil
	}
}

func TestRun(t *testing.T) {
	dir := t.TempDir()
	report := filepath.Join(dir, "before.json")
	b, _ := json.Marshal(map[string]any{"schema_version": 1, "findings": []render.FindingJSON{f("close-wait-leak", "critical", "s:1", 4, nil)}})
	os.WriteFile(report, b, 0o644)
	newer := filepath.Join(dir, "newer.json")
	os.WriteFile(newer, []byte(`{"schema_version": 99, "findings": []}`), 0o644)
	notReport := filepath.Join(dir, "other.json")
	os.WriteFile(notReport, []byte(`{"findings": []}`), 0o644)
	leak := detectors.Finding{Kind: detectors.KindCloseWaitLeak, Severity: detectors.Critical, Subject: "s:1", FlowCount: 4}
	an := fakeAnalyze(map[string][]detectors.Finding{
		"same.pcap":  {leak},
		"fixed.pcap": nil,
		"worse.pcap": {leak, {Kind: detectors.KindUpstreamTimeout, Severity: detectors.Warning, Subject: "a"}},
	})
	tests := []struct {
		before, after string
		format        string
		failOn        string
		wantCode      cli.ExitCode
		want          string
	}{
		{report, "same.pcap", "", "", cli.ExitOK, "same  critical  close-wait-leak"},
		{report, "fixed.pcap", "", "", cli.ExitOK, "verdict: better (1 better): 1 disappeared"},
		{report, "worse.pcap", "", "", cli.ExitFindings, "(report, 1 finding) → worse.pcap (capture, 2 findings)"},
		{report, "fixed.pcap", "md", "", cli.ExitOK, "` (1 finding) → `fixed.pcap` (0 findings)"},
		{report, "worse.pcap", "", "", cli.ExitFindings, "new   warning   upstream-timeout"},
		{report, "worse.pcap", "", "critical", cli.ExitOK, "no change for the worse"},
		{report, "worse.pcap", "json", "", cli.ExitFindings, `"worse": true`},
		{report, "worse.pcap", "md", "", cli.ExitFindings, "| **new** | warning | `upstream-timeout` | a |"},
		{report, "missing.pcap", "", "", cli.ExitUsage, "missing.pcap: no such file"},
		{newer, "same.pcap", "", "", cli.ExitUsage, "schema_version 99 is newer"},
		{notReport, "same.pcap", "", "", cli.ExitUsage, "not a pcapsleuth report"},
	}
	for _, tt := range tests {
		var out, errb bytes.Buffer
		o := &Options{IO: cli.Streams{Out: &out, Err: &errb}, Now: time.Now, Analyze: an, Settings: config.New(),
			Before: tt.before, After: tt.after, Format: tt.format, FailOn: tt.failOn}
		err := Run(o)
		code := cli.ExitOK
		var ee *cli.ExitError
		if errors.As(err, &ee) {
			code = ee.Code
			if ee.Err != nil {
				errb.WriteString(ee.Err.Error())
			}
		}
		if code != tt.wantCode || !strings.Contains(out.String()+errb.String(), tt.want) {
			t.Errorf("%s %s %s: exit %v, want %v; output lacks %q:\n%s%s", filepath.Base(tt.before), tt.after, tt.format, code, tt.wantCode, tt.want, out.String(), errb.String())
		}
	}
	// An -o that cannot be written fails before either side is analyzed.
	analyzed := 0
	counting := func(o analysis.Options) (*analysis.Result, error) { analyzed++; return an(o) }
	var errb bytes.Buffer
	o := &Options{IO: cli.Streams{Out: &bytes.Buffer{}, Err: &errb}, Now: time.Now, Analyze: counting, Settings: config.New(),
		Before: "same.pcap", After: "worse.pcap", Output: filepath.Join(dir, "nope", "d.json")}
	err := Run(o)
	if ee := (*cli.ExitError)(nil); !errors.As(err, &ee) || ee.Code != cli.ExitUsage || analyzed != 0 ||
		!strings.Contains(err.Error(), "there is no folder") {
		t.Errorf("-o in a missing folder: %v after %d analyses; want exit 2 before any", err, analyzed)
	}
	// Nor may -o name one of the sides.
	o = &Options{IO: cli.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, Now: time.Now, Analyze: counting, Settings: config.New(),
		Before: report, After: "same.pcap", Output: report, Format: "json"}
	err = Run(o)
	if after, _ := os.ReadFile(report); !bytes.Equal(after, b) || err == nil || !strings.Contains(err.Error(), "never writes over its input") {
		t.Errorf("-o naming the before report: %v; the report changed: %v", err, !bytes.Equal(after, b))
	}
	// The memory flags apply when a side is a capture (package memory):
	// then a bad size is a usage error; two reports need no analysis.
	for _, tt := range []struct {
		after string
		want  cli.ExitCode
	}{{"same.pcap", cli.ExitUsage}, {report, cli.ExitOK}} {
		o := &Options{IO: cli.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, Now: time.Now, Analyze: an, Settings: config.New(),
			Before: report, After: tt.after, Memory: memory.Flags{Limit: "lots"}}
		err := Run(o)
		code := cli.ExitOK
		if ee := (*cli.ExitError)(nil); errors.As(err, &ee) {
			code = ee.Code
		}
		if code != tt.want {
			t.Errorf("--memory-limit lots, after %s: %v (exit %v), want exit %v", filepath.Base(tt.after), err, code, tt.want)
		}
	}
}

func TestNewCmdDiff(t *testing.T) {
	var got *Options
	run := func(args ...string) error {
		cmd := NewCmdDiff(cli.Streams{Out: &bytes.Buffer{}, Err: &bytes.Buffer{}}, "t", func(o *Options) error { got = o; return nil })
		cmd.SetArgs(args)
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		return cmd.Execute()
	}
	if err := run("a.pcap", "b.json", "--fail-on", "warning", "-o", "d.md", "--port", "80"); err != nil {
		t.Fatal(err)
	}
	if got.Before != "a.pcap" || got.After != "b.json" || got.FailOn != "warning" || got.Output != "d.md" || got.Settings.Compiled().String() != "port 80" {
		t.Errorf("options %+v", got)
	}
	if err := run("a.pcap"); err == nil || !strings.Contains(err.Error(), "diff takes two arguments") {
		t.Errorf("one arg: %v", err)
	}
	if err := run("-", "-"); err == nil {
		t.Error("two stdins should fail")
	}
}
