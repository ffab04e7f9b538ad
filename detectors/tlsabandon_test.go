package detectors

import "testing"

func TestTLSHandshakeAbandoned(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		stages   map[string]float64 // evidence metrics to check
	}{
		{"shared/tls-handshake-abandoned", expectFinding{flows: []int64{2, 4, 5, 6}, sev: Warning, subject: "10.0.0.2:443",
			titleHas: []string{"4 TLS handshakes on 10.0.0.2:443", "before the handshake finished"},
			explHas: []string{"3 after the ClientHello, with no ServerHello", "1 before the ClientHello", "1.50 s after its last handshake step",
				"incident 000"}},
			map[string]float64{"stage_client_hello_no_reply": 3, "stage_no_client_hello": 1, "client_fin": 4}},
		{"tls-headers-only", expectFinding{flows: []int64{3, 4}, titleHas: []string{"after the ClientHello, with no ServerHello"}},
			map[string]float64{"stage_client_hello_no_reply": 2}},
		{"tls-after-serverhello", expectFinding{flows: []int64{3, 4, 5}, titleHas: []string{"after the ServerHello"}},
			map[string]float64{"stage_after_server_hello": 3, "client_gave_up_after_p50_s": 10.001}},
		// negatives: complete sessions, plain-text listeners
		{"tls-close-notify-rst", expectFinding{}, nil},
		{"healthcheck-stopped", expectFinding{}, nil},
		{"closewait-young-pulled-in", expectFinding{}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindTLSHandshakeAbandoned, tt.want)
			if f == nil {
				return
			}
			for name, want := range tt.stages {
				got, ok := evidence(f, name)
				if !ok || got < want*0.999 || got > want*1.001 {
					t.Errorf("metric %s = %v (present %v), want %v", name, got, ok, want)
				}
			}
		})
	}
}

// evidence returns the value of the metric called name.
func evidence(f *Finding, name string) (float64, bool) {
	for _, m := range f.Evidence {
		if m.Name == name {
			return m.Value, true
		}
	}
	return 0, false
}
