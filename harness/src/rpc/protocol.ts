// The rpc baseline's procedures: a canonical stateless remote call. The client ships the input tensor (token ids,
// images) and gets the output tensor back (generated ids, or f32 values); the server keeps nothing
// between calls but the loaded model — no sessions, no KV cache across calls, no refs.
import { Schema } from "effect"
import { Rpc, RpcGroup } from "effect/rpc"

export const RunRequest = Schema.Struct({
  kind: Schema.Literals(["generate", "forward", "encode", "classify"]),
  /** The input tensor: token ids (i32 LE), or images (f32 LE, NCHW). */
  data: Schema.Uint8Array,
  /** Its shape: [T] ids, [B, S] ids, or [N, C, H, W] images. */
  shape: Schema.Array(Schema.Int),
  newTokens: Schema.Int,
})

export const RunReply = Schema.Struct({
  /** generate: token ids (i32 LE); otherwise f32 LE values (last-position logits, last_hidden_state, class logits). */
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
