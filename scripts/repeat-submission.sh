#!/usr/bin/env bash
# Run `make submission` N times, each from a fresh state and dist directory, optionally
# with busy loops beside it, and print one line per run (exit code, seconds, audit re-runs).
# How the "works every time" claim is measured:
#   scripts/repeat-submission.sh 10        # quiet
#   scripts/repeat-submission.sh 10 1      # with one `yes > /dev/null` beside it
# Usage: scripts/repeat-submission.sh RUNS [BUSY_LOOPS] [OUT_DIR]
set -uo pipefail
runs=${1:?how many runs}; loops=${2:-0}; out=${3:-$(mktemp -d -t mlperf-ops-repeat.XXXXXX)}
cd "$(dirname "$0")/.."
pids=()
for ((b = 0; b < loops; b++)); do yes > /dev/null & pids+=($!); done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
passed=0
for ((i = 1; i <= runs; i++)); do
    run="$out/run-$i"; mkdir -p "$run"
    start=$(date +%s)
    make submission STATE="$run/state" DIST="$run/dist" > "$run/log" 2>&1; rc=$?
    reruns=$(grep -c "timing comparison failed\|calibrating again" "$run/log")
    [ "$rc" -eq 0 ] && passed=$((passed + 1))
    echo "run $i: exit $rc, $(( $(date +%s) - start )) s, $reruns audit re-run(s) (log: $run/log)"
done
echo "$passed of $runs passed ($loops busy loop(s) beside them)"
[ "$passed" -eq "$runs" ]
