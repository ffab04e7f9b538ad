package batch

import (
	"bytes"
	"encoding/xml"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/detectors"
	"github.com/pcapsleuth/pcapsleuth/render"
)

func TestNames(t *testing.T) {
	tests := []struct {
		paths []string
		want  []string
	}{
		{[]string{"a/api-1.pcap.gz", "b/db.pcapng", "c.cap", "d.pcap.zst"}, []string{"api-1", "db", "c", "d"}},
		{[]string{"x/dump.pcap", "x/dump.pcapng"}, []string{"dump.pcap", "dump.pcapng"}},
		{[]string{"a/dump.pcap", "b/dump.pcap"}, []string{"a_dump.pcap", "b_dump.pcap"}},
		{[]string{"rot/dump.pcap", "rot/dump.pcap1", "rot/dump.pcap2"}, []string{"dump", "dump.pcap1", "dump.pcap2"}},
		{[]string{"index.pcap", "junit.pcap", "-"}, []string{"index-capture", "junit-capture", "stdin"}},
		{[]string{"we ird$name.pcap", "A.pcap", "a.pcapng"}, []string{"we_ird_name", "A.pcap", "a.pcapng"}},
		{[]string{"a.pcap", "a.pcap"}, []string{"a.pcap", "a.pcap-2"}},
	}
	for _, tt := range tests {
		if got := Names(tt.paths); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Names(%v) = %v, want %v", tt.paths, got, tt.want)
		}
	}
}

const conn = `
0.000 C>S SYN
0.001 S>C SYN,ACK
0.002 C>S ACK
`

