#!/usr/bin/env bash
# On the GPU host, in dist/ after unpack.sh: runs every bundled test (test-*.mjs, see bundle-tests.ts) or those named,
# with the fixtures unpacked beside the repository. Prints each file's summary line; exits 1 if any test failed.
set -uo pipefail
export DJINN_FIXTURES=${DJINN_FIXTURES:-$(cd ../../shared/fixtures 2>/dev/null && pwd)}
status=0
files=("$@")
[ ${#files[@]} -eq 0 ] && files=($(ls test-*.mjs | grep -v "^test-chunk-"))
for f in "${files[@]}"; do
  node "$f" > "${OUT:-.}/${f%.mjs}.log" 2>&1 || status=1
  tail -1 "${OUT:-.}/${f%.mjs}.log"
done
exit $status
