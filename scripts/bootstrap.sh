#!/usr/bin/env bash
# Makes a fresh Debian 12 machine with only Node and npm ready for `npm test` / `npm run sweep`:
# pnpm 12, the workspace's packages (Node 22 comes with them), Debian tools the tests need, and — where no GPU adapter
# is found — Mesa's lavapipe Vulkan driver from bookworm-backports. Idempotent and quiet when there is nothing to do.
set -euo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"

say() { echo "[bootstrap] $*" >&2; }
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"; else return 1; fi; }

if ! command -v pnpm >/dev/null || [ "$(pnpm -v 2>/dev/null | cut -d. -f1)" != 12 ]; then
  say "installing pnpm@12.4.2"
  npm i -g pnpm@12.4.2 >/dev/null 2>&1 || { npm i -g --prefix "$HOME/.local" pnpm@12.4.2 >/dev/null && export PATH="$HOME/.local/bin:$PATH"; }
fi
if [ ! -x node_modules/.bin/node ] || [ pnpm-lock.yaml -nt node_modules/.modules.yaml ]; then
  say "installing packages"
  pnpm install --frozen-lockfile --reporter=silent
fi

apt_ready=""
apt_install() { # $1 = suite ("" for default), rest = packages
  local suite=$1; shift
  if [ -z "$apt_ready" ]; then
    if [ -n "$suite" ] && ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/; then
      echo "deb http://deb.debian.org/debian bookworm-backports main" | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null || return 1
    fi
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null || return 1
    apt_ready=1
  fi
  if [ -n "$suite" ]; then as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t "$suite" "$@" >/dev/null
  else as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null; fi
}

# A GPU adapter? (Dawn finds NVIDIA/AMD/Intel Vulkan drivers, or lavapipe.)
if ! node_modules/.bin/node scripts/has-adapter.ts >/dev/null 2>&1; then
  say "no WebGPU adapter found: installing Mesa's lavapipe (mesa-vulkan-drivers, libvulkan1 from bookworm-backports)"
  if ! grep -rqs "bookworm-backports" /etc/apt/sources.list /etc/apt/sources.list.d/ 2>/dev/null; then apt_ready=""; fi
  if ! apt_install bookworm-backports mesa-vulkan-drivers libvulkan1; then
    say "ERROR: could not install lavapipe (needs root or passwordless sudo, and Debian's bookworm-backports)."
    say "Install a Vulkan driver yourself: sudo apt-get install -t bookworm-backports mesa-vulkan-drivers libvulkan1"
    exit 1
  fi
  node_modules/.bin/node scripts/has-adapter.ts >&2 || { say "ERROR: still no WebGPU adapter after installing lavapipe"; exit 1; }
fi
# The Cap'n Proto compiler, for the test that regenerates the protocol's code.
if [ "${DJINN_BOOTSTRAP_CAPNP:-1}" = 1 ] && ! command -v capnp >/dev/null; then
  apt_install "" capnproto || say "warning: could not install capnproto; the codegen freshness test will fail"
fi
# Headless Chromium, for the test that renders the harness report.
if [ "${DJINN_BOOTSTRAP_CHROMIUM:-1}" = 1 ] && ! command -v chromium >/dev/null; then
  apt_install "" chromium || say "warning: could not install chromium; the report rendering test will fail"
fi
