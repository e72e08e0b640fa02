#!/usr/bin/env bash
# Session 6, call 5, in dist/ after unpack.sh: one stage of the tile's own K-step ("+s1n": half the workgroup memory
# and staging registers of "+s1", so two workgroups may share an SM) against "+s1". The GEMM tests; the kernel
# runner's "+v" cases; profile.mjs with the routed tiles, with "+s1n" tiles (big and small), with "128x128/4+v+s1n"
# for big shapes, then the routed tiles again. $OUT/call5.tgz.
set -uo pipefail
out=${OUT:-.}/call5
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
say "tests: $(OUT=$out timeout 200 bash ../scripts/device/run-tests.sh test-sgmat.mjs 2>&1 | tr '\n' ';')"
timeout 120 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
run() {
  timeout 120 env "$@" node profile.mjs --only llama_prefill_1k,bert_latency_bound,resnet50_batch8 --reps 5 --out "$out/profile-$SECONDS.json" > "$out/profile-$SECONDS.txt" 2>&1
  say "$*: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$(ls -t "$out"/profile-*.txt | head -1)" | tail -9 | paste -sd' ')"
}
run DJINN_X=default
run DJINN_SGMAT_BIG_TILE=128x128/8+v+s1n DJINN_SGMAT_SMALL_TILE=64x64/4+v+s1n
run DJINN_SGMAT_BIG_TILE=128x128/4+v+s1n
run DJINN_X=default
cd "$out/.." && tar czf call5.tgz call5 && rm -rf call5
