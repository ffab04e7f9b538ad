#!/usr/bin/env bash
# Memory against capture size (issue #7: the same peak RSS within 10 % on a
# capture ten times smaller with the same number of concurrent
# connections). Generates two headers-only captures, SIZE and SIZE/10, with
# the same concurrency and host pairs (leaks and idle connections close
# after LEAK_LIFE, CLIENTS client addresses), and prints pcapsleuth's peak
# RSS on each (median of RUNS runs) and their ratio, then the largest live
# heap after a collection on each (GODEBUG=gctrace=1), from a run that
# collects often (GOGC=10, no memory limit) so that the largest one is near
# the true peak: under the default limit the smaller capture may see its
# first collection only once most connections are finished. Peak RSS moves
# by 10-25 MB from run to run with where the last collections fall, the
# live heap by 1-2 MB, so the second ratio is the steadier one.
#
#   bench/memory.sh                     # 1 GB against 100 MB
#   SIZE=2G LEAK_LIFE=10s bench/memory.sh
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE=${SIZE:-1G}
RUNS=${RUNS:-3}
LEAK_LIFE=${LEAK_LIFE:-5s}
CLIENTS=${CLIENTS:-64}
WORK=${WORK:-bench/work}
mkdir -p "$WORK"
go build -o "$WORK/pcapsleuth" ./cmd/pcapsleuth
go build -o "$WORK/benchgen" ./cmd/benchgen
num=${SIZE%[KMG]}
unit=${SIZE#"$num"}
small=$(awk -v n="$num" 'BEGIN { printf "%g", n / 10 }')$unit
big="$WORK/bounded-$SIZE.pcap"
little="$WORK/bounded-$small.pcap"
for f in "$big:$SIZE" "$little:$small"; do
	[ -f "${f%%:*}" ] || "$WORK/benchgen" gen -out "${f%%:*}" -size "${f##*:}" -snaplen 96 -seed 2 -leak-life "$LEAK_LIFE" -clients "$CLIENTS"
done
echo "== $(date -u +%FT%TZ) on $(nproc) cores, $(go version); leaks close after $LEAK_LIFE, $CLIENTS clients"
"$WORK/benchgen" compare -no-tshark -runs "$RUNS" -pcapsleuth "$WORK/pcapsleuth" -report html "$big" "$little" | tee "$WORK/memory.txt"
awk '/^capture/ { name = $2 } /peak RSS/ { rss[++n] = $(NF-1) } END { if (n == 2) printf "peak RSS: %s MB against %s MB, %.0f %% more on the larger capture\n", rss[1], rss[2], 100 * (rss[1] / rss[2] - 1) }' "$WORK/memory.txt"
live() {
	GOGC=10 GODEBUG=gctrace=1 "$WORK/pcapsleuth" analyze --memory-limit 0 "$1" -o "$WORK/memory-live.html" 2>&1 >/dev/null |
		awk '/^gc / { split($11, h, "->"); if (h[3] + 0 > m) m = h[3] + 0 } END { print m }'
}
lb=$(live "$big")
ls=$(live "$little")
awk -v a="$lb" -v b="$ls" 'BEGIN { printf "largest live heap after a collection: %s MB against %s MB, %.0f %% more on the larger capture\n", a, b, 100 * (a / b - 1) }'
