package analysis

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// TestStopCutsTheReading checks Options.Stop: reading stops before the frame
// it first answers for, the report covers the frames before it and says
// why in the capture's errors and in capture-quality, Result.Interrupted
// is set, and Stop is told whether the input is a stream.
func TestStopCutsTheReading(t *testing.T) {
	const path = "../../testdata/captures/demo.pcap"
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name   string
		path   string
		stream bool
	}{{"file", path, false}, {"stdin", "-", true}} {
		t.Run(c.name, func(t *testing.T) {
			calls := 0
			stop := func(stream bool) string {
				if stream != c.stream {
					t.Fatalf("Stop told stream=%v for %s", stream, c.path)
				}
				if calls++; calls > 50 {
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
			if capt.Packets != 50 {
				t.Errorf("%d frames read, want the 50 before the stop", capt.Packets)
			}
			if len(capt.Errors) != 1 || !strings.Contains(capt.Errors[0], "interrupted (test); the analysis covers the 50 frames") {
				t.Errorf("capture errors %q", capt.Errors)
			}
			if !strings.Contains(res.Interrupted, "interrupted (test) after 50 frames") {
				t.Errorf("Result.Interrupted = %q", res.Interrupted)
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
		})
	}
	// Without a stop the same capture is read to its end.
	res, err := Run(Options{Paths: []string{path}, Stop: func(bool) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	if c := res.Report.Captures[0]; c.Packets <= 50 || len(c.Errors) != 0 || res.Interrupted != "" {
		t.Errorf("uninterrupted: %d frames, errors %q, interrupted %q", c.Packets, c.Errors, res.Interrupted)
	}
}
