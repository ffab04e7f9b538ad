package decode

import (
	"errors"
	"fmt"
	"io"
	"math"
	"math/bits"
	"os"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// DefaultMaxRecord is the default ReaderOptions.MaxRecord: 64 MiB.
const DefaultMaxRecord = 64 << 20

// zstdMaxWindow bounds the zstd window, which the decoder allocates in
// full as soon as a frame header announces it. 32 MiB covers every zstd
// level up to --ultra -20; files made with --long or -21/-22 are refused
// with ErrUnsupported rather than letting a 13-byte input cost 128 MiB.
const zstdMaxWindow = 32 << 20

// nsPerSec is the number of nanoseconds in a second.
const nsPerSec = 1_000_000_000

// errClosed is returned by Next after Close.
var errClosed = errors.New("read from closed reader")

// ReaderOptions tunes a Reader.
type ReaderOptions struct {
	// MaxRecord caps the length of one pcap record or pcapng block. A
	// longer one makes Next fail with a ReadError wrapping ErrCorrupt
	// before anything is allocated for it. 0 means DefaultMaxRecord.
	MaxRecord int
}

// Frame is one packet record of a capture.
type Frame struct {
	// Number is the 1-based frame number. It counts every packet record
	// (pcap records; pcapng EPB, SPB and obsolete PB), as Wireshark's
	// frame.number does, but not pcapng custom blocks.
	Number int64
	// TS is the capture time in Unix nanoseconds, after if_tsresol and
	// if_tsoffset. Values beyond the int64 range saturate. pcapng Simple
	// Packet Blocks carry no time and get 0.
	TS int64
	// WireLen is the original length of the packet.
	WireLen int
	// Data holds the captured bytes. It aliases the Reader's buffer and is
	// valid until the next call to Next; copy it to keep it.
	Data []byte
	// LinkType is the link type of the interface the packet came from.
	LinkType LinkType
	// Iface indexes Info.Interfaces, or is -1 when a pcapng block names an
	// interface its section does not have (LinkType is then
	// LinkTypeUnknown).
	Iface int
}

// ifaceState is the per-interface data Next needs, kept apart from the
// exported Interface so the hot path touches a small struct.
type ifaceState struct {
	link     LinkType
	snap     uint32
	units    uint64 // timestamp units per second, never 0
	offsetNs int64  // if_tsoffset in nanoseconds, saturated
}

// Reader reads the frames of a pcap or pcapng capture, optionally gzip
// or zstd compressed, from a stream. It never seeks.
//
// A Reader is not safe for concurrent use.
type Reader struct {
	opts   ReaderOptions
	cr     countingReader // counts input bytes, under everything else
	in     *input         // the (decompressed) capture stream
	closer io.Closer      // file opened by Open
	gz     *gzip.Reader
	zs     *zstd.Decoder

	info   Info
	err    error // sticky: io.EOF, a *ReadError, or errClosed
	frames int64
	rec    []byte // record buffer for records larger than the input buffer
	order  byteOrder

	// pcap
	recHdr  int   // record header length: 16, or 24 for modified pcap
	tsScale int64 // nanoseconds per fractional timestamp unit
	link    LinkType

	// pcapng
	ifs          []ifaceState // parallel to info.Interfaces
	sectionBase  int          // index of the current section's first interface
	sectionCount int          // interfaces in the current section
}

// Open opens a capture file; "-" means standard input. Reader.Close
// closes the file (but not standard input).
func Open(path string, opts ReaderOptions) (*Reader, error) {
	if path == "-" {
		return NewReader(os.Stdin, opts)
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("open capture: %w", err)
	}
	r, err := NewReader(f, opts)
	if err != nil {
		f.Close()
		return nil, err
	}
	r.closer = f
	return r, nil
}

// NewReader detects the compression (gzip, zstd or none) and then the
// capture format (pcap or pcapng) of src from its first bytes, reads the
// file header and returns a Reader positioned before the first frame.
// Input that is not a capture gives an error wrapping ErrNotCapture; a
// damaged header gives a *ReadError.
func NewReader(src io.Reader, opts ReaderOptions) (*Reader, error) {
	if opts.MaxRecord <= 0 {
		opts.MaxRecord = DefaultMaxRecord
	}
	r := &Reader{opts: opts, cr: countingReader{r: src}}
	raw := newInput(&r.cr)
	r.in = raw
	magic, err := raw.peek(4)
	if err != nil && len(magic) == 0 && errors.Is(err, io.EOF) {
		return nil, r.headerErr(err, "input of 0 bytes: %w (%w)", ErrNotCapture, ErrEmpty)
	}
	if err != nil && len(magic) < 4 {
		return nil, r.headerErr(err, "input of %d bytes is too short: %w", len(magic), ErrNotCapture)
	}
	switch {
	case magic[0] == 0x1f && magic[1] == 0x8b:
		r.info.Compression = CompressionGzip
		gz, err := gzip.NewReader(raw)
		if err != nil {
			return nil, r.fail(0, fmt.Errorf("gzip header: %w", err))
		}
		r.gz = gz
		r.in = newInput(gz)
	case magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		r.info.Compression = CompressionZstd
		zs, err := zstd.NewReader(raw,
			zstd.WithDecoderConcurrency(1),
			zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow),
			zstd.WithDecoderMaxMemory(zstdMaxWindow)) // bounds single-segment windows too
		if err != nil {
			return nil, fmt.Errorf("start zstd decoder: %w", err)
		}
		r.zs = zs
		r.in = newInput(zs)
	}
	if r.in != raw {
		magic, err = r.in.peek(4)
		if err != nil && len(magic) < 4 {
			r.Close()
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return nil, r.headerErr(err, "%s stream of %d bytes is too short: %w", r.info.Compression, len(magic), ErrNotCapture)
			}
			return nil, r.fail(0, err)
		}
	}
	if err := r.readFileHeader(magic); err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// readFileHeader dispatches on the capture magic.
