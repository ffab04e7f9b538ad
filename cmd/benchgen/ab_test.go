package main

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// TestPaired checks the paired differences' mean and standard error
// against figures worked out by hand.
func TestPaired(t *testing.T) {
	d := paired([]float64{1, 2, 3, 4}, []float64{1.5, 2.5, 3.1, 4.9})
	// differences 0.5, 0.5, 0.1, 0.9: mean 0.5, squared deviations 0.32,
	// standard deviation sqrt(0.32/3), standard error that over 2.
	if math.Abs(d.mean-0.5) > 1e-12 || math.Abs(d.se-math.Sqrt(0.32/3)/2) > 1e-12 || d.meanA != 2.5 {
		t.Fatalf("paired = %+v, want mean 0.5, se %.6f, meanA 2.5", d, math.Sqrt(0.32/3)/2)
	}
	if d := paired([]float64{2, 3}, []float64{2, 3}); d.mean != 0 || d.se != 0 {
		t.Fatalf("paired of equal runs = %+v, want zeros", d)
	}
}

// TestABRuns runs the ab command with a stand-in for pcapsleuth that exits
// at once, and checks that it refuses what it cannot measure.
func TestABRuns(t *testing.T) {
	capture := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(capture, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := "/bin/true"
	if _, err := os.Stat(bin); err != nil {
		t.Skip("no /bin/true here")
	}
	if err := ab([]string{"-a", bin, "-b", bin, "-rounds", "2", "-report", "none", capture}); err != nil {
		t.Fatalf("ab: %v", err)
	}
	for _, args := range [][]string{
		{"-a", bin, capture},                            // no B
		{"-a", bin, "-b", bin, "-rounds", "1", capture}, // one round has no spread
		{"-a", bin, "-b", bin, capture + ".missing"},
		{"-a", "/nonexistent/pcapsleuth", "-b", bin, "-rounds", "2", capture},
	} {
		if err := ab(args); err == nil {
			t.Errorf("ab %v: want an error", args)
		}
	}
}

// TestWarmCache: the capture is read to its end, and what cannot be read
// stops the comparison before a run is timed.
func TestWarmCache(t *testing.T) {
	dir := t.TempDir()
	capture := filepath.Join(dir, "x.pcap")
	if err := os.WriteFile(capture, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := warmCache(capture); err != nil {
		t.Fatalf("warmCache: %v", err)
	}
	for _, bad := range []string{dir, capture + ".missing"} {
		if err := warmCache(bad); err == nil {
			t.Errorf("warmCache(%s): want an error", bad)
		}
	}
}
