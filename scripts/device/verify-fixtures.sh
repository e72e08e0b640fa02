#!/usr/bin/env bash
# On any host with dist/: every fixture through `djinn forward` (compared with PyTorch's golden outputs) and the causal
# LMs' greedy_32 through `djinn generate`, in f32 and (where the adapter has shader-f16) f16. Prints a table.
set -uo pipefail
cd "$(dirname "$0")/../.."
fx=../shared/fixtures
out=${OUT:-/tmp/djinn-verify}; mkdir -p "$out"
fail=0
for dtype in f32 f16; do
  tol=1e-4; [ "$dtype" = f16 ] && tol=1e-2
  for f in gpt2-tiny gpt2-mini llama-mini bert-mini resnet50-narrow; do
    [ -d "$fx/$f" ] || continue
    inputs=$fx/$f/golden.safetensors
    if node dist/djinn.mjs forward --model-dir "$fx/$f" --inputs "$inputs" --out "$out/$f.$dtype.safetensors" --dtype "$dtype" 2>"$out/$f.$dtype.log"; then
      node dist/compare-golden.mjs "$inputs" "$out/$f.$dtype.safetensors" --tol "$tol" | sed "s/^/forward $f $dtype: /" || fail=1
    else
      echo "forward $f $dtype: FAILED: $(tail -1 "$out/$f.$dtype.log")"; fail=1
    fi
    if grep -q greedy_32 "$fx/$f/golden.json" 2>/dev/null; then
      ids=$(node -e "console.log(require('$fx/$f/golden.json').input_ids.join(','))")
      want=$(node -e "console.log(JSON.stringify(require('$fx/$f/golden.json').greedy_32))")
      got=$(node dist/djinn.mjs generate --model-dir "$fx/$f" --input-ids "$ids" --max-new-tokens 32 --json --dtype "$dtype" 2>>"$out/$f.$dtype.log" | node -e "let s='';process.stdin.on('data',d=>s+=d).on('end',()=>console.log(JSON.stringify(JSON.parse(s).tokens)))")
      same=$(node -e "const a=$want,b=${got:-[]};let n=0;while(n<a.length&&a[n]===b[n])n++;console.log(n)")
      echo "generate $f $dtype: greedy_32 matches for $same/32 steps"
    fi
  done
done
exit $fail
