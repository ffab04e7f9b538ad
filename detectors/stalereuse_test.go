package detectors

import "testing"

func TestStaleConnectionReuse(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		idle     float64 // inferred server idle timeout; 0: none
	}{
		{"shared/stale-connection-reuse", expectFinding{flows: []int64{1, 2, 3}, sev: Warning, subject: "10.0.0.1 → 10.0.0.2:8080",
			titleHas: []string{"3 requests on 3 connections 2.00–30.0 s after 10.0.0.2:8080 had closed them"},
			explHas:  []string{"after 5.00 s of idleness", "connection pool", "incident 003", "must be shorter"}}, 5},
		{"stale-reuse-fresh", expectFinding{flows: []int64{1, 2}, explHas: []string{"right after accepting them"}}, 0},
		// negatives: a request racing the close, the server writing after the client's FIN
		{"write-race", expectFinding{}, 0},
		{"shared/write-after-fin-reset", expectFinding{}, 0},
		{"shared/half-close", expectFinding{}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindStaleConnectionReuse, tt.want)
			if f == nil {
				return
			}
			switch got := f.Inferred.IdleTimeoutS; {
			case tt.idle == 0 && got != nil:
				t.Errorf("idle_timeout_s = %v, want none", *got)
			case tt.idle != 0 && (got == nil || *got < tt.idle*0.99 || *got > tt.idle*1.01):
				t.Errorf("idle_timeout_s = %v, want %v", deref(got), tt.idle)
			}
		})
	}
}
