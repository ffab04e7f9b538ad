package decode

import (
	"encoding/binary"
	"errors"
	"io"
)

// bufSize is the size of the read buffer. Records that fit in it are
// returned as slices of it, without copying.
const bufSize = 256 << 10

// maxEmptyReads bounds how often a misbehaving io.Reader may return
// (0, nil) in a row before reading fails with io.ErrNoProgress.
const maxEmptyReads = 100

var errBadReadCount = errors.New("reader returned an invalid byte count")

// input is a buffered reader specialised for record parsing: peek returns
// a window of the stream without copying, and offsets are tracked so that
// errors can say where they happened. Unlike bufio.Reader it lets the
// caller consume bytes after looking at them with no second bounds check,
// and it reads large records straight into the caller's slice.
type input struct {
	src  io.Reader
	buf  []byte // fixed size, never grown
	r, w int    // unread bytes are buf[r:w]
	off  int64  // stream offset of buf[r]
	err  error  // first error from src, io.EOF at the end
}

func newInput(src io.Reader) *input {
	return &input{src: src, buf: make([]byte, bufSize)}
}

// peek returns the next n bytes (n <= len(in.buf)) without consuming them.
// If the stream ends first it returns the bytes there are, with io.EOF
// when there are none, io.ErrUnexpectedEOF when there are some, or the
// read error of the source.
func (in *input) peek(n int) ([]byte, error) {
	if in.w-in.r >= n {
		return in.buf[in.r : in.r+n], nil
	}
	return in.fill(n)
}

// fill moves the unread bytes to the front of the buffer and reads until
// at least n bytes are buffered or the source fails.
func (in *input) fill(n int) ([]byte, error) {
	if in.r > 0 {
		in.w = copy(in.buf, in.buf[in.r:in.w])
		in.r = 0
	}
	empty := 0
	for in.w < n && in.err == nil {
		m, err := in.src.Read(in.buf[in.w:])
		if m < 0 || m > len(in.buf)-in.w {
			in.err = errBadReadCount
			break
		}
		in.w += m
		switch {
		case err != nil:
			in.err = err
		case m == 0:
			if empty++; empty > maxEmptyReads {
				in.err = io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	if in.w >= n {
		return in.buf[:n], nil
	}
	return in.buf[:in.w], in.shortErr(in.w)
}

// shortErr is the error for a read that got only have bytes.
func (in *input) shortErr(have int) error {
	if in.err == io.EOF {
		if have == 0 {
			return io.EOF
		}
		return io.ErrUnexpectedEOF
	}
	return in.err
}

// consume drops n buffered bytes; n must not exceed what peek returned.
func (in *input) consume(n int) {
	in.r += n
	in.off += int64(n)
}

// skip consumes n bytes, reading through the buffer without keeping them.
// It returns io.ErrUnexpectedEOF when the stream ends first.
func (in *input) skip(n int64) error {
	for {
		avail := int64(in.w - in.r)
		if n <= avail {
			in.consume(int(n))
			return nil
		}
		in.consume(int(avail))
		n -= avail
		if _, err := in.fill(1); err != nil {
			if err == io.EOF {
				return io.ErrUnexpectedEOF
			}
			return err
		}
	}
}

// readFull fills dst, first from the buffer and then directly from the
// source. It returns the number of bytes read and, when short,
// io.ErrUnexpectedEOF or the source's error.
func (in *input) readFull(dst []byte) (int, error) {
	n := copy(dst, in.buf[in.r:in.w])
	in.consume(n)
	empty := 0
	for n < len(dst) {
		if in.err != nil {
			if in.err == io.EOF {
				return n, io.ErrUnexpectedEOF
			}
			return n, in.err
		}
		m, err := in.src.Read(dst[n:])
		if m < 0 || m > len(dst)-n {
			in.err = errBadReadCount
			continue
		}
		n += m
		in.off += int64(m)
		switch {
		case err != nil:
			in.err = err
		case m == 0:
			if empty++; empty > maxEmptyReads {
				in.err = io.ErrNoProgress
			}
		default:
			empty = 0
		}
	}
	return n, nil
}

// Read implements io.Reader so that a decompressor can read the raw
// stream through the same buffer that sniffed its magic bytes.
func (in *input) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if in.r == in.w {
		if _, err := in.fill(1); err != nil {
			return 0, err
		}
	}
	n := copy(p, in.buf[in.r:in.w])
	in.consume(n)
	return n, nil
}

// ReadByte implements io.ByteReader, which spares the gzip reader a
// bufio.Reader of its own.
func (in *input) ReadByte() (byte, error) {
	if in.r == in.w {
		if _, err := in.fill(1); err != nil {
			return 0, err
		}
	}
	c := in.buf[in.r]
	in.consume(1)
	return c, nil
}

// countingReader counts the bytes read from the caller's reader and
// remembers its last error, which tells source errors apart from
// decompression errors.
type countingReader struct {
	r   io.Reader
	n   int64
	err error
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	if n > 0 && n <= len(p) {
		c.n += int64(n)
	}
	if err != nil {
		c.err = err
	}
	return n, err
}

// byteOrder selects the byte order of a pcap file or pcapng section:
// false is little-endian, true big-endian. Unlike binary.ByteOrder its
// methods inline.
type byteOrder bool

const (
	littleEndian byteOrder = false
	bigEndian    byteOrder = true
)

func (o byteOrder) u16(b []byte) uint16 {
	if o {
		return binary.BigEndian.Uint16(b)
	}
	return binary.LittleEndian.Uint16(b)
}

func (o byteOrder) u32(b []byte) uint32 {
	if o {
		return binary.BigEndian.Uint32(b)
	}
	return binary.LittleEndian.Uint32(b)
}

func (o byteOrder) u64(b []byte) uint64 {
	if o {
		return binary.BigEndian.Uint64(b)
	}
	return binary.LittleEndian.Uint64(b)
}

func (o byteOrder) String() string {
	if o {
		return "big"
	}
	return "little"
}
