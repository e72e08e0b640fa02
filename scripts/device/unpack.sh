#!/usr/bin/env bash
# On the GPU host: unpacks dist/ and fixtures/ (to ../shared/fixtures, where tests and configs expect them).
set -euo pipefail
cd "$(dirname "$0")/../.."
bundle=${DJINN_DEVBUNDLE:-.devbundle}
tar -xJf "$bundle/dist.tar.xz"
mkdir -p ../shared && tar -C ../shared -xJf "$bundle/fixtures.tar.xz"
echo "unpacked dist/ and ../shared/fixtures on $(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -1)"
