#!/usr/bin/env bash
# Session 7's A/B calls on the GPU host, in dist/ after unpack.sh: `bash ../scripts/device/session7.sh CALL...`.
# Each call writes $OUT/CALL/ (summary.txt, logs, JSON) and tars it into $OUT/CALL.tgz; summary lines also go to
# stdout. Results of the runs made with them: results/h100/session7/. Calls:
#   p2       the GEMM tests, the kernel runner's tile A/B (every case whose name holds "+v": "+s1" against "+p2" with
#            the loop unrolled by two), then profile.mjs of Llama, BERT and ResNet with the "+p2" tiles routed
#            (DJINN_SGMAT_BIG_TILE, DJINN_SGMAT_SMALL_TILE) against the default, alternating
#   d3       the same for one stage of K-steps three times as deep ("+d3") on the 64×64-per-subgroup tiles and 64x64/4
#            (run at 1c27d5f; "+d3" was removed after it)
#   vec      RMSNorm and RoPE with 16-byte loads (the VEC variants): their tests and the Llama tests, then profile.mjs
#            of both Llama workloads with the scalar variants (DJINN_RMSNORM_VEC=0 DJINN_ROPE_VEC=0) against the
#            default, alternating
#   kernels  the tests of the kernels and models the suite runs, the full kernel perf table (written to $out), then
#            profile.mjs of both Llama workloads with RMSNorm's vector variant on 256 threads (DJINN_RMSNORM_WG=256)
#            against its automatic workgroup (128 for 4096 values), alternating
#   cublas   cuBLAS through PyTorch (torch_gemm.py) on the prefill shapes beside the kernel runner's tensor-core GEMM
#            (the "+v" cases), in that order; then the zoo bench's Llama-2-7B (steady decode, prefill)
#   probes   the "+s1" GEMM tiles beside their timing probes (!nostage: matrix work on resident tiles; !nomma: staging
#            alone) on the 1k prefill shapes (call 7 ran the routed tile's alone, twice)
#   halves   the one stage staged in two halves of K ("+s1h"): the GEMM tests, the tile A/B (the "+v" cases), then
#            profile.mjs with "+s1h" routed to every big and small aligned shape against the default (run at d08fcf4;
#            "+s1h" was removed after it)
#   slice    the step's matrix work through multiply_slice (the default) against the loop written out
#            (DJINN_SGMAT_OLD_LOOP=1): the routed tile on the 1k shapes, then Llama 1k, alternating
#   slice2   the same on the small tile's shapes, then 512 + 1, BERT and ResNet
set -uo pipefail
TAG=h100-s7
source "$(dirname "$0")/calls-lib.sh"

ALL=llama_prefill_1k,llama_decode_1tok,bert_latency_bound,resnet50_batch8
call_p2() {
  tests test-sgmat.mjs test-matmul.mjs
  timeout 150 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
  grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
  for round in 1 2; do
    profile $ALL 5
    profile $ALL 5 DJINN_SGMAT_BIG_TILE=128x128/8+v+p2 DJINN_SGMAT_SMALL_TILE=64x64/4+v+p2
  done
  profile $ALL 5 DJINN_SGMAT_BIG_TILE=256x128/8+v+p2
}
call_d3() {
  tests test-sgmat.mjs test-matmul.mjs test-sgmat_wgsl.mjs
  timeout 150 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
  grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
  for round in 1 2; do
    profile $ALL 5
    profile $ALL 5 DJINN_SGMAT_BIG_TILE=256x128/8+v+d3 DJINN_SGMAT_SMALL_TILE=64x64/4+v+d3
    profile $ALL 5 DJINN_SGMAT_BIG_TILE=128x256/8+v+d3
  done
}
call_vec() {
  tests test-rmsnorm.mjs test-rope.mjs test-llama.mjs test-replay.mjs
  for round in 1 2; do
    profile llama_prefill_1k,llama_decode_1tok 5 DJINN_RMSNORM_VEC=0 DJINN_ROPE_VEC=0
    profile llama_prefill_1k,llama_decode_1tok 5
  done
  for f in "$out"/profile-*.txt; do head -1 "$f" | cut -c1-60; grep -E "rmsnorm|rope" "$f"; done | tee -a "$out/summary.txt"
}
call_kernels() {
  tests test-sgmat.mjs test-matmul.mjs test-rmsnorm.mjs test-rope.mjs test-attention.mjs test-gemv.mjs test-llama.mjs test-bert.mjs test-resnet.mjs test-gpt2.mjs test-replay.mjs
  timeout 240 node kernels.mjs --perf --full --out-dir "$out" > "$out/kernels.txt" 2>&1
  say "kernels rc=$?: $(grep -c '^| ' "$out/kernels.txt") rows"
  grep -E "^\| (rmsnorm|rope|bandwidth)" "$out/kernels.txt" | tee -a "$out/summary.txt"
  for round in 1 2; do
    profile llama_prefill_1k,llama_decode_1tok 5 DJINN_RMSNORM_WG=256
    profile llama_prefill_1k,llama_decode_1tok 5
  done
  for f in "$out"/profile-*.txt; do head -1 "$f" | cut -c1-60; grep -E "rmsnorm" "$f"; done | tee -a "$out/summary.txt"
}
call_cublas() {
  timeout 120 python3 ../scripts/device/torch_gemm.py 2>&1 | tee -a "$out/summary.txt"
  timeout 150 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
  grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
  timeout 200 node zoo.mjs --only llama > "$out/zoo.json" 2> "$out/zoo.log"
  say "zoo rc=$?: $(tail -c 1500 "$out/zoo.json" | tr '\n' ' ')"
}
call_probes() {
  for round in 1; do
    timeout 150 node kernels.mjs --perf --full --probes --no-write > "$out/probes-$round.txt" 2>&1
    grep -E "^\| matmul" "$out/probes-$round.txt" | tee -a "$out/summary.txt"
  done
}
call_halves() {
  tests test-sgmat.mjs test-sgmat_wgsl.mjs
  timeout 150 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
  grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
  profile $ALL 5
  profile $ALL 5 DJINN_SGMAT_BIG_TILE=128x128/8+v+s1h DJINN_SGMAT_SMALL_TILE=64x64/4+v+s1h
  profile $ALL 5
}
call_slice() {
  for env in 1 0 1 0; do
    say "DJINN_SGMAT_OLD_LOOP=$env: $(DJINN_SGMAT_OLD_LOOP=$env timeout 60 node kernels.mjs --perf --full --filter "128x128/8+v+s1 1024" --no-write 2>&1 | grep -E '^\| matmul' | awk -F'|' '{print $4 $5}' | tr '\n' ';')"
  done
  profile llama_prefill_1k 3 DJINN_SGMAT_OLD_LOOP=1
  profile llama_prefill_1k 3
  profile llama_prefill_1k 3 DJINN_SGMAT_OLD_LOOP=1
  profile llama_prefill_1k 3
}
call_slice2() {
  for env in 1 0 1 0; do
    say "DJINN_SGMAT_OLD_LOOP=$env: $(DJINN_SGMAT_OLD_LOOP=$env timeout 60 node kernels.mjs --perf --full --filter "64x64/4+v+s1 " --no-write 2>&1 | grep -E '^\| matmul' | awk -F'|' '{print $4 $5}' | tr '\n' ';')"
  done
  for env in 1 0 1 0; do profile llama_decode_1tok,bert_latency_bound,resnet50_batch8 5 DJINN_SGMAT_OLD_LOOP=$env; done
}

run_calls "$@"
