package render

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// TestRealPipeline renders every capture of the repository's testdata
// (generated scenarios, format edge cases and recordings from real Linux
// stacks) and of shared/scenarios (below 1 MB) through the real decoder, tracker and detectors, and checks that
// each HTML report stays inert and self-contained and the Markdown and text
// writers cope, whatever the detectors wrote.
func TestRealPipeline(t *testing.T) {
	paths, _ := filepath.Glob(filepath.Join("..", "testdata", "captures", "*"))
	// The shared scenarios recorded on real stacks, when shared/ is beside
	// the repository (as on the developers' machines and in CI).
	shared, _ := filepath.Glob(filepath.Join("..", "..", "shared", "scenarios", "*.pcap*"))
	paths = append(paths, shared...)
	var n int
	start := time.Now()
	for _, path := range paths {
		name := filepath.Base(path)
		if strings.HasSuffix(name, ".tsv") || strings.HasSuffix(name, ".md") {
			continue
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > 1<<20 {
			continue // keep the test quick
		}
		t.Run(name, func(t *testing.T) {
			if _, err := newReaderOK(b); err != nil {
				t.Skipf("not a readable capture: %v", err)
			}
			a := analyzeBytes(t, name, b, true)
			r := a.report(a.findings)
			var h, md, txt bytes.Buffer
			if err := WriteHTML(&h, r); err != nil {
				t.Fatal(err)
			}
			checkInert(t, h.Bytes())
			if err := WriteMarkdown(&md, r); err != nil {
				t.Fatal(err)
			}
			if err := WriteText(&txt, r); err != nil {
				t.Fatal(err)
			}
			n++
		})
	}
	if n == 0 {
		t.Skip("no captures in ../testdata/captures")
	}
	t.Logf("%d captures rendered in %v", n, time.Since(start).Round(time.Millisecond))
}

// newReaderOK reports whether b opens as a capture.
func newReaderOK(b []byte) (bool, error) {
	rd, err := decode.NewReader(bytes.NewReader(b), decode.ReaderOptions{})
	if err != nil {
		return false, err
	}
	rd.Close()
	return true, nil
}
