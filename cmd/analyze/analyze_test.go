package analyze

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/cmd/batch"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/config"
	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

// testStreams returns streams backed by buffers.
func testStreams() (cli.Streams, *bytes.Buffer, *bytes.Buffer) {
	out, errb := &bytes.Buffer{}, &bytes.Buffer{}
	return cli.Streams{In: strings.NewReader(""), Out: out, Err: errb}, out, errb
}

func TestNewCmdAnalyze(t *testing.T) {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "cfg.json")
	if err := os.WriteFile(cfg, []byte(`{"$comment": "x", "close-wait-grace": "7s", "max-flows": 50, "fail-on": "critical", "detectors": ["close-wait-leak"]}`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		check   func(t *testing.T, o *Options)
		wantErr string
	}{
		{
			name: "one capture, defaults",
			args: []string{"dump.pcap"},
			check: func(t *testing.T, o *Options) {
				if !reflect.DeepEqual(o.Inputs, []string{"dump.pcap"}) || o.Output != "" || o.Format != "" || o.FailOn != "" || o.Merge {
					t.Errorf("got %+v", o)
				}
				if o.Settings.Config.Teardown.CloseWaitGrace != detectors.DefaultConfig().Teardown.CloseWaitGrace {
					t.Errorf("close-wait-grace = %v", o.Settings.Config.Teardown.CloseWaitGrace)
				}
				if o.Jobs < 1 {
					t.Errorf("jobs = %d", o.Jobs)
				}
				if !o.Memory.HugePages || o.Memory.Limit != "auto" {
					t.Errorf("memory flags %+v, want auto and huge pages by default", o.Memory)
				}
			},
		},
		{
			name: "huge pages off",
			args: []string{"dump.pcap", "--huge-pages=false"},
			check: func(t *testing.T, o *Options) {
				if o.Memory.HugePages {
					t.Error("--huge-pages=false left them on")
				}
			},
		},
		{
			name: "batch flags",
			args: []string{"a.pcap", "b/", "-o", "out/", "--format", "json", "--fail-on", "warning", "-j", "3", "--merge", "-q", "--junit", "j.xml", "--summary", "s.md"},
			check: func(t *testing.T, o *Options) {
				if len(o.Inputs) != 2 || o.Output != "out/" || o.Format != "json" || o.FailOn != "warning" || o.Jobs != 3 || !o.Merge || !o.Quiet || o.JUnit != "j.xml" || o.Summary != "s.md" {
					t.Errorf("got %+v", o)
				}
			},
		},
		{
			name: "filters and thresholds",
			args: []string{"d.pcap", "--host", "10.0.0.1", "--port", "80,443", "--filter", "tcp and net 10.0.0.0/8", "--since", "+30s", "--close-wait-grace", "5s"},
			check: func(t *testing.T, o *Options) {
				if got := o.Settings.Compiled().String(); got != "host 10.0.0.1, port 80|443, filter tcp and net 10.0.0.0/8, since +30s" {
					t.Errorf("filter = %q", got)
				}
				if o.Settings.Config.Teardown.CloseWaitGrace != 5*time.Second {
					t.Errorf("close-wait-grace = %v", o.Settings.Config.Teardown.CloseWaitGrace)
				}
			},
		},
		{
			name: "config file, flags win",
			args: []string{"d.pcap", "--config", cfg, "--max-flows", "20"},
			check: func(t *testing.T, o *Options) {
				if o.Settings.Config.Teardown.CloseWaitGrace != 7*time.Second {
					t.Errorf("close-wait-grace = %v, want 7s from the file", o.Settings.Config.Teardown.CloseWaitGrace)
				}
				if o.Settings.Config.MaxFlows != 20 {
					t.Errorf("max-flows = %d, want the flag's 20", o.Settings.Config.MaxFlows)
				}
				if o.FailOn != "critical" || !reflect.DeepEqual(o.Settings.Detectors, []string{"close-wait-leak"}) {
					t.Errorf("fail-on %q detectors %v", o.FailOn, o.Settings.Detectors)
				}
			},
		},
		{name: "no args", args: nil, wantErr: "analyze needs a capture"},
		{name: "bad fail-on", args: []string{"d.pcap", "--fail-on", "major"}, wantErr: `invalid argument "major" for "--fail-on" flag: want info, warning or critical`},
		{name: "bad format", args: []string{"d.pcap", "--format", "pdf"}, wantErr: `want html, json, md, text or junit`},
		{name: "unknown detector", args: []string{"d.pcap", "--detectors", "nope"}, wantErr: "unknown detector nope"},
		{name: "bad filter", args: []string{"d.pcap", "--filter", "tcp[13] & 2 != 0"}, wantErr: "supported: host, net, port"},
		{name: "bad since", args: []string{"d.pcap", "--since", "30s"}, wantErr: "an offset needs a plus sign: +30s"},
		{name: "bad jobs", args: []string{"d.pcap", "-j", "0"}, wantErr: "-j 0: want at least 1"},
		{name: "missing config", args: []string{"d.pcap", "--config", filepath.Join(dir, "nope.json")}, wantErr: "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			io, _, _ := testStreams()
			var got *Options
			cmd := NewCmdAnalyze(io, "test", func(o *Options) error { got = o; return nil })
			cmd.SetArgs(tt.args)
			cmd.SetOut(&bytes.Buffer{})
			cmd.SetErr(&bytes.Buffer{})
			cmd.SilenceUsage, cmd.SilenceErrors = true, true
			err := cmd.Execute()
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tt.check(t, got)
		})
	}
}

