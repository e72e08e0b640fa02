#!/usr/bin/env bash
# Session 6, call 8, in dist/ after unpack.sh: "128x128/4+v+s1" (four subgroups of 64×64, 64-deep steps, eight staged
# pieces a thread) against the routed "128x128/8+v+s1". GEMM tests; kernel runner "+v" cases; profile.mjs of Llama
# with the big tile swapped, alternating. $OUT/call8.tgz.
set -uo pipefail
out=${OUT:-.}/call8
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
say "tests: $(OUT=$out timeout 200 bash ../scripts/device/run-tests.sh test-sgmat.mjs 2>&1 | tr '\n' ';')"
timeout 120 node kernels.mjs --perf --full --filter "/8+v,/4+v+s1" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
run() {
  timeout 100 env "$@" node profile.mjs --only llama_prefill_1k,llama_decode_1tok --reps 5 --out "$out/profile-$SECONDS.json" > "$out/profile-$SECONDS.txt" 2>&1
  say "$*: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$(ls -t "$out"/profile-*.txt | head -1)" | tail -6 | paste -sd' ')"
}
run DJINN_X=default
run DJINN_SGMAT_BIG_TILE=128x128/4+v+s1
run DJINN_X=default
run DJINN_SGMAT_BIG_TILE=128x128/4+v+s1
cd "$out/.." && tar czf call8.tgz call8 && rm -rf call8
