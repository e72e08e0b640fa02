#!/usr/bin/env bash
# Session 6, call 3, in dist/ after unpack.sh: "+s1+p2" (two of the deeper K-steps ahead) against "+s1". The GEMM tests;
# the kernel runner's "+v" cases (the routed tiles and their "+p2"); profile.mjs with the routed tiles and with
# "+s1+p2" on every big and small aligned shape (DJINN_SGMAT_BIG_TILE / SMALL_TILE), alternating. $OUT/call3.tgz.
set -uo pipefail
out=${OUT:-.}/call3
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
say "tests: $(OUT=$out timeout 200 bash ../scripts/device/run-tests.sh test-sgmat.mjs 2>&1 | tr '\n' ';')"
timeout 120 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
for p2 in 0 1 0 1; do
  if [ $p2 = 1 ]; then export DJINN_SGMAT_BIG_TILE=128x128/8+v+s1+p2 DJINN_SGMAT_SMALL_TILE=64x64/4+v+s1+p2; else unset DJINN_SGMAT_BIG_TILE DJINN_SGMAT_SMALL_TILE; fi
  timeout 150 node profile.mjs --only llama_prefill_1k,llama_decode_1tok,bert_latency_bound,resnet50_batch8 --reps 5 --out "$out/profile-p2$p2-$SECONDS.json" > "$out/profile-p2$p2-$SECONDS.txt" 2>&1
  say "p2=$p2: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$out"/profile-p2$p2-*.txt | tail -12 | paste -sd' ')"
done
cd "$out/.." && tar czf call3.tgz call3 && rm -rf call3
