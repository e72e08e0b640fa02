#!/usr/bin/env bash
# Session 6, call 2, in dist/ after unpack.sh: "+s1" routed by default. Bundled tests of the models and the GEMM; the
# tile A/B (kernel runner, every "+v" case); profile.mjs with the routing before "+s1" (DJINN_SGMAT_S1=0) and after,
# alternating; then the remote tax in a small interleaved sweep of two baselines (native, full_djinn) on BERT and
# tiny-gpt2, 20 runs, beside the seven-baseline suite's figures. Everything in $OUT/call2.tgz.
set -uo pipefail
out=${OUT:-.}/call2
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
say "tests: $(OUT=$out timeout 240 bash ../scripts/device/run-tests.sh test-sgmat.mjs test-bert.mjs test-resnet.mjs test-llama.mjs test-replay.mjs test-gpt2.mjs 2>&1 | tr '\n' ';')"
timeout 120 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
for s1 in 0 1 0 1; do
  DJINN_SGMAT_S1=$s1 timeout 150 node profile.mjs --only llama_prefill_1k,llama_decode_1tok,bert_latency_bound,resnet50_batch8 --reps 5 --out "$out/profile-s1$s1-$SECONDS.json" > "$out/profile-s1$s1-$SECONDS.txt" 2>&1
  say "s1=$s1: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$out"/profile-s1$s1-*.txt | tail -12 | paste -sd' ')"
done
timeout 200 node harness.mjs sweep --config configs/overhead_hf_smoke.yaml --workloads bert_latency_bound,hf_tiny_gpt2 --baselines native,full_djinn --interleave --runs 20 --warmup 3 --output-dir "$out/tax2" --tag h100-two > /dev/null 2> "$out/tax2.log"
say "two-baseline sweep rc=$?: $(grep -h "ok, mean" "$out/tax2.log" | tr '\n' ';')"
cd "$out/.." && tar czf call2.tgz call2 && rm -rf call2
