#!/usr/bin/env bash
# Packs what a GPU-host run needs into .devbundle/ (ignored by git): the bundle (pnpm bundle → dist/) and the PyTorch
# fixtures, xz-compressed to fit the device tool's 64 MiB. Carry `.device` and `.devbundle`; on the host run
# `source .device/prelude.sh; bash scripts/device/unpack.sh` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
# DJINN_DEVBUNDLE names another bundle folder (e.g. .devbundle-gemm) so several people can pack side by side.
bundle=${DJINN_DEVBUNDLE:-.devbundle}
export DJINN_DIST_DIR=${bundle}/dist
node_modules/.bin/node scripts/bundle.ts
# The kernel, GPU and engine tests, runnable there without vitest (scripts/device/vitest-shim.ts): node test-<name>.mjs.
# Not the Deno test: the bundle carries no `deno` binary (CI runs it, from the npm package).
node_modules/.bin/node scripts/device/bundle-tests.ts "$bundle/dist" kernels/*/*.test.ts $(ls packages/gpu/test/*.test.ts | grep -v /deno.test.ts) packages/engine/test/*.test.ts
tar -C "$bundle" -cf - dist | xz -T0 -6 > "$bundle/dist.tar.xz"
rm -rf "$bundle/dist"
fixtures=$(cd ../shared && pwd)/fixtures
tar -C "$(dirname "$fixtures")" -cf - fixtures | xz -T0 -6 > "$bundle/fixtures.tar.xz"
du -sh "$bundle"/* .device 2>/dev/null
