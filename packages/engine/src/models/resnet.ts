import type { DType, GpuDevice } from "@djinn/gpu"
import { avgpool, cast, conv2d, matmul, maxpool } from "@djinn/kernels"
import { Schema } from "effect"
import { engineError } from "../errors.ts"
import { allocTensor, binding, encodeValues, readTensor, type Memory, type Tensor } from "../memory.ts"
import type { WeightSource } from "../weights.ts"
import { ParamLoader, releaseAll, type TensorSpec } from "./params.ts"

/** HF `ResNetConfig`, or torchvision's descriptor (`architecture: torchvision.models.resnet50`, `base_width`). */
export const ResNetConfig = Schema.Struct({
  model_type: Schema.Literal("resnet"),
  architecture: Schema.optional(Schema.String),
  base_width: Schema.optional(Schema.Int),
  num_classes: Schema.optional(Schema.Int),
  num_channels: Schema.optional(Schema.Int),
  embedding_size: Schema.optional(Schema.Int),
  hidden_sizes: Schema.optional(Schema.Array(Schema.Int)),
  depths: Schema.optional(Schema.Array(Schema.Int)),
  layer_type: Schema.optional(Schema.String),
  hidden_act: Schema.optional(Schema.String),
  downsample_in_first_stage: Schema.optional(Schema.Boolean),
  downsample_in_bottleneck: Schema.optional(Schema.Boolean),
  num_labels: Schema.optional(Schema.Int),
  id2label: Schema.optional(Schema.Record(Schema.String, Schema.String)),
})
export type ResNetConfig = typeof ResNetConfig.Type

/** A convolution followed by an eval-mode BatchNorm (folded into it at load). */
export interface ConvBn {
  readonly conv: string
  /** Prefix of the BatchNorm's weight / bias / running_mean / running_var. */
  readonly bn: string
  readonly cin: number
  readonly cout: number
  readonly k: number
  readonly stride: number
}

export interface Bottleneck {
  readonly conv1: ConvBn
  readonly conv2: ConvBn
  readonly conv3: ConvBn
  readonly shortcut?: ConvBn
}

/** The network as a list of named layers: everything the forward and the loader need. */
export interface ResNetPlan {
  readonly naming: "torchvision" | "hf"
  readonly inChannels: number
  readonly stem: ConvBn
  readonly blocks: readonly Bottleneck[]
  readonly fc: { readonly weight: string; readonly bias: string; readonly inputs: number; readonly classes: number }
}

const TORCHVISION_DEPTHS: Record<string, number[]> = { resnet50: [3, 4, 6, 3], resnet101: [3, 4, 23, 3], resnet152: [3, 8, 36, 3] }

const torchvisionPlan = (c: ResNetConfig, weights?: WeightSource): ResNetPlan => {
  const arch = (c.architecture ?? "torchvision.models.resnet50").replace("torchvision.models.", "")
  const known = TORCHVISION_DEPTHS[arch]
  if (known === undefined) throw engineError("Unsupported", `resnet: torchvision architecture '${arch}' (bottleneck ResNet-50/101/152 only)`)
  // Widths and depths follow the weights where they are stored (a narrow ResNet-50 is still a ResNet-50).
  const base = weights?.shape?.("conv1.weight")?.[0] ?? c.base_width ?? 64
  const classes = weights?.shape?.("fc.weight")?.[0] ?? c.num_classes ?? 1000
  const depths = known.map((d, s) => {
    if (weights?.shape === undefined || weights.shape(`layer${s + 1}.0.conv1.weight`) === undefined) return d
    let n = 0
    while (weights.has(`layer${s + 1}.${n}.conv1.weight`)) n++
    return n
  })
  const blocks: Bottleneck[] = []
  let cin = base
  depths.forEach((depth, s) => {
    const planes = base * 2 ** s
    for (let b = 0; b < depth; b++) {
      const p = `layer${s + 1}.${b}.`
      const stride = b === 0 && s > 0 ? 2 : 1
      const cb = (i: number, ci: number, co: number, k: number, st: number): ConvBn => ({ conv: `${p}conv${i}.weight`, bn: `${p}bn${i}.`, cin: ci, cout: co, k, stride: st })
      blocks.push({
        conv1: cb(1, cin, planes, 1, 1),
        conv2: cb(2, planes, planes, 3, stride),
        conv3: cb(3, planes, planes * 4, 1, 1),
        shortcut: b === 0 ? { conv: `${p}downsample.0.weight`, bn: `${p}downsample.1.`, cin, cout: planes * 4, k: 1, stride } : undefined,
      })
      cin = planes * 4
    }
  })
  return {
    naming: "torchvision", inChannels: 3,
    stem: { conv: "conv1.weight", bn: "bn1.", cin: 3, cout: base, k: 7, stride: 2 },
    blocks, fc: { weight: "fc.weight", bias: "fc.bias", inputs: cin, classes },
  }
}

