package detectors

import "testing"

func TestUpstreamTimeout(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		timeout  float64
	}{
		{"shared/upstream-timeout", expectFinding{flows: []int64{1, 2, 3}, sev: Warning, subject: "10.0.0.5 → 10.0.0.2:8080",
			titleHas: []string{"gave up on 3 requests to 10.0.0.2:8080 after 20.0 s without a response", "closing with FIN"},
			explHas:  []string{"on 3 the server never answered at all"}}, 20},
		{"shared/lb-drop-window", expectFinding{flows: []int64{1, 2, 3, 4}, explHas: []string{"2 answered by RST", "2 silently dropped"}}, 20},
		{"shared/write-after-fin-blackholed", expectFinding{flows: []int64{1}, sev: Info, explHas: []string{"single connection"}}, 20},
		{"upstream-timeout-rst", expectFinding{flows: []int64{1, 2, 3}, titleHas: []string{"closing with RST"}}, 5},
		// negatives
		{"one-way-protocol", expectFinding{}, 0},
		{"shared/tls-handshake-abandoned", expectFinding{}, 0},
		{"shared/graceful-close-client", expectFinding{}, 0},
		{"shared/half-close", expectFinding{}, 0},
		{"healthcheck-stopped", expectFinding{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindUpstreamTimeout, tt.want)
			if f == nil {
				return
			}
			if got := f.Inferred.RequestTimeoutS; got == nil || *got < tt.timeout*0.99 || *got > tt.timeout*1.01 {
				t.Errorf("request_timeout_s = %v, want %v", deref(got), tt.timeout)
			}
		})
	}
}
