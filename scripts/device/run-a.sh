#!/usr/bin/env bash
# GPU host, call A: fixtures through the CLI (f32, f16), the kernel runner's perf table, the model-zoo bench at full
# size, and the semantic/blind/native round trip. Everything lands in $OUT.
set -uo pipefail
cd "$(dirname "$0")/../.."
bash scripts/device/unpack.sh
export OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
node dist/djinn.mjs info > "$OUT/info.json" 2>/dev/null; head -c 400 "$OUT/info.json"; echo
echo "== fixtures"; timeout 150 bash scripts/device/verify-fixtures.sh 2>&1 | tee "$OUT/verify-fixtures.txt" | grep -v '^{' | tail -40
echo "== kernels"; [ -f dist/kernels.mjs ] && (timeout 120 node dist/kernels.mjs --perf --out-dir "$OUT/kernels" 2>&1 | tail -45)
echo "== zoo"; timeout 180 node dist/zoo.mjs > "$OUT/zoo.json" 2> "$OUT/zoo.log"; tail -c 3000 "$OUT/zoo.json"
echo "== roundtrip"; [ -f dist/roundtrip.mjs ] && timeout 120 node dist/roundtrip.mjs 2>&1 | tail -20 | tee "$OUT/roundtrip.txt"
