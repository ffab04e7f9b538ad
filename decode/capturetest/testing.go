package capturetest

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
)

// Build parses src and returns the capture file bytes; it fails the test on
// any error.
func Build(t testing.TB, src string) []byte {
	t.Helper()
	s, err := Parse(src)
	if err != nil {
		t.Fatalf("capturetest: %v", err)
	}
	b, err := s.Bytes()
	if err != nil {
		t.Fatalf("capturetest: %v", err)
	}
	return b
}

// WriteFile builds src into dir/name and returns the path. A name ending in
// .gz or .zst is compressed with gzip or zstd; a script without a format line
// whose name ends in .pcapng (before the compression suffix) is written as
// pcapng. It fails the test on any error.
func WriteFile(t testing.TB, dir, name, src string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	b, err := BuildFile(name, src)
	if err != nil {
		t.Fatalf("capturetest: %s: %v", name, err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatalf("capturetest: %v", err)
	}
	return path
}

// BuildFile returns the bytes WriteFile would write for a file called name:
// the capture of src, compressed according to the name's suffix. The output
// is deterministic.
func BuildFile(name, src string) ([]byte, error) {
	s, err := Parse(src)
	if err != nil {
		return nil, err
	}
	base := strings.TrimSuffix(strings.TrimSuffix(name, ".gz"), ".zst")
	if !s.formatSet && strings.HasSuffix(base, ".pcapng") {
		s.Format = "pcapng"
	}
	b, err := s.Bytes()
	if err != nil {
		return nil, err
	}
	return Compress(name, b)
}

// Compress compresses b with gzip when name ends in .gz and with zstd when
// it ends in .zst; other names get b back. The output is deterministic (no
// gzip name or time, one zstd encoder goroutine).
func Compress(name string, b []byte) ([]byte, error) {
	var out bytes.Buffer
	switch {
	case strings.HasSuffix(name, ".gz"):
		zw, err := gzip.NewWriterLevel(&out, gzip.BestCompression)
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(b); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("gzip: %w", err)
		}
	case strings.HasSuffix(name, ".zst"):
		zw, err := zstd.NewWriter(&out, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedBestCompression))
		if err != nil {
			return nil, err
		}
		if _, err := zw.Write(b); err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
		if err := zw.Close(); err != nil {
			return nil, fmt.Errorf("zstd: %w", err)
		}
	default:
		return b, nil
	}
	return out.Bytes(), nil
}