// fake is an analyzer that returns canned reports per path, and fails for
// paths it does not know, as analysis.Run does for a file that is not a
// capture.
type fake struct {
	mu    sync.Mutex
	calls [][]string
	reps  map[string][]detectors.Finding
}

func (f *fake) run(o analysis.Options) (*analysis.Result, error) {
	f.mu.Lock()
	f.calls = append(f.calls, o.Paths)
	f.mu.Unlock()
	var caps []render.Capture
	var fs []detectors.Finding
	for _, p := range o.Paths {
		found, ok := f.reps[filepath.Base(p)]
		if !ok {
			return nil, &analysis.InputError{Path: p, Err: fmt.Errorf("magic 0x0: %w", decode.ErrNotCapture)}
		}
		fs = append(fs, found...)
		caps = append(caps, render.Capture{Path: p, Format: "pcap", Compression: "none", Packets: 10, TCPPackets: 10, Errors: []string{}})
	}
	rep := &render.Report{Tool: render.Tool{Name: "pcapsleuth", Version: o.Version}, Captures: caps, Findings: fs,
		Settings: render.Settings{Detectors: []string{"close-wait-leak", "upstream-timeout"}, Values: map[string]string{}}}
	rep.Summary.Connections = 3
	return &analysis.Result{Report: rep}, nil
}

func finding(k detectors.Kind, s detectors.Severity, subject string) detectors.Finding {
	return detectors.Finding{Kind: k, Severity: s, Title: k.String() + " on " + subject, Subject: subject, FlowCount: 2}
}

