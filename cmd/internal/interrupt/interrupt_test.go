package interrupt

import (
	"errors"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
)

// TestHandler checks the three steps of an interrupted run: the first
// interrupt stops regular files and not streams, the second stops both,
// the third quits with 128 + the signal; analyses not started are skipped
// after the first.
func TestHandler(t *testing.T) {
	var said []string
	quit := -1
	i := New("report", func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }, func(c int) { quit = c })
	if i.Stop(false) != "" || i.Stop(true) != "" {
		t.Fatal("stops before any interrupt")
	}
	if _, skip := i.Skip(); skip {
		t.Fatal("skips before any interrupt")
	}
	if _, cut := i.ExitCode(); cut {
		t.Fatal("cut before any interrupt")
	}

	i.Deliver(os.Interrupt)
	if _, cut := i.ExitCode(); cut {
		t.Error("an interrupt that stopped nothing yet counts as a cut")
	}
	if got := i.Stop(true); got != "" {
		t.Errorf("first interrupt stops a stream: %q", got)
	}
	if got := i.Stop(false); got != "interrupted (SIGINT)" {
		t.Errorf("first interrupt, regular file: %q", got)
	}
	if why, skip := i.Skip(); !skip || !strings.Contains(why, "not analyzed") {
		t.Errorf("skip after the first interrupt: %q %v", why, skip)
	}
	if code, cut := i.ExitCode(); !cut || code != 130 {
		t.Errorf("exit code %v (cut %v), want 130", code, cut)
	}

	i.Deliver(os.Interrupt)
	if got := i.Stop(true); got != "interrupted (SIGINT)" {
		t.Errorf("second interrupt, stream: %q", got)
	}
	if quit != -1 {
		t.Fatalf("quit after %d interrupts", 2)
	}
	i.Deliver(os.Interrupt)
	if quit != 130 {
		t.Errorf("third interrupt quit with %d, want 130", quit)
	}
	if len(said) != 3 || !strings.Contains(said[0], "pipes read on") || !strings.Contains(said[2], "without a report") {
		t.Errorf("messages: %q", said)
	}
}

// TestHandlerSIGTERM checks the exit status of a run stopped by SIGTERM
// (a CI job's timeout): 143.
func TestHandlerSIGTERM(t *testing.T) {
	i := New("report", func(string, ...any) {}, func(int) {})
	i.Deliver(syscall.SIGTERM)
	if got := i.Stop(false); got != "interrupted (SIGTERM)" {
		t.Errorf("stop: %q", got)
	}
	if code, cut := i.ExitCode(); !cut || code != cli.ExitCode(128+15) {
		t.Errorf("exit code %v (cut %v), want 143", code, cut)
	}
}

// TestCut checks the run's result after an interrupt: unchanged when
// nothing was cut, 128 + the signal otherwise, keeping the error's text and
// saying what the output covers.
func TestCut(t *testing.T) {
	var said []string
	i := New("table", func(format string, args ...any) { said = append(said, fmt.Sprintf(format, args...)) }, func(int) {})
	bad := &cli.ExitError{Code: cli.ExitUsage, Err: errors.New("bad input")}
	if err := i.Cut(nil); err != nil {
		t.Errorf("no interrupt: %v", err)
	}
	i.Deliver(os.Interrupt)
	if err := i.Cut(bad); err != bad {
		t.Errorf("an interrupt that cut nothing changed the result: %v", err)
	}
	i.Stop(false)
	err := i.Cut(nil)
	if ee, ok := err.(*cli.ExitError); !ok || ee.Code != 130 || ee.Err != nil {
		t.Errorf("cut, no error: %#v, want exit 130 without a message", err)
	}
	err = i.Cut(bad)
	if ee, ok := err.(*cli.ExitError); !ok || ee.Code != 130 || ee.Err == nil || ee.Err.Error() != "bad input" {
		t.Errorf("cut, with an error: %#v, want exit 130 and its message", err)
	}
	if last := said[len(said)-1]; !strings.Contains(last, "the table covers only what was read") || !strings.Contains(last, "exit status 130") {
		t.Errorf("last message %q", last)
	}
}
