package detectors

import (
	"bytes"
	"flag"
	"fmt"
	"math"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
)

// updateTeardown rewrites the want sections of detectors/testdata/teardown.
var updateTeardown = flag.Bool("update-teardown", false, "rewrite the want sections of detectors/testdata/teardown/*.txtar")

// teardownKinds are the kinds the teardown detectors report.
func teardownKinds() map[Kind]bool {
	m := make(map[Kind]bool)
	for _, s := range teardownSpecs() {
		m[s.Kind] = true
	}
	return m
}

// sharedScenarioOverrides replaces want lines of the shared scenarios
// (../testdata/scenarios, not ours to edit) where the teardown detectors
// deliberately differ, with the reason.
var sharedScenarioOverrides = map[string]map[Kind]string{
	// The connection that never sent a ClientHello to the TLS listener is the
	// "no ClientHello" stage of incident 000 (the issue lists it), so it is
	// one of the abandoned handshakes.
	"tls-handshake-abandoned.txtar": {KindTLSHandshakeAbandoned: "tls-handshake-abandoned flows=4"},
}

// wantLine is one expected finding of a scenario's want section.
type wantLine struct {
	kind  Kind
	text  string
	flows int               // -1: not given
	side  string            // "server", "client" or ""
	sev   string            // "" = any
	vals  map[string]string // inferred names → "X" or "LO..HI"
}

func parseWant(t *testing.T, want string) []wantLine {
	t.Helper()
	var out []wantLine
	for _, line := range strings.Split(want, "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		f := strings.Fields(line)
		k, ok := ParseKind(f[0])
		if !ok {
			t.Fatalf("want line %q: unknown detector", line)
		}
		w := wantLine{kind: k, text: line, flows: -1, vals: map[string]string{}}
		for _, kv := range f[1:] {
			key, val, _ := strings.Cut(kv, "=")
			switch key {
			case "flows":
				n, err := strconv.Atoi(val)
				if err != nil {
					t.Fatalf("want line %q: %v", line, err)
				}
				w.flows = n
			case "side":
				w.side = val
			case "severity":
				w.sev = val
			default:
				w.vals[key] = val
			}
		}
		out = append(out, w)
	}
	return out
}

// inferredValue returns the inferred setting called name.
func inferredValue(in Inferred, name string) (float64, bool) {
	var p *float64
	switch name {
	case "idle_timeout_s":
		p = in.IdleTimeoutS
	case "request_timeout_s":
		p = in.RequestTimeoutS
	case "drop_window_s":
		p = in.DropWindowS
	case "probe_interval_s":
		p = in.ProbeIntervalS
	case "rto_initial_s":
		p = in.RTOInitialS
	case "mss":
		if in.MSS != nil {
			return float64(*in.MSS), true
		}
	}
	if p == nil {
		return 0, false
	}
	return *p, true
}

// within checks got against "X" (5 % tolerance) or "LO..HI" (inclusive, 5 %).
func within(got float64, want string) bool {
	if lo, hi, ok := strings.Cut(want, ".."); ok {
		l, err1 := strconv.ParseFloat(lo, 64)
		h, err2 := strconv.ParseFloat(hi, 64)
		return err1 == nil && err2 == nil && got >= l*0.95 && got <= h*1.05
	}
	w, err := strconv.ParseFloat(want, 64)
	return err == nil && math.Abs(got-w) <= 0.05*math.Abs(w)+1e-9
}

func findingSide(f Finding) string {
	if strings.Contains(f.Subject, "→") {
		return "client"
	}
	return "server"
}

