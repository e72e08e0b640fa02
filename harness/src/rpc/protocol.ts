// The rpc baseline's procedures: a canonical stateless remote call. The client ships the input tensor (token ids,
// i32 little-endian) and gets the output tensor back (generated ids, or f32 logits); the server keeps nothing
// between calls but the loaded model — no sessions, no KV cache across calls, no refs.
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

export const RunRequest = Schema.Struct({
  kind: Schema.Literals(["generate", "forward"]),
  /** Token ids, i32 LE. */
  ids: Schema.Uint8Array,
  newTokens: Schema.Int,
})

export const RunReply = Schema.Struct({
  /** generate: token ids (i32 LE); forward: logits of the last position (f32 LE). */
  output: Schema.Uint8Array,
  shape: Schema.Array(Schema.Int),
  /** Time in the handler (after the request was decoded, before the reply is encoded), and in the engine alone. */
  serverMs: Schema.Number,
  executionMs: Schema.Number,
})

export const ServerInfo = Schema.Struct({
  /** The engine's HostInfo as JSON (adapter, dtype, weights source). */
  json: Schema.String,
})

export class RpcFailure extends Schema.TaggedError<RpcFailure>()("RpcFailure", { message: Schema.String }) {}

export class EngineRpcs extends RpcGroup.make(
  Rpc.make("Run", { payload: RunRequest, success: RunReply, error: RpcFailure }),
  Rpc.make("Info", { success: ServerInfo }),
) {}
