package analysis

import (
	"os"
	"testing"
)

// BenchmarkRunFile runs the whole analysis (every detector, connections
// spilled) over the capture named by $PCAPSLEUTH_BENCH_FILE, e.g. one made
// by `go run ./cmd/benchgen gen`. Use with -cpuprofile / -memprofile.
func BenchmarkRunFile(b *testing.B) {
	path := os.Getenv("PCAPSLEUTH_BENCH_FILE")
	if path == "" {
		b.Skip("SKIP: set PCAPSLEUTH_BENCH_FILE to a capture (see bench/run.sh)")
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		res, err := Run(Options{Paths: []string{path}, TempDir: b.TempDir()})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(res.Report.Captures[0].Packets)/b.Elapsed().Seconds()*float64(i+1), "packets/s")
		res.Close()
	}
}
