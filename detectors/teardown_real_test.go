package detectors

import (
	"path/filepath"
	"testing"
)

// TestTeardownRealCaptures runs the teardown detectors over captures of real
// Linux TCP stacks (detectors/testdata/real, made by
// detectors/testdata/record/record.sh with parameters unlike the lab set's) and checks
// each expected finding: its connections, severity and inferred settings.
func TestTeardownRealCaptures(t *testing.T) {
	type want struct {
		kind  Kind
		flows []int64
		sev   Severity
		vals  map[string]string // inferred name → "X" (5 %) or "LO..HI"
	}
	tests := []struct {
		file string
		want []want
	}{
		// 12 probes every 0.3 s; the server stops closing from the 6th accept.
		// The capture ends 1.9 s after the first unanswered probe: young
		// sockets, reported as a pattern (info).
		{"real-healthcheck.pcap", []want{
			{KindHealthcheckFINUnanswered, []int64{6, 7, 8, 9, 10, 11, 12}, Info, map[string]string{"probe_interval_s": "0.3"}},
			{KindCloseWaitLeak, []int64{6, 7, 8, 9, 10, 11, 12}, Info, nil},
		}},
		// 1.5 s idle timeout; the client holds its sockets; the capture ends
		// less than the grace period after the server's FINs.
		{"real-keepalive-young.pcap", []want{
			{KindIdleTimeoutClose, []int64{1, 2, 3}, Info, map[string]string{"idle_timeout_s": "1.5"}},
			{KindCloseWaitLeak, []int64{1, 2, 3}, Info, nil},
		}},
		// 0.8 s idle timeout; the pool reuses 0.5-1.8 s after the FIN.
		{"real-stale-reuse.pcap", []want{
			{KindStaleConnectionReuse, []int64{1, 2, 3}, Warning, map[string]string{"idle_timeout_s": "0.8"}},
			{KindIdleTimeoutClose, []int64{1, 2, 3}, Warning, map[string]string{"idle_timeout_s": "0.8"}},
		}},
		// Accepts 2 and 4 never start the handshake; the clients give up after
		// 1 s. The healthy sessions end with close_notify exchanges; the first
		// client (Python's unwrap) closed 2.06 s after the server's FIN.
		{"real-tls-abandoned.pcap", []want{
			{KindTLSHandshakeAbandoned, []int64{2, 4}, Warning, nil},
			{KindCloseWaitLeak, []int64{1}, Info, nil},
			{KindCloseWaitLeak, []int64{2, 4}, Warning, nil},
		}},
		// LB timeout 1 s; writes 0.9 and 1.4 s after its FIN get RST, writes
		// 2.6 and 3.4 s after it are dropped by the router (conntrack closing
		// timeouts 2 s).
		{"real-blackhole.pcap", []want{
			{KindWriteAfterFINReset, []int64{1, 2}, Warning, map[string]string{"drop_window_s": "1.4..2.6"}},
			{KindWriteAfterFINBlackholed, []int64{3, 4}, Warning, map[string]string{"drop_window_s": "1.4..2.6", "rto_initial_s": "0.2..0.22"}},
			{KindUpstreamTimeout, []int64{1, 2, 3, 4}, Warning, map[string]string{"request_timeout_s": "1"}},
		}},
		// The backend never answers; the proxy aborts with RST after 1.3 s.
		{"real-upstream-rst.pcap", []want{
			{KindUpstreamTimeout, []int64{1, 2, 3}, Warning, map[string]string{"request_timeout_s": "1.3"}},
		}},
		// Healthy keep-alive traffic: nothing.
		{"real-healthy.pcap", nil},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			r := tdRunFile(t, filepath.Join("testdata", "real", tt.file), DefaultConfig(), teardownSpecs())
			used := make([]bool, len(r.Findings))
			for _, w := range tt.want {
				found := false
				for i, f := range r.Findings {
					if used[i] || f.Kind != w.kind {
						continue
					}
					var ids []int64
					for _, fl := range f.Flows {
						ids = append(ids, fl.ID)
					}
					if !equalIDs(ids, w.flows) {
						continue
					}
					used[i], found = true, true
					if f.Severity != w.sev {
						t.Errorf("%s %v: severity %v, want %v", w.kind, w.flows, f.Severity, w.sev)
					}
					for name, val := range w.vals {
						if v, ok := inferredValue(f.Inferred, name); !ok || !within(v, val) {
							t.Errorf("%s: %s = %v (present %v), want %s", w.kind, name, v, ok, val)
						}
					}
					checkFindingShape(t, &f)
				}
				if !found {
					t.Errorf("missing %s on %v; got: %s", w.kind, w.flows, titles(r.Findings))
				}
			}
			for i, f := range r.Findings {
				if !used[i] {
					t.Errorf("unexpected: [%s] %s %s", f.Severity, f.Kind, f.Title)
				}
			}
		})
	}
}
