package decode

import (
	"errors"
	"io"
	"os"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// The decompression benchmarks measure, on a real compressed capture, what
// decompressing costs by itself (klauspost/compress with the options
// NewReader uses, and with others for comparison) against reading the same
// stream through a Reader (decompression plus record parsing, no packet
// decoding). Each op reads the whole file; MB/s is of uncompressed bytes.
//
//	zstd -k big.pcap; gzip -k big.pcap
//	PCAPSLEUTH_BENCH_ZSTD=big.pcap.zst PCAPSLEUTH_BENCH_GZIP=big.pcap.gz \
//	  go test -run '^$' -bench Decompress -benchtime 3x ./decode/
//
// Without the variables the benchmarks skip, saying so.

// benchCompressed opens the file named by env, or skips b.
func benchCompressed(b *testing.B, env string) *os.File {
	b.Helper()
	path := os.Getenv(env)
	if path == "" {
		b.Skipf("%s is not set: no compressed capture to measure", env)
	}
	f, err := os.Open(path)
	if err != nil {
		b.Fatalf("open %s: %v", path, err)
	}
	b.Cleanup(func() { f.Close() })
	return f
}

// rewind seeks f back to its start.
func rewind(b *testing.B, f *os.File) {
	b.Helper()
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		b.Fatalf("rewind %s: %v", f.Name(), err)
	}
}

// drain reads r to the end and returns the number of bytes.
func drain(b *testing.B, r io.Reader) int64 {
	b.Helper()
	n, err := io.Copy(io.Discard, r)
	if err != nil {
		b.Fatalf("decompress: %v", err)
	}
	return n
}

// readFrames reads every frame of f through a Reader and returns the
// number of uncompressed bytes the Reader consumed.
func readFrames(tb testing.TB, f *os.File) int64 {
	tb.Helper()
	r, err := NewReader(f, ReaderOptions{})
	if err != nil {
		tb.Fatalf("open %s: %v", f.Name(), err)
	}
	defer r.Close()
	var fr Frame
	for {
		if err := r.Next(&fr); err != nil {
			if !errors.Is(err, io.EOF) {
				tb.Fatalf("read %s: %v", f.Name(), err)
			}
			break
		}
	}
	return r.in.off
}

// runDecompress runs one sub-benchmark: each op rewinds f and runs read.
func runDecompress(b *testing.B, name string, f *os.File, read func() int64) {
	b.Run(name, func(b *testing.B) {
		rewind(b, f)
		size := read() // warm the page cache, and learn the size
		b.SetBytes(size)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			rewind(b, f)
			if n := read(); n != size {
				b.Fatalf("read %d bytes, then %d", size, n)
			}
		}
	})
}

// BenchmarkDecompressZstd decompresses PCAPSLEUTH_BENCH_ZSTD with the
// decoder options of NewReader (one goroutine, low memory, a 32 MiB window
// bound), with klauspost's defaults (asynchronous block decoding on
// GOMAXPROCS goroutines), and reads it through a Reader.
func BenchmarkDecompressZstd(b *testing.B) {
	f := benchCompressed(b, "PCAPSLEUTH_BENCH_ZSTD")
	for _, o := range []struct {
		name string
		opts []zstd.DOption
	}{
		{"reader-options", []zstd.DOption{zstd.WithDecoderConcurrency(1), zstd.WithDecoderLowmem(true),
			zstd.WithDecoderMaxWindow(zstdMaxWindow), zstd.WithDecoderMaxMemory(zstdMaxWindow)}},
		{"concurrency-1", []zstd.DOption{zstd.WithDecoderConcurrency(1)}},
		{"defaults", nil},
	} {
		runDecompress(b, o.name, f, func() int64 {
			d, err := zstd.NewReader(f, o.opts...)
			if err != nil {
				b.Fatalf("zstd: %v", err)
			}
			defer d.Close()
			return drain(b, d)
		})
	}
	runDecompress(b, "decode.Reader", f, func() int64 { return readFrames(b, f) })
}

// BenchmarkDecompressGzip decompresses PCAPSLEUTH_BENCH_GZIP with
// klauspost's gzip reader (the one NewReader uses; gzip has no options
// worth setting: it decodes on the caller's goroutine), and reads it
// through a Reader.
func BenchmarkDecompressGzip(b *testing.B) {
	f := benchCompressed(b, "PCAPSLEUTH_BENCH_GZIP")
	runDecompress(b, "klauspost-gzip", f, func() int64 {
		z, err := gzip.NewReader(f)
		if err != nil {
			b.Fatalf("gzip: %v", err)
		}
		defer z.Close()
		return drain(b, z)
	})
	runDecompress(b, "decode.Reader", f, func() int64 { return readFrames(b, f) })
}

// TestDecompressBenchReadFrames checks that readFrames counts the
// uncompressed bytes, so that the benchmarks' MB/s compare like with like.
func TestDecompressBenchReadFrames(t *testing.T) {
	for _, tc := range []struct {
		name string
		open func(io.Reader) (io.Reader, error)
	}{
		{"fmt-zstd.pcap.zst", func(r io.Reader) (io.Reader, error) { return zstd.NewReader(r) }},
		{"fmt-gzip.pcap.gz", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
	} {
		f, err := os.Open("../testdata/captures/" + tc.name)
		if err != nil {
			t.Fatal(err)
		}
		d, err := tc.open(f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		want, err := io.Copy(io.Discard, d)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			t.Fatal(err)
		}
		if got := readFrames(t, f); got != want {
			t.Errorf("%s: readFrames counted %d bytes, the stream has %d", tc.name, got, want)
		}
		f.Close()
	}
}
