package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/decode"
)

func TestWorst(t *testing.T) {
	if Worst() != ExitOK || Worst(ExitOK, ExitFindings) != ExitFindings || Worst(ExitUsage, ExitFindings, ExitOK) != ExitUsage {
		t.Error("2 outranks 1 outranks 0")
	}
	if Exit(ExitOK) != nil {
		t.Error("Exit(0) should be nil")
	}
	var ee *ExitError
	if !errors.As(Exit(ExitFindings), &ee) || ee.Code != ExitFindings || ee.Error() != "exit status 1" {
		t.Errorf("Exit(1) = %v", Exit(ExitFindings))
	}
}

func TestProgress(t *testing.T) {
	var buf bytes.Buffer
	now := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	p := NewProgress(&buf, clock, 10_000_000, 2)
	now = now.Add(2 * time.Second)
	p.Update("a.pcap", 2_000_000, 15_000)
	p.Update("b.pcap", 2_000_000, 5_000) // within 150 ms: recorded, not drawn
	if got := strings.Count(buf.String(), "\r"); got != 1 {
		t.Errorf("%d redraws, want 1 (throttled)", got)
	}
	p.FileDone()
	want := " 40% [=========               ] 4.0 MB / 10.0 MB  20,000 packets  2.0 MB/s  ETA 0:03  (1/2 files)"
	if got := p.Line(); got != want {
		t.Errorf("line\n got %q\nwant %q", got, want)
	}
	p.Clear()
	if !strings.HasSuffix(buf.String(), "\r\x1b[K") {
		t.Errorf("Clear should erase the line: %q", buf.String())
	}
	// Unknown size (standard input): no percentage, no ETA.
	q := NewProgress(&buf, clock, 0, 1)
	now = now.Add(time.Second)
	q.Update("-", 1500, 3)
	if got := q.Line(); got != "1.5 kB  3 packets  1.5 kB/s" {
		t.Errorf("stdin line %q", got)
	}
	// A nil bar does nothing.
	var np *Progress
	np.Update("x", 1, 1)
	np.Clear()
	np.FileDone()
	if np.Func() != nil {
		t.Error("nil bar should give a nil callback")
	}
}

func TestExplain(t *testing.T) {
	dir := t.TempDir()
	file := func(name string, body []byte) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, body, 0o644)
		return p
	}
	notCap := fmt.Errorf("magic: %w", decode.ErrNotCapture)
	tests := []struct {
		path string
		err  error
		want string
	}{
		{filepath.Join(dir, "gone.pcap"), fmt.Errorf("open capture: %w", os.ErrNotExist), "gone.pcap: no such file"},
		{file("empty.pcap", nil), notCap, "the file is empty (0 bytes)"},
		{file("text.pcap", []byte("12:00:01.000 IP 10.0.0.1.80 > 10.0.0.2.5000: Flags [S]\n")), notCap, "text file, not a capture: perhaps tcpdump's printed output?"},
		{file("z.pcap", []byte("PK\x03\x04rest")), notCap, "a zip archive"},
		{file("r.json", []byte(`{"schema_version": 1}`)), notCap, "pcapsleuth JSON report"},
		{file("bin.pcap", []byte{0, 1, 2, 3, 4, 5, 6, 7, 8}), notCap, "its first bytes are 00 01 02 03"},
		{"x.pcapng", fmt.Errorf("pcapng 2.0: %w", decode.ErrUnsupported), "convert it with `editcap"},
		{"-", fmt.Errorf("input of 0 bytes: %w (%w)", decode.ErrNotCapture, decode.ErrEmpty), "standard input is empty (0 bytes): nothing was piped in"},
		{"-", notCap, "pipe raw capture bytes in"},
	}
	for _, tt := range tests {
		err := Explain(&analysis.InputError{Path: tt.path, Err: tt.err})
		if !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), tt.path+": ") {
			t.Errorf("%s: %v, want %q", filepath.Base(tt.path), err, tt.want)
		}
		if Reason(err) == err.Error() {
			t.Errorf("Reason should drop the path: %q", Reason(err))
		}
	}
	plain := errors.New("disk full")
	if Explain(plain) != plain {
		t.Error("other errors pass through")
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	ok := filepath.Join(dir, "r.html")
	if err := CheckWritable(ok); err != nil {
		t.Fatalf("CheckWritable(%s) = %v", ok, err)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("CheckWritable left %v behind", left)
	}
	missing := filepath.Join(dir, "nope", "r.html")
	for _, err := range []error{CheckWritable(missing), WriteFile(missing, func(io.Writer) error { return nil })} {
		if err == nil || !strings.Contains(err.Error(), "there is no folder "+filepath.Join(dir, "nope")) || strings.Contains(err.Error(), ".pcapsleuth-") {
			t.Errorf("missing folder: %v", err)
		}
	}
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "it is a folder") {
		t.Errorf("CheckWritable(a folder) = %v", err)
	}
	ro := filepath.Join(dir, "ro")
	if os.Geteuid() == 0 {
		// Root may write into any folder of a normal file system, but not
		// into sysfs's top folder (EACCES): Linux's read-only folder.
		if fi, err := os.Stat("/sys/kernel"); runtime.GOOS != "linux" || err != nil || !fi.IsDir() {
			t.Log("running as root without /sys: the read-only folder case is not tested (root may write anywhere)")
			return
		}
		ro = "/sys"
	} else if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if err := CheckWritable(filepath.Join(ro, "r.html")); err == nil || !strings.Contains(err.Error(), "no permission to create files in "+ro) {
		t.Errorf("read-only folder: %v", err)
	}
}

func TestNotAnInput(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "dump.pcap")
	other := filepath.Join(dir, "other.pcap")
	for _, p := range []string{capture, other} {
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	hard := filepath.Join(dir, "hard.pcap")
	if err := os.Link(capture, hard); err != nil {
		t.Fatal(err)
	}
	inputs := []string{"-", capture}
	for _, c := range []struct {
		dest  string
		input bool
	}{
		{capture, true},
		{filepath.Join(dir, ".", "dump.pcap"), true}, // another spelling
		{hard, true}, // another name of the same file
		{other, false},
		{filepath.Join(dir, "new.json"), false}, // not there yet
		{"-", false},
		{"", false},
	} {
		err := NotAnInput(c.dest, inputs)
		if got := err != nil; got != c.input {
			t.Errorf("NotAnInput(%q) = %v, want an error: %v", c.dest, err, c.input)
		}
		if err != nil && !strings.Contains(err.Error(), "never writes over its input") {
			t.Errorf("NotAnInput(%q) = %v", c.dest, err)
		}
	}
}

func TestIsTerminalNotNull(t *testing.T) {
	null, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer null.Close()
	if IsTerminal(null) {
		t.Errorf("%s counts as a terminal", os.DevNull)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if IsTerminal(f) || IsTerminal(&bytes.Buffer{}) {
		t.Error("a file or a buffer counts as a terminal")
	}
}
