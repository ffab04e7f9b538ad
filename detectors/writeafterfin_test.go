package detectors

import "testing"

func TestWriteAfterFINReset(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		window   [2]float64 // inferred drop window range; zero: none
	}{
		{"shared/write-after-fin-reset", expectFinding{flows: []int64{1, 2}, sev: Warning, subject: "10.0.0.2:8080",
			titleHas: []string{"wrote on 2 connections after the client's FIN and got RST back"}, explHas: []string{"incident 004"}}, [2]float64{}},
		{"shared/lb-drop-window", expectFinding{flows: []int64{1, 2}}, [2]float64{12, 18}},
		{"write-race", expectFinding{flows: []int64{1}, subject: "10.0.0.1 → 10.0.0.2:8080", explHas: []string{"raced the server's close"}}, [2]float64{}},
		// negatives
		{"tls-close-notify-rst", expectFinding{}, [2]float64{}},
		{"halfclose-long-response", expectFinding{}, [2]float64{}},
		{"shared/half-close", expectFinding{}, [2]float64{}},
		{"shared/stale-connection-reuse", expectFinding{}, [2]float64{}},
		{"shared/tls-handshake-abandoned", expectFinding{}, [2]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindWriteAfterFINReset, tt.want)
			if f != nil {
				checkWindow(t, f, tt.window)
			}
		})
	}
}

func TestWriteAfterFINBlackholed(t *testing.T) {
	tests := []struct {
		scenario string
		want     expectFinding
		window   [2]float64
	}{
		{"shared/write-after-fin-blackholed", expectFinding{flows: []int64{1}, sev: Warning,
			titleHas: []string{"nothing came back", "0.20, 0.40, 0.80"}, explHas: []string{"still retransmitting when the capture ended"}}, [2]float64{}},
		{"shared/lb-drop-window", expectFinding{flows: []int64{3, 4},
			explHas: []string{"writes up to 12.0 s after the FIN were answered by RST and writes from 18.0 s on met silence"}}, [2]float64{12, 18}},
		{"blackhole-only", expectFinding{flows: []int64{1, 2}}, [2]float64{}},
		{"shared/write-after-fin-reset", expectFinding{}, [2]float64{}},
		{"halfclose-streaming-at-end", expectFinding{}, [2]float64{}},
	}
	for _, tt := range tests {
		t.Run(tt.scenario, func(t *testing.T) {
			f := checkKind(t, tt.scenario, KindWriteAfterFINBlackholed, tt.want)
			if f == nil {
				return
			}
			checkWindow(t, f, tt.window)
			if got := f.Inferred.RTOInitialS; got == nil || *got < 0.19 || *got > 0.21 {
				t.Errorf("rto_initial_s = %v, want 0.2", deref(got))
			}
			ch := f.Charts[0]
			if ch.Type != ChartScatter || len(ch.Series) != 2 || (tt.window != [2]float64{}) != (len(ch.Marks) == 1) {
				t.Errorf("chart %+v", ch)
			}
		})
	}
}

func checkWindow(t *testing.T, f *Finding, want [2]float64) {
	t.Helper()
	got := f.Inferred.DropWindowS
	switch {
	case want == [2]float64{} && got != nil:
		t.Errorf("drop_window_s = %v, want none", *got)
	case want != [2]float64{} && (got == nil || *got < want[0] || *got > want[1]):
		t.Errorf("drop_window_s = %v, want within %v", deref(got), want)
	}
}

func TestInferDropWindow(t *testing.T) {
	tests := []struct {
		name        string
		rst, silent []float64
		ok          bool
		window      float64
	}{
		{"lab", []float64{2.0, 2.298, 2.606}, []float64{3.4, 3.702, 4.001}, true, 3.003},
		{"incident", []float64{3, 9, 15.5}, []float64{16.5, 30}, true, 16},
		{"one outlier among many", []float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 20}, []float64{16, 17, 18, 19, 21, 22, 23, 24, 25}, true, 13},
		{"interleaved", []float64{1, 3, 5, 7}, []float64{2, 4, 6, 8}, false, 0},
		{"silence only", nil, []float64{3, 4}, false, 0},
		{"rst only", []float64{3, 4}, nil, false, 0},
	}
	for _, tt := range tests {
		w := inferDropWindow(tt.rst, tt.silent)
		if w.OK != tt.ok || (tt.ok && (w.Window < tt.window-0.01 || w.Window > tt.window+0.01)) {
			t.Errorf("%s: %+v, want ok=%v window %v", tt.name, w, tt.ok, tt.window)
		}
	}
}
