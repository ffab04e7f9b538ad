package analyze

import (
	"fmt"
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// perAnalysisMemory is the soft memory limit given to each analysis running
// at once when --memory-limit is auto. It must stay well above the live
// heap of a normal analysis: near or below it the garbage collector runs
// almost continuously (a 1 GB headers-only capture with 35,000 live
// connections, 350 MB live, took 55 s at 256 MiB against 35 s at 512 MiB;
// docs/performance.md). Above that, it keeps the heap from doubling.
const perAnalysisMemory = 512 << 20

// parseSize reads a size such as 512MiB, 1G, 300M or 1073741824 (bytes).
// K, M, G and T are powers of 1024 with or without "iB"/"B".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	mult := int64(1)
	upper := strings.ToUpper(t)
	for _, suf := range []struct {
		s string
		m int64
	}{{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}} {
		for _, form := range []string{suf.s + "IB", suf.s + "B", suf.s} {
			if strings.HasSuffix(upper, form) {
				t, mult = t[:len(t)-len(form)], suf.m
				goto parsed
			}
		}
	}
	if strings.HasSuffix(upper, "B") {
		t = t[:len(t)-1]
	}
parsed:
	n, err := strconv.ParseFloat(strings.TrimSpace(t), 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("--memory-limit %q: want a size such as 512MiB, 1G, 0 (no limit) or auto", s)
	}
	return int64(n * float64(mult)), nil
}

// applyMemoryLimit sets the Go runtime's soft memory limit from
// --memory-limit: "auto" gives each of the analyses that run at once
// perAnalysisMemory (unless GOMEMLIMIT is set in the environment, which then
// stands), "0" removes any limit. It returns the limit in force (0 = none).
func applyMemoryLimit(flag string, parallel int) (int64, error) {
	if flag == "" || strings.EqualFold(flag, "auto") {
		if os.Getenv("GOMEMLIMIT") != "" {
			return debug.SetMemoryLimit(-1), nil
		}
		lim := int64(max(parallel, 1)) * perAnalysisMemory
		debug.SetMemoryLimit(lim)
		return lim, nil
	}
	n, err := parseSize(flag)
	if err != nil {
		return 0, err
	}
	if n == 0 {
		debug.SetMemoryLimit(1<<63 - 1)
		return 0, nil
	}
	debug.SetMemoryLimit(n)
	return n, nil
}
