// Package memory sets the Go runtime's memory policy for the analyses a
// command runs: a soft memory limit that follows the live heap
// (--memory-limit, limit.go) and, on Linux, transparent huge pages for the
// heap (--huge-pages, package hugepages). Every command that analyzes a
// capture (analyze, flows, follow, diff) starts it, so that each keeps the
// performance issue's memory bound and speed, not analyze alone.
//
// The limit, GOGC and the heap's page advice belong to the process: one
// policy at a time.
package memory

import (
	"github.com/spf13/pflag"

	"github.com/pcapsleuth/pcapsleuth/cmd/internal/hugepages"
)

// Flags are the memory flags of a command that runs analyses.
type Flags struct {
	// Limit is --memory-limit: "auto", "0" (none) or a size such as
	// 512MiB.
	Limit string
	// HugePages is --huge-pages: advise the heap to transparent huge
	// pages while the analyses run.
	HugePages bool
}

// Bind registers --memory-limit (default auto) and --huge-pages (default
// true) on fs.
func (f *Flags) Bind(fs *pflag.FlagSet) {
	fs.StringVar(&f.Limit, "memory-limit", "auto", "soft memory limit of the run (e.g. 512MiB; 0 = none): the garbage collector works harder near it. auto = 112MiB per analysis running at once, the live heap and 60 % of it up to 232MiB per analysis, or the live heap plus a quarter of it (at least 48MiB above it per analysis), whichever is most, re-evaluated after each collection, and then the limit alone paces the collector (GOGC off while the analyses run, unless GOGC is set); GOMEMLIMIT instead when set. The hard bounds are --max-conns and --max-half-open")
	fs.BoolVar(&f.HugePages, "huge-pages", true, "ask the kernel to back the analysis's memory with transparent huge pages (Linux, where /sys/kernel/mm/transparent_hugepage/enabled is madvise; elsewhere nothing changes): fewer TLB misses, about a tenth less time on a large capture; =false leaves page sizes to the system")
}

// Start puts the policy in force for parallel analyses running at once
// (below 1 counts as 1) and returns stop, which the caller must call when
// they are done: it stops following the live heap and restores GOGC (the
// last limit stays), then stops advising the heap. A --memory-limit that
// is not a size is an error, and then nothing is left running.
//
// The huge-page reserve comes first: under the tuner's limit (its floor
// is 112 MiB) the reserve, a heap as large as the analyses may grow to,
// would be collected at half its size.
func (f *Flags) Start(parallel int) (stop func(), err error) {
	var pages *hugepages.Advisor
	if f.HugePages {
		pages = hugepages.Start(int64(max(parallel, 1)) * perAnalysisTarget)
	}
	tuner, err := applyMemoryLimit(f.Limit, parallel)
	if err != nil {
		pages.Stop()
		return nil, err
	}
	return func() {
		tuner.Stop()
		pages.Stop()
	}, nil
}
