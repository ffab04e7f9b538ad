package analyze

import (
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/batch"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
)

// TestInterrupts checks the three steps of an interrupted run: the first
// interrupt stops regular files and not streams, the second stops both,
// the third quits with 128 + the signal; analyses not started are skipped
// after the first.
func TestInterrupts(t *testing.T) {
	var said []string
	quit := -1
	i := newInterrupts(func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }, func(c int) { quit = c })
	if i.stop(false) != "" || i.stop(true) != "" {
		t.Fatal("stops before any interrupt")
	}
	if _, skip := i.skip(); skip {
		t.Fatal("skips before any interrupt")
	}
	if _, cut := i.exitCode(); cut {
		t.Fatal("cut before any interrupt")
	}

	i.deliver(os.Interrupt)
	if _, cut := i.exitCode(); cut {
		t.Error("an interrupt that stopped nothing yet counts as a cut")
	}
	if got := i.stop(true); got != "" {
		t.Errorf("first interrupt stops a stream: %q", got)
	}
	if got := i.stop(false); got != "interrupted (SIGINT)" {
		t.Errorf("first interrupt, regular file: %q", got)
	}
	if why, skip := i.skip(); !skip || !strings.Contains(why, "not analyzed") {
		t.Errorf("skip after the first interrupt: %q %v", why, skip)
	}
	if code, cut := i.exitCode(); !cut || code != 130 {
		t.Errorf("exit code %v (cut %v), want 130", code, cut)
	}

	i.deliver(os.Interrupt)
	if got := i.stop(true); got != "interrupted (SIGINT)" {
		t.Errorf("second interrupt, stream: %q", got)
	}
	if quit != -1 {
		t.Fatalf("quit after %d interrupts", 2)
	}
	i.deliver(os.Interrupt)
	if quit != 130 {
		t.Errorf("third interrupt quit with %d, want 130", quit)
	}
	if len(said) != 3 || !strings.Contains(said[0], "pipes read on") || !strings.Contains(said[2], "without a report") {
		t.Errorf("messages: %q", said)
	}
}

// TestInterruptsSIGTERM checks the exit status of a run stopped by SIGTERM
// (a CI job's timeout): 143.
func TestInterruptsSIGTERM(t *testing.T) {
	i := newInterrupts(func(string, ...any) {}, func(int) {})
	i.deliver(syscall.SIGTERM)
	if got := i.stop(false); got != "interrupted (SIGTERM)" {
		t.Errorf("stop: %q", got)
	}
	if code, cut := i.exitCode(); !cut || code != cli.ExitCode(128+15) {
		t.Errorf("exit code %v (cut %v), want 143", code, cut)
	}
}

// TestRunInterruptedBatch checks that a batch interrupted before its
// analyses start writes the index with every capture marked as not
// analyzed and exits with the interrupt's status.
func TestRunInterruptedBatch(t *testing.T) {
	o, f, dir, _, errb := newOpts(t)
	o.Inputs = []string{dir + "/in"}
	o.Output = dir + "/out/"
	r := &runner{opts: o}
	r.stops = newInterrupts(r.say, func(int) { t.Error("quit") })
	r.stops.deliver(os.Interrupt)
	ex, err := batch.Expand(o.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	err = r.interrupted(r.dispatch(planJobs(o, ex), ex, true))
	ee, ok := err.(*cli.ExitError)
	if !ok || ee.Code != 130 {
		t.Fatalf("err %v, want exit 130", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("analyzed %v after the interrupt", f.calls)
	}
	ix := readIndex(t, dir+"/out/index.json")
	if len(ix.Entries) < 4 {
		t.Fatalf("%d index entries, want the 4 captures of the folder", len(ix.Entries))
	}
	for _, e := range ix.Entries {
		if !strings.Contains(e.Error, "interrupted") {
			t.Errorf("%s: %q, want it marked as not analyzed", e.Name, e.Error)
		}
	}
	if ix.ExitStatus != 130 {
		t.Errorf("index exit_status %d, want the process's 130", ix.ExitStatus)
	}
	if !strings.Contains(errb.String(), "4 captures: 4 not analyzed (interrupted); exit status 130") {
		t.Errorf("stderr lacks the headline:\n%s", errb)
	}
	if !strings.Contains(errb.String(), "exit status 130") {
		t.Errorf("stderr lacks the final note:\n%s", errb)
	}
}
