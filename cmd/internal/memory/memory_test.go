package memory

import (
	"runtime"
	"runtime/debug"
	"testing"

	"github.com/spf13/pflag"
)

func TestBindDefaults(t *testing.T) {
	var f Flags
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	f.Bind(fs)
	if f.Limit != "auto" || !f.HugePages {
		t.Fatalf("defaults: %+v, want auto and huge pages on", f)
	}
	if err := fs.Parse([]string{"--memory-limit", "1G", "--huge-pages=false"}); err != nil {
		t.Fatal(err)
	}
	if f.Limit != "1G" || f.HugePages {
		t.Fatalf("after flags: %+v", f)
	}
}

func TestStart(t *testing.T) {
	oldLimit := debug.SetMemoryLimit(-1)
	defer debug.SetMemoryLimit(oldLimit)
	oldGC := debug.SetGCPercent(100)
	defer debug.SetGCPercent(oldGC)
	t.Setenv("GOMEMLIMIT", "")
	t.Setenv("GOGC", "")

	// A bad size: an error, and nothing changed or left running.
	debug.SetMemoryLimit(1 << 40)
	if stop, err := (&Flags{Limit: "much", HugePages: true}).Start(1); err == nil || stop != nil {
		t.Fatalf("a bad size: stop %v, err %v", stop != nil, err)
	}
	if got := debug.SetMemoryLimit(-1); got != 1<<40 {
		t.Errorf("a bad size changed the limit to %d", got)
	}

	// A size: set, and GOGC left alone.
	stop, err := (&Flags{Limit: "300MiB"}).Start(2)
	if err != nil {
		t.Fatal(err)
	}
	if got := debug.SetMemoryLimit(-1); got != 300<<20 {
		t.Errorf("300MiB: limit %d", got)
	}
	stop()

	// auto: the tuner paces the collector (GOGC off) until stop, which
	// restores GOGC; huge pages on or not, stop returns.
	for _, huge := range []bool{false, true} {
		runtime.GC()
		stop, err = (&Flags{Limit: "auto", HugePages: huge}).Start(3)
		if err != nil {
			t.Fatal(err)
		}
		if gc := debug.SetGCPercent(-1); gc != -1 {
			t.Errorf("auto (huge pages %v): GOGC %d while running, want off", huge, gc)
		}
		if got := debug.SetMemoryLimit(-1); got < 3*perAnalysisFloor {
			t.Errorf("auto (huge pages %v): limit %d, want at least 3 floors", huge, got)
		}
		stop()
		if gc := debug.SetGCPercent(100); gc != 100 {
			t.Errorf("auto (huge pages %v): GOGC %d after stop, want 100 again", huge, gc)
		}
	}
}
