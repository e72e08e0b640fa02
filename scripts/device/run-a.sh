#!/usr/bin/env bash
# GPU host, call A: fixtures through the CLI (f32, f16), the kernel runner's perf table, the model-zoo bench at full
# size, and the semantic/blind/native round trip. Everything lands in $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
[ -d dist ] && [ -d ../shared/fixtures ] || bash scripts/device/unpack.sh
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
node dist/djinn.mjs info > "$OUT/info.json" 2>/dev/null; head -c 400 "$OUT/info.json"; echo
echo "== fixtures"; timeout 150 bash scripts/device/verify-fixtures.sh 2>&1 | tee "$OUT/verify-fixtures.txt" | grep -v '^{' | tail -40
echo "== kernels"; [ -f dist/kernels.mjs ] && (timeout 120 node dist/kernels.mjs --perf --out-dir "$OUT/kernels" 2>&1 | tail -45)
echo "== zoo"; timeout 180 node dist/zoo.mjs > "$OUT/zoo.json" 2> "$OUT/zoo.log"; tail -c 3000 "$OUT/zoo.json"
echo "== roundtrip"; [ -f dist/roundtrip.mjs ] && timeout 120 node dist/roundtrip.mjs 2>&1 | tail -20 | tee "$OUT/roundtrip.txt"
echo "== full-size models through the CLI (synthetic weights, f16; wall time of the whole command incl. load; GPU memory sampled by nvidia-smi)"
in=.devbundle/inputs
cli() { # label, then djinn args
  local label=$1; shift
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 50 > "$OUT/mem-$label.txt" 2>/dev/null & local smi=$!
  local t0=$(date +%s%N)
  node dist/djinn.mjs "$@" > "$OUT/cli-$label.out" 2> "$OUT/cli-$label.err"; local rc=$?
  local t1=$(date +%s%N); kill $smi 2>/dev/null; wait $smi 2>/dev/null
  local peak=$(sort -n "$OUT/mem-$label.txt" | tail -1)
  echo "$label: rc=$rc wall=$(( (t1 - t0) / 1000000 )) ms peak_gpu_mem=${peak} MiB :: $(grep -v '^Warning' "$OUT/cli-$label.err" | tail -1) :: $(head -c 200 "$OUT/cli-$label.out")"
}
ids512=$(node -e "let s=7;const a=[];for(let i=0;i<512;i++){s=(s*1103515245+12345)>>>0;a.push(1+s%31999)}console.log(a.join(','))")
ids1024=$(node -e "let s=9;const a=[];for(let i=0;i<1024;i++){s=(s*1103515245+12345)>>>0;a.push(1+s%31999)}console.log(a.join(','))")
cli llama-512+1 generate --model meta-llama/Llama-2-7b-hf --dtype f16 --input-ids "$ids512" --max-new-tokens 1
cli llama-1024+32 generate --model meta-llama/Llama-2-7b-hf --dtype f16 --input-ids "$ids1024" --max-new-tokens 32
cli bert-s128 forward --model google-bert/bert-base-uncased --dtype f16 --inputs $in/bert-s128.safetensors --out "$OUT/bert.safetensors"
cli resnet50-b8 forward --model microsoft/resnet-50 --dtype f16 --inputs $in/resnet-b8.safetensors --out "$OUT/resnet.safetensors"