func (r *Reader) readFileHeader(magic []byte) error {
	if m := littleEndian.u32(magic); m == blockSHB {
		r.info.Format = FormatPcapng
		return r.readSHB()
	}
	for _, o := range [...]byteOrder{littleEndian, bigEndian} {
		switch o.u32(magic) {
		case pcapMagicMicro, pcapMagicNano, pcapMagicModified:
			r.order = o
			return r.readPcapHeader()
		}
	}
	return r.headerErr(nil, "magic %#x: %w", magic[:4], ErrNotCapture)
}

// headerErr builds the error for a failure before the first frame.
func (r *Reader) headerErr(err error, format string, args ...any) error {
	if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
		return r.fail(0, err)
	}
	return &ReadError{Offset: 0, Err: fmt.Errorf(format, args...)}
}

// Info describes the capture. The pcapng sections and interfaces grow as
// Next reads on; the returned value is live and owned by the Reader.
func (r *Reader) Info() *Info { return &r.info }

// BytesRead returns the number of bytes consumed so far from the
// underlying (possibly compressed) input, for progress reporting. Reads
// are buffered, so it runs ahead of the frames delivered.
func (r *Reader) BytesRead() int64 { return r.cr.n }

// Close releases the decompressor and closes the file opened by Open.
// Next returns an error after Close.
func (r *Reader) Close() error {
	if r.err == nil || r.err == io.EOF {
		r.err = errClosed
	}
	if r.gz != nil {
		r.gz.Close()
		r.gz = nil
	}
	if r.zs != nil {
		r.zs.Close()
		r.zs = nil
	}
	if r.closer != nil {
		c := r.closer
		r.closer = nil
		if err := c.Close(); err != nil {
			return fmt.Errorf("close capture: %w", err)
		}
	}
	return nil
}

// Next reads the next frame into f. It returns io.EOF at a clean end of
// the capture. A capture that is cut off, damaged or uses an unsupported
// feature gives a *ReadError after all complete frames before the fault;
// from then on Next keeps returning that error.
func (r *Reader) Next(f *Frame) error {
	if r.err != nil {
		return r.err
	}
	var err error
	if r.info.Format == FormatPcap {
		err = r.nextPcap(f)
	} else {
		err = r.nextPcapng(f)
	}
	if err != nil {
		r.err = err
	}
	return err
}

// fail returns a *ReadError at offset off for err, classifying stream
// errors: a stream ending early is ErrTruncated and a decompressor
// failure is ErrCorrupt. Other source errors are kept as they are.
func (r *Reader) fail(off int64, err error) error {
	return &ReadError{Offset: off, Frame: r.frames, Err: r.classify(err)}
}

