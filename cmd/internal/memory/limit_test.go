package memory

import (
	"math"
	"runtime"
	"runtime/debug"
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"512MiB": 512 << 20, "1G": 1 << 30, "1GB": 1 << 30, "300m": 300 << 20, "1024": 1024,
		"1.5G": 3 << 29, "0": 0, "64KiB": 64 << 10, "100B": 100,
		"1e30": math.MaxInt64, "8388608T": math.MaxInt64, // past int64: no limit, not a negative one
	} {
		got, err := parseSize(in)
		if err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "lots", "-1G", "G", "12XB", "NaN", "nanG"} {
		if _, err := parseSize(bad); err == nil {
			t.Errorf("parseSize(%q) accepted", bad)
		}
	}
}

func TestApplyMemoryLimit(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	t.Setenv("GOMEMLIMIT", "")
	runtime.GC() // the test binary's live heap is far below 3 × perAnalysisFloor
	tuner, err := applyMemoryLimit("auto", 3)
	if err != nil || tuner == nil || debug.SetMemoryLimit(-1) != 3*perAnalysisFloor {
		t.Errorf("auto with 3 analyses: tuner %v, %v; runtime %d, want %d", tuner, err, debug.SetMemoryLimit(-1), 3*perAnalysisFloor)
	}
	tuner.Stop()
	// GOGC in the environment stands: auto follows the live heap but
	// leaves the collector's own trigger on.
	t.Setenv("GOGC", "150")
	defer debug.SetGCPercent(debug.SetGCPercent(150))
	tuner, err = applyMemoryLimit("auto", 1)
	if gc := debug.SetGCPercent(150); err != nil || tuner == nil || gc != 150 {
		t.Errorf("auto under GOGC=150: tuner %v, %v; GOGC now %d", tuner, err, gc)
	}
	tuner.Stop()
	t.Setenv("GOGC", "")
	if tuner, err := applyMemoryLimit("300MiB", 3); err != nil || tuner != nil || debug.SetMemoryLimit(-1) != 300<<20 {
		t.Errorf("300MiB: %v, %v; runtime %d", tuner, err, debug.SetMemoryLimit(-1))
	}
	if tuner, err := applyMemoryLimit("0", 1); err != nil || tuner != nil || debug.SetMemoryLimit(-1) != math.MaxInt64 {
		t.Errorf("0: %v, %v; runtime %d", tuner, err, debug.SetMemoryLimit(-1))
	}
	if _, err := applyMemoryLimit("much", 1); err == nil {
		t.Error("a bad size was accepted")
	}
	// GOMEMLIMIT (read by the runtime at start) stands: auto leaves it.
	t.Setenv("GOMEMLIMIT", "100MiB")
	debug.SetMemoryLimit(100 << 20)
	if tuner, err := applyMemoryLimit("auto", 2); err != nil || tuner != nil || debug.SetMemoryLimit(-1) != 100<<20 {
		t.Errorf("auto under GOMEMLIMIT: %v, %v; runtime %d", tuner, err, debug.SetMemoryLimit(-1))
	}
}

func TestMemPolicyLimit(t *testing.T) {
	const mib = 1 << 20
	auto := autoPolicy()
	small := memPolicy{Floor: 8 * mib, Headroom: 64 * mib, Share: 1}
	for _, c := range []struct {
		name     string
		p        memPolicy
		live     int64
		parallel int
		want     int64
	}{
		{"auto, nothing live: the floor", auto, 0, 1, 112 * mib},
		{"auto, 60 MiB live: the floor", auto, 60 * mib, 1, 112 * mib},
		{"auto, 90 MiB live: the live heap and 60 %", auto, 90 * mib, 1, 144 * mib},
		{"auto, 140 MiB live: the live heap and 60 %, under the target", auto, 140 * mib, 1, 224 * mib},
		{"auto, 150 MiB live: the target", auto, 150 * mib, 1, 232 * mib},
		{"auto, 176 MiB live: the target", auto, 176 * mib, 1, 232 * mib},
		{"auto, 184 MiB live: the target = live + 48 MiB", auto, 184 * mib, 1, 232 * mib},
		{"auto, 190 MiB live: 48 MiB headroom", auto, 190 * mib, 1, 238 * mib},
		{"auto, 192 MiB live: a quarter = 48 MiB", auto, 192 * mib, 1, 240 * mib},
		{"auto, 300 MiB live: a quarter as headroom", auto, 300 * mib, 1, 375 * mib},
		{"auto, 3 analyses, 150 MiB live: 3 floors", auto, 150 * mib, 3, 336 * mib},
		{"auto, 3 analyses, 250 MiB live: the live heap and 60 %", auto, 250 * mib, 3, 400 * mib},
		{"auto, 3 analyses, 500 MiB live: 3 targets", auto, 500 * mib, 3, 696 * mib},
		{"auto, 3 analyses, 560 MiB live: 3 × 48 MiB headroom", auto, 560 * mib, 3, 704 * mib},
		{"auto, 3 analyses, 900 MiB live: a quarter as headroom", auto, 900 * mib, 3, 1125 * mib},
		{"auto, parallel 0 counts as 1", auto, 0, 0, 112 * mib},
		{"auto, negative live counts as 0", auto, -1, 1, 112 * mib},
		{"share 0 counts as 1: the live heap as headroom", memPolicy{Floor: 8 * mib, Headroom: 4 * mib}, 100 * mib, 1, 200 * mib},
		{"small floor, 40 MiB live: 64 MiB headroom", small, 40 * mib, 1, 104 * mib},
		{"small floor, 2 analyses, 40 MiB live: 2 × 64 MiB headroom", small, 40 * mib, 2, 168 * mib},
		{"small floor, 64 MiB live: live = 64 MiB", small, 64 * mib, 1, 128 * mib},
		{"small floor, 200 MiB live: the live heap as headroom", small, 200 * mib, 1, 400 * mib},
		{"small floor, nothing live: the headroom", small, 0, 1, 64 * mib},
	} {
		if got := c.p.limit(c.live, c.parallel); got != c.want {
			t.Errorf("%s: limit(%d MiB, %d) = %d MiB, want %d MiB", c.name, c.live/mib, c.parallel, got/mib, c.want/mib)
		}
	}
}