func TestExpand(t *testing.T) {
	dir := t.TempDir()
	mk := func(rel string, body []byte) {
		p := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, body, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	capture := capturetest.Build(t, conn)
	mk("caps/b.pcap", capture)
	mk("caps/a.pcapng.gz", []byte("not really"))
	mk("caps/sub/c.pcap1", capture)
	mk("caps/rotated-0001", capture) // no capture extension, but a capture inside
	mk("caps/notes.txt", []byte("hello"))
	mk("caps/.hidden/d.pcap", capture)
	mk("caps/.e.pcap", capture)
	mk("empty/readme.md", []byte("#"))
	in := func(rel string) string { return filepath.Join(dir, rel) }

	ex, err := Expand([]string{in("caps"), in("caps/b.pcap"), in("missing.pcap"), in("empty"), in("caps/*.pcap"), in("nomatch*.pcap")})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, i := range ex.Inputs {
		rel, _ := filepath.Rel(dir, i.Path)
		got = append(got, filepath.ToSlash(rel))
		if i.Size == 0 {
			t.Errorf("%s: no size", rel)
		}
	}
	want := []string{"caps/a.pcapng.gz", "caps/b.pcap", "caps/rotated-0001", "caps/sub/c.pcap1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("inputs %v, want %v", got, want)
	}
	if !ex.Batch {
		t.Error("a folder makes a batch")
	}
	var probs []string
	for _, p := range ex.Problems {
		probs = append(probs, filepath.Base(p.Path)+": "+p.Err.Error())
	}
	wantProbs := []string{"missing.pcap: no such file or folder", "empty: no captures in this folder", "nomatch*.pcap: no file matches"}
	if len(probs) != len(wantProbs) {
		t.Fatalf("problems %q", probs)
	}
	for i := range probs {
		if !strings.HasPrefix(probs[i], wantProbs[i]) {
			t.Errorf("problem %q, want %q", probs[i], wantProbs[i])
		}
	}
	if _, err := Expand([]string{"-", in("caps")}); err == nil {
		t.Error("stdin with other inputs should fail")
	}
	ex, _ = Expand([]string{in("caps/b.pcap")})
	if ex.Batch || len(ex.Inputs) != 1 {
		t.Errorf("one named file: %+v", ex)
	}
	ex, _ = Expand([]string{in("caps/b.pcp")})
	if len(ex.Problems) != 1 || !strings.Contains(ex.Problems[0].Err.Error(), "did you mean") {
		t.Errorf("a near miss should suggest the file: %+v", ex.Problems)
	}
}

func TestFirstPacketOrder(t *testing.T) {
	dir := t.TempDir()
	w := func(name, script string) Input {
		p := capturetest.WriteFile(t, dir, name, script)
		return Input{Path: p}
	}
	late := w("a-late.pcap", "10.000 C>S SYN\n10.001 S>C SYN,ACK\n")
	early := w("b-early.pcap", "0.000 C>S SYN\n0.001 S>C SYN,ACK\n")
	empty := w("0-empty.pcap", "")
	bad := filepath.Join(dir, "bad.pcap")
	os.WriteFile(bad, []byte("garbage!"), 0o644)
	got, probs := FirstPacketOrder([]Input{empty, late, {Path: bad}, early}, decode.ReaderOptions{})
	var names []string
	for _, g := range got {
		names = append(names, filepath.Base(g.Path))
	}
	if strings.Join(names, " ") != "b-early.pcap a-late.pcap 0-empty.pcap" {
		t.Errorf("order %v", names)
	}
	if len(probs) != 1 || filepath.Base(probs[0].Path) != "bad.pcap" {
		t.Errorf("problems %v", probs)
	}
}

func testIndex() *Index {
	rep := &render.Report{
		Captures: []render.Capture{{Path: "a.pcap", Format: "pcap", Compression: "none", Packets: 10, TCPPackets: 9, FirstTS: 1e9, LastTS: 3e9,
			Start: "1970-01-01T00:00:01Z", End: "1970-01-01T00:00:03Z", Errors: []string{"reading stopped early"}}},
		Findings: []detectors.Finding{
			{Kind: detectors.KindCloseWaitLeak, Severity: detectors.Critical, Title: "leak | <b>`x`</b>\x1b[31m", Subject: "10.0.0.2:80", FlowCount: 3},
			{Kind: detectors.KindIdleTimeoutClose, Severity: detectors.Info, Title: "idle", FlowCount: 1},
			{Kind: detectors.KindInternal, Severity: detectors.Warning, Title: "the upstream-timeout detector failed", Subject: "upstream-timeout"},
		},
		Settings: render.Settings{Detectors: []string{"close-wait-leak", "idle-timeout-close", "upstream-timeout"}},
	}
	rep.Summary.Connections = 4
	e := NewEntry("a", []string{"a.pcap"}, rep, detectors.Warning)
	e.Report = "a.html"
	bad := NewErrorEntry("bad", []string{"bad.pcap"}, "not a capture")
	ix := NewIndex(render.Tool{Name: "pcapsleuth", Version: "t"}, []Entry{e, bad})
	ix.FailOn = "warning"
	return ix
}

func TestIndexAndWriters(t *testing.T) {
	ix := testIndex()
	e := ix.Entries[0]
	if e.Status != StatusFail || e.Worst != "critical" || e.DurationS != 2 || e.Counts["critical"] != 1 || len(e.Warnings) != 1 {
		t.Errorf("entry %+v", e)
	}
	if ix.ExitStatus != 2 || ix.Totals.Analyzed != 1 || ix.Totals.Errors != 1 || ix.Totals.Failed != 1 || ix.Totals.Findings["critical"] != 1 {
		t.Errorf("index %+v exit %d", ix.Totals, ix.ExitStatus)
	}
	if h := Headline(ix); h != "2 captures: 1 at or above warning, 1 unreadable; exit status 2" {
		t.Errorf("headline %q", h)
	}

	var md bytes.Buffer
	if err := WriteMarkdown(&md, ix); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"| [a.pcap](a.html) | **fail** | 10 | 4 | 1 critical, 1 warning, 1 info |", "| bad.pcap | **error** | | | not a capture |",
		"- **critical** `close-wait-leak` 10.0.0.2:80: leak \\| \\<b\\>\\`x\\`\\</b\\>?\\[31m (3 flows)"} {
		if !strings.Contains(md.String(), want) {
			t.Errorf("markdown lacks %q:\n%s", want, md.String())
		}
	}

	var html bytes.Buffer
	if err := WriteHTML(&html, ix); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(html.String(), "<b>`x`") || !strings.Contains(html.String(), "&lt;b&gt;") || !strings.Contains(html.String(), `href="a.html"`) {
		t.Errorf("html not escaped or link missing:\n%s", html.String())
	}
	if strings.Contains(html.String(), "http") && strings.Contains(html.String(), "src=") {
		t.Error("index.html must not load anything")
	}

	var text bytes.Buffer
	if err := WriteText(&text, ix); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(text.String(), "\x1b") {
		t.Error("text output carries an escape sequence from packet data")
	}

	var j bytes.Buffer
	if err := WriteJUnit(&j, ix); err != nil {
		t.Fatal(err)
	}
	var suites struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Type string `xml:"type,attr"`
				} `xml:"failure"`
				Error *struct {
					Type string `xml:"type,attr"`
				} `xml:"error"`
				SystemOut string `xml:"system-out"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(j.Bytes(), &suites); err != nil {
		t.Fatalf("%v\n%s", err, j.String())
	}
	var got []string
	for _, s := range suites.Suites {
		for _, c := range s.Cases {
			st := "pass"
			switch {
			case c.Failure != nil:
				st = "fail:" + c.Failure.Type
			case c.Error != nil:
				st = "error:" + c.Error.Type
			}
			if c.SystemOut != "" {
				st += "+out"
			}
			got = append(got, s.Name+"/"+c.Name+"="+st)
		}
	}
	want := "a.pcap/close-wait-leak=fail:critical a.pcap/idle-timeout-close=pass+out a.pcap/upstream-timeout=error:internal-error bad.pcap/read capture=error:unreadable"
	if strings.Join(got, " ") != want {
		t.Errorf("junit cases\n got %s\nwant %s\n%s", strings.Join(got, " "), want, j.String())
	}
	if suites.Tests != 4 || suites.Failures != 1 || suites.Errors != 2 {
		t.Errorf("junit totals %+v", suites)
	}
}
