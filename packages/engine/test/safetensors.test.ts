import { mkdtempSync, writeFileSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { describe, expect, it } from "vitest"
import { readHeader, resolveModel, SafetensorsCheckpoint, toFloat32, writeSafetensors } from "../src/index.ts"
import { fixture } from "./fixtures.ts"

const tmp = () => mkdtempSync(join(tmpdir(), "djinn-st-"))
const header = (json: string, extra = 0) => {
  const h = Buffer.alloc(8)
  h.writeBigUInt64LE(BigInt(Buffer.byteLength(json)))
  return Buffer.concat([h, Buffer.from(json), Buffer.alloc(extra)])
}

describe("safetensors", () => {
  it("round-trips what it writes", () => {
    const path = join(tmp(), "t.safetensors")
    const data = Float32Array.from([1, -2.5, NaN, Infinity, 0, 3])
    writeSafetensors(path, { x: { dtype: "F32", shape: [2, 3], data }, ids: { dtype: "I32", shape: [2], data: Int32Array.from([7, -1]) } })
    const ckpt = SafetensorsCheckpoint.file(path)
    expect(ckpt.tensors.get("x")!.shape).toEqual([2, 3])
    expect(Array.from(toFloat32(ckpt.read("x")))).toEqual(Array.from(data))
    expect(Array.from(toFloat32(ckpt.read("ids")))).toEqual([7, -1])
  })
  it("reads the fixtures' F16 weights", () => {
    const ckpt = SafetensorsCheckpoint.open(fixture("llama-mini"))
    const [name, info] = [...ckpt.tensors].find(([, t]) => t.dtype === "F16")!
    const values = toFloat32(ckpt.read(name))
    expect(values.length).toBe(info.shape.reduce((a, b) => a * b, 1))
    expect(values.every(Number.isFinite)).toBe(true)
  })
  const bad: [string, Buffer][] = [
    ["too short", Buffer.alloc(3)],
    ["a header longer than the file", (() => { const b = Buffer.alloc(16); b.writeBigUInt64LE(1000n); return b })()],
    ["a header that is not JSON", header("{nope")],
    ["an unknown dtype", header(JSON.stringify({ x: { dtype: "Q4", shape: [1], data_offsets: [0, 1] } }), 1)],
    ["offsets that disagree with the shape", header(JSON.stringify({ x: { dtype: "F32", shape: [4], data_offsets: [0, 8] } }), 8)],
    ["data past the end of the file", header(JSON.stringify({ x: { dtype: "F32", shape: [4], data_offsets: [0, 16] } }), 4)],
    ["a negative dimension", header(JSON.stringify({ x: { dtype: "F32", shape: [-1], data_offsets: [0, 0] } }))],
  ]
  for (const [what, bytes] of bad) {
    it(`rejects ${what} with a typed error`, () => {
      const path = join(tmp(), "bad.safetensors")
      writeFileSync(path, bytes)
      expect(() => readHeader(path)).toThrow(expect.objectContaining({ _tag: "EngineError", reason: "ModelFile" }))
    })
  }
  it("names a missing checkpoint and an unknown model id", () => {
    expect(() => SafetensorsCheckpoint.open(tmp())).toThrow(/no model.safetensors/)
    expect(() => resolveModel({ modelId: "nobody/nothing" })).toThrow(/unknown model id 'nobody\/nothing'/)
  })
})
