package detectors

import "testing"

func TestFmtSec(t *testing.T) {
	tests := []struct {
		s    float64
		want string
	}{
		{0.00008, "80 µs"}, {0.0009996, "1 ms"}, {0.045, "45 ms"}, {0.99997, "1.00 s"}, {3.0021, "3.00 s"},
		{9.999, "10.0 s"}, {65.02, "65.0 s"}, {119.97, "2 min 0 s"}, {3725, "1 h 2 min"}, {9000, "2 h 30 min"}, {50000, "13.9 h"},
	}
	for _, tt := range tests {
		if got := fmtSec(tt.s); got != tt.want {
			t.Errorf("fmtSec(%v) = %q, want %q", tt.s, got, tt.want)
		}
	}
	ranges := []struct {
		lo, hi float64
		want   string
	}{
		{2.0, 3.0, "2.00–3.00 s"}, {2.0001, 2.0027, "2.000–2.003 s"}, {0.5, 2, "500 ms–2.00 s"}, {1, 1, "1.00 s"},
	}
	for _, tt := range ranges {
		if got := fmtRange(tt.lo, tt.hi); got != tt.want {
			t.Errorf("fmtRange(%v, %v) = %q, want %q", tt.lo, tt.hi, got, tt.want)
		}
	}
}

func TestTimelineBounded(t *testing.T) {
	tl := newTimeline()
	for i := 0; i < 100_000; i++ {
		tl.add(int64(1_700_000_000e9)+int64(i)*7e6, 1)
	}
	if len(tl.buckets) > timelineBuckets {
		t.Fatalf("%d buckets", len(tl.buckets))
	}
	pts := tl.points(1_700_000_000e9, true)
	if last := pts[len(pts)-1]; last.Y != 100_000 {
		t.Errorf("cumulative total %v", last.Y)
	}
	if pts[0].X < -1 || pts[0].X > 1 {
		t.Errorf("first point at %v s", pts[0].X)
	}
}

func TestHistogram(t *testing.T) {
	pts := histogram([]float64{3.001, 3.002, 3.004, 7.5}, 30)
	n := 0.0
	for _, p := range pts {
		n += p.Y
	}
	if n != 4 || len(pts) < 2 {
		t.Errorf("histogram %+v", pts)
	}
}
