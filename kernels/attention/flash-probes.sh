#!/usr/bin/env bash
# On the GPU host, in dist/ after unpack.sh: the tensor-core attention's probes and launch shapes (sgmat_variants.ts).
#   1. test-attention.mjs (every shape against the CPU reference);
#   2. test-flash_bench.mjs: the attention alone, every variant, 1024 and 512 tokens ([flash-bench] lines);
#   3. profile.mjs per variant (the default first and last; DJINN_FLASH_PROFILES overrides the list), one line each with
#      attention_flash_sgmat's ms over the 32 layers at 1k and 512, stopping early so the whole run fits BUDGET_S.
# Everything goes into $OUT/flash2.tgz (flash2/: logs, profile JSON, flash-bench.json); $OUT/flash2-summary.txt holds
# the printed lines. BUDGET_S (default 520) bounds the run from its start.
set -uo pipefail
out=${OUT:-.}/flash2
mkdir -p "$out"
start=$SECONDS
budget=${BUDGET_S:-520}
say() { echo "$*" | tee -a "$out/summary.txt"; }

say "tests: $(OUT=$out bash ../scripts/device/run-tests.sh test-attention.mjs 2>&1 | tail -1)"
OUT=$out DJINN_FLASH_BENCH=1 node test-flash_bench.mjs > "$out/flash-bench.log" 2>&1
grep -h "\[flash-bench\]" "$out/flash-bench.log" | tee -a "$out/summary.txt"
tail -1 "$out/flash-bench.log"

list=${DJINN_FLASH_PROFILES:-"q64 q128 sg8 q128sg16 q64+nostage q64+nomatrix q64+nomma q64+nofrag q64+nosoftmax q64+pass1only q64+nobarrier q64"}
read -r -a names <<< "$list"
last=0
for i in "${!names[@]}"; do
  n=${names[$i]}
  final=$(( i == ${#names[@]} - 1 ))
  # Keep room for this run and, before the last, for the last one too.
  need=$(( final ? last : 2 * last ))
  if (( SECONDS - start + need > budget )); then
    (( final )) || { say "profile $n: skipped (time)"; continue; }
  fi
  shape=${n%%+*}; probe=""; [[ $n == *+* ]] && probe=${n#*+}
  f=${n//+/_}
  t0=$SECONDS
  DJINN_FLASH_SHAPE=$shape DJINN_FLASH_PROBE=${probe//+/,} timeout $(( budget - (SECONDS - start) > 30 ? budget - (SECONDS - start) : 30 )) \
    node profile.mjs --config configs/overhead_hf_smoke.yaml --only llama_prefill_1k,llama_decode_1tok --reps 3 --out "$out/prof-$i-$f.json" > "$out/prof-$i-$f.txt" 2>&1
  last=$(( SECONDS - t0 ))
  say "profile $(printf '%-16s' "$n") $(node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).results
    const ms = (w) => { const k = r.find((x) => x.workload === w)?.kernels?.find((x) => x.label.startsWith("attention_flash_sgmat")); return k ? (k.us / 1000).toFixed(3) : "-" }
    console.log(`1k ${ms("llama_prefill_1k")} ms  512 ${ms("llama_decode_1tok")} ms`)' "$out/prof-$i-$f.json" 2>/dev/null || echo failed) (${last} s)"
done
tar -C "${OUT:-.}" -czf "${OUT:-.}/flash2.tgz" flash2 && cp "$out/summary.txt" "${OUT:-.}/flash2-summary.txt" && rm -rf "$out"
