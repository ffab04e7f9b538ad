package main

// End-to-end tests of the pcapsleuth binary: it is built once in TestMain
// into a temporary folder and run on copies of testdata captures, checking
// exit codes, standard streams and the files written.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// bin is the pcapsleuth binary built by TestMain.
var bin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "pcapsleuth-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bin = filepath.Join(dir, "pcapsleuth")
	if runtime.GOOS == "windows" {
		bin += ".exe"
	}
	// The go command that runs this test: GOROOT/bin/go when go test set
	// GOROOT, else the one on PATH.
	gobin := "go"
	if root := os.Getenv("GOROOT"); root != "" {
		if p := filepath.Join(root, "bin", "go"); fileExists(p) {
			gobin = p
		}
	}
	build := exec.Command(gobin, "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build pcapsleuth:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// result is one run of the binary.
type result struct {
	code     int
	out, err string
}

// run runs pcapsleuth in dir with args.
func run(t *testing.T, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return result{exitCodeOf(t, cmd.Run()), out.String(), errb.String()}
}

// exitCodeOf returns the exit status of the run that returned err; any
// other failure (the binary did not start) fails the test.
func exitCodeOf(t *testing.T, err error) int {
	t.Helper()
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	if err != nil {
		t.Fatal(err)
	}
	return 0
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.out, r.err)
}

const captures = "../../testdata/captures"

// copyCapture copies a testdata capture into dir under name.
func copyCapture(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(captures, src))
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// report is the part of the JSON report the tests compare.
type report struct {
	SchemaVersion int `json:"schema_version"`
	Captures      []struct {
		Path    string `json:"path"`
		Packets int64  `json:"packets"`
	} `json:"captures"`
	Findings    []json.RawMessage `json:"findings"`
	Connections []json.RawMessage `json:"connections"`
	Summary     map[string]any    `json:"summary"`
	States      []map[string]any  `json:"states"`
	Settings    map[string]any    `json:"settings"`
}

func readReport(t *testing.T, path string) report {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r report
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return r
}

// severities lists a report's finding severities.
func severities(t *testing.T, r report) []string {
	var out []string
	for _, f := range r.Findings {
		var x struct {
			Detector string `json:"detector"`
			Severity string `json:"severity"`
		}
		if err := json.Unmarshal(f, &x); err != nil {
			t.Fatal(err)
		}
		if x.Detector != "internal-error" {
			out = append(out, x.Severity)
		}
	}
	return out
}

func rank(s string) int {
	return map[string]int{"info": 1, "warning": 2, "critical": 3}[s]
}

func TestFailOnExitCodes(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"close-wait-leak.pcap", "fmt-pcap-usec-le.pcap", "stale-connection-reuse.pcap"} {
		copyCapture(t, name, dir, name)
		r := run(t, dir, "analyze", name, "-o", "r.json")
		if r.code != 0 {
			t.Fatalf("%s: %v", name, r)
		}
		sev := severities(t, readReport(t, filepath.Join(dir, "r.json")))
		for _, level := range []string{"info", "warning", "critical"} {
			want := 0
			for _, s := range sev {
				if rank(s) >= rank(level) {
					want = 1
				}
			}
			r := run(t, dir, "analyze", name, "--fail-on", level, "-q")
			if r.code != want {
				t.Errorf("%s --fail-on %s (findings %v): %v", name, level, sev, r)
			}
		}
	}
	if r := run(t, dir, "analyze", "close-wait-leak.pcap", "--fail-on", "fatal"); r.code != 2 || !strings.Contains(r.err, "want info, warning or critical") {
		t.Errorf("bad --fail-on: %v", r)
	}
}

