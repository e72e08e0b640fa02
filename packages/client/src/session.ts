import type { BodyOf, DType, Hints, Input, MessageBody, Phase, Priority, Profile, RefId, SessionId, Tensor, Want } from "@djinn/protocol"
import type { Connection } from "./connection.ts"
import { clientError } from "./errors.ts"
import { outputNames, wireTensor, type TensorData } from "./tensors.ts"
import type { CallTimings } from "./timings.ts"

export type ModelRef = number | { readonly handle: number }
const handleOf = (m: ModelRef): number => (typeof m === "number" ? m : m.handle)

export const defaultHints = (h: Partial<Hints> = {}): Hints => ({
  phase: h.phase ?? "auto",
  priority: h.priority ?? "interactive",
  expectedTokens: h.expectedTokens ?? 0,
  kvBudgetBytes: h.kvBudgetBytes ?? 0,
  finalize: h.finalize ?? false,
})

/** A tensor the server kept (skeletonization): bytes cross the network only on fetch. */
export class RemoteRef {
  readonly id: RefId
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly byteSize: number
  private readonly conn: Connection

  constructor(conn: Connection, ref: { id: RefId; dtype: DType; shape: ReadonlyArray<number>; byteSize: number }) {
    this.conn = conn
    this.id = ref.id
    this.dtype = ref.dtype
    this.shape = ref.shape
    this.byteSize = ref.byteSize
  }

  async fetch(): Promise<{ readonly data: Uint8Array; readonly timings: CallTimings }> {
    const r = await this.conn.call({ _tag: "FetchRef", refId: this.id }, ["RefData"])
    return { data: r.body.data, timings: r.timings }
  }

  /** f32 values of an f32 ref (f16 refs: decode `fetch()`'s bytes yourself). */
  async fetchFloat32(): Promise<Float32Array> {
    if (this.dtype !== "f32") throw clientError("Input", `ref ${this.id} is ${this.dtype}, not f32`)
    const { data } = await this.fetch()
    return new Float32Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength))
  }

  async free(): Promise<void> {
    await this.conn.call({ _tag: "FreeRefs", refIds: [this.id] }, ["Ack"])
  }
}

export interface RequestOptions {
  readonly priority?: Priority
  readonly phase?: Phase
  /** Keep the session's context (KV cache, last token) for the next request; by default each request stands alone. */
  readonly keepContext?: boolean
  readonly expectedTokens?: number
  readonly want?: Partial<Want>
}

export interface GenerateOptions extends RequestOptions {
  readonly maxNewTokens: number
  /** Called for each token as the server streams it (turns streaming on). */
  readonly onToken?: (token: number, index: number) => void
  readonly stream?: boolean
  readonly stopTokens?: ReadonlyArray<number>
}

export interface RequestResult {
  readonly tokens: number[]
  readonly refs: RemoteRef[]
  readonly lastLogits?: Tensor
  /** The server's phase times for this request. */
  readonly profile: Profile
  /** What the call cost on the client: serialization, deserialization, network each way, bytes each way. */
  readonly timings: CallTimings
}

/** Named inputs of a forward: tensors sent inline, or refs the server holds (outputs of earlier requests). */
export type ForwardInputs = Readonly<Record<string, TensorData | RemoteRef>>

export interface ForwardOptions extends RequestOptions {
  /**
   * Return the outputs' values in the reply instead of keeping them on the server as refs (the default). Same as
   * `want: { lastLogits: true, refs: false }`; an explicit `want` wins.
   */
  readonly values?: boolean
}

/** One output of a forward: its values (when asked for, in the model's dtype), its ref (when kept), or both. */
export interface ForwardOutput {
  readonly name: string
  readonly dtype: DType
  readonly shape: ReadonlyArray<number>
  readonly tensor?: Tensor
  readonly ref?: RemoteRef
}

export interface ForwardResult extends RequestResult {
  /** By name: last_hidden_state and pooler_output (encoders), logits (vision models; a causal LM's kept logits). */
  readonly outputs: Readonly<Record<string, ForwardOutput>>
}

const idsInput = (ids: ArrayLike<number>): Input => {
  const data = Int32Array.from(ids as ArrayLike<number>)
  return { name: "input_ids", tensor: { dtype: "i32", shape: [1, data.length], data: new Uint8Array(data.buffer) } }
}

/**
 * A semantic session on the server: a private KV arena, requests that run in order, outputs that stay on the server
 * as refs until fetched. Generate streams tokens (TokenEvent) and ends with a Result.
 */
export class Session {
  readonly id: SessionId
  readonly kvArenaBytes: number
  readonly hints: Hints
  private readonly conn: Connection

  constructor(conn: Connection, id: SessionId, kvArenaBytes: number, hints: Hints) {
    this.conn = conn
    this.id = id
    this.kvArenaBytes = kvArenaBytes
    this.hints = hints
  }

