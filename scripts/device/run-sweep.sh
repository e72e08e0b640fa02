#!/usr/bin/env bash
# GPU host: the seed suite (configs/overhead_hf_smoke.yaml) with every baseline, PyTorch peers included, from the
# bundle. Results and the analyzer's tables land in $OUT. Extra arguments go to `harness sweep`.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -d dist ] && [ -d ../shared/fixtures ] || bash scripts/device/unpack.sh
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/results"
cd dist
node harness.mjs sweep --config configs/overhead_hf_smoke.yaml --output-dir "$OUT/results" --tag h100 "$@" 2> "$OUT/sweep.log" | tee "$OUT/tables.md"
echo "sweep rc=$?"; grep -E "failed|skipped" "$OUT/sweep.log" | head -20
