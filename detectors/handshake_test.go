package detectors

import (
	"fmt"
	"strings"
	"testing"
)

func TestRetryPattern(t *testing.T) {
	for _, tc := range []struct {
		retries [][]float64
		want    string
	}{
		{[][]float64{{0, 1, 2, 3}}, "fixed interval"},
		{[][]float64{{0, 1, 3, 7}}, "doubling"},
		{[][]float64{{0, 1}, {0, 1, 3, 7, 15}}, "1 s, 3 s, 7 s, 15 s after the first"},
		{[][]float64{{0}}, ""},
	} {
		got := retryPattern(tc.retries)
		if tc.want == "" && got != "" || !strings.Contains(got, tc.want) {
			t.Errorf("retryPattern(%v) = %q, want it to contain %q", tc.retries, got, tc.want)
		}
	}
}

// TestHandshakeBoundaries: an unanswered SYN counts only after SYNTimeout
// before the end of the capture; 3 unanswered attempts of 6 (half) make a
// critical finding, 2 a warning.
func TestHandshakeBoundaries(t *testing.T) {
	for _, tc := range []struct {
		name       string
		unanswered int
		answered   int
		tail       float64 // capture end after the last SYN
		want       string
	}{
		{"lone SYN at the very end", 1, 0, 0.2, ""},
		{"lone SYN a second before the end", 1, 0, 1.0, "warning"},
		{"2 of 5 unanswered", 2, 3, 2, "warning"},
		{"3 of 6 unanswered", 3, 3, 2, "critical"},
		{"3 of 7 unanswered", 3, 4, 2, "warning"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var b strings.Builder
			ts := 0.0
			for i := 0; i < tc.answered; i++ {
				fmt.Fprintf(&b, "conn a%d client 10.6.1.1:%d server 10.6.1.2:80\n", i, 41000+i)
				fmt.Fprintf(&b, "%.3f C>S SYN seq=0 mss=1460\n%.3f S>C SYN,ACK seq=0 mss=1460\n%.3f C>S ACK\n", ts, ts+0.001, ts+0.002)
				fmt.Fprintf(&b, "%.3f C>S FIN,ACK\n%.3f S>C FIN,ACK\n%.3f C>S ACK\n", ts+0.01, ts+0.011, ts+0.012)
				ts += 0.1
			}
			for i := 0; i < tc.unanswered; i++ {
				fmt.Fprintf(&b, "conn u%d client 10.6.1.1:%d server 10.6.1.2:80\n%.3f C>S SYN seq=0 mss=1460\n", i, 42000+i, ts)
				ts += 0.1
			}
			fmt.Fprintf(&b, "conn end client 10.6.1.9:50000 server 10.6.1.10:9\n%.3f C>S ACK\n", ts-0.1+tc.tail)
			run := runScript(t, "hs", b.String())
			got := ""
			for _, f := range run.Findings {
				if f.Kind == KindHandshakeFailure {
					got = f.Severity.String()
				}
			}
			if got != tc.want {
				t.Errorf("severity %q, want %q", got, tc.want)
			}
		})
	}
}

// TestHandshakeFlowCap: the flow list is capped by MaxFlows, the count is
// exact.
func TestHandshakeFlowCap(t *testing.T) {
	var b strings.Builder
	for i := 0; i < 40; i++ {
		fmt.Fprintf(&b, "conn u%d client 10.6.2.1:%d server 10.6.2.2:443\n%.3f C>S SYN seq=0 mss=1460\n%.3f C>S SYN seq=0 mss=1460\n", i, 43000+i, float64(i)*0.01, 1+float64(i)*0.01)
	}
	path := writeScript(t, "cap", b.String())
	cfg := DefaultConfig()
	cfg.MaxFlows = 7
	run := runCapture(t, path, &cfg, false, transportSpecs()...)
	for _, f := range run.Findings {
		if f.Kind == KindHandshakeFailure {
			if len(f.Flows) != 7 || f.FlowCount != 40 {
				t.Errorf("%d flows listed, count %d; want 7 of 40", len(f.Flows), f.FlowCount)
			}
			return
		}
	}
	t.Fatal("no handshake-failure finding")
}

