#!/usr/bin/env bash
# Session 6's GEMM A/B call on the GPU host, in dist/ after unpack.sh: one stage of K-steps twice as deep ("+s1")
# against the routed tiles. Everything lands in $OUT/ab.tgz, the summary lines also on stdout. Parts (each bounded by
# timeout): the bundled GEMM tests (every numeric case on the tensor cores); the kernel runner's tile A/B on Llama's
# 1k shapes (--filter /8+v) and on BERT's and ResNet's small-tile shapes (--filter /4+v); profile.mjs of the routed
# workloads with DJINN_SGMAT_S1 off, on, off (every aligned tile that can take "+s1" gets it).
set -uo pipefail
out=${OUT:-.}/ab
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
say "tests: $(OUT=$out timeout 200 bash ../scripts/device/run-tests.sh test-sgmat.mjs test-matmul.mjs 2>&1 | tr '\n' ';')"
for f in /8+v /4+v; do
  timeout 150 node kernels.mjs --perf --full --filter "$f" --no-write --out-dir "$out" > "$out/gemm${f//[^0-9a-z]/}.txt" 2>&1
  grep -E "^\| matmul" "$out/gemm${f//[^0-9a-z]/}.txt" | tee -a "$out/summary.txt"
done
for s1 in 0 1 0 1; do
  DJINN_SGMAT_S1=$s1 timeout 150 node profile.mjs --only ${PROFILE_ONLY:-llama_prefill_1k,llama_decode_1tok,bert_latency_bound,resnet50_batch8} --reps ${PROFILE_REPS:-5} --out "$out/profile-s1$s1-$SECONDS.json" > "$out/profile-s1$s1-$SECONDS.txt" 2>&1
  say "s1=$s1: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$out"/profile-s1$s1-*.txt | tail -12 | paste -sd' ')"
done
cd "$out/.." && tar czf ab.tgz ab && rm -rf ab
