#!/usr/bin/env bash
# Session 5's A/B call on the GPU host, in dist/ after unpack.sh. Everything lands in $OUT/ab.tgz, the summary lines also
# on stdout. Parts (each bounded by timeout): bundled tests of what changed; the tensor-core GEMM tile A/B (kernel
# runner, --filter /8+v); profile.mjs of the suite's workloads (timestamps on) and encode-ahead A/B (timestamps off);
# the tax bench with the flat reader on and off (DJINN_HOT_DECODE); the attention's staging probe.
# Run at da608dd's bundle; since then encode-ahead (--ahead-ab) and the "+wg" tile are gone, so parts of it no longer run.
set -uo pipefail
out=${OUT:-.}/ab
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
say "tests: $(OUT=$out timeout 240 bash ../scripts/device/run-tests.sh test-sgmat.mjs test-matmul.mjs test-uploads.mjs test-f16.mjs test-capture-replay.mjs test-replay.mjs test-bert.mjs test-resnet.mjs 2>&1 | tr '\n' ';')"
timeout 150 node kernels.mjs --perf --full --filter "${GEMM_FILTER:-/8+v}" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
timeout 120 node profile.mjs --reps 10 --out "$out/profile.json" > "$out/profile.txt" 2>&1
grep -o '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$out/profile.txt" | paste -sd' ' | tee -a "$out/summary.txt"
DJINN_PROFILE_TIMESTAMPS=0 timeout 90 node profile.mjs --only bert_latency_bound,resnet50_batch8 --reps 20 --ahead-ab --sweep-like --out "$out/profile-ahead.json" > "$out/profile-ahead.txt" 2>&1
grep -o '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"replays_ahead":[0-9]*' "$out/profile-ahead.txt" | paste -sd' ' | tee -a "$out/summary.txt"
for hot in 1 0 1; do
  DJINN_HOT_DECODE=$hot timeout 100 node tax.mjs --n 15 --workloads gpt2,bert,resnet --bert bert-base-uncased --fixtures ../../shared/fixtures --out "$out/tax-hot$hot.json" > "$out/tax-hot$hot-$SECONDS.txt" 2>&1
  say "hot=$hot: $(grep -h 'full − native\|serverDecode\|clientDecode ' "$out"/tax-hot$hot-*.txt | tail -9 | tr -s ' ' | tr '\n' ';')"
done
DJINN_FLASH_BENCH=1 DJINN_FLASH_BENCH_VARIANTS=${FLASH_VARIANTS:-q64,q64+nostage,q64+nosoftmax,q128,q64} OUT=$out timeout 100 node test-flash_bench.mjs > "$out/flash.log" 2>&1
grep "\[flash-bench\]" "$out/flash.log" | tee -a "$out/summary.txt"
cd "$out/.." && tar czf ab.tgz ab && rm -rf ab
