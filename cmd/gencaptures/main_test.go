package main

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/gopacket/pcapgo"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"

	"github.com/pcapsleuth/pcapsleuth/decode/capturetest"
)

const (
	scenDir     = "../../testdata/scenarios"
	capturesDir = "../../testdata/captures"
	maxSize     = 20 << 10
)

func mustGenerate(t *testing.T) []file {
	t.Helper()
	files, err := generate(scenDir)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestDeterministic(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	if err := writeAll(a, mustGenerate(t)); err != nil {
		t.Fatal(err)
	}
	if err := writeAll(b, mustGenerate(t)); err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadDir(a)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range names {
		x, _ := os.ReadFile(filepath.Join(a, e.Name()))
		y, err := os.ReadFile(filepath.Join(b, e.Name()))
		if err != nil || !bytes.Equal(x, y) {
			t.Errorf("%s differs between two runs", e.Name())
		}
	}
}

// TestUpToDate fails when testdata/captures is not what the generator and
// the scenario files produce now.
func TestUpToDate(t *testing.T) {
	if _, err := os.Stat(filepath.Join(capturesDir, manifest)); err != nil {
		t.Skip("no generated captures in", capturesDir)
	}
	for _, f := range mustGenerate(t) {
		got, err := os.ReadFile(filepath.Join(capturesDir, f.Name))
		if err != nil || !bytes.Equal(got, f.Data) {
			t.Errorf("testdata/captures/%s is out of date: run go generate ./cmd/gencaptures", f.Name)
		}
	}
}

// TestRemovesStale checks that a file listed in an old manifest but no
// longer generated is removed, and that other files are kept.
func TestRemovesStale(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, manifest), []byte("# header\nold.pcap\t1\tgencaptures\tgone\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "old.pcap"), []byte("x"), 0o644)
	os.WriteFile(filepath.Join(dir, "real-keep.pcap"), []byte("x"), 0o644)
	if err := writeAll(dir, []file{{Name: "new.pcap", Data: []byte("y")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "old.pcap")); !os.IsNotExist(err) {
		t.Error("stale old.pcap kept")
	}
	if _, err := os.Stat(filepath.Join(dir, "real-keep.pcap")); err != nil {
		t.Error("a file the generator does not own was removed")
	}
}

func decompress(t *testing.T, name string, b []byte) []byte {
	t.Helper()
	var r io.Reader
	switch {
	case strings.HasSuffix(name, ".gz"):
		zr, err := gzip.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		r = zr
	case strings.HasSuffix(name, ".zst"):
		zr, err := zstd.NewReader(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		defer zr.Close()
		r = zr
	default:
		return b
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return out
}

// countFrames reads a capture with pcapgo and returns its frame count and
// the error that ended the read (nil at a clean end of file).
func countFrames(b []byte) (int, error) {
	n := 0
	if bytes.HasPrefix(b, []byte{0x0a, 0x0d, 0x0d, 0x0a}) {
		r, err := pcapgo.NewNgReader(bytes.NewReader(b), pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return 0, err
		}
		for {
			if _, _, err := r.ReadPacketData(); err != nil {
				if err == io.EOF {
					err = nil
				}
				return n, err
			}
			n++
		}
	}
	r, err := pcapgo.NewReader(bytes.NewReader(b))
	if err != nil {
		return 0, err
	}
	for {
		if _, _, err := r.ReadPacketData(); err != nil {
			if err == io.EOF {
				err = nil
			}
			return n, err
		}
		n++
	}
}

func TestCaptures(t *testing.T) {
	files := mustGenerate(t)
	damaged := map[string]bool{"cutoff.pcap": true, "cutoff.pcapng": true, "cutoff-header.pcap": true,
		"garbage.pcap": true, "zero-bytes.pcap": true, "text.pcap": true}
	seen := map[string]bool{}
	for _, f := range files {
		if seen[f.Name] {
			t.Errorf("%s generated twice", f.Name)
		}
		seen[f.Name] = true
		if len(f.Data) >= maxSize {
			t.Errorf("%s is %d bytes, want < %d", f.Name, len(f.Data), maxSize)
		}
		if f.Desc == "" {
			t.Errorf("%s has no description", f.Name)
		}
		data := decompress(t, f.Name, f.Data)
		n, err := countFrames(data)
		switch {
		case strings.HasPrefix(f.Name, "cutoff"):
			// pcapgo reports the cut as io.ErrUnexpectedEOF (pcap) or a plain
			// end of file (pcapng); either way only the whole frames come out.
			want := map[string]int{"cutoff.pcap": 9, "cutoff.pcapng": 9, "cutoff-header.pcap": 3}[f.Name]
			if n != want || (err != nil && !errors.Is(err, io.ErrUnexpectedEOF)) {
				t.Errorf("%s: %d frames (error %v), want %d whole frames", f.Name, n, err, want)
			}
		case damaged[f.Name]:
			if err == nil {
				t.Errorf("%s: read without error", f.Name)
			}
		case strings.HasPrefix(f.Name, "empty"):
			if err != nil || n != 0 {
				t.Errorf("%s: %d frames, error %v", f.Name, n, err)
			}
		default:
			if err != nil || n == 0 {
				t.Errorf("%s: %d frames, error %v", f.Name, n, err)
			}
		}
	}
}

func TestScenarioFiles(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(scenDir, "*.txtar"))
	if err != nil || len(paths) == 0 {
		t.Fatalf("no scenarios: %v", err)
	}
	for _, p := range paths {
		raw, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		a := capturetest.ParseTxtar(raw)
		if strings.TrimSpace(a.Comment) == "" {
			t.Errorf("%s: no description before -- packets --", p)
		}
		if _, ok := a.File("want"); !ok {
			t.Errorf("%s: no want section", p)
		}
		packets, _ := a.File("packets")
		if _, err := capturetest.Parse(packets); err != nil {
			t.Errorf("%s: %v", p, err)
		}
	}
}

// TestRecordedCaptures checks the captures record.sh made: present, small,
// readable.
func TestRecordedCaptures(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join(capturesDir, "real-*.pcap"))
	if len(paths) == 0 {
		t.Skip("no recorded captures")
	}
	paths = append(paths, filepath.Join(capturesDir, "demo.pcap"))
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Error(err)
			continue
		}
		limit := 50 << 10
		if filepath.Base(p) == "demo.pcap" {
			limit = 100 << 10
		}
		if len(b) >= limit {
			t.Errorf("%s is %d bytes, want < %d", p, len(b), limit)
		}
		if n, err := countFrames(b); err != nil || n == 0 {
			t.Errorf("%s: %d frames, error %v", p, n, err)
		}
	}
}
