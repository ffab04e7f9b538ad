#!/usr/bin/env bash
# The big comparison: generates deterministic captures (full payload and
# headers-only), then runs pcapsleuth (every detector, HTML report written)
# and tshark -q -z conv,tcp alternately on each, and prints medians, the
# ratio, packets/s, MB/s and peak RSS. Absolute times move on shared
# machines; the ratio measured in one run is what counts.
#
#   bench/run.sh                 # 1 GB captures, 3 runs each
#   SIZE=2G RUNS=5 bench/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
WORK=${WORK:-bench/work}
mkdir -p "$WORK"
command -v tshark >/dev/null || { echo "tshark is needed: apt-get install tshark"; exit 1; }
go build -o "$WORK/pcapsleuth" ./cmd/pcapsleuth
go build -o "$WORK/benchgen" ./cmd/benchgen
full="$WORK/full-$SIZE.pcap"
hdr="$WORK/headers-$SIZE.pcap"
[ -f "$full" ] || "$WORK/benchgen" gen -out "$full" -size "$SIZE" -seed 1
[ -f "$hdr" ] || "$WORK/benchgen" gen -out "$hdr" -size "$SIZE" -snaplen 96 -seed 2
echo "== $(date -u +%FT%TZ) on $(nproc) cores, $(go version)"
"$WORK/benchgen" compare -runs "$RUNS" -pcapsleuth "$WORK/pcapsleuth" -report html "$full" "$hdr"
