package detectors

import (
	"strings"
	"testing"
)

// TestCaptureQualityEnv checks the capture-wide health facts of Env.
func TestCaptureQualityEnv(t *testing.T) {
	for _, tc := range []struct {
		name  string
		env   Env
		sev   Severity // 0: no finding
		title string
	}{
		{"clean", Env{TCPPackets: 1000}, 0, ""},
		{"interface drops", Env{TCPPackets: 1000, HasDropped: true, Dropped: 11}, Warning, "dropped 11 packets"},
		{"drop counter present, zero", Env{TCPPackets: 1000, HasDropped: true}, 0, ""},
		{"cut-off file", Env{TCPPackets: 10, ReadErrors: []string{"x.pcap: unexpected end of input: truncated"}}, Warning, "cut off"},
		{"snaplen", Env{TCPPackets: 1000, SnapTruncated: 3}, Info, "snaplen"},
		{"clock step", Env{TCPPackets: 1000, Backwards: 2}, Info, "backwards 2 times"},
		{"merged captures", Env{TCPPackets: 1000, Backwards: 10}, Warning, "backwards 10 times"},
		{"evicted", Env{TCPPackets: 1000, Evicted: 5}, Info, "handed on early"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			fs := newQuality(&cfg).Finish(&tc.env)
			if tc.sev == 0 {
				if len(fs) != 0 {
					t.Errorf("got %s %q, want no finding", fs[0].Severity, fs[0].Title)
				}
				return
			}
			if len(fs) != 1 || fs[0].Severity != tc.sev || !strings.Contains(fs[0].Title, tc.title) {
				t.Fatalf("got %+v, want one %s finding about %q", fs, tc.sev, tc.title)
			}
			if fs[0].Explanation == "" || len(fs[0].Actions) == 0 {
				t.Error("explanation or actions missing")
			}
		})
	}
}

func TestCaptureCaveat(t *testing.T) {
	if c := CaptureCaveat(&Env{}, 0, 0); c != "" {
		t.Errorf("caveat on a clean capture: %q", c)
	}
	if c := CaptureCaveat(&Env{HasDropped: true, Dropped: 4}, 0, 0); !strings.Contains(c, "dropped 4") {
		t.Errorf("caveat %q does not name the drops", c)
	}
	if c := CaptureCaveat(nil, 2, 1); !strings.Contains(c, "3 segments") {
		t.Errorf("caveat %q does not count the missing segments", c)
	}
}
