#!/usr/bin/env bash
# accuracy.sh - compare pcapsleuth's tcp.analysis figures with tshark's.
#
#   bench/accuracy.sh              the table: every corpus capture against
#                                  ../shared/corpus/ORACLE.tsv (tshark 4.0) and
#                                  every lab scenario against its truth file
#   bench/accuracy.sh FILE...      frame-by-frame differences between pcapsleuth
#                                  and the tshark on this machine, per file
#
# See docs/accuracy.md for the differences and who is right.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -eq 0 ]; then
	go test ./detectors -run 'TestAccuracyTable$' -count=1 -v 2>&1 |
		sed -n 's/^ *accuracy_test.go:[0-9]*: //p; /^--- FAIL/p; /^FAIL/p'
	exit "${PIPESTATUS[0]}"
fi
command -v tshark >/dev/null || { echo "tshark is not installed" >&2; exit 2; }
for f in "$@"; do
	echo "== $f"
	PCAPSLEUTH_ACCURACY_FRAMES=$(realpath "$f") go test ./detectors -run 'TestAccuracyFrames$' -count=1 -v 2>&1 |
		sed -n 's/^ *accuracy_test.go:[0-9]*: //p'
done
