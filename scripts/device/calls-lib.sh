#!/usr/bin/env bash
# Helpers of the per-session A/B scripts (session6.sh, session7.sh), sourced on the GPU host in dist/ after unpack.sh.
# The sourcing script sets TAG (the sweep's result tag) and defines call_NAME functions; `run_calls NAME...` runs each
# into $OUT/NAME/ (summary.txt, logs, JSON) and tars it into $OUT/NAME.tgz. Summary lines also go to stdout.
C=configs/overhead_hf_smoke.yaml

say() { echo "$*" | tee -a "$out/summary.txt"; }
tests() { say "tests: $(OUT=$out timeout 240 bash ../scripts/device/run-tests.sh "$@" 2>&1 | tr '\n' ';')"; }
# profile WORKLOADS REPS [ENV=VALUE...]: one profile.mjs run, its figures on one summary line.
profile() {
  local only=$1 reps=$2; shift 2
  local f="$out/profile-$SECONDS"
  timeout 150 env "$@" node profile.mjs --only "$only" --reps "$reps" --out "$f.json" > "$f.txt" 2>&1
  say "${*:-default}: $(grep -ho '"workload":"[a-z0-9_]*"\|"wall_ms":[0-9.]*\|"record_ms":[0-9.]*\|"gpu_ms":[0-9.]*' "$f.txt" | paste -sd' ')"
}
# sweep NAME WORKLOADS BASELINES RUNS [ENV=VALUE...]: an interleaved sweep into $out/NAME.
sweep() {
  local name=$1 workloads=$2 baselines=$3 runs=$4; shift 4
  timeout 280 env "$@" node harness.mjs sweep --config $C --workloads "$workloads" --baselines "$baselines" --interleave \
    --runs "$runs" --warmup 2 --output-dir "$out/$name" --tag "$TAG" > /dev/null 2> "$out/$name.log"
  say "$name sweep rc=$?: $(grep -h "ok, mean" "$out/$name.log" | tr '\n' ';')"
}

run_calls() {
  local root=${OUT:-.} call
  for call in "$@"; do
    out=$root/$call
    mkdir -p "$out"
    say "$call: $(nvidia-smi --query-gpu=name,driver_version --format=csv,noheader)"
    "call_$call"
    (cd "$root" && tar czf "$call.tgz" "$call" && rm -rf "$call")
  done
}
