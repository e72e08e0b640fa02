#!/usr/bin/env bash
# Session 6, call 7, in dist/ after unpack.sh: BERT-base's small dispatches. profile.mjs (BERT, ResNet) with the
# defaults, without key splits in BERT's attention (DJINN_FLASH_FILL=1: no combine dispatch), with split-K aiming at
# 132 workgroups instead of 264 (DJINN_SGMAT_FILL=132: fewer partials to reduce), both, and the defaults again.
# $OUT/call7.tgz.
set -uo pipefail
out=${OUT:-.}/call7
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
run() {
  timeout 60 env "$@" node profile.mjs --only bert_latency_bound,resnet50_batch8 --reps 20 --out "$out/profile-$SECONDS.json" > "$out/profile-$SECONDS.txt" 2>&1
  say "$*: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"record_ms":[0-9.]*\|"gpu_ms":[0-9.]*\|"dispatches":[0-9]*' "$(ls -t "$out"/profile-*.txt | head -1)" | tail -10 | paste -sd' ')"
}
for round in 1 2; do
  run DJINN_X=default
  run DJINN_FLASH_FILL=1
  run DJINN_SGMAT_FILL=132
  run DJINN_FLASH_FILL=1 DJINN_SGMAT_FILL=132
done
run DJINN_X=default
OUT=$out timeout 120 bash ../scripts/device/run-tests.sh test-bert.mjs test-attention.mjs > "$out/tests.txt" 2>&1; say "tests: $(tr '\n' ';' < "$out/tests.txt")"
cd "$out/.." && tar czf call7.tgz call7 && rm -rf call7
