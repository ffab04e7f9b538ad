// Package cli holds what every pcapsleuth command shares: the injected
// standard streams, the typed exit statuses of CONTRACT.md, enum flags and
// the progress bar.
package cli

import (
	"io"
	"os"
	"strconv"
)

// ExitCode is a process exit status (CONTRACT.md). A larger code outranks a
// smaller one: a batch with an unreadable file (2) and a --fail-on match (1)
// exits 2.
type ExitCode int

// Exit statuses (CONTRACT.md).
const (
	ExitOK       ExitCode = 0 // the analysis ran, whatever it found
	ExitFindings ExitCode = 1 // --fail-on matched a finding (diff: something got worse)
	ExitUsage    ExitCode = 2 // bad usage or an unreadable input
)

// String returns the code's meaning, e.g. "2 (bad usage or unreadable input)".
func (c ExitCode) String() string {
	switch c {
	case ExitOK:
		return "0 (ok)"
	case ExitFindings:
		return "1 (findings at or above --fail-on)"
	case ExitUsage:
		return "2 (bad usage or unreadable input)"
	}
	return strconv.Itoa(int(c))
}

// Worst returns the code that outranks the others (2 > 1 > 0).
func Worst(codes ...ExitCode) ExitCode {
	w := ExitOK
	for _, c := range codes {
		if c > w {
			w = c
		}
	}
	return w
}

// Streams are the standard streams of a command.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries an exit status out of a command; Err (optional) is
// printed first, as "pcapsleuth: " + Err.
type ExitError struct {
	Code ExitCode
	Err  error
}

// Error returns Err's text, or "exit status N" when there is none.
func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "exit status " + strconv.Itoa(int(e.Code))
}

// Unwrap returns Err.
func (e *ExitError) Unwrap() error { return e.Err }

// Exit returns nil for ExitOK and an *ExitError with no message otherwise:
// the way a run function ends after it already reported what happened.
func Exit(code ExitCode) error {
	if code == ExitOK {
		return nil
	}
	return &ExitError{Code: code}
}

// UsageError returns an error with exit status 2 (bad usage).
func UsageError(err error) error { return &ExitError{Code: ExitUsage, Err: err} }

// IsTerminal reports whether w is a character device (a terminal) other
// than the null device: `pcapsleuth analyze - < /dev/null` in a CI job is an
// empty input, not a person who forgot to pipe a capture in.
func IsTerminal(w any) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	if err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		return false
	}
	null, err := os.Stat(os.DevNull)
	return err != nil || !os.SameFile(fi, null)
}
