// Package interrupt turns a run's interrupts (Ctrl-C's SIGINT, SIGTERM)
// into an orderly stop, so that an interrupted command still writes what
// it found in the part of its input it read.
package interrupt

import (
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
)

// Handler turns the run's interrupts (Ctrl-C's SIGINT, SIGTERM) into an
// orderly stop, so that an interrupted analysis still writes its output
// (a report, a table) for what it read:
//
//   - the first stops the reading of regular files at once; standard input
//     and pipes read on until they end, because the writer of the usual
//     pipe (tcpdump -w - | pcapsleuth analyze -) gets the same Ctrl-C,
//     writes out what it buffered and closes it: that tail is often the
//     incident itself;
//   - the second stops the reading of those too;
//   - the third quits at once, without a report (exit 128 + the signal).
//
// Analyses not started yet are skipped after the first. A nil *Handler
// never stops anything (runners built by tests).
type Handler struct {
	raised atomic.Bool // an interrupt came: the per-frame check's fast path
	mu     sync.Mutex
	n      int       // interrupts so far
	sig    os.Signal // the first one
	cut    bool      // some reading was stopped early or an analysis skipped
	noun   string    // what the run writes: "report", "table"
	say    func(format string, args ...any)
	quit   func(code int)
}

// New returns a Handler that says what it does through say and quits
// through quit (os.Exit outside tests); noun names the output of the run
// ("report", "table") in what it says.
func New(noun string, say func(format string, args ...any), quit func(code int)) *Handler {
	return &Handler{noun: noun, say: say, quit: quit}
}

// Watch delivers the process's SIGINT and SIGTERM to i until the returned
// function is called.
func (i *Handler) Watch() (stop func()) {
	ch := make(chan os.Signal, 3)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		for {
			select {
			case sig := <-ch:
				i.Deliver(sig)
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(ch)
		close(done)
	}
}

// Deliver counts one interrupt and says what follows from it.
func (i *Handler) Deliver(sig os.Signal) {
	i.mu.Lock()
	i.n++
	n := i.n
	if n == 1 {
		i.sig = sig
	}
	i.raised.Store(true)
	code := i.codeLocked()
	i.mu.Unlock()
	switch n {
	case 1:
		i.say("pcapsleuth: %s: stopping; the %s will cover what was read so far (standard input and pipes read on until their writer closes them); interrupt again to stop those too, a third time to quit without a %s\n", sigName(sig), i.noun, i.noun)
	case 2:
		i.say("pcapsleuth: %s again: stopping the reading of standard input and pipes too; a third interrupt quits without a %s\n", sigName(sig), i.noun)
	default:
		i.say("pcapsleuth: %s a third time: quitting without a %s\n", sigName(sig), i.noun)
		i.quit(int(code))
	}
}

// Stop is analysis.Options.Stop: the reason to stop reading an input, or
// "" to read on.
func (i *Handler) Stop(stream bool) string {
	if i == nil || !i.raised.Load() {
		return ""
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.n == 0 || (stream && i.n == 1) {
		return ""
	}
	i.cut = true
	return "interrupted (" + sigName(i.sig) + ")"
}

// Skip reports whether an analysis not started yet should be skipped, and
// why.
func (i *Handler) Skip() (string, bool) {
	if i == nil {
		return "", false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	if i.n == 0 {
		return "", false
	}
	i.cut = true
	return "not analyzed: the run was interrupted (" + sigName(i.sig) + ") before it started", true
}

// ExitCode returns the run's exit status when an interrupt cut it short
// (128 + the signal's number, the shell's convention: 130 for Ctrl-C), and
// false when every analysis read its inputs to the end.
func (i *Handler) ExitCode() (cli.ExitCode, bool) {
	if i == nil {
		return cli.ExitOK, false
	}
	i.mu.Lock()
	defer i.mu.Unlock()
	return i.codeLocked(), i.cut
}

// Cut returns err, the run's result, with the exit status of an interrupt
// (130 for Ctrl-C) when one cut the run short, and says so: what the run
// wrote covers only what was read before it, which a script must not take
// for a whole analysis.
func (i *Handler) Cut(err error) error {
	code, cut := i.ExitCode()
	if !cut {
		return err
	}
	i.say("pcapsleuth: the run was interrupted: the %s covers only what was read before it (exit status %d)\n", i.noun, code)
	var ee *cli.ExitError
	switch {
	case errors.As(err, &ee):
		return &cli.ExitError{Code: code, Err: ee.Err}
	case err != nil:
		return &cli.ExitError{Code: code, Err: err}
	}
	return cli.Exit(code)
}

func (i *Handler) codeLocked() cli.ExitCode {
	if s, ok := i.sig.(syscall.Signal); ok {
		return cli.ExitCode(128 + int(s))
	}
	return cli.ExitCode(128 + int(syscall.SIGINT))
}

// sigName names sig as a user knows it.
func sigName(sig os.Signal) string {
	switch sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return fmt.Sprint(sig)
}
