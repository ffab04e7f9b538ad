package cli

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unicode/utf8"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/decode"
)

// Explain turns an error about an input file into one line that says what
// happened and what to try: a missing file, an empty one, a file that is not
// a capture (and what it looks like instead), an unsupported variant. Other
// errors come back as they are.
func Explain(err error) error {
	var ie *analysis.InputError
	path := ""
	if errors.As(err, &ie) {
		path = ie.Path
		err = ie.Err
	}
	return ExplainPath(path, err)
}

// PathError is an explained error about one input file.
type PathError struct {
	Path string
	Err  error // the explanation, without the path
}

func (e *PathError) Error() string { return e.Path + ": " + e.Err.Error() }

// Unwrap returns the explanation.
func (e *PathError) Unwrap() error { return e.Err }

// Reason returns an error's text without the file path when it is a
// *PathError (for lists that show the path beside it).
func Reason(err error) string {
	var pe *PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// ExplainPath is Explain for an error known to be about path; the result is
// a *PathError when path is known.
func ExplainPath(path string, err error) error {
	if err == nil {
		return nil
	}
	e := explain(path, err)
	if path == "" {
		return e
	}
	return &PathError{Path: path, Err: e}
}

func explain(path string, err error) error {
	const prefix = ""
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%sno such file; check the path", prefix)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%spermission denied; captures written by tcpdump as root are often mode 0600: sudo chmod a+r the file, or run pcapsleuth as that user", prefix)
	case errors.Is(err, decode.ErrEmpty) && (path == "" || path == "-"):
		return fmt.Errorf("%sstandard input is empty (0 bytes): nothing was piped in; did the command before the pipe fail?", prefix)
	case errors.Is(err, decode.ErrNotCapture):
		return fmt.Errorf("%s%s", prefix, notCapture(path))
	case errors.Is(err, decode.ErrUnsupported):
		return fmt.Errorf("%s%v; convert it with `editcap -F pcapng IN OUT` (Wireshark) and try again", prefix, err)
	case errors.Is(err, decode.ErrTruncated):
		return fmt.Errorf("%sthe file ends inside its header (%v): it was cut off before the first packet, was tcpdump killed right away?", prefix, err)
	case errors.Is(err, decode.ErrCorrupt):
		return fmt.Errorf("%sthe capture header is damaged (%v); try `editcap IN OUT` or `pcapfix`", prefix, err)
	}
	return err
}

// signatures name common files that are not captures, by their first bytes.
var signatures = []struct {
	magic []byte
	what  string
}{
	{[]byte("PK\x03\x04"), "a zip archive: unzip it and analyze the capture inside"},
	{[]byte("BZh"), "bzip2-compressed: decompress it with bunzip2 first (pcapsleuth reads gzip and zstd)"},
	{[]byte("\xfd7zXZ\x00"), "xz-compressed: decompress it with unxz first (pcapsleuth reads gzip and zstd)"},
	{[]byte("\x04\x22\x4d\x18"), "lz4-compressed: decompress it with lz4 -d first (pcapsleuth reads gzip and zstd)"},
	{[]byte("7z\xbc\xaf\x27\x1c"), "a 7-Zip archive: extract the capture first"},
	{[]byte("snoop\x00\x00\x00"), "a Solaris snoop capture: convert it with `editcap -F pcap IN OUT`"},
	{[]byte("GMBU"), "a Microsoft Network Monitor capture: convert it with `editcap -F pcap IN OUT`"},
	{[]byte("\x89PNG"), "a PNG image, not a capture"},
	{[]byte("%PDF"), "a PDF document, not a capture"},
}

// notCapture says what a file that is not a capture seems to be.
func notCapture(path string) string {
	const base = "not a pcap or pcapng capture (nor a gzip- or zstd-compressed one)"
	if path == "" || path == "-" {
		return base + "; pipe raw capture bytes in, e.g. tcpdump -w - ... | pcapsleuth analyze -"
	}
	f, err := os.Open(path)
	if err != nil {
		return base
	}
	defer f.Close()
	head := make([]byte, 512)
	n, _ := f.Read(head)
	head = head[:n]
	if n == 0 {
		return "the file is empty (0 bytes): the capture was never written; was tcpdump stopped before it flushed, or did it write elsewhere (-w)?"
	}
	for _, s := range signatures {
		if bytes.HasPrefix(head, s.magic) {
			return "this is " + s.what
		}
	}
	trimmed := bytes.TrimLeft(head, " \t\r\n\xef\xbb\xbf")
	switch {
	case bytes.HasPrefix(trimmed, []byte("{")) && bytes.Contains(head, []byte(`"schema_version"`)):
		return "this is a pcapsleuth JSON report, not a capture; compare two reports with `pcapsleuth diff BEFORE.json AFTER.json`"
	case bytes.HasPrefix(trimmed, []byte("<")):
		return "this is an HTML or XML file, not a capture"
	case utf8.Valid(head) && !bytes.ContainsAny(head, "\x00"):
		return "this is a text file, not a capture: perhaps tcpdump's printed output? Record with `tcpdump -w FILE` (or tshark -w) to get a capture"
	}
	return fmt.Sprintf("%s; its first bytes are % x. If it is a capture in another format, convert it with `editcap -F pcapng IN OUT`", base, head[:min(len(head), 8)])
}