// newOpts returns Options for run tests, with files a.pcap (a warning),
// b.pcap (clean), c.pcap (an info) and bad.pcap (not a capture) in a folder.
func newOpts(t *testing.T) (*Options, *fake, string, *bytes.Buffer, *bytes.Buffer) {
	t.Helper()
	dir := t.TempDir()
	in := filepath.Join(dir, "in")
	if err := os.Mkdir(in, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a.pcap", "b.pcap", "bad.pcap", "c.pcap", "README.txt"} {
		if err := os.WriteFile(filepath.Join(in, n), []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	f := &fake{reps: map[string][]detectors.Finding{
		"a.pcap": {finding(detectors.KindCloseWaitLeak, detectors.Warning, "10.0.0.2:8080")},
		"b.pcap": nil,
		"c.pcap": {finding(detectors.KindUpstreamTimeout, detectors.Info, "10.0.0.1 → 10.0.0.2:80")},
	}}
	io, out, errb := testStreams()
	o := &Options{IO: io, Version: "test", Now: func() time.Time { return time.Date(2024, 3, 1, 12, 0, 0, 0, time.UTC) },
		Analyze: f.run, Jobs: 2, Settings: newSettings()}
	return o, f, dir, out, errb
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		setup    func(o *Options, dir string)
		wantCode cli.ExitCode
		check    func(t *testing.T, dir string, out, errb string, f *fake)
	}{
		{
			name:     "single capture, text to stdout",
			setup:    func(o *Options, dir string) { o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")} },
			wantCode: cli.ExitOK,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				if !strings.Contains(out, "close-wait-leak") {
					t.Errorf("stdout lacks the finding:\n%s", out)
				}
			},
		},
		{
			name: "single capture, fail-on warning",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
				o.FailOn = "warning"
				o.Output = filepath.Join(dir, "r.json")
			},
			wantCode: cli.ExitFindings,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				b, err := os.ReadFile(filepath.Join(dir, "r.json"))
				if err != nil || !json.Valid(b) {
					t.Fatalf("report: %v %q", err, b)
				}
			},
		},
		{
			name: "single capture, fail-on critical not reached",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
				o.FailOn = "critical"
				o.Output = "-"
				o.Format = "json"
			},
			wantCode: cli.ExitOK,
		},
		{
			name:     "single unreadable capture",
			setup:    func(o *Options, dir string) { o.Inputs = []string{filepath.Join(dir, "in", "bad.pcap")} },
			wantCode: cli.ExitUsage,
		},
		{
			name: "folder to folder: reports, index, bad file reported, others analyzed",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in")}
				o.Output = filepath.Join(dir, "out") + "/"
				o.FailOn = "warning"
				o.JUnit = filepath.Join(dir, "junit.xml")
			},
			wantCode: cli.ExitUsage,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				files, _ := filepath.Glob(filepath.Join(dir, "out", "*"))
				var names []string
				for _, p := range files {
					names = append(names, filepath.Base(p))
				}
				sort.Strings(names)
				want := []string{"a.html", "b.html", "c.html", "index.html", "index.json", "index.md"}
				if !reflect.DeepEqual(names, want) {
					t.Errorf("out/ = %v, want %v", names, want)
				}
				ix := readIndex(t, filepath.Join(dir, "out", "index.json"))
				var st []string
				for _, e := range ix.Entries {
					st = append(st, e.Name+"="+e.Status)
				}
				if got := strings.Join(st, " "); got != "a=fail b=clean bad=error c=findings" {
					t.Errorf("statuses: %s", got)
				}
				if ix.ExitStatus != 2 || ix.Totals.Errors != 1 || ix.Totals.Failed != 1 {
					t.Errorf("index totals %+v exit %d", ix.Totals, ix.ExitStatus)
				}
				if !strings.Contains(errb, "bad.pcap: this is a text file, not a capture") {
					t.Errorf("stderr lacks the bad file:\n%s", errb)
				}
				if len(f.calls) != 4 {
					t.Errorf("analyses: %v", f.calls)
				}
				var j struct {
					Tests    int `xml:"tests,attr"`
					Failures int `xml:"failures,attr"`
					Errors   int `xml:"errors,attr"`
				}
				b, _ := os.ReadFile(filepath.Join(dir, "junit.xml"))
				if err := xml.Unmarshal(b, &j); err != nil {
					t.Fatal(err)
				}
				// 3 analyzed captures × 2 detectors + 1 unreadable.
				if j.Tests != 7 || j.Failures != 1 || j.Errors != 1 {
					t.Errorf("junit: %+v\n%s", j, b)
				}
			},
		},
		{
			name: "several captures, summary on stdout in markdown",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap"), filepath.Join(dir, "in", "c.pcap")}
				o.Format = "md"
				o.FailOn = "info"
			},
			wantCode: cli.ExitFindings,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				if !strings.HasPrefix(out, "## pcapsleuth: 2 captures: 2 at or above info; exit status 1") {
					t.Errorf("markdown:\n%s", out)
				}
			},
		},
		{
			name: "merge: one analysis of every file",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap"), filepath.Join(dir, "in", "c.pcap")}
				o.Merge = true
				o.Output = filepath.Join(dir, "m.json")
			},
			wantCode: cli.ExitUsage, // the fake files are not captures, so ordering by first packet fails
		},
		{
			name: "missing file and empty folder among good ones",
			setup: func(o *Options, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "empty"), 0o755); err != nil {
					t.Fatal(err)
				}
				o.Inputs = []string{filepath.Join(dir, "in", "b.pcap"), filepath.Join(dir, "nope.pcap"), filepath.Join(dir, "empty")}
			},
			wantCode: cli.ExitUsage,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				for _, want := range []string{"nope.pcap: no such file or folder", "empty: no captures in this folder", "3 captures: 1 clean, 2 unreadable; exit status 2"} {
					if !strings.Contains(out+errb, want) {
						t.Errorf("output lacks %q:\n%s\n%s", want, out, errb)
					}
				}
			},
		},
		{
			name: "-o into a missing folder fails before any analysis",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
				o.Output = filepath.Join(dir, "nope", "r.html")
			},
			wantCode: cli.ExitUsage,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				if len(f.calls) != 0 {
					t.Errorf("analyzed %v before finding -o unwritable", f.calls)
				}
				if want := "there is no folder " + filepath.Join(dir, "nope"); !strings.Contains(errb, want) || strings.Contains(errb, ".pcapsleuth-") {
					t.Errorf("stderr %q: want it to say %q, without the temporary file's name", errb, want)
				}
			},
		},
		{
			name: "-o naming the capture itself",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
				o.Output = filepath.Join(dir, "in", "a.pcap")
				o.Format = "json"
			},
			wantCode: cli.ExitUsage,
			check: func(t *testing.T, dir, out, errb string, f *fake) {
				if b, err := os.ReadFile(filepath.Join(dir, "in", "a.pcap")); err != nil || string(b) != "x" {
					t.Errorf("the capture now holds %q (%v)", b, err)
				}
				refused("never writes over its input")(t, dir, out, errb, f)
			},
		},
		{
			name: "--summary naming a folder",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
				o.Summary = filepath.Join(dir, "in")
			},
			wantCode: cli.ExitUsage,
			check:    refused("--summary", "it is a folder"),
		},
		{
			name: "--junit into a missing folder fails before any analysis of a batch",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in")}
				o.Output = filepath.Join(dir, "out") + "/"
				o.JUnit = filepath.Join(dir, "nope", "junit.xml")
			},
			wantCode: cli.ExitUsage,
			check:    refused("--junit", "there is no folder"),
		},
		{
			name: "bad -o extension",
			setup: func(o *Options, dir string) {
				o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
				o.Output = filepath.Join(dir, "report.pdf")
			},
			wantCode: cli.ExitUsage,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o, f, dir, out, errb := newOpts(t)
			tt.setup(o, dir)
			err := Run(o)
			code := cli.ExitOK
			var ee *cli.ExitError
			if errors.As(err, &ee) {
				code = ee.Code
				if ee.Err != nil {
					errb.WriteString(ee.Err.Error())
				}
			} else if err != nil {
				t.Fatalf("unexpected error type: %v", err)
			}
			if code != tt.wantCode {
				t.Errorf("exit %v, want %v\nstdout:\n%s\nstderr:\n%s", code, tt.wantCode, out, errb)
			}
			if tt.check != nil {
				tt.check(t, dir, out.String(), errb.String(), f)
			}
		})
	}
}