// TestMemTunerFollowsLiveHeap checks that the tuner moves the runtime's
// limit after a collection to its policy's (here twice the live heap), with
// GOGC's own trigger off, and that after Stop it no longer moves the limit
// and GOGC is back. A small floor keeps the live buffer small.
func TestMemTunerFollowsLiveHeap(t *testing.T) {
	const mib = 1 << 20
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	defer debug.SetGCPercent(debug.SetGCPercent(77))
	policy := memPolicy{Floor: 16 * mib, Headroom: 4 * mib, Share: 1}
	runtime.GC()
	tuner := newMemTuner(policy, 1, false)
	defer tuner.Stop()
	if gc := debug.SetGCPercent(-1); gc != -1 {
		t.Errorf("GOGC is %d while the tuner runs, want off (-1)", gc)
	}
	start := debug.SetMemoryLimit(-1)
	if start < policy.Floor || start >= 40*mib {
		t.Fatalf("initial limit %d MiB, want from the 16 MiB floor to 40 MiB (the test's own live heap is small)", start/mib)
	}

	buf := make([]byte, 40*mib)
	lo, hi := int64(80*mib), 2*(40*mib+start) // 2 × (the buffer [+ what was live at the start])
	lim := waitLimit(func(l int64) bool { return l >= lo })
	if lim < lo || lim > hi {
		t.Fatalf("with 40 MiB more live, the limit is %d MiB after collections; want %d-%d MiB", lim/mib, lo/mib, hi/mib)
	}
	runtime.KeepAlive(buf)

	tuner.Stop()
	before := debug.SetMemoryLimit(-1)
	buf = nil // a tuner still running would now bring the limit back near the floor
	for range 5 {
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	if after := debug.SetMemoryLimit(-1); after != before {
		t.Errorf("the limit moved after Stop: %d MiB → %d MiB", before/mib, after/mib)
	}
	if gc := debug.SetGCPercent(77); gc != 77 {
		t.Errorf("GOGC is %d after Stop, want the 77 it was before", gc)
	}
	tuner.Stop() // a second Stop must not restore anything again
	if gc := debug.SetGCPercent(77); gc != 77 {
		t.Errorf("GOGC is %d after a second Stop, want 77", gc)
	}
	runtime.KeepAlive(buf)
}

// TestMemTunerKeepsGOGC checks that a tuner told to keep GOGC (set in the
// environment) leaves the collector's trigger alone.
func TestMemTunerKeepsGOGC(t *testing.T) {
	old := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(old)
	defer debug.SetGCPercent(debug.SetGCPercent(55))
	tuner := newMemTuner(memPolicy{Floor: 16 << 20, Headroom: 4 << 20}, 1, true)
	if gc := debug.SetGCPercent(55); gc != 55 {
		t.Errorf("GOGC is %d while a keeping tuner runs, want 55", gc)
	}
	debug.SetGCPercent(60)
	tuner.Stop()
	if gc := debug.SetGCPercent(55); gc != 60 {
		t.Errorf("GOGC is %d after Stop, want the 60 set meanwhile", gc)
	}
}

// waitLimit runs collections until the runtime's limit satisfies ok, for at
// most 5 s, and returns the last limit seen.
func waitLimit(ok func(int64) bool) int64 {
	deadline := time.Now().Add(5 * time.Second)
	for {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
		lim := debug.SetMemoryLimit(-1)
		if ok(lim) || time.Now().After(deadline) {
			return lim
		}
	}
}