  static async open(conn: Connection, hints: Partial<Hints> = {}): Promise<Session> {
    const h = defaultHints(hints)
    const r = await conn.call({ _tag: "OpenSession", hints: h }, ["SessionOpened"])
    return new Session(conn, r.body.sessionId, r.body.kvArenaBytes, h)
  }

  private requestHints(o: RequestOptions): Hints {
    return defaultHints({
      phase: o.phase ?? this.hints.phase,
      priority: o.priority ?? this.hints.priority,
      expectedTokens: o.expectedTokens ?? 0,
      finalize: !(o.keepContext ?? false),
    })
  }

  private result(r: { body: BodyOf<"Result">; timings: CallTimings }): RequestResult {
    const { tokens, refs, lastLogits, profile } = r.body
    return { tokens: [...tokens], refs: refs.map((ref) => new RemoteRef(this.conn, ref)), profile, timings: r.timings, ...(lastLogits !== undefined ? { lastLogits } : {}) }
  }

  async generate(model: ModelRef, prompt: ArrayLike<number>, options: GenerateOptions): Promise<RequestResult> {
    const stream = options.stream ?? options.onToken !== undefined
    const onEvent = options.onToken === undefined ? undefined : (body: MessageBody) => {
      if (body._tag === "TokenEvent") options.onToken!(body.token, body.index)
    }
    const r = await this.conn.call({
      _tag: "Generate",
      sessionId: this.id,
      modelHandle: handleOf(model) as BodyOf<"Generate">["modelHandle"],
      inputs: [idsInput(prompt)],
      hints: this.requestHints(options),
      params: { maxNewTokens: options.maxNewTokens, temperature: 0, topK: 0, topP: 1, seed: 0, stopTokens: [...(options.stopTokens ?? [])], stream },
      want: { tokens: true, lastLogits: false, refs: false, ...options.want },
    }, ["Result"], onEvent)
    return this.result(r)
  }

  /**
   * One forward pass. A causal LM takes token ids (its logits [T, vocab] stay on the server as a ref by default);
   * an encoder takes `{ input_ids, attention_mask?, token_type_ids? }` (i32 [B, S]) and a vision model `{ input }`
   * (f32 [N, C, H, W]), inline or as refs. Outputs come back by name: as refs by default, as values with `values`.
   * Large tensors are written to the socket from the caller's arrays, not copied: leave them unchanged until the
   * call settles.
   */
  async forward(model: ModelRef, inputs: ArrayLike<number> | ForwardInputs, options: ForwardOptions = {}): Promise<ForwardResult> {
    const ids = Array.isArray(inputs) || ArrayBuffer.isView(inputs)
    const named = ids ? [idsInput(inputs as ArrayLike<number>)] : Object.entries(inputs as ForwardInputs).map(([name, t]): Input =>
      t instanceof RemoteRef ? { name, ref: t.id } : { name, tensor: wireTensor(name, t) })
    if (named.length === 0) throw clientError("Input", "a forward needs at least one input")
    const values: Array<{ ref: BodyOf<"RefData">["ref"]; data: Uint8Array }> = []
    const r = await this.conn.call({
      _tag: "Forward",
      sessionId: this.id,
      modelHandle: handleOf(model) as BodyOf<"Forward">["modelHandle"],
      inputs: named,
      hints: this.requestHints({ phase: ids || "input_ids" in inputs ? "prefill" : "vision", ...options }),
      want: { tokens: false, lastLogits: options.values === true, refs: options.values !== true, ...options.want },
    }, ["Result"], (body) => { if (body._tag === "RefData") values.push({ ref: body.ref, data: body.data }) })
    const result = this.result(r)
    // Values arrive ahead of the Result (one RefData per output, ref id 0 when not kept); refs are in the Result.
    const shapes = values.length > 0 ? values.map((v) => v.ref.shape) : result.refs.map((ref) => ref.shape)
    const names = outputNames(shapes)
    const outputs: Record<string, ForwardOutput> = {}
    for (const [i, name] of names.entries()) {
      const ref = result.refs[i]
      const v = values[i]
      const meta = v?.ref ?? ref
      outputs[name] = {
        name, dtype: meta.dtype, shape: meta.shape,
        ...(v !== undefined ? { tensor: { dtype: v.ref.dtype, shape: v.ref.shape, data: v.data } } : {}),
        ...(ref !== undefined ? { ref } : {}),
      }
    }
    // A causal LM's last-position logits (want.lastLogits) travel in the Result itself.
    if (result.lastLogits !== undefined && values.length === 0) {
      const t = result.lastLogits
      outputs.last_logits = { name: "last_logits", dtype: t.dtype, shape: t.shape, tensor: t }
    }
    return { ...result, outputs }
  }

  /** Ends the session: the server frees its arena, contexts and refs. */
  async close(): Promise<void> {
    await this.conn.call({ _tag: "CloseSession", sessionId: this.id }, ["Ack"])
  }
}
