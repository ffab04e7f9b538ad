package analyze

import (
	"runtime/debug"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "1G": 1 << 30, "1GB": 1 << 30, "300m": 300 << 20, "1024": 1024,
		"1.5G": 3 << 29, "0": 0, "64KiB": 64 << 10, "100B": 100,
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1G", "G", "12XB"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	t.Setenv("GOMEMLIMIT", "")
	if lim, err := applyMemoryLimit("auto", 3); err != nil || lim != 3*perAnalysisMemory || debug.SetMemoryLimit(-1) != lim {
		t.Errorf("auto with 3 analyses: %d, %v; runtime %d", lim, err, debug.SetMemoryLimit(-1))
	}
	if lim, err := applyMemoryLimit("300MiB", 3); err != nil || lim != 300<<20 || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Errorf("300MiB: %d, %v", lim, err)
	}
	if lim, err := applyMemoryLimit("0", 1); err != nil || lim != 0 || debug.SetMemoryLimit(-1) != 1<<63-1 {
		t.Errorf("0: %d, %v; runtime %d", lim, err, debug.SetMemoryLimit(-1))
	}
	if _, err := applyMemoryLimit("much", 1); err == nil {
		t.Error("a bad size was accepted")
	}
}
