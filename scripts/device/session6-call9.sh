#!/usr/bin/env bash
# Session 6, call 9, in dist/ after unpack.sh: Llama prefill submitting after its first layer and every fourth
# (default) against one submit at the end (DJINN_LLAMA_SUBMITS=0), alternating, profile.mjs of both Llama workloads;
# the llama tests; then llama_prefill_1k and llama_decode_1tok with native, full_djinn and native_pytorch interleaved.
# $OUT/call9.tgz.
set -uo pipefail
out=${OUT:-.}/call9
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
run() {
  timeout 100 env "$@" node profile.mjs --only llama_prefill_1k,llama_decode_1tok --reps 5 --out "$out/profile-$SECONDS.json" > "$out/profile-$SECONDS.txt" 2>&1
  say "$*: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"record_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$(ls -t "$out"/profile-*.txt | head -1)" | tail -8 | paste -sd' ')"
}
run DJINN_LLAMA_SUBMITS=0
run DJINN_X=default
run DJINN_LLAMA_SUBMITS=0
run DJINN_X=default
say "tests: $(OUT=$out timeout 100 bash ../scripts/device/run-tests.sh test-llama.mjs 2>&1 | tr '\n' ';')"
timeout 240 node harness.mjs sweep --config configs/overhead_hf_smoke.yaml --workloads llama_decode_1tok,llama_prefill_1k --baselines full_djinn,native_pytorch --interleave --runs 8 --warmup 2 --output-dir "$out/llama" --tag h100-s6c9 > /dev/null 2> "$out/llama.log"
say "llama sweep rc=$?: $(grep -h "ok, mean" "$out/llama.log" | tr '\n' ';')"
cd "$out/.." && tar czf call9.tgz call9 && rm -rf call9
