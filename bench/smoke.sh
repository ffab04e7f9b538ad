#!/usr/bin/env bash
# Benchmark smoke for CI: the steady-state hot paths must not allocate per
# packet. Fails loudly when one does. Timings are printed, never asserted.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(go test -run '^$' -bench 'BenchmarkTrackerSteadyState|BenchmarkTransportSteadyState|BenchmarkDecode$|BenchmarkPipelineSteadyState' -benchmem -benchtime 200000x ./flows/ ./decode/ ./detectors/ ./cmd/analysis/ 2>&1)
echo "$out"
bad=$(echo "$out" | awk '/^Benchmark/ { for (i = 1; i <= NF; i++) if ($i == "allocs/op" && $(i-1) + 0 > 0) print $1, $(i-1), "allocs/op" }')
if [ -n "$bad" ]; then
  echo "FAIL: allocations on a per-packet hot path:"
  echo "$bad"
  exit 1
fi
echo "ok: zero allocations per packet on the hot paths"