// checkWant compares the teardown findings with the want lines.
func checkWant(t *testing.T, fs []Finding, want []wantLine) {
	t.Helper()
	kinds := teardownKinds()
	byKind := map[Kind][]Finding{}
	for _, f := range fs {
		if kinds[f.Kind] {
			byKind[f.Kind] = append(byKind[f.Kind], f)
		}
	}
	seen := map[Kind]bool{}
	for _, w := range want {
		if !kinds[w.kind] {
			continue
		}
		seen[w.kind] = true
		got := byKind[w.kind]
		if len(got) == 0 {
			t.Errorf("missing %q", w.text)
			continue
		}
		n := 0
		for _, f := range got {
			n += f.FlowCount
		}
		if w.flows >= 0 && n != w.flows {
			t.Errorf("%q: got %d flows in %d findings: %s", w.text, n, len(got), titles(got))
		}
		if w.side != "" {
			ok := false
			for _, f := range got {
				ok = ok || findingSide(f) == w.side
			}
			if !ok {
				t.Errorf("%q: no finding on the %s side: %s", w.text, w.side, titles(got))
			}
		}
		if w.sev != "" {
			for _, f := range got {
				if f.Severity.String() != w.sev {
					t.Errorf("%q: severity %v: %s", w.text, f.Severity, f.Title)
				}
			}
		}
		for name, val := range w.vals {
			ok := false
			var vs []string
			for _, f := range got {
				if v, has := inferredValue(f.Inferred, name); has {
					ok = ok || within(v, val)
					vs = append(vs, strconv.FormatFloat(v, 'g', 6, 64))
				}
			}
			if !ok {
				t.Errorf("%q: inferred %s = %v", w.text, name, vs)
			}
		}
	}
	for k, got := range byKind {
		if !seen[k] {
			t.Errorf("unexpected %s: %s", k, titles(got))
		}
	}
}

func titles(fs []Finding) string {
	var s []string
	for _, f := range fs {
		s = append(s, fmt.Sprintf("[%s] %s (%d flows)", f.Severity, f.Title, f.FlowCount))
	}
	return strings.Join(s, "; ")
}

// formatWant writes the teardown findings as want lines.
func formatWant(fs []Finding) string {
	kinds := teardownKinds()
	var lines []string
	for _, f := range fs {
		if !kinds[f.Kind] {
			continue
		}
		l := fmt.Sprintf("%s flows=%d severity=%s", f.Kind, f.FlowCount, f.Severity)
		if f.Kind == KindCloseWaitLeak {
			l += " side=" + findingSide(f)
		}
		for _, name := range []string{"idle_timeout_s", "request_timeout_s", "drop_window_s", "probe_interval_s", "rto_initial_s"} {
			if v, ok := inferredValue(f.Inferred, name); ok {
				l += fmt.Sprintf(" %s=%s", name, strconv.FormatFloat(v, 'f', -1, 64))
			}
		}
		lines = append(lines, l)
	}
	sort.Strings(lines)
	return strings.Join(lines, "\n")
}

// runScenario builds the capture of a txtar scenario and runs the teardown
// detectors over it.
func runScenario(t *testing.T, path string) (*tdRun, string) {
	t.Helper()
	packets, want, err := capturetest.LoadTxtar(path)
	if err != nil {
		t.Fatal(err)
	}
	r, err := tdRunCapture(bytes.NewReader(capturetest.Build(t, packets)), DefaultConfig(), teardownSpecs())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r, want
}

// TestTeardownScenarios runs the teardown detectors over our own scenarios
// (detectors/testdata/teardown) and the shared ones (../testdata/scenarios)
// and compares with their want sections.
func TestTeardownScenarios(t *testing.T) {
	own, _ := filepath.Glob(filepath.Join("testdata", "teardown", "*.txtar"))
	shared, _ := filepath.Glob(filepath.Join("..", "testdata", "scenarios", "*.txtar"))
	if len(own) == 0 {
		t.Fatal("no scenarios in testdata/teardown")
	}
	for _, path := range append(own, shared...) {
		isOwn := !strings.HasPrefix(path, "..")
		name := filepath.Base(path)
		t.Run(strings.TrimSuffix(name, ".txtar"), func(t *testing.T) {
			r, want := runScenario(t, path)
			if isOwn && *updateTeardown {
				if err := capturetest.UpdateWant(path, formatWant(r.Findings)); err != nil {
					t.Fatal(err)
				}
				return
			}
			lines := parseWant(t, want)
			if ov := sharedScenarioOverrides[name]; !isOwn && ov != nil {
				for i, w := range lines {
					if text, ok := ov[w.kind]; ok {
						lines[i] = parseWant(t, text)[0]
					}
				}
			}
			checkWant(t, r.Findings, lines)
		})
	}
}
