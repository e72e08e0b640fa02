export * from "./errors.ts"
export * from "./memory.ts"
export { ForwardReplays, structuralKey } from "./replay.ts"
export * from "./safetensors.ts"
export * from "./weights.ts"
export * from "./loader.ts"
export * from "./tokenizer.ts"
export * from "./models/causal-lm.ts"
export { Gpt2, Gpt2Config } from "./models/gpt2.ts"
export { Llama, LlamaConfig, llamaTensors, llamaDims, ropeTheta } from "./models/llama.ts"
export { Bert, BertConfig, bertTensors, forwardEncoder, type BertArgs, type BertOptions, type BertScratch, type EncoderInputs, type EncoderOutputs } from "./models/bert.ts"
export {
  ResNet, ResNetConfig, resnetPlan, resnetTensors, resnetParameterCount, forwardVision, defaultLayout, type ResNetLayout, type ResNetOptions, type ResNetPlan,
  type ResNetScratch,
} from "./models/resnet.ts"
export { ParamLoader, paramCount, type TensorSpec } from "./models/params.ts"
