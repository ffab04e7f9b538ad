package detectors

import "testing"

func TestIdleTimeoutClose(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		timeout  float64
	}{
		{"shared/idle-timeout-close", expectFinding{flows: []int64{1, 2, 3}, sev: Warning, subject: "10.0.0.2:80",
			titleHas: []string{"closes connections after 65.0 s idle", "left 3 of them in CLOSE_WAIT"},
			explHas:  []string{"incident 002"}}, 65},
		{"shared/stale-connection-reuse", expectFinding{flows: []int64{1, 2, 3}, sev: Warning,
			titleHas: []string{"reused 3 of them and got RST"}}, 5},
		{"idle-close-clean", expectFinding{flows: []int64{1, 2, 3}, sev: Info, explHas: []string{"on 3 the client closed its end too"}}, 5},
		{"idle-close-young-closewait", expectFinding{flows: []int64{1, 2}, sev: Info,
			explHas: []string{"had not closed its end yet when the capture ended"}}, 3},
		// negatives
		{"idle-close-varied", expectFinding{}, 0},
		{"one-way-protocol", expectFinding{}, 0},
		{"tls-after-serverhello", expectFinding{}, 0},
		{"shared/graceful-close-server", expectFinding{}, 0},
		{"shared/upstream-timeout", expectFinding{}, 0},
		{"shared/long-idle-keepalive", expectFinding{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindIdleTimeoutClose, tt.want)
			if f == nil {
				return
			}
			if got := f.Inferred.IdleTimeoutS; got == nil || *got < tt.timeout*0.99 || *got > tt.timeout*1.01 {
				t.Errorf("idle_timeout_s = %v, want %v", deref(got), tt.timeout)
			}
			if len(f.Charts) != 1 || len(f.Charts[0].Marks) != 1 {
				t.Errorf("charts: %+v", f.Charts)
			}
		})
	}
}

func TestDensestCluster(t *testing.T) {
	tests := []struct {
		name       string
		vals       []float64
		n          int
		median     float64
		consistent bool
	}{
		{"timer", []float64{3.001, 3.004, 3.001, 3.003}, 4, 3.002, true},
		{"timer plus outliers", []float64{65.01, 12, 65.02, 65.0, 140}, 3, 65.01, true},
		{"spread", []float64{1, 7, 13}, 1, 1, false},
		{"two agree", []float64{2.0, 2.01}, 2, 2.005, true},
		{"minority", []float64{5, 5.01, 9, 12, 20}, 2, 5.005, false},
		{"empty", nil, 0, 0, false},
	}
	for _, tt := range tests {
		c := densestCluster(tt.vals, 0.05, 0.05)
		if c.N != tt.n || (c.N > 0 && (c.Median < tt.median-1e-9 || c.Median > tt.median+1e-9)) || c.consistent(2) != tt.consistent {
			t.Errorf("%s: %+v (consistent %v), want n=%d median=%v consistent=%v", tt.name, c, c.consistent(2), tt.n, tt.median, tt.consistent)
		}
	}
}
