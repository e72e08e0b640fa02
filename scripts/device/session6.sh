#!/usr/bin/env bash
# Session 6's A/B calls on the GPU host, in dist/ after unpack.sh: `bash ../scripts/device/session6.sh CALL...`.
# Each call writes $OUT/CALL/ (summary.txt, logs, JSON) and tars it into $OUT/CALL.tgz; summary lines also go to
# stdout. Results of the runs made with them: results/h100/session6/. Calls:
#   gemm     the GEMM tests, then the kernel runner's tile A/B (every case whose name holds "+v")
#   s1       profile.mjs of Llama, BERT and ResNet with the tiles routed before "+s1" (DJINN_SGMAT_S1=0) and after,
#            alternating twice
#   tax      the remote tax in small interleaved sweeps: native + full_djinn on BERT and tiny-gpt2 (20 runs)
#   llama    Llama 1k prefill with native and full_djinn interleaved, the server with GPU timestamps; then the small
#            workloads with native, full_djinn and PyTorch interleaved
#   fill     BERT's key splits and split-K targets (DJINN_FLASH_FILL=1, DJINN_SGMAT_FILL=132), two rounds
#   submits  Llama prefill submitting while recording against one submit (DJINN_LLAMA_SUBMITS=0), alternating; the
#            llama tests; both Llama workloads with native, full_djinn and PyTorch interleaved
# ("+s1+p2", "+s1n" and "128x128/4+s1", measured in calls 3, 5 and 8 with earlier versions of these scripts, lost
# and were removed from the kernel.)
set -uo pipefail
TAG=h100-s6
source "$(dirname "$0")/calls-lib.sh"

call_gemm() {
  tests test-sgmat.mjs test-matmul.mjs
  timeout 150 node kernels.mjs --perf --full --filter "+v" --no-write --out-dir "$out" > "$out/gemm.txt" 2>&1
  grep -E "^\| matmul" "$out/gemm.txt" | tee -a "$out/summary.txt"
}
call_s1() {
  for s1 in 0 1 0 1; do profile llama_prefill_1k,llama_decode_1tok,bert_latency_bound,resnet50_batch8 5 DJINN_SGMAT_S1=$s1; done
}
call_tax() {
  sweep tax bert_latency_bound,hf_tiny_gpt2 native,full_djinn 20
}
call_llama() {
  sweep llama llama_prefill_1k native,full_djinn 8 DJINN_PROFILING=1
  sweep small hf_tiny_gpt2,bert_latency_bound,resnet50_batch8 native,full_djinn,native_pytorch 10
}
call_fill() {
  for round in 1 2; do
    profile bert_latency_bound,resnet50_batch8 20
    profile bert_latency_bound,resnet50_batch8 20 DJINN_FLASH_FILL=1
    profile bert_latency_bound,resnet50_batch8 20 DJINN_SGMAT_FILL=132
    profile bert_latency_bound,resnet50_batch8 20 DJINN_FLASH_FILL=1 DJINN_SGMAT_FILL=132
  done
  profile bert_latency_bound,resnet50_batch8 20
  tests test-bert.mjs test-attention.mjs
}
call_submits() {
  for s in 0 1 0 1; do profile llama_prefill_1k,llama_decode_1tok 5 DJINN_LLAMA_SUBMITS=$s; done
  tests test-llama.mjs
  sweep llama llama_decode_1tok,llama_prefill_1k full_djinn,native_pytorch 8
}

run_calls "$@"
