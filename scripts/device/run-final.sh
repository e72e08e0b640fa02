#!/usr/bin/env bash
# GPU host, one call: the seed suite first, then run-a.sh (fixtures, kernel perf, zoo bench, round trip, full-size CLI).
set -uo pipefail
cd "$(dirname "$0")/../.."
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
echo "== sweep"
timeout 320 bash scripts/device/run-sweep.sh --runs 5 --warmup 1 2>&1 | grep -v '^Warning' | tail -60
timeout 240 bash scripts/device/run-a.sh 2>&1 | grep -v '^Warning' | tee "$OUT/run-a.txt" | grep -v '^forward\|^generate' | tail -60
