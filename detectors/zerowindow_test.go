package detectors

import (
	"fmt"
	"strings"
	"testing"
)

// TestZeroWindowBoundaries: a stall shorter than ZeroWindowWarn is info, one
// at it a warning, one past ZeroWindowCrit critical; a RST ends a stall.
func TestZeroWindowBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name  string
		stall float64
		end   string // how the stall ends: "open" (window update) or "rst"
		want  string
	}{
		{"brief", 0.5, "open", "info"},
		{"at the warning threshold", 1.0, "open", "warning"},
		{"long", 12, "open", "critical"},
		{"ended by RST", 2, "rst", "warning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			b.WriteString("0.000 C>S SYN seq=0 mss=1460 ws=7\n0.001 S>C SYN,ACK seq=0 mss=1460 ws=7\n0.002 C>S ACK\n")
			b.WriteString("0.010 C>S ACK len=1448\n0.011 C>S ACK len=1448\n0.012 S>C ACK win=0\n")
			end := 0.012 + tc.stall
			if tc.end == "rst" {
				fmt.Fprintf(&b, "%.3f S>C RST,ACK\n", end)
			} else {
				fmt.Fprintf(&b, "%.3f S>C ACK win=502\n%.3f C>S FIN,ACK\n%.3f S>C FIN,ACK\n%.3f C>S ACK\n", end, end+0.01, end+0.011, end+0.012)
			}
			run := runScript(t, "zw", b.String())
			got := ""
			for _, f := range run.Findings {
				if f.Kind == KindZeroWindowStall {
					got = f.Severity.String()
					if tc.want != "" && !strings.Contains(f.Title, "10.0.0.2:80") {
						t.Errorf("title %q does not name the slow receiver", f.Title)
					}
				}
			}
			if got != tc.want {
				t.Errorf("severity %q, want %q", got, tc.want)
			}
		})
	}
}
