// Compares a `djinn forward` output file with a fixture's golden outputs: prints one JSON line per shared tensor with
// the relative error ‖out − ref‖ / ‖ref‖, and exits 1 if any exceeds --tol (default 1e-4).
import { SafetensorsCheckpoint, toFloat32 } from "@djinn/engine"

const [golden, out, ...rest] = process.argv.slice(2)
const tolIndex = rest.indexOf("--tol")
const tol = tolIndex >= 0 ? Number(rest[tolIndex + 1]) : 1e-4
if (golden === undefined || out === undefined || !(tol > 0)) {
  console.error("usage: compare-golden GOLDEN.safetensors OUT.safetensors [--tol 1e-4]")
  process.exit(2)
}
const g = SafetensorsCheckpoint.file(golden)
const o = SafetensorsCheckpoint.file(out)
let worst = 0
let compared = 0
for (const [name] of o.tensors) {
  if (!g.has(name)) continue
  const a = toFloat32(o.read(name))
  const b = toFloat32(g.read(name))
  let num = 0, den = 0
  for (let i = 0; i < b.length; i++) { const d = a[i] - b[i]; num += d * d; den += b[i] * b[i] }
  const rel = a.length === b.length ? Math.sqrt(num / den) : Infinity
  worst = Math.max(worst, Number.isNaN(rel) ? Infinity : rel)
  compared++
  console.log(JSON.stringify({ tensor: name, elements: b.length, rel_error: rel, tol, ok: rel <= tol }))
}
if (compared === 0) { console.error("no tensor in common"); process.exit(1) }
process.exit(worst <= tol ? 0 : 1)
