package analysis

import (
	"bufio"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/decode"
)

// sharedDir finds ../shared beside the repository root, or "".
func sharedDir(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for ; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			s := filepath.Join(filepath.Dir(dir), "shared")
			if _, err := os.Stat(s); err == nil {
				return s
			}
			return ""
		}
	}
	return ""
}

// readTSV reads a tab-separated file with a header into maps.
func readTSV(t *testing.T, path string) []map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	var head []string
	var rows []map[string]string
	for sc.Scan() {
		cols := strings.Split(sc.Text(), "\t")
		if head == nil {
			head = cols
			continue
		}
		row := map[string]string{}
		for i, h := range head {
			if i < len(cols) {
				row[h] = cols[i]
			}
		}
		rows = append(rows, row)
	}
	return rows
}

// streamExplained lists the corpus files whose TCP connection count differs
// from tshark's distinct tcp.stream values, with the reason
// (docs/corpus.md explains each in full).
var streamExplained = map[string]string{}

// TestCorpusConnections runs the whole pipeline over every corpus capture:
// no panic, a clean error or a (partial) result, and as many TCP connections
// as tshark's distinct tcp.stream values where tshark read the file.
func TestCorpusConnections(t *testing.T) {
	shared := sharedDir(t)
	if shared == "" {
		t.Skip("SKIP: ../shared/corpus not found beside the repository; the corpus test runs in CI")
	}
	corpus := filepath.Join(shared, "corpus")
	oracle := map[string]map[string]string{}
	for _, row := range readTSV(t, filepath.Join(corpus, "ORACLE.tsv")) {
		oracle[row["file"]] = row
	}
	manifest := readTSV(t, filepath.Join(corpus, "MANIFEST.tsv"))
	if len(manifest) == 0 {
		t.Fatal("empty MANIFEST.tsv")
	}
	for _, m := range manifest {
		name := m["file"]
		t.Run(name, func(t *testing.T) {
			res, err := Run(Options{Paths: []string{filepath.Join(corpus, name)}, TempDir: t.TempDir()})
			o := oracle[name]
			if err != nil {
				var ie *InputError
				if !errors.As(err, &ie) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				if o["tshark_rc"] == "0" {
					t.Errorf("tshark reads this file, we reject it: %v", err)
				}
				if !errors.Is(err, decode.ErrNotCapture) && !errors.Is(err, decode.ErrUnsupported) && !errors.Is(err, decode.ErrCorrupt) && !errors.Is(err, decode.ErrTruncated) {
					t.Logf("clean error: %v", err)
				}
				return
			}
			defer res.Close()
			rep := res.Report
			if o["read_fully"] == "no" && len(rep.Captures[0].Errors) == 0 && o["tshark_rc"] != "0" {
				t.Logf("tshark stopped early (%s) but we read the whole file", o["tshark_error"])
			}
			if want, err := strconv.Atoi(m["capinfos_packets"]); err == nil {
				if got := rep.Captures[0].Packets; got != int64(want) {
					t.Errorf("packets = %d, capinfos says %d", got, want)
				}
			}
			want, err := strconv.Atoi(o["tcp_streams"])
			if err != nil {
				return
			}
			got := rep.Conns.Len()
			if got != want {
				if why, ok := streamExplained[name]; ok {
					t.Logf("connections = %d, tshark %d: explained: %s", got, want, why)
					return
				}
				t.Errorf("connections = %d, tshark's tcp.stream count is %d", got, want)
			}
		})
	}
}
