package detectors

import (
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
	"github.com/pcapsleuth/pcapsleuth/flows"
)

// TestDetectorsKeepNoConnPastDone: the analysis reuses a finished
// connection once every observer had it (flows.ConnPool), so a detector
// must keep copies (Conn.Freeze) or what it read, never the connection.
// Every test capture of the project, the detectors' recorded captures and
// scripts, and lone SYNs handed on at the capture's end (which
// handshake-failure judges only at Finish) are analyzed twice: as usual,
// and with every connection overwritten as soon as the engine had it. The
// findings must be the same, exemplars included. So must they be with the
// detectors' per-connection states never reused (connStates.release).
func TestDetectorsKeepNoConnPastDone(t *testing.T) {
	own, _ := filepath.Glob("../testdata/captures/*.pcap*")
	recorded, _ := filepath.Glob("testdata/real/*.pcap")
	scripts, _ := filepath.Glob("testdata/*/*.txtar")
	if len(own) < 10 || len(recorded) == 0 || len(scripts) < 10 {
		t.Fatalf("test captures missing: %d, %d, %d", len(own), len(recorded), len(scripts))
	}
	paths := append(own, recorded...)
	for _, s := range scripts {
		packets, _, err := capturetest.LoadTxtar(s)
		if err != nil {
			t.Fatal(err)
		}
		paths = append(paths, writeScript(t, strings.TrimSuffix(filepath.Base(s), ".txtar"), packets))
	}
	var lone strings.Builder
	for i := range 3 {
		fmt.Fprintf(&lone, "conn u%d client 10.6.1.1:%d server 10.6.1.2:80\n%.3f C>S SYN seq=0 mss=1460\n", i, 42000+i, 0.1*float64(i))
	}
	lone.WriteString("conn end client 10.6.1.9:50000 server 10.6.1.10:9\n1.200 C>S ACK\n")
	paths = append(paths, writeScript(t, "lone-syns", lone.String()))
	compared, exemplars := 0, 0
	for _, p := range paths {
		if _, err := decode.Open(p, decode.ReaderOptions{}); err != nil {
			continue // the unreadable test captures
		}
		want := runCaptureWith(t, p, nil, runOptions{})
		got := runCaptureWith(t, p, nil, runOptions{scribble: true})
		if !reflect.DeepEqual(got.Findings, want.Findings) {
			t.Errorf("%s: the findings change when connections are overwritten after Done:\n got %s\nwant %s",
				filepath.Base(p), findingsOutline(got.Findings), findingsOutline(want.Findings))
		}
		// A tracker that hands connections on early and often reuses
		// them within these short captures.
		churn := flows.Config{Linger: 1, MaxConns: 8, MaxHalfOpen: 4}
		want = runCaptureWith(t, p, nil, runOptions{tracker: churn})
		got = runCaptureWith(t, p, nil, runOptions{tracker: churn, reuse: true})
		if !reflect.DeepEqual(got.Findings, want.Findings) {
			t.Errorf("%s: the findings change when connections are reused:\n got %s\nwant %s",
				filepath.Base(p), findingsOutline(got.Findings), findingsOutline(want.Findings))
		}
		// The detectors' per-connection states, reused once their
		// connection is done (connStates.release), against never reused.
		fresh := DefaultConfig()
		fresh.noStateReuse = true
		want = runCaptureWith(t, p, &fresh, runOptions{tracker: churn})
		got = runCaptureWith(t, p, nil, runOptions{tracker: churn, reuse: true})
		if !reflect.DeepEqual(got.Findings, want.Findings) {
			t.Errorf("%s: the findings change when detector states are reused:\n got %s\nwant %s",
				filepath.Base(p), findingsOutline(got.Findings), findingsOutline(want.Findings))
		}
		compared++
		for _, f := range want.Findings {
			exemplars += len(f.Exemplars)
		}
	}
	if exemplars == 0 {
		t.Fatal("no finding had an exemplar: nothing was compared")
	}
	t.Logf("%d captures, %d exemplars compared", compared, exemplars)
}

// findingsOutline is each finding's kind, flow count and exemplar IDs.
func findingsOutline(fs []Finding) string {
	var b strings.Builder
	for _, f := range fs {
		fmt.Fprintf(&b, "[%s flows=%d exemplars=", f.Kind, f.FlowCount)
		for _, c := range f.Exemplars {
			fmt.Fprintf(&b, "%d,", c.ID)
		}
		b.WriteString("] ")
	}
	return b.String()
}
