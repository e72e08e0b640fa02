#!/usr/bin/env bash
# GPU host: the seed suite (configs/overhead_hf_smoke.yaml) with every baseline, PyTorch peers included, from the
# bundle, in three passes so that every comparison is made round-robin (`--interleave`: a drifting host weighs on all
# baselines alike) where memory allows:
#   1. the small workloads, all seven baselines interleaved;
#   2. the Llama-2-7B workloads, native + full_djinn + native_pytorch interleaved (three resident copies of 7B fit in
#      80 GB; seven would not);
#   3. the Llama-2-7B workloads' other baselines (semantic_blind, rpc, vllm, pytorch_rpc) one after another, beside a
#      native run of their own (tag h100-others).
# The analyzer's tables (tables.md), the log and results.tgz (every result JSON, results/others/ included: the device
# tool brings back only a few files a call) land in $OUT. Extra arguments (e.g. --runs 10 --warmup 2) go to every pass.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -d dist ] && [ -d ../shared/fixtures ] || bash scripts/device/unpack.sh
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT/results"
cd dist
C=configs/overhead_hf_smoke.yaml
small=hf_tiny_gpt2,hf_tiny_gpt2_gen128,bert_latency_bound,resnet50_batch8
llama=llama_decode_1tok,llama_prefill_1k
node harness.mjs sweep --config $C --workloads $small --interleave --output-dir "$OUT/results" --tag h100 "$@" 2> "$OUT/sweep.log" > /dev/null
echo "small workloads rc=$?"
node harness.mjs sweep --config $C --workloads $llama --baselines full_djinn,native_pytorch --interleave --output-dir "$OUT/results" --tag h100 "$@" 2>> "$OUT/sweep.log" > /dev/null
echo "llama, interleaved rc=$?"
node harness.mjs sweep --config $C --workloads $llama --baselines semantic_blind,rpc,vllm,pytorch_rpc --output-dir "$OUT/results/others" --tag h100-others "$@" 2>> "$OUT/sweep.log" > /dev/null
echo "llama, others rc=$?"
node harness.mjs analyze --results-dir "$OUT/results" > "$OUT/tables.md"
grep -E "failed|skipped" "$OUT/sweep.log" | head -20
(cd "$OUT" && tar czf results.tgz results && rm -rf results)
