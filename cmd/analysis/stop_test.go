package analysis

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// TestStopCutsTheReading checks Options.Stop: reading stops before the frame
// it first answers for, the report covers the frames before it and says
// why in the capture's errors and in capture-quality's evidence, and Stop
// is told whether the input is a stream.
func TestStopCutsTheReading(t *testing.T) {
	const path = "../../testdata/captures/demo.pcap"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// A regular file is asked about every 1,024 frames: five copies of the
	// demo's 280 packets make 1,400.
	long := filepath.Join(t.TempDir(), "long.pcap")
	copies := append([]byte(nil), data...)
	for range 4 {
		copies = append(copies, data[24:]...) // the records, without the file header
	}
	if err := os.WriteFile(long, copies, 0o644); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name      string
		path      string
		stream    bool
		stopAfter int   // calls of Stop answered ""
		want      int64 // frames read
	}{{"file", long, false, 1, 1024}, {"file, at once", long, false, 0, 0}, {"stdin", "-", true, 50, 50}} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			stop := func(stream bool) string {
				if stream != c.stream {
					t.Fatalf("Stop told stream=%v for %s", stream, c.path)
				}
				if calls++; calls > c.stopAfter {
					return "interrupted (test)"
				}
				return ""
			}
			res, err := Run(Options{Paths: []string{c.path}, Stdin: bytes.NewReader(data), Stop: stop})
			if err != nil {
				t.Fatal(err)
			}
			defer res.Close()
			capt := res.Report.Captures[0]
			if capt.Packets != c.want {
				t.Errorf("%d frames read, want the %d before the stop", capt.Packets, c.want)
			}
			if want := fmt.Sprintf("interrupted (test); the analysis covers the %d frames", c.want); len(capt.Errors) != 1 || !strings.Contains(capt.Errors[0], want) {
				t.Errorf("capture errors %q, want %q", capt.Errors, want)
			}
			var q *detectors.Finding
			for i := range res.Report.Findings {
				if res.Report.Findings[i].Kind == detectors.KindCaptureQuality {
					q = &res.Report.Findings[i]
				}
			}
			if q == nil || q.Severity != detectors.Warning || !strings.Contains(q.Title, "the analysis was interrupted") {
				t.Fatalf("capture-quality: %+v", q)
			}
			want := fmt.Sprintf("interrupted (test) after %d frames", c.want)
			var said bool
			for _, m := range q.Evidence {
				said = said || m.Name == "interrupted" && strings.Contains(m.Note, want)
			}
			if !said {
				t.Errorf("capture-quality's evidence %+v lacks %q", q.Evidence, want)
			}
		})
	}
	// Without a stop the same capture is read to its end.
	res, err := Run(Options{Paths: []string{long}, Stop: func(bool) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if c := res.Report.Captures[0]; c.Packets != 1400 || len(c.Errors) != 0 {
		t.Errorf("uninterrupted: %d frames, errors %q", c.Packets, c.Errors)
	}
	for _, f := range res.Report.Findings {
		if strings.Contains(f.Title, "interrupted") {
			t.Errorf("uninterrupted, yet: %s", f.Title)
		}
	}
}
