// Semantic-blind mode: WebGPU-level calls forwarded as they are, batched per GpuSubmit. Ids are client-chosen.
import { Schema } from "effect"
import { BufferId, PipelineId, U32, U64 } from "./common.ts"

export const CreateBuffer = Schema.TaggedStruct("CreateBuffer", { bufferId: BufferId, size: U64, usage: U32 })
export const WriteBuffer = Schema.TaggedStruct("WriteBuffer", { bufferId: BufferId, offset: U64, data: Schema.Uint8Array })
/** Its bytes come back in GpuSubmitResult.reads, one entry per ReadBuffer in call order. */
export const ReadBuffer = Schema.TaggedStruct("ReadBuffer", { bufferId: BufferId, offset: U64, size: U64 })
export const DestroyBuffer = Schema.TaggedStruct("DestroyBuffer", { bufferId: BufferId })
/** A pipeline is a kernel id plus a variant key (dtype, workgroup size…); shapes travel in uniforms. */
export const CreatePipeline = Schema.TaggedStruct("CreatePipeline", {
  pipelineId: PipelineId,
  kernelId: Schema.String,
  variantKey: Schema.String,
})
export const Binding = Schema.Struct({ slot: U32, bufferId: BufferId, offset: U64, size: U64 })
export type Binding = typeof Binding.Type
export const Dispatch = Schema.TaggedStruct("Dispatch", {
  pipelineId: PipelineId,
  bindings: Schema.Array(Binding),
  uniforms: Schema.Uint8Array,
  workgroups: Schema.Tuple([U32, U32, U32]),
})

export const GpuCall = Schema.Union([CreateBuffer, WriteBuffer, ReadBuffer, DestroyBuffer, CreatePipeline, Dispatch])
export type GpuCall = typeof GpuCall.Type
export type GpuCallTag = GpuCall["_tag"]