const hfPlan = (c: ResNetConfig): ResNetPlan => {
  if ((c.layer_type ?? "bottleneck") !== "bottleneck") throw engineError("Unsupported", `resnet: layer_type '${c.layer_type}' (bottleneck only)`)
  if ((c.hidden_act ?? "relu") !== "relu") throw engineError("Unsupported", `resnet: hidden_act '${c.hidden_act}'`)
  const depths = c.depths ?? [3, 4, 6, 3]
  const sizes = c.hidden_sizes ?? [256, 512, 1024, 2048]
  const embed = c.embedding_size ?? 64
  const inChannels = c.num_channels ?? 3
  const classes = c.num_labels ?? (c.id2label !== undefined ? Object.keys(c.id2label).length : 1000)
  const inBottleneck = c.downsample_in_bottleneck ?? false
  const blocks: Bottleneck[] = []
  let cin = embed
  depths.forEach((depth, s) => {
    const out = sizes[s]
    const reduced = out / 4
    for (let b = 0; b < depth; b++) {
      const p = `resnet.encoder.stages.${s}.layers.${b}.`
      const stride = b === 0 && (s > 0 || c.downsample_in_first_stage === true) ? 2 : 1
      const cb = (k: number, ci: number, co: number, size: number, st: number): ConvBn =>
        ({ conv: `${p}layer.${k}.convolution.weight`, bn: `${p}layer.${k}.normalization.`, cin: ci, cout: co, k: size, stride: st })
      blocks.push({
        conv1: cb(0, cin, reduced, 1, inBottleneck ? stride : 1),
        conv2: cb(1, reduced, reduced, 3, inBottleneck ? 1 : stride),
        conv3: cb(2, reduced, out, 1, 1),
        shortcut: cin !== out || stride !== 1
          ? { conv: `${p}shortcut.convolution.weight`, bn: `${p}shortcut.normalization.`, cin, cout: out, k: 1, stride }
          : undefined,
      })
      cin = out
    }
  })
  return {
    naming: "hf", inChannels,
    stem: { conv: "resnet.embedder.embedder.convolution.weight", bn: "resnet.embedder.embedder.normalization.", cin: inChannels, cout: embed, k: 7, stride: 2 },
    blocks, fc: { weight: "classifier.1.weight", bias: "classifier.1.bias", inputs: cin, classes },
  }
}

/** The layer plan: torchvision names when the checkpoint (or the config) is torchvision's, else HF's. */
export const resnetPlan = (c: ResNetConfig, weights?: WeightSource): ResNetPlan => {
  const torchvision = weights?.kind === "checkpoint" ? weights.has("conv1.weight") : c.architecture !== undefined
  return torchvision ? torchvisionPlan(c, weights) : hfPlan(c)
}

const convBns = (plan: ResNetPlan): ConvBn[] => [plan.stem, ...plan.blocks.flatMap((b) => [b.conv1, b.conv2, b.conv3, ...(b.shortcut ? [b.shortcut] : [])])]

/** Every tensor of the checkpoint (BatchNorm running statistics included, `num_batches_tracked` not). */
export const resnetTensors = (plan: ResNetPlan): TensorSpec[] => [
  ...convBns(plan).flatMap((c) => [
    { name: c.conv, shape: [c.cout, c.cin, c.k, c.k] },
    ...["weight", "bias", "running_mean", "running_var"].map((f) => ({ name: `${c.bn}${f}`, shape: [c.cout] })),
  ]),
  { name: plan.fc.weight, shape: [plan.fc.classes, plan.fc.inputs] },
  { name: plan.fc.bias, shape: [plan.fc.classes] },
]

/** Learnable parameters only (what torchvision's parameter count counts). */
export const resnetParameterCount = (plan: ResNetPlan): number =>
  resnetTensors(plan).filter((t) => !/running_(mean|var)$/.test(t.name)).reduce((n, t) => n + t.shape.reduce((a, b) => a * b, 1), 0)

