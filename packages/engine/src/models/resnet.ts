import { envVar, type Binding, type DType, type GpuDevice } from "@djinn/gpu"
import { avgpool, cast, conv2d, im2col, matmul, maxpool } from "@djinn/kernels"
import { engineError } from "../errors.ts"
import { allocTensor, binding, encodeValues, readTensor, type Memory, type Tensor } from "../memory.ts"
import { ForwardReplays } from "../replay.ts"
import type { WeightSource } from "../weights.ts"
import { ParamLoader, releaseAll } from "./params.ts"
import { convBns, resnetPlan, resnetTensors, type ConvBn, type ResNetConfig, type ResNetPlan } from "./resnet-plan.ts"

export { convBns, resnetParameterCount, resnetPlan, resnetTensors, ResNetConfig, type Bottleneck, type ConvBn, type ResNetPlan } from "./resnet-plan.ts"

/**
 * Activations NCHW with every convolution through `conv2d`, or NHWC with every convolution a GEMM through
 * `matmul.linear` (tensor cores where sgmat runs): 1×1 stride-1 convolutions multiply the activation [N·H·W, Cin]
 * itself, the others multiply the rows `im2col` gathers.
 */
export type ResNetLayout = "nchw" | "nhwc"

export interface ResNetOptions {
  /** Default: DJINN_RESNET_LAYOUT where it is nchw or nhwc (A/B runs), else `defaultLayout`. */
  readonly layout?: ResNetLayout
}

/** NHWC where f16 GEMMs run on tensor cores (sgmat.usable); NCHW's conv2d elsewhere. */
export const defaultLayout = (gpu: GpuDevice, dtype: DType): ResNetLayout => {
  const env = envVar("DJINN_RESNET_LAYOUT")
  if (env === "nchw" || env === "nhwc") return env
  return dtype === "f16" && matmul.sgmat.usable(gpu.adapter) ? "nhwc" : "nchw"
}

interface FoldedConv {
  readonly spec: ConvBn
  /**
   * NCHW: [Cout, Cin, k, k]. NHWC: the GEMM's "nk" weight [Cout, K]: a 1×1's own [Cout, Cin], else reordered to
   * (kh, kw, Cin) and padded with zeros to K = im2col.paddedK(kh·kw·Cin).
   */
  readonly w: Tensor
  readonly b: Tensor
  /** The row length of w. */
  readonly K: number
}
interface Block { conv1: FoldedConv; conv2: FoldedConv; conv3: FoldedConv; shortcut?: FoldedConv }

const BN_EPS = 1e-5

export interface ResNetScratch {
  readonly N: number
  readonly H: number
  readonly W: number
  a: Tensor; b: Tensor; c: Tensor; d: Tensor; e: Tensor; pooled: Tensor
  /** NHWC: im2col's rows [M, K] of the largest convolution that gathers them. */
  col?: Tensor
}

/** Whether the NHWC forward gathers a convolution's rows with im2col: all but the 1×1 stride-1s on activations. */
const gathers = (c: FoldedConv, stem: boolean): boolean => c.spec.k > 1 || c.spec.stride > 1 || stem

/** im2col's reordering of a [Cout, Cin, k, k] weight into the GEMM's [Cout, K] (see FoldedConv). */
const weightReorder = (c: ConvBn, K: number): im2col.Im2colShape =>
  ({ N: c.cout, C: c.cin, H: c.k, W: c.k, kh: c.k, kw: c.k, stride: 1, pad: 0, Kp: K, layout: "nchw" })

/**
 * ResNet-50 (bottleneck v1.5: stride on the 3×3) under torchvision or HF names, BatchNorm folded into each conv at
 * load. Forward = conv 7×7/2 + ReLU → maxpool 3×3/2 → bottlenecks (1×1 → 3×3 → 1×1 with the shortcut added before the
 * last ReLU, fused in the conv) → global average pool → fully connected. The input is NCHW; activations are NCHW or
 * NHWC (`ResNetLayout`).
 */