// refused is the check of a run refused before it analyzed anything:
// standard error says each of wants.
func refused(wants ...string) func(t *testing.T, dir, out, errb string, f *fake) {
	return func(t *testing.T, dir, out, errb string, f *fake) {
		t.Helper()
		if len(f.calls) != 0 {
			t.Errorf("analyzed %v before refusing the run", f.calls)
		}
		for _, w := range wants {
			if !strings.Contains(errb, w) {
				t.Errorf("stderr %q lacks %q", errb, w)
			}
		}
	}
}

func readIndex(t *testing.T, path string) *batch.Index {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var ix batch.Index
	if err := json.Unmarshal(b, &ix); err != nil {
		t.Fatal(err)
	}
	return &ix
}

func TestIsOutDir(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		out     string
		several bool
		want    bool
	}{
		{"", true, false},
		{"-", true, false},
		{dir, false, true},
		{filepath.Join(dir, "new") + "/", false, true},
		{filepath.Join(dir, "new"), true, true},
		{filepath.Join(dir, "new"), false, false},
		{filepath.Join(dir, "new.json"), true, false},
	}
	for _, tt := range tests {
		if got, _ := isOutDir(tt.out, tt.several); got != tt.want {
			t.Errorf("isOutDir(%q, %v) = %v", tt.out, tt.several, got)
		}
	}
}

func newSettings() *config.Settings { return config.New() }

// TestRunRefusesReadOnlyFolder: an -o in a folder that cannot be written to
// is exit status 2 before any analysis, and the error names the folder.
// Root may write into any folder of a normal file system: it gets sysfs's
// top folder, which refuses even root, where Linux has one.
func TestRunRefusesReadOnlyFolder(t *testing.T) {
	o, f, dir, out, errb := newOpts(t)
	ro := filepath.Join(dir, "ro")
	if os.Geteuid() == 0 {
		if fi, err := os.Stat("/sys/kernel"); runtime.GOOS != "linux" || err != nil || !fi.IsDir() {
			t.Skip("running as root without /sys: no folder root cannot write to")
		}
		ro = "/sys"
	} else if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	o.Inputs = []string{filepath.Join(dir, "in", "a.pcap")}
	o.Output = filepath.Join(ro, "r.html")
	var ee *cli.ExitError
	if err := Run(o); !errors.As(err, &ee) || ee.Code != cli.ExitUsage || ee.Err == nil {
		t.Fatalf("Run = %v, want exit status 2 with a message", err)
	}
	refused("no permission to create files in "+ro)(t, dir, out.String(), errb.String()+ee.Err.Error(), f)
}
