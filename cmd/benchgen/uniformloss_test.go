package main

import (
	"path/filepath"
	"testing"

	"github.com/pcapsleuth/pcapsleuth/cmd/analysis"
	"github.com/pcapsleuth/pcapsleuth/detectors"
)

// TestUniformLossIsNoStorm: the mixed traffic loses about 1 % of its
// segments uniformly at random on every host pair. That is no storm: among
// the host pairs retransmission-storm reports (as info, enough losses to be
// worth a line), a warning may come by chance now and then, not for a fifth
// of them as before the burst test of the worst window.
func TestUniformLossIsNoStorm(t *testing.T) {
	path := filepath.Join(t.TempDir(), "mixed.pcap")
	if err := gen([]string{"-out", path, "-size", "100M", "-snaplen", "96", "-seed", "2"}); err != nil {
		t.Fatal(err)
	}
	res, err := analysis.Run(analysis.Options{Paths: []string{path}, Detectors: []string{"retransmission-storm"},
		Config: detectors.DefaultConfig()})
	if err != nil {
		t.Fatal(err)
	}
	defer res.Close()
	pairs, warnings := 0, 0
	for _, f := range res.Report.Findings {
		if f.Kind != detectors.KindRetransmissionStorm {
			continue
		}
		pairs++
		if f.Severity >= detectors.Warning {
			warnings++
			t.Logf("%s: %s", f.Severity, f.Title)
		}
	}
	if pairs < 20 {
		t.Fatalf("only %d host pairs with losses reported: the capture does not test the detector", pairs)
	}
	if warnings*20 > pairs {
		t.Errorf("%d warnings among %d host pairs with uniform 1 %% loss (at most 5 %% expected)", warnings, pairs)
	}
}
