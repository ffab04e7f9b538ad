package decode

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by NewReader, Open and Reader.Next wrap
// one of them, so callers can classify a failure with errors.Is.
var (
	// ErrNotCapture means the input is neither a pcap nor a pcapng capture
	// (possibly inside gzip or zstd).
	ErrNotCapture = errors.New("not a pcap or pcapng capture")
	// ErrTruncated means the input ends in the middle of a header, record or
	// block: the file was cut off.
	ErrTruncated = errors.New("truncated")
	// ErrCorrupt means a header, record or block is inconsistent, or a
	// length exceeds ReaderOptions.MaxRecord, or the compressed stream is
	// damaged.
	ErrCorrupt = errors.New("corrupt")
	// ErrUnsupported means a well-formed structure uses a version or
	// feature this package does not read (pcap 1.x, pcapng 2.0, ...).
	ErrUnsupported = errors.New("unsupported")
	// ErrEmpty means the input held no byte at all. It comes with
	// ErrNotCapture, for callers that do not tell the two apart.
	ErrEmpty = errors.New("empty input")
)

// ReadError reports where reading a capture failed. Offset counts bytes
// of the decompressed stream and points at the start of the offending
// header, record or block. Frame is the number of frames delivered before
// the failure; all of them were complete.
type ReadError struct {
	Offset int64
	Frame  int64
	Err    error
}

// Error formats the error as
// "offset 1234 (after frame 56): pcapng block length 9999999 exceeds file: truncated".
func (e *ReadError) Error() string {
	return fmt.Sprintf("offset %d (after frame %d): %v", e.Offset, e.Frame, e.Err)
}

// Unwrap returns the underlying error, which wraps one of ErrTruncated,
// ErrCorrupt, ErrUnsupported or ErrNotCapture, or is an I/O error of the
// underlying reader.
func (e *ReadError) Unwrap() error { return e.Err }
