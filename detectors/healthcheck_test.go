package detectors

import (
	"strconv"
	"strings"
	"testing"
)

func TestHealthcheckFINUnanswered(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		interval float64 // 0: none inferred
	}{
		{"healthcheck-stopped", expectFinding{flows: []int64{6, 7, 8, 9, 10}, sev: Warning, subject: "10.0.0.9 → 10.0.0.2:8080",
			titleHas: []string{"Health checker 10.0.0.9 probes 10.0.0.2:8080 every 2.00 s", "5 of 10 probes"},
			explHas:  []string{"answered every probe until", "stopped answering between those two probes", "incident 001"}}, 2},
		{"shared/healthcheck-fin-unanswered", expectFinding{flows: []int64{9, 10, 11, 12, 13, 14, 15, 16}, sev: Warning}, 1.5},
		{"healthcheck-irregular", expectFinding{flows: []int64{1, 2, 3, 4},
			titleHas: []string{"opened and closed 4 probe connections"},
			explHas:  []string{"None of the 4 probes in the capture was answered"}}, 0},
		// negatives
		{"healthcheck-answered", expectFinding{}, 0},
		{"closewait-young-pulled-in", expectFinding{}, 0},
		{"stale-reuse-fresh", expectFinding{}, 0},
		{"shared/syn-unanswered", expectFinding{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindHealthcheckFINUnanswered, tt.want)
			if f == nil {
				return
			}
			switch got := f.Inferred.ProbeIntervalS; {
			case tt.interval == 0 && got != nil:
				t.Errorf("probe_interval_s = %v, want none", *got)
			case tt.interval != 0 && (got == nil || !within(*got, strconv.FormatFloat(tt.interval, 'f', -1, 64))):
				t.Errorf("probe_interval_s = %v, want %v", deref(got), tt.interval)
			}
			if len(f.Charts) != 1 || len(f.Charts[0].Series) != 2 {
				t.Errorf("charts: %+v", f.Charts)
			}
		})
	}
}

func TestProbeCadence(t *testing.T) {
	at := func(secs ...float64) []int64 {
		var out []int64
		for _, s := range secs {
			out = append(out, int64(s*1e9))
		}
		return out
	}
	tests := []struct {
		name     string
		starts   []int64
		steady   bool
		interval float64
	}{
		{"steady", at(0, 1.5, 3.0, 4.5, 6.0, 7.5), true, 1.5},
		{"unsorted with jitter", at(3.02, 0, 1.49, 4.51, 6.0), true, 1.5},
		{"one missed probe", at(0, 1.5, 3.0, 6.0, 7.5, 9.0), true, 1.5},
		{"irregular", at(0, 1.3, 7.9, 8.2, 20), false, 0},
		{"too few", at(0, 1), false, 0},
	}
	for _, tt := range tests {
		c := probeCadence(tt.starts, 0.25)
		if c.Steady != tt.steady || (tt.steady && (c.Interval < tt.interval*0.98 || c.Interval > tt.interval*1.02)) {
			t.Errorf("%s: %+v, want steady=%v interval %v", tt.name, c, tt.steady, tt.interval)
		}
	}
}

func TestProbeStory(t *testing.T) {
	o := func(pattern string) []probeOutcome {
		var out []probeOutcome
		for i, ch := range pattern {
			out = append(out, probeOutcome{ts: int64(1_700_000_000e9) + int64(i)*1e9, answered: ch == 'a'})
		}
		return out
	}
	tests := []struct{ pattern, want string }{
		{"aaaauuuu", "answered every probe until"},
		{"uuuu", "None of the 4 probes"},
		{"aauuaa", "answered again from"},
		{"aauauaua", "intermittently"},
		{"aaaa", ""},
	}
	for _, tt := range tests {
		got := probeStory(o(tt.pattern), 1_700_000_000e9)
		if (tt.want == "" && got != "") || !strings.Contains(got, tt.want) {
			t.Errorf("%s: %q, want it to contain %q", tt.pattern, got, tt.want)
		}
	}
}
