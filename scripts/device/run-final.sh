#!/usr/bin/env bash
# GPU host, one call: run-a.sh (fixtures, kernel perf, zoo bench, round trip, full-size CLI) then the seed suite.
set -uo pipefail
cd "$(dirname "$0")/../.."
export OUT=${OUT:-/tmp/out}
timeout 230 bash scripts/device/run-a.sh 2>&1 | grep -v '^Warning' | tee "$OUT/run-a.txt" | grep -v '^forward\|^generate' | tail -80
echo "== sweep"
timeout 330 bash scripts/device/run-sweep.sh --runs 5 --warmup 1 2>&1 | grep -v '^Warning' | tail -75