interface FoldedConv { readonly spec: ConvBn; readonly w: Tensor; readonly b: Tensor }
interface Block { conv1: FoldedConv; conv2: FoldedConv; conv3: FoldedConv; shortcut?: FoldedConv }

const BN_EPS = 1e-5

export interface ResNetScratch {
  readonly N: number
  readonly H: number
  readonly W: number
  a: Tensor; b: Tensor; c: Tensor; d: Tensor; e: Tensor; pooled: Tensor
}

/**
 * ResNet-50 (bottleneck v1.5: stride on the 3×3) under torchvision or HF names, BatchNorm folded into each conv at
 * load. Forward = conv 7×7/2 + ReLU → maxpool 3×3/2 → bottlenecks (1×1 → 3×3 → 1×1 with the shortcut added before the
 * last ReLU, fused in the conv) → global average pool → fully connected. NCHW throughout.
 */
export class ResNet {
  readonly config: ResNetConfig
  readonly plan: ResNetPlan
  readonly dtype: DType
  readonly weightBytes: number
  private readonly gpu: GpuDevice
  private readonly stem: FoldedConv
  private readonly blocks: Block[]
  private readonly fcW: Tensor
  private readonly fcB: Tensor

  constructor(gpu: GpuDevice, mem: Memory, config: ResNetConfig, weights: WeightSource, dtype: DType) {
    this.gpu = gpu
    this.config = config
    this.dtype = dtype
    this.plan = resnetPlan(config, weights)
    const p = new ParamLoader(gpu, mem, weights, dtype, resnetTensors(this.plan))
    const fold = (c: ConvBn): FoldedConv => {
      if (p.synthetic) {
        // Folding seeded statistics gives just another seeded conv: fill the folded weight and bias directly.
        return { spec: c, w: p.fillAs(c.conv, [c.cout, c.cin, c.k, c.k]), b: p.fillAs(`${c.bn}bias`, [c.cout]) }
      }
      const f = conv2d.foldBatchNorm(
        p.values(c.conv), undefined, p.values(`${c.bn}weight`), p.values(`${c.bn}bias`), p.values(`${c.bn}running_mean`), p.values(`${c.bn}running_var`), BN_EPS,
      )
      return { spec: c, w: p.upload(f.weight, [c.cout, c.cin, c.k, c.k], c.conv), b: p.upload(f.bias, [c.cout], `${c.bn}folded`) }
    }
    this.stem = fold(this.plan.stem)
    this.blocks = this.plan.blocks.map((b) => ({
      conv1: fold(b.conv1), conv2: fold(b.conv2), conv3: fold(b.conv3), shortcut: b.shortcut && fold(b.shortcut),
    }))
    this.fcW = p.load(this.plan.fc.weight)
    this.fcB = p.load(this.plan.fc.bias)
    this.weightBytes = p.bytes
  }

  get numClasses(): number { return this.plan.fc.classes }
  get inChannels(): number { return this.plan.inChannels }

  /** The largest activation (elements) of an N×H×W batch. */
  private sizes(N: number, H: number, W: number): number {
    let h = conv2d.outSize(H, 7, 2, 3), w = conv2d.outSize(W, 7, 2, 3)
    let most = N * this.plan.stem.cout * h * w
    h = maxpool.outSize(h, 3, 2, 1); w = maxpool.outSize(w, 3, 2, 1)
    for (const b of this.plan.blocks) {
      const s = b.conv1.stride * b.conv2.stride
      const h2 = Math.ceil(h / s), w2 = Math.ceil(w / s)
      most = Math.max(most, N * b.conv1.cout * h * w, N * b.conv3.cout * h2 * w2)
      h = h2; w = w2
    }
    return most
  }

  newScratch(mem: Memory, N: number, H: number, W: number): ResNetScratch {
    const n = this.sizes(N, H, W)
    const t = (label: string) => allocTensor(mem, [n], this.dtype, "stack", label)
    return { N, H, W, a: t("act_a"), b: t("act_b"), c: t("act_c"), d: t("act_d"), e: t("act_e"), pooled: allocTensor(mem, [N, this.plan.fc.inputs], this.dtype, "stack", "pooled") }
  }

