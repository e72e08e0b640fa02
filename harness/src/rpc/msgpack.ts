// MessagePack for effect/rpc. Effect 4.1 ships JSON, NDJSON, JSON-RPC and SchemaBinary serializations but no
// msgPack (v3's RpcSerialization.msgPack is gone), so this is one: each message is a 4-byte little-endian length and
// a MessagePack body, payloads travel in their Schema Iso form (Uint8Array stays binary — no base64). A Meter counts
// bytes and (de)serialization time per direction, which is how the rpc baseline reports its client breakdown.
import { Decoder, Encoder } from "@msgpack/msgpack"
import { Layer, Schema } from "effect"
import { RpcSerialization } from "effect/rpc"

/** What crossed one endpoint's parser: bytes written/read (framing included) and time spent encoding/decoding. */
export interface Meter {
  bytesOut: number
  bytesIn: number
  encodeMs: number
  decodeMs: number
}

export const makeMeter = (): Meter => ({ bytesOut: 0, bytesIn: 0, encodeMs: 0, decodeMs: 0 })
export const resetMeter = (m: Meter): void => {
  m.bytesOut = 0
  m.bytesIn = 0
  m.encodeMs = 0
  m.decodeMs = 0
}

/** Liveness pings are not part of any call: they are not counted. */
const isPing = (m: unknown) => {
  const tag = (m as { _tag?: unknown } | null)?._tag
  return tag === "Ping" || tag === "Pong"
}

export const makeMsgPack = (meter?: Meter): RpcSerialization.RpcSerialization["Service"] =>
  RpcSerialization.RpcSerialization.of({
    contentType: "application/msgpack",
    includesFraming: true,
    // Holes are filled with the schema's Iso form: plain objects for declared types (Exit, Cause, tagged errors), while
    // Uint8Array stays a Uint8Array, which MessagePack carries as bin (no base64 as with the JSON codecs).
    codecFor: Schema.toCodecIso,
    makeUnsafe: () => {
      const encoder = new Encoder({ ignoreUndefined: true })
      const decoder = new Decoder()
      let pending: Uint8Array = new Uint8Array(0)
      return {
        encode: (message) => {
          const t = performance.now()
          const body = encoder.encode(message)
          const frame = new Uint8Array(4 + body.byteLength)
          new DataView(frame.buffer).setUint32(0, body.byteLength, true)
          frame.set(body, 4)
          if (meter && !isPing(message)) {
            meter.encodeMs += performance.now() - t
            meter.bytesOut += frame.byteLength
          }
          return frame
        },
        decode: (chunk) => {
          const t = performance.now()
          const bytes = typeof chunk === "string" ? new TextEncoder().encode(chunk) : chunk
          if (pending.byteLength === 0) pending = bytes
          else {
            const joined = new Uint8Array(pending.byteLength + bytes.byteLength)
            joined.set(pending)
            joined.set(bytes, pending.byteLength)
            pending = joined
          }
          const out: Array<unknown> = []
          let counted = 0
          while (pending.byteLength >= 4) {
            const n = new DataView(pending.buffer, pending.byteOffset, 4).getUint32(0, true)
            if (pending.byteLength < 4 + n) break
            const message = decoder.decode(pending.subarray(4, 4 + n))
            if (!isPing(message)) counted += 4 + n
            out.push(message)
            pending = pending.subarray(4 + n)
          }
          if (meter && counted > 0) {
            meter.bytesIn += counted
            meter.decodeMs += performance.now() - t
          }
          return out
        },
      }
    },
  })

export const layerMsgPack = (meter?: Meter) => Layer.succeed(RpcSerialization.RpcSerialization, makeMsgPack(meter))
