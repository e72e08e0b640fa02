#!/usr/bin/env bash
# Session 6, call 6, in dist/ after unpack.sh: the server's causal Forward with the LM head on the last row only.
# Llama-2-7B 1k prefill with native and full_djinn interleaved, the server with GPU timestamps (DJINN_PROFILING=1: its
# reply's execution is GPU time); then the small workloads with native, full_djinn and native_pytorch interleaved.
# $OUT/call6.tgz.
set -uo pipefail
out=${OUT:-.}/call6
mkdir -p "$out"
say() { echo "$*" | tee -a "$out/summary.txt"; }
say "$(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
C=configs/overhead_hf_smoke.yaml
DJINN_PROFILING=1 timeout 200 node harness.mjs sweep --config $C --workloads llama_prefill_1k --baselines native,full_djinn --interleave --runs 8 --warmup 2 --output-dir "$out/llama" --tag h100-s6c6 > /dev/null 2> "$out/llama.log"
say "llama rc=$?: $(grep -h "ok, mean" "$out/llama.log" | tr '\n' ';')"
timeout 240 node harness.mjs sweep --config $C --workloads hf_tiny_gpt2,bert_latency_bound,resnet50_batch8 --baselines native,full_djinn,native_pytorch --interleave --runs 10 --warmup 2 --output-dir "$out/small" --tag h100-s6c6 > /dev/null 2> "$out/small.log"
say "small rc=$?: $(grep -h "ok, mean" "$out/small.log" | tr '\n' ';')"
cd "$out/.." && tar czf call6.tgz call6 && rm -rf call6