// TestBatchFolder analyzes a folder with an unreadable file in the middle:
// it is reported, the others are analyzed and indexed, and the exit status
// is 2.
func TestBatchFolder(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "captures")
	os.Mkdir(in, 0o755)
	copyCapture(t, "close-wait-leak.pcap", in, "a-close-wait-leak.pcap")
	copyCapture(t, "garbage.pcap", in, "b-garbage.pcap")
	copyCapture(t, "idle-timeout-close.pcap", in, "c-idle.pcap")
	copyCapture(t, "fmt-pcapng-zstd.pcapng.zst", in, "d-zstd.pcapng.zst")
	os.WriteFile(filepath.Join(in, "notes.txt"), []byte("not a capture, skipped"), 0o644)

	r := run(t, dir, "analyze", "captures/", "-o", "out/", "--format", "json", "-j", "2", "--fail-on", "critical")
	if r.code != 2 {
		t.Fatalf("want exit 2 for the unreadable file: %v", r)
	}
	if !strings.Contains(r.err, "b-garbage.pcap: not a pcap or pcapng capture") {
		t.Errorf("stderr does not report the bad file: %v", r)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "out", "*"))
	var names []string
	for _, f := range files {
		names = append(names, filepath.Base(f))
	}
	sort.Strings(names)
	if want := []string{"a-close-wait-leak.json", "c-idle.json", "d-zstd.json", "index.html", "index.json", "index.md"}; !reflect.DeepEqual(names, want) {
		t.Errorf("out/ holds %v, want %v", names, want)
	}
	var ix struct {
		ExitStatus int `json:"exit_status"`
		Entries    []struct {
			Name     string         `json:"name"`
			Report   string         `json:"report"`
			Status   string         `json:"status"`
			Error    string         `json:"error"`
			Packets  int64          `json:"packets"`
			Counts   map[string]int `json:"counts"`
			Findings []struct {
				Detector string `json:"detector"`
			} `json:"findings"`
		} `json:"captures"`
	}
	b, _ := os.ReadFile(filepath.Join(dir, "out", "index.json"))
	if err := json.Unmarshal(b, &ix); err != nil {
		t.Fatal(err)
	}
	if ix.ExitStatus != 2 || len(ix.Entries) != 4 {
		t.Fatalf("index: %s", b)
	}
	for i, want := range []string{"a-close-wait-leak", "b-garbage", "c-idle", "d-zstd"} {
		e := ix.Entries[i]
		if e.Name != want {
			t.Errorf("entry %d is %s, want %s (input order)", i, e.Name, want)
		}
		if want == "b-garbage" {
			if e.Status != "error" || e.Report != "" || !strings.Contains(e.Error, "not a pcap") {
				t.Errorf("bad file entry: %+v", e)
			}
			continue
		}
		// The entry agrees with its report, and the report with a run on
		// the file alone.
		rep := readReport(t, filepath.Join(dir, "out", e.Report))
		if len(rep.Findings) != len(e.Findings) || rep.Captures[0].Packets != e.Packets {
			t.Errorf("%s: index says %d findings, %d packets; report %d, %d", e.Name, len(e.Findings), e.Packets, len(rep.Findings), rep.Captures[0].Packets)
		}
		alone := run(t, in, "analyze", filepath.Base(rep.Captures[0].Path), "--format", "json", "-o", "-")
		var ar report
		if err := json.Unmarshal([]byte(alone.out), &ar); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ar.Findings, rep.Findings) || !reflect.DeepEqual(ar.Connections, rep.Connections) {
			t.Errorf("%s: the batch report differs from a run on the file alone", e.Name)
		}
		wantStatus := "clean"
		if len(e.Findings) > 0 {
			wantStatus = "findings"
		}
		if e.Counts["critical"] > 0 {
			wantStatus = "fail"
		}
		if e.Status != wantStatus {
			t.Errorf("%s: status %s, want %s", e.Name, e.Status, wantStatus)
		}
	}
	html, _ := os.ReadFile(filepath.Join(dir, "out", "index.html"))
	if !bytes.Contains(html, []byte(`href="a-close-wait-leak.json"`)) || !bytes.Contains(html, []byte("Content-Security-Policy")) {
		t.Errorf("index.html lacks the links or the CSP")
	}

	// Without -o: the summary table on standard output; with --format
	// junit, JUnit XML with a suite per capture.
	r = run(t, dir, "analyze", "captures", "-q")
	if r.code != 2 || !strings.Contains(r.out, "4 captures:") || !regexp.MustCompile(`b-garbage.pcap +error`).MatchString(r.out) {
		t.Errorf("summary: %v", r)
	}
	r = run(t, dir, "analyze", "captures/*.pcap", "--format", "junit", "-o", "-", "--summary", "summary.md")
	var suites struct {
		Suites []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name string `xml:"name,attr"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal([]byte(r.out), &suites); err != nil || len(suites.Suites) != 3 {
		t.Fatalf("junit (%v): %v", err, r)
	}
	if len(suites.Suites[0].Cases) < 2 || suites.Suites[1].Cases[0].Name != "read capture" {
		t.Errorf("junit cases: %+v", suites)
	}
	if md, err := os.ReadFile(filepath.Join(dir, "summary.md")); err != nil || !bytes.HasPrefix(md, []byte("## pcapsleuth: 3 captures")) {
		t.Errorf("summary.md: %v %q", err, md)
	}
}

// writePcap writes frames as a nanosecond pcap file: the tests' own small
// pcap writer, to split a capture into rotated files.
func writePcap(t *testing.T, path string, link decode.LinkType, frames []decode.Frame) {
	t.Helper()
	var b bytes.Buffer
	hdr := make([]byte, 24)
	binary.LittleEndian.PutUint32(hdr[0:], 0xa1b23c4d)
	binary.LittleEndian.PutUint16(hdr[4:], 2)
	binary.LittleEndian.PutUint16(hdr[6:], 4)
	binary.LittleEndian.PutUint32(hdr[16:], 262144)
	binary.LittleEndian.PutUint32(hdr[20:], uint32(link))
	b.Write(hdr)
	for _, f := range frames {
		rec := make([]byte, 16)
		binary.LittleEndian.PutUint32(rec[0:], uint32(f.TS/1e9))
		binary.LittleEndian.PutUint32(rec[4:], uint32(f.TS%1e9))
		binary.LittleEndian.PutUint32(rec[8:], uint32(len(f.Data)))
		binary.LittleEndian.PutUint32(rec[12:], uint32(f.WireLen))
		b.Write(rec)
		b.Write(f.Data)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readFrames reads every frame of a capture (copies).
func readFrames(t *testing.T, path string) []decode.Frame {
	t.Helper()
	r, err := decode.Open(path, decode.ReaderOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []decode.Frame
	for {
		var f decode.Frame
		err := r.Next(&f)
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		f.Data = append([]byte(nil), f.Data...)
		out = append(out, f)
	}
}

// TestMergeRotated splits captures into two rotated files, named so that
// name order is the reverse of time order, and checks that --merge finds
// exactly what the unsplit capture gives: connections that span both files
// stay one connection.
func TestMergeRotated(t *testing.T) {
	for _, name := range []string{"idle-timeout-close.pcap", "stale-connection-reuse.pcap", "write-after-fin-blackholed.pcap"} {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			frames := readFrames(t, filepath.Join(captures, name))
			half := len(frames) / 2
			writePcap(t, filepath.Join(dir, "whole.pcap"), frames[0].LinkType, frames)
			writePcap(t, filepath.Join(dir, "z-part1.pcap"), frames[0].LinkType, frames[:half])
			writePcap(t, filepath.Join(dir, "a-part2.pcap"), frames[0].LinkType, frames[half:])

			if r := run(t, dir, "analyze", "whole.pcap", "-o", "whole.json"); r.code != 0 {
				t.Fatal(r)
			}
			if r := run(t, dir, "analyze", "a-part2.pcap", "z-part1.pcap", "--merge", "-o", "merged.json"); r.code != 0 {
				t.Fatal(r)
			}
			whole, merged := readReport(t, filepath.Join(dir, "whole.json")), readReport(t, filepath.Join(dir, "merged.json"))
			if len(merged.Captures) != 2 || merged.Captures[0].Path != "z-part1.pcap" {
				t.Errorf("merged captures not in first-packet order: %+v", merged.Captures)
			}
			if !reflect.DeepEqual(whole.Findings, merged.Findings) {
				t.Errorf("findings differ:\nwhole  %s\nmerged %s", whole.Findings, merged.Findings)
			}
			if !reflect.DeepEqual(whole.Connections, merged.Connections) {
				t.Errorf("connections differ:\nwhole  %s\nmerged %s", whole.Connections, merged.Connections)
			}
			if !reflect.DeepEqual(whole.Summary, merged.Summary) || !reflect.DeepEqual(whole.States, merged.States) {
				t.Error("summary or states differ")
			}
			// Analyzed apart, the spanning connections are split: the
			// batch sees more connections in total.
			r := run(t, dir, "analyze", "z-part1.pcap", "a-part2.pcap", "--format", "json", "-o", "-")
			var ix struct {
				Totals struct {
					Connections int `json:"connections"`
				} `json:"totals"`
			}
			if err := json.Unmarshal([]byte(r.out), &ix); err != nil {
				t.Fatal(err)
			}
			if ix.Totals.Connections <= len(whole.Connections) {
				t.Errorf("split capture: %d connections apart, %d whole; the test split no connection", ix.Totals.Connections, len(whole.Connections))
			}
		})
	}
}

func TestHelpfulErrors(t *testing.T) {
	dir := t.TempDir()
	os.Mkdir(filepath.Join(dir, "nothing"), 0o755)
	os.WriteFile(filepath.Join(dir, "nothing", "readme.txt"), []byte("hi"), 0o644)
	copyCapture(t, "garbage.pcap", dir, "garbage.pcap")
	copyCapture(t, "empty.pcap", dir, "empty.pcap")
	copyCapture(t, "zero-bytes.pcap", dir, "zero.pcap")
	copyCapture(t, "text.pcap", dir, "text.pcap")
	copyCapture(t, "close-wait-leak.pcap", dir, "ok.pcap")
	tests := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"analyze", "missing.pcap"}, 2, "missing.pcap: no such file or folder"},
		{[]string{"analyze", "ok.pcp"}, 2, "did you mean ok.pcap?"},
		{[]string{"analyze", "nothing"}, 2, "nothing: no captures in this folder"},
		{[]string{"analyze", "garbage.pcap"}, 2, "garbage.pcap: not a pcap or pcapng capture"},
		{[]string{"analyze", "zero.pcap"}, 2, "zero.pcap: the file is empty (0 bytes)"},
		{[]string{"analyze", "text.pcap"}, 2, "text.pcap: this is a text file"},
		{[]string{"analyze", "empty.pcap"}, 0, "empty.pcap: the capture holds no packets"},
		{[]string{"analyze", "ok.pcap", "--port", "9"}, 0, "the filter (port 9) kept none of its"},
		{[]string{"analyze", "ok.pcap", "-o", "r.pdf"}, 2, "cannot tell the format from the extension"},
		{[]string{"analyze", "ok.pcap", "--nope"}, 2, "unknown flag: --nope (see pcapsleuth analyze --help)"},
		{[]string{"analyse", "ok.pcap"}, 2, `unknown command "analyse"`},
		{[]string{"analyze"}, 2, "analyze needs a capture"},
		{[]string{"follow", "ok.pcap"}, 2, "--flow is required"},
		{[]string{"follow", "ok.pcap", "--flow", "99"}, 2, "no connection 99"},
		{[]string{"diff", "ok.pcap"}, 2, "diff takes two arguments"},
	}
	for _, tt := range tests {
		r := run(t, dir, tt.args...)
		if r.code != tt.code || !strings.Contains(r.err+r.out, tt.want) {
			t.Errorf("%v: want exit %d and %q; got %v", tt.args, tt.code, tt.want, r)
		}
	}
}

func TestDiff(t *testing.T) {
	dir := t.TempDir()
	copyCapture(t, "close-wait-leak.pcap", dir, "before.pcap")
	copyCapture(t, "fmt-pcap-usec-le.pcap", dir, "quiet.pcap")
	if r := run(t, dir, "analyze", "before.pcap", "-o", "before.json"); r.code != 0 {
		t.Fatal(r)
	}
	n := len(readReport(t, filepath.Join(dir, "before.json")).Findings)
	if r := run(t, dir, "diff", "before.json", "before.pcap"); r.code != 0 || !strings.Contains(r.out, "no change for the worse") {
		t.Errorf("same capture: %v", r)
	}
	r := run(t, dir, "diff", "quiet.pcap", "before.json", "--format", "json")
	var res struct {
		Worse  bool `json:"worse"`
		Counts struct {
			Appeared int `json:"appeared"`
		} `json:"counts"`
	}
	if err := json.Unmarshal([]byte(r.out), &res); err != nil {
		t.Fatalf("%v: %v", err, r)
	}
	wantCode := 0
	if n > 0 {
		wantCode = 1
	}
	if r.code != wantCode || res.Counts.Appeared != n || res.Worse != (n > 0) {
		t.Errorf("new findings (%d): %v", n, r)
	}
	if r := run(t, dir, "diff", "before.pcap", "quiet.pcap"); r.code != 0 {
		t.Errorf("everything fixed should exit 0: %v", r)
	}
}

func TestFlowsFollow(t *testing.T) {
	dir := t.TempDir()
	copyCapture(t, "stale-connection-reuse.pcap", dir, "s.pcap")
	r := run(t, dir, "flows", "s.pcap", "--format", "json")
	var cs []struct {
		ID     int64  `json:"id"`
		Client string `json:"client"`
		Server string `json:"server"`
	}
	if err := json.Unmarshal([]byte(r.out), &cs); err != nil || r.code != 0 || len(cs) == 0 {
		t.Fatalf("flows: %v %v", err, r)
	}
	last := cs[len(cs)-1]
	r = run(t, dir, "follow", "s.pcap", "--flow", fmt.Sprint(last.ID))
	if r.code != 0 || !strings.Contains(r.out, fmt.Sprintf("connection %d: %s → %s", last.ID, last.Client, last.Server)) || !strings.Contains(r.out, "-- payload:") {
		t.Errorf("follow: %v", r)
	}
	r = run(t, dir, "follow", "s.pcap", "--flow", last.Server+"-"+last.Client, "--payload", "none")
	if r.code != 0 || !strings.Contains(r.out, fmt.Sprintf("connection %d:", last.ID)) {
		t.Errorf("follow by endpoints: %v", r)
	}
}

func TestDetectorsManCompletion(t *testing.T) {
	dir := t.TempDir()
	if r := run(t, dir, "detectors"); r.code != 0 || !strings.Contains(r.out, "close-wait-leak") {
		t.Errorf("detectors: %v", r)
	}
	if r := run(t, dir, "man", "man1"); r.code != 0 {
		t.Errorf("man: %v", r)
	}
	for _, page := range []string{"pcapsleuth.1", "pcapsleuth-analyze.1", "pcapsleuth-diff.1", "pcapsleuth-follow.1"} {
		if _, err := os.Stat(filepath.Join(dir, "man1", page)); err != nil {
			t.Error(err)
		}
	}
	if r := run(t, dir, "completion", "bash"); r.code != 0 || !strings.Contains(r.out, "__start_pcapsleuth") {
		t.Errorf("completion bash: exit %d", r.code)
	}
	if r := run(t, dir, "__complete", "analyze", "x.pcap", "--fail-on", ""); !strings.Contains(r.out, "warning") {
		t.Errorf("--fail-on completion: %v", r)
	}
	if r := run(t, dir, "version"); r.code != 0 || !strings.HasPrefix(r.out, "pcapsleuth ") {
		t.Errorf("version: %v", r)
	}
}

// TestOutputIdenticalWhateverJobs analyzes the same folder with -j 1 and
// -j 4, in every report format: every file written must be byte-identical
// (SOURCE_DATE_EPOCH fixes the one clock in them).
func TestOutputIdenticalWhateverJobs(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	dir := t.TempDir()
	in := filepath.Join(dir, "captures")
	os.Mkdir(in, 0o755)
	entries, err := os.ReadDir(captures)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, e := range entries {
		if name := e.Name(); strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng") || strings.HasSuffix(name, ".zst") {
			copyCapture(t, name, in, name)
			n++
		}
	}
	if n < 10 {
		t.Fatalf("only %d captures in %s", n, captures)
	}
	for _, format := range []string{"json", "html", "md"} {
		outs := map[string]map[string][]byte{}
		for _, j := range []string{"1", "4"} {
			out := filepath.Join(dir, "out-"+format+"-"+j)
			r := run(t, dir, "analyze", "captures/", "-o", out+"/", "--format", format, "-j", j, "-q")
			if r.code != 0 && r.code != 2 { // 2: the garbage and cut-header files
				t.Fatalf("-j %s: %v", j, r)
			}
			files := map[string][]byte{}
			paths, _ := filepath.Glob(filepath.Join(out, "*"))
			for _, p := range paths {
				b, err := os.ReadFile(p)
				if err != nil {
					t.Fatal(err)
				}
				files[filepath.Base(p)] = b
			}
			outs[j] = files
		}
		if len(outs["1"]) < n/2 {
			t.Fatalf("%s: only %d files written for %d captures", format, len(outs["1"]), n)
		}
		for name, b1 := range outs["1"] {
			if b4, ok := outs["4"][name]; !ok {
				t.Errorf("%s: %s written with -j 1 only", format, name)
			} else if !bytes.Equal(b1, b4) {
				t.Errorf("%s: %s differs between -j 1 and -j 4", format, name)
			}
		}
		if len(outs["4"]) != len(outs["1"]) {
			t.Errorf("%s: %d files with -j 4, %d with -j 1", format, len(outs["4"]), len(outs["1"]))
		}
	}
}