// TestHandshakeSynRetryTimes: the SYN retry chart shows the times of each
// connection's SYNs (SYN-ACKs aside) from its first: the first 8 of a
// connection that sent 9, and a SYN resent after the SYN-ACK; a
// connection with one SYN has none.
func TestHandshakeSynRetryTimes(t *testing.T) {
	var b strings.Builder
	b.WriteString("conn r1 client 10.6.3.1:44000 server 10.6.3.2:80\n")
	for _, ts := range []float64{0, 1, 3, 7, 15, 31, 63, 127, 255} {
		fmt.Fprintf(&b, "%.3f C>S SYN seq=0 mss=1460\n", ts)
	}
	b.WriteString("conn r2 client 10.6.3.1:44001 server 10.6.3.2:80\n")
	b.WriteString("0.500 C>S SYN seq=0 mss=1460\n0.600 S>C SYN,ACK seq=0 mss=1460\n1.600 S>C SYN,ACK seq=0 mss=1460\n2.500 C>S SYN seq=0 mss=1460\n2.600 S>C SYN,ACK seq=0 mss=1460\n2.700 C>S ACK\n")
	b.WriteString("conn r3 client 10.6.3.1:44002 server 10.6.3.2:80\n2.000 C>S SYN seq=0 mss=1460\n")
	b.WriteString("conn end client 10.6.3.9:50000 server 10.6.3.10:9\n300.000 C>S ACK\n")
	run := runScript(t, "synretry", b.String())
	var got []Point
	for _, f := range run.Findings {
		if f.Kind == KindHandshakeFailure && f.Subject == "10.6.3.2:80" {
			for _, ch := range f.Charts {
				for _, s := range ch.Series {
					got = append(got, s.Points...)
				}
			}
		}
	}
	var want []Point
	for i, y := range []float64{0, 1, 3, 7, 15, 31, 63, 127} {
		want = append(want, Point{X: float64(i + 1), Y: y})
	}
	want = append(want, Point{X: 1, Y: 0}, Point{X: 2, Y: 2})
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("SYN retry points\n got %v\nwant %v", got, want)
	}
}

// TestHandshakeCopiesAreNoRetries: a capture on two interfaces (tcpdump -i
// any on a host with a tunnel or bridge) holds every SYN and SYN-ACK twice,
// microseconds apart. Those copies are no retries: no finding. A SYN resent
// a second later still is one, and its copies do not count twice.
func TestHandshakeCopiesAreNoRetries(t *testing.T) {
	var b strings.Builder
	for i := range 3 {
		ts := float64(i)
		fmt.Fprintf(&b, "conn c%d client 10.6.4.1:%d server 10.6.4.2:80\n", i, 45000+i)
		fmt.Fprintf(&b, "%.6f C>S SYN seq=0 mss=1460\n%.6f C>S SYN seq=0 mss=1460\n", ts, ts+0.000003)
		fmt.Fprintf(&b, "%.6f S>C SYN,ACK seq=0 mss=1460\n%.6f S>C SYN,ACK seq=0 mss=1460\n", ts+0.0001, ts+0.000103)
		fmt.Fprintf(&b, "%.6f C>S ACK\n%.6f C>S FIN,ACK\n%.6f S>C FIN,ACK\n%.6f C>S ACK\n", ts+0.0002, ts+0.1, ts+0.1001, ts+0.1002)
	}
	run := runScript(t, "synrepeat", b.String())
	for _, f := range run.Findings {
		if f.Kind == KindHandshakeFailure {
			t.Errorf("copies taken for retries: %s", f.Title)
		}
	}

	b.Reset()
	b.WriteString("conn r client 10.6.5.1:46000 server 10.6.5.2:80\n")
	b.WriteString("0.000000 C>S SYN seq=0 mss=1460\n0.000004 C>S SYN seq=0 mss=1460\n")
	b.WriteString("1.000000 C>S SYN seq=0 mss=1460\n1.000004 C>S SYN seq=0 mss=1460\n")
	b.WriteString("1.000100 S>C SYN,ACK seq=0 mss=1460\n1.000200 C>S ACK\n")
	b.WriteString("conn end client 10.6.5.9:50000 server 10.6.5.10:9\n5.000 C>S ACK\n")
	run = runScript(t, "synretrycopies", b.String())
	var got *Finding
	for i, f := range run.Findings {
		if f.Kind == KindHandshakeFailure && f.Subject == "10.6.5.2:80" {
			got = &run.Findings[i]
		}
	}
	if got == nil || !strings.Contains(got.Title, "answered only after a SYN retry") {
		t.Fatalf("a SYN resent after 1 s, each copy captured twice: %+v", got)
	}
	var points []Point
	for _, ch := range got.Charts {
		for _, s := range ch.Series {
			points = append(points, s.Points...)
		}
	}
	if fmt.Sprint(points) != fmt.Sprint([]Point{{X: 1, Y: 0}, {X: 2, Y: 1}}) {
		t.Errorf("SYN retry points %v, want the two SYNs 1 s apart, copies aside", points)
	}
}