export class ResNet {
  readonly config: ResNetConfig
  readonly plan: ResNetPlan
  readonly dtype: DType
  readonly layout: ResNetLayout
  readonly weightBytes: number
  private readonly gpu: GpuDevice
  private readonly stem: FoldedConv
  private readonly blocks: Block[]
  private readonly fcW: Tensor
  private readonly fcB: Tensor
  private readonly replays = new ForwardReplays()

  constructor(gpu: GpuDevice, mem: Memory, config: ResNetConfig, weights: WeightSource, dtype: DType, options: ResNetOptions = {}) {
    this.gpu = gpu
    this.config = config
    this.dtype = dtype
    this.layout = options.layout ?? defaultLayout(gpu, dtype)
    this.plan = resnetPlan(config, weights)
    const p = new ParamLoader(gpu, mem, weights, dtype, resnetTensors(this.plan))
    // NHWC reorders the k×k weights: checkpoint ones on the CPU, seeded ones on the GPU by the same permutation
    // (filled as [Cout, Cin, k, k] into a staging buffer, then im2col), so both hold the same values.
    const reordered = (c: ConvBn) => this.layout === "nhwc" && c.k > 1
    const staging = p.synthetic ? this.stagingBuffer(convBns(this.plan).filter(reordered)) : undefined
    const fold = (c: ConvBn): FoldedConv => {
      const shape = [c.cout, c.cin, c.k, c.k]
      const K = reordered(c) ? im2col.paddedK(c.k * c.k * c.cin) : c.cin * c.k * c.k
      if (p.synthetic) {
        // Folding seeded statistics gives just another seeded conv: fill the folded weight and bias directly.
        let w: Tensor
        if (staging === undefined || !reordered(c)) w = p.fillAs(c.conv, shape)
        else {
          p.fillInto(c.conv, shape, staging)
          w = p.allocate([c.cout, K], c.conv)
          im2col.encode(gpu, { ...weightReorder(c, K), x: staging, col: binding(w), dtype })
        }
        return { spec: c, w, b: p.fillAs(`${c.bn}bias`, [c.cout]), K }
      }
      const f = conv2d.foldBatchNorm(
        p.values(c.conv), undefined, p.values(`${c.bn}weight`), p.values(`${c.bn}bias`), p.values(`${c.bn}running_mean`), p.values(`${c.bn}running_var`), BN_EPS,
      )
      const w = reordered(c) ? p.upload(im2col.reference(f.weight, weightReorder(c, K)), [c.cout, K], c.conv) : p.upload(f.weight, shape, c.conv)
      return { spec: c, w, b: p.upload(f.bias, [c.cout], `${c.bn}folded`), K }
    }
    this.stem = fold(this.plan.stem)
    this.blocks = this.plan.blocks.map((b) => ({
      conv1: fold(b.conv1), conv2: fold(b.conv2), conv3: fold(b.conv3), shortcut: b.shortcut && fold(b.shortcut),
    }))
    // Destroying submits what is recorded first, the reorders included.
    if (staging !== undefined) gpu.destroyBuffer(staging.buffer)
    this.fcW = p.load(this.plan.fc.weight)
    this.fcB = p.load(this.plan.fc.bias)
    this.weightBytes = p.bytes
  }

  get numClasses(): number { return this.plan.fc.classes }
  get inChannels(): number { return this.plan.inChannels }

  /** A buffer for the largest of these weights as [Cout, Cin, k, k]; none when there are none. */
  private stagingBuffer(convs: readonly ConvBn[]): Binding | undefined {
    const most = Math.max(0, ...convs.map((c) => c.cout * c.cin * c.k * c.k))
    if (most === 0) return undefined
    const size = Math.ceil((most * (this.dtype === "f16" ? 2 : 4)) / 4) * 4
    return { buffer: this.gpu.createBuffer(size, "resnet weight staging"), offset: 0, size }
  }