func (r *Reader) classify(err error) error {
	switch {
	case err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF):
		return fmt.Errorf("unexpected end of input: %w", ErrTruncated)
	case errors.Is(err, ErrTruncated) || errors.Is(err, ErrCorrupt) ||
		errors.Is(err, ErrUnsupported) || errors.Is(err, ErrNotCapture):
		return err
	case errors.Is(err, zstd.ErrWindowSizeExceeded) || errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return fmt.Errorf("zstd window above %d MiB (compressed with --long?): %w", zstdMaxWindow>>20, ErrUnsupported)
	case r.info.Compression != CompressionNone && (r.cr.err == nil || r.cr.err == io.EOF):
		return fmt.Errorf("%s stream: %w: %w", r.info.Compression, err, ErrCorrupt)
	}
	return fmt.Errorf("read capture: %w", err)
}

// short builds the error for a record or block of n bytes that the
// stream could not deliver in full.
func (r *Reader) short(off int64, what string, n uint32, err error) error {
	if err == io.EOF || errors.Is(err, io.ErrUnexpectedEOF) {
		return &ReadError{Offset: off, Frame: r.frames,
			Err: fmt.Errorf("%s length %d exceeds file: %w", what, n, ErrTruncated)}
	}
	return r.fail(off, err)
}

// take consumes the next n bytes and returns them. Up to bufSize they
// alias the input buffer; longer ones are read into the record buffer.
func (r *Reader) take(n int) ([]byte, error) {
	if n <= len(r.in.buf) {
		b, err := r.in.peek(n)
		if err != nil {
			return nil, err
		}
		r.in.consume(n)
		return b[:n:n], nil
	}
	return r.readLarge(n)
}

// readLarge reads n bytes into the record buffer. The buffer grows by
// doubling only as data actually arrives, so a record header claiming a
// huge length in a short file costs at most twice the bytes present.
func (r *Reader) readLarge(n int) ([]byte, error) {
	buf := r.rec[:0]
	for len(buf) < n {
		if len(buf) == cap(buf) {
			c := max(2*cap(buf), bufSize)
			if c > n {
				c = n
			}
			nb := make([]byte, len(buf), c)
			copy(nb, buf)
			buf = nb
			r.rec = nb
		}
		end := min(cap(buf), n)
		k, err := r.in.readFull(buf[len(buf):end])
		buf = buf[:len(buf)+k]
		if err != nil {
			return nil, err
		}
	}
	return buf[:n:n], nil
}

// nanos converts a timestamp in units of st.units per second to Unix
// nanoseconds, saturating instead of overflowing.
func (st *ifaceState) nanos(ts uint64) int64 {
	var ns int64
	switch {
	case st.units == 1e6 && ts <= math.MaxInt64/1000:
		ns = int64(ts) * 1000
	case st.units == 1e9 && ts <= math.MaxInt64:
		ns = int64(ts)
	default:
		ns = scaleToNanos(ts, st.units)
	}
	if st.offsetNs != 0 {
		ns = addSat(ns, st.offsetNs)
	}
	return ns
}

// scaleToNanos computes ts*1e9/units without overflow, saturating at
// math.MaxInt64. units must not be 0.
func scaleToNanos(ts, units uint64) int64 {
	sec, frac := ts/units, ts%units
	if sec > math.MaxInt64/nsPerSec {
		return math.MaxInt64
	}
	// frac < units, so frac*1e9/units < 1e9 and the 128-bit quotient fits.
	hi, lo := bits.Mul64(frac, nsPerSec)
	q, _ := bits.Div64(hi, lo, units)
	return addSat(int64(sec)*nsPerSec, int64(q))
}

// addSat returns a+b, saturated to the int64 range.
func addSat(a, b int64) int64 {
	s := a + b
	switch {
	case a > 0 && b > 0 && s < 0:
		return math.MaxInt64
	case a < 0 && b < 0 && s >= 0:
		return math.MinInt64
	}
	return s
}

// mulSat returns a*b for b > 0, saturated to the int64 range.
func mulSat(a, b int64) int64 {
	switch {
	case a > math.MaxInt64/b:
		return math.MaxInt64
	case a < math.MinInt64/b:
		return math.MinInt64
	}
	return a * b
}
