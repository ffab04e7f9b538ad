package man

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
)

func TestRun(t *testing.T) {
	root := &cobra.Command{Use: "pcapsleuth", Short: "root", Version: "1.2.3"}
	root.AddCommand(&cobra.Command{Use: "analyze CAPTURE", Short: "Analyze", Long: "Analyze reads captures.", Run: func(*cobra.Command, []string) {}})
	dir := t.TempDir()
	var errb bytes.Buffer
	opts := &Options{IO: cli.Streams{Err: &errb}, Root: root, Dir: dir, Date: time.Date(2024, 3, 1, 0, 0, 0, 0, time.UTC)}
	if err := Run(opts); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "pcapsleuth-analyze.1"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`.TH "PCAPSLEUTH" "1" "Mar 2024" "pcapsleuth 1.2.3"`, "Analyze reads captures."} {
		if !strings.Contains(string(b), want) {
			t.Errorf("page lacks %q:\n%s", want, b)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "pcapsleuth.1")); err != nil {
		t.Error(err)
	}
}