  /**
   * The largest activation (elements) of an N×H×W batch, and the largest im2col rows (elements) the NHWC forward
   * gathers (for the stem, the k×k convolutions and the strided 1×1s).
   */
  private sizes(N: number, H: number, W: number): { activation: number; col: number } {
    let activation = 0, col = 0
    // A convolution of an h × w input: its output size, noting what it needs.
    const conv = (c: FoldedConv, h: number, w: number): [number, number] => {
      const { k, stride } = c.spec
      const hout = conv2d.outSize(h, k, stride, Math.floor(k / 2)), wout = conv2d.outSize(w, k, stride, Math.floor(k / 2))
      activation = Math.max(activation, N * c.spec.cout * hout * wout)
      if (gathers(c, c === this.stem)) col = Math.max(col, N * hout * wout * c.K)
      return [hout, wout]
    }
    let [h, w] = conv(this.stem, H, W)
    h = maxpool.outSize(h, 3, 2, 1); w = maxpool.outSize(w, 3, 2, 1)
    for (const B of this.blocks) {
      if (B.shortcut !== undefined) conv(B.shortcut, h, w)
      const [h1, w1] = conv(B.conv1, h, w)
      const [h2, w2] = conv(B.conv2, h1, w1)
      conv(B.conv3, h2, w2)
      h = h2; w = w2
    }
    return { activation, col }
  }

  newScratch(mem: Memory, N: number, H: number, W: number): ResNetScratch {
    const { activation, col } = this.sizes(N, H, W)
    const t = (label: string, n = activation) => allocTensor(mem, [n], this.dtype, "stack", label)
    return {
      N, H, W, a: t("act_a"), b: t("act_b"), c: t("act_c"), d: t("act_d"), e: t("act_e"),
      pooled: allocTensor(mem, [N, this.plan.fc.inputs], this.dtype, "stack", "pooled"),
      col: this.layout === "nhwc" ? t("im2col", col) : undefined,
    }
  }

  /**
   * Records the forward of input [N, C, H, W] into logits [N, classes] (no readback), or replays the device's
   * recording of an earlier forward with the same arguments (`ForwardReplays`). The input is in the model's dtype, or
   * f32 for an f16 NHWC model (its stem's gather casts).
   */
  encode(args: { input: Tensor; logits: Tensor; scratch: ResNetScratch }): void {
    this.replays.run(this.gpu, args, () => this.record(args))
  }

  /** The forward's device calls; a function of the model and of the arguments' structure only (see ForwardReplays). */
  private record(args: { input: Tensor; logits: Tensor; scratch: ResNetScratch }): void {
    const s = args.scratch
    const inputDtype = args.input.dtype
    if (inputDtype !== this.dtype && !(inputDtype === "f32" && this.layout === "nhwc")) {
      throw engineError("Input", `resnet: an ${inputDtype} input for an ${this.dtype} ${this.layout} model`)
    }
    if (this.layout === "nhwc" && s.col === undefined) throw engineError("Input", "resnet: an NHWC forward needs the im2col scratch of its newScratch")
    // A convolution of activation x (h × w) into y: conv2d (NCHW), or im2col where needed and a GEMM (NHWC).
    const conv = this.layout === "nhwc" ? this.gemmConv(s) : this.directConv(s)
    const pool = { dtype: this.dtype, layout: this.layout }
    const { gpu, dtype } = this
    const { N, H, W } = s
    let [h, w] = conv(this.stem, args.input, s.a, H, W, true)
    maxpool.encode(gpu, { ...pool, x: binding(s.a), y: binding(s.b), N, C: this.plan.stem.cout, H: h, W: w, k: 3, stride: 2, pad: 1 })
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
    avgpool.encode(gpu, { ...pool, x: binding(cur), y: binding(s.pooled), N, C, H: h, W: w })
    matmul.linear(gpu, { x: binding(s.pooled), w: binding(this.fcW), b: binding(this.fcB), y: binding(args.logits), M: N, N: this.numClasses, K: C, wLayout: "nk", dtype })
  }