  /** Records the forward of input [N, C, H, W] into logits [N, classes] (no submit, no readback). */
  encode(args: { input: Tensor; logits: Tensor; scratch: ResNetScratch }): void {
    const { gpu, dtype } = this
    const { N, H, W } = args.scratch
    const s = args.scratch
    const conv = (c: FoldedConv, x: Tensor, y: Tensor, h: number, w: number, relu: boolean, residual?: Tensor): [number, number] => {
      const { cin, cout, k, stride } = c.spec
      conv2d.encode(gpu, {
        x: binding(x), w: binding(c.w), b: binding(c.b), y: binding(y), residual: residual && binding(residual),
        N, Cin: cin, H: h, W: w, Cout: cout, kh: k, kw: k, stride, pad: Math.floor(k / 2), relu, dtype,
      })
      return [conv2d.outSize(h, k, stride, Math.floor(k / 2)), conv2d.outSize(w, k, stride, Math.floor(k / 2))]
    }
    let [h, w] = conv(this.stem, args.input, s.a, H, W, true)
    maxpool.encode(gpu, { x: binding(s.a), y: binding(s.b), N, C: this.plan.stem.cout, H: h, W: w, k: 3, stride: 2, pad: 1, dtype })
    h = maxpool.outSize(h, 3, 2, 1); w = maxpool.outSize(w, 3, 2, 1)
    // cur holds the block input; the others rotate as t1, t2, shortcut and output.
    let cur = s.b
    let free = [s.a, s.c, s.d, s.e]
    for (const [i, B] of this.blocks.entries()) {
      // Submits along the way let the GPU start while the CPU records the rest.
      if (i === 1 || (i > 1 && i % 4 === 1)) gpu.submit()
      const [t1, t2, sc, out] = free
      const [h1, w1] = conv(B.conv1, cur, t1, h, w, true)
      const [h2, w2] = conv(B.conv2, t1, t2, h1, w1, true)
      const shortcut = B.shortcut === undefined ? cur : sc
      if (B.shortcut !== undefined) conv(B.shortcut, cur, sc, h, w, false)
      conv(B.conv3, t2, out, h2, w2, true, shortcut)
      free = [cur, t1, t2, sc]
      cur = out
      h = h2; w = w2
    }
    const C = this.plan.fc.inputs
    avgpool.encode(gpu, { x: binding(cur), y: binding(s.pooled), N, C, H: h, W: w, dtype })
    matmul.linear(gpu, { x: binding(s.pooled), w: binding(this.fcW), b: binding(this.fcB), y: binding(args.logits), M: N, N: this.numClasses, K: C, wLayout: "nk", dtype })
  }
}

/** One classifier forward: input [N, C, H, W] (f32, NCHW) → logits [N, classes] as f32. */
export const forwardVision = async (gpu: GpuDevice, mem: Memory, model: ResNet, input: Float32Array, shape: readonly [number, number, number, number]): Promise<Float32Array> => {
  const [N, C, H, W] = shape
  if (C !== model.inChannels) throw engineError("Input", `resnet: input has ${C} channels, the model takes ${model.inChannels}`)
  if (input.length !== N * C * H * W) throw engineError("Input", `resnet: input has ${input.length} values, expected ${N}×${C}×${H}×${W}`)
  if (N < 1 || H < 32 || W < 32) throw engineError("Input", `resnet: input [${shape.join(", ")}] is too small (N ≥ 1, H and W ≥ 32)`)
  const io: Record<string, Tensor> = {
    input: allocTensor(mem, [N, C, H, W], model.dtype, "stack", "input"),
    logits: allocTensor(mem, [N, model.numClasses], model.dtype, "stack", "logits"),
  }
  const scratch = model.newScratch(mem, N, H, W)
  try {
    if (model.dtype === "f16" && gpu.adapter.f16) {
      // f32 as given, cast on the GPU: a CPU conversion of a batch (1.2 M values at b8) costs milliseconds.
      const sent = allocTensor(mem, [N, C, H, W], "f32", "stack", "input_f32")
      io.sent = sent
      gpu.writeBuffer(sent.buffer, sent.offset, new Uint8Array(input.buffer, input.byteOffset, input.byteLength))
      cast.encode(gpu, { x: binding(sent), y: binding(io.input), n: N * C * H * W, to: "f16" })
    } else gpu.writeBuffer(io.input.buffer, io.input.offset, encodeValues(input, model.dtype))
    model.encode({ input: io.input, logits: io.logits, scratch })
    return await readTensor(gpu, io.logits)
  } finally {
    releaseAll(mem, io)
    releaseAll(mem, scratch as unknown as Record<string, unknown>)
  }
}
