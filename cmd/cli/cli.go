// Package cli holds what every pcapsleuth command shares: the injected
// standard streams and the typed exit statuses of CONTRACT.md.
package cli

import (
	"io"
	"os"
)

// Exit statuses (CONTRACT.md).
const (
	ExitOK       = 0 // the analysis ran, whatever it found
	ExitFindings = 1 // --fail-on matched a finding
	ExitUsage    = 2 // bad usage or an unreadable input
)

// Streams are the standard streams of a command.
type Streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// ExitError carries an exit status out of a command; Err (optional) is
// printed first.
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string {
	if e.Err != nil {
		return e.Err.Error()
	}
	return "exit status " + string(rune('0'+e.Code))
}

func (e *ExitError) Unwrap() error { return e.Err }

// IsTerminal reports whether w is a character device (a terminal).
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
