package analyze

import (
	"os"
	"strings"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/batch"
	"github.com/pcapsleuth/pcapsleuth/cmd/cli"
	"github.com/pcapsleuth/pcapsleuth/cmd/internal/interrupt"
)

// TestRunInterruptedBatch checks that a batch interrupted before its
// analyses start writes the index with every capture marked as not
// analyzed and exits with the interrupt's status.
func TestRunInterruptedBatch(t *testing.T) {
	o, f, dir, _, errb := newOpts(t)
	o.Inputs = []string{dir + "/in"}
	o.Output = dir + "/out/"
	r := &runner{opts: o}
	r.stops = interrupt.New("report", r.say, func(int) { t.Error("quit") })
	r.stops.Deliver(os.Interrupt)
	ex, err := batch.Expand(o.Inputs)
	if err != nil {
		t.Fatal(err)
	}
	err = r.stops.Cut(r.dispatch(planJobs(o, ex), ex, true))
	ee, ok := err.(*cli.ExitError)
	if !ok || ee.Code != 130 {
		t.Fatalf("err %v, want exit 130", err)
	}
	if len(f.calls) != 0 {
		t.Errorf("analyzed %v after the interrupt", f.calls)
	}
	ix := readIndex(t, dir+"/out/index.json")
	if len(ix.Entries) < 4 {
		t.Fatalf("%d index entries, want the 4 captures of the folder", len(ix.Entries))
	}
	for _, e := range ix.Entries {
		if !strings.Contains(e.Error, "interrupted") {
			t.Errorf("%s: %q, want it marked as not analyzed", e.Name, e.Error)
		}
	}
	if ix.ExitStatus != 130 {
		t.Errorf("index exit_status %d, want the process's 130", ix.ExitStatus)
	}
	if !strings.Contains(errb.String(), "4 captures: 4 not analyzed (interrupted); exit status 130") {
		t.Errorf("stderr lacks the headline:\n%s", errb)
	}
	if !strings.Contains(errb.String(), "exit status 130") {
		t.Errorf("stderr lacks the final note:\n%s", errb)
	}
}
