#!/usr/bin/env bash
# Regenerates src/gen/ from schema/djinn.capnp with the capnp compiler and capnp-es's TypeScript plugin.
# Usage: scripts/gen.sh [out-dir]   (default: src/gen; the freshness test passes a temp dir)
set -euo pipefail
pkg="$(cd "$(dirname "$0")/.." && pwd)"
root="$(cd "$pkg/../.." && pwd)"
out="$(mkdir -p "${1:-$pkg/src/gen}" && cd "${1:-$pkg/src/gen}" && pwd)"
command -v capnp >/dev/null || { echo "gen.sh: the capnp compiler is not installed (apt-get install capnproto)" >&2; exit 1; }

# capnp runs a plugin as an executable; this one runs capnp-es's TS plugin under the repo's Node (22).
plugin_dir="$(mktemp -d)"
trap 'rm -rf "$plugin_dir"' EXIT
cat >"$plugin_dir/capnpc-ts" <<SH
#!/bin/sh
exec "$root/node_modules/.bin/node" "$pkg/node_modules/capnp-es/dist/compiler/capnpc-ts.mjs" >/dev/null
SH
chmod +x "$plugin_dir/capnpc-ts"

rm -f "$out"/*.ts
# The plugin runs with $out as its working directory and writes djinn.ts there.
capnp compile --no-standard-import --src-prefix="$pkg/schema" -o"$plugin_dir/capnpc-ts:$out" "$pkg/schema/djinn.capnp"
"$root/node_modules/.bin/node" "$pkg/scripts/gen-pointers.ts" "$out"
