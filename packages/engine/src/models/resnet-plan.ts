// The layers of a bottleneck ResNet (torchvision or HF names) and its checkpoint's tensors: what the forward and the
// loader need, apart from the forward itself (resnet.ts).
import { Schema } from "effect"
import { engineError } from "../errors.ts"
import type { WeightSource } from "../weights.ts"
import type { TensorSpec } from "./params.ts"

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

/** Every convolution of the plan, stem first. */
export const convBns = (plan: ResNetPlan): ConvBn[] => [plan.stem, ...plan.blocks.flatMap((b) => [b.conv1, b.conv2, b.conv3, ...(b.shortcut ? [b.shortcut] : [])])]

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