  private directConv(s: ResNetScratch) {
    const { gpu, dtype } = this
    return (c: FoldedConv, x: Tensor, y: Tensor, h: number, w: number, relu: boolean, residual?: Tensor): [number, number] => {
      const { cin, cout, k, stride } = c.spec
      const pad = Math.floor(k / 2)
      conv2d.encode(gpu, {
        x: binding(x), w: binding(c.w), b: binding(c.b), y: binding(y), residual: residual && binding(residual),
        N: s.N, Cin: cin, H: h, W: w, Cout: cout, kh: k, kw: k, stride, pad, relu, dtype,
      })
      return [conv2d.outSize(h, k, stride, pad), conv2d.outSize(w, k, stride, pad)]
    }
  }

  /** NHWC: y [N·Hout·Wout, Cout] = relu?(rows · wᵀ + b (+ residual)); the stem reads the NCHW input in place. */
  private gemmConv(s: ResNetScratch) {
    const { gpu, dtype } = this
    return (c: FoldedConv, x: Tensor, y: Tensor, h: number, w: number, relu: boolean, residual?: Tensor): [number, number] => {
      const { cin, cout, k, stride } = c.spec
      const pad = Math.floor(k / 2)
      const stem = c === this.stem
      const hout = im2col.outSize(h, k, stride, pad), wout = im2col.outSize(w, k, stride, pad)
      let rows = x
      if (gathers(c, stem)) {
        rows = s.col as Tensor
        im2col.encode(gpu, {
          x: binding(x), col: binding(rows), N: s.N, H: h, W: w, C: cin, kh: k, kw: k, stride, pad, Kp: c.K, layout: stem ? "nchw" : "nhwc", dtype,
          xDtype: x.dtype === "f32" ? "f32" : undefined,
        })
      }
      matmul.linear(gpu, {
        x: binding(rows), w: binding(c.w), b: binding(c.b), y: binding(y), M: s.N * hout * wout, N: cout, K: c.K, wLayout: "nk", dtype,
        activation: relu ? "relu" : "none", residual: residual && binding(residual), residualBeforeActivation: residual !== undefined,
      })
      return [hout, wout]
    }
  }
}

/** One classifier forward: input [N, C, H, W] (f32, NCHW) → logits [N, classes] as f32. */
export const forwardVision = async (gpu: GpuDevice, mem: Memory, model: ResNet, input: Float32Array, shape: readonly [number, number, number, number]): Promise<Float32Array> => {
  const [N, C, H, W] = shape
  if (C !== model.inChannels) throw engineError("Input", `resnet: input has ${C} channels, the model takes ${model.inChannels}`)
  if (input.length !== N * C * H * W) throw engineError("Input", `resnet: input has ${input.length} values, expected ${N}×${C}×${H}×${W}`)
  if (N < 1 || H < 32 || W < 32) throw engineError("Input", `resnet: input [${shape.join(", ")}] is too small (N ≥ 1, H and W ≥ 32)`)
  // f32 as given, cast on the GPU (a CPU conversion of a batch, 1.2 M values at b8, costs milliseconds): by the NHWC
  // stem's gather, which reads f32, or by a cast kernel.
  const f32In = model.dtype === "f32" || model.layout === "nhwc"
  const io: Record<string, Tensor> = {
    input: allocTensor(mem, [N, C, H, W], f32In ? "f32" : model.dtype, "stack", "input"),
    logits: allocTensor(mem, [N, model.numClasses], model.dtype, "stack", "logits"),
  }
  const scratch = model.newScratch(mem, N, H, W)
  try {
    if (f32In) gpu.writeBuffer(io.input.buffer, io.input.offset, new Uint8Array(input.buffer, input.byteOffset, input.byteLength))
    else if (gpu.adapter.f16) {
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
