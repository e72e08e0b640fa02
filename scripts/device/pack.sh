#!/usr/bin/env bash
# Packs what a GPU-host run needs into .devbundle/ (ignored by git): the bundle (pnpm bundle → dist/) and the PyTorch
# fixtures, xz-compressed to fit the device tool's 64 MiB. Carry `.device` and `.devbundle`; on the host run
# `source .device/prelude.sh; bash scripts/device/unpack.sh` first.
set -euo pipefail
cd "$(dirname "$0")/../.."
node_modules/.bin/node scripts/bundle.ts
mkdir -p .devbundle
tar -C . -cf - dist | xz -T0 -6 > .devbundle/dist.tar.xz
fixtures=$(cd ../shared && pwd)/fixtures
tar -C "$(dirname "$fixtures")" -cf - fixtures | xz -T0 -6 > .devbundle/fixtures.tar.xz
du -sh .devbundle/* .device 2>/dev/null
