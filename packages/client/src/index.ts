// @djinn/client — talks to a djinn server. Semantic mode: sessions, generate/forward, remote refs. Blind mode:
// RemoteGpu, a GpuDevice whose calls run on the server's GPU (the unchanged engine runs on it).
import { resolveAddress, type ServerAddress } from "./address.ts"
import { Connection, type ConnectOptions } from "./connection.ts"

export { DEFAULT_PORT, formatAddress, parseAddress, resolveAddress, type ServerAddress } from "./address.ts"
export { Connection, type ConnectOptions, type Reply, type TrafficStats } from "./connection.ts"
export { ClientError, ClientErrorReason, clientError } from "./errors.ts"
export { canonicalJson, modelFingerprint } from "./fingerprint.ts"
export { ensureModel, LocalModel, type ModelSpec, type RemoteModel } from "./models.ts"
export { RemoteGpu, type BlindStats } from "./remote-gpu.ts"
export {
  defaultHints, RemoteRef, Session, type ForwardInputs, type ForwardOptions, type ForwardOutput, type ForwardResult, type GenerateOptions, type ModelRef,
  type RequestOptions, type RequestResult,
} from "./session.ts"
export { outputNames, tensorValues, toF16, wireTensor, type TensorData } from "./tensors.ts"
export { sumTimings, type CallMarks, type CallTimings } from "./timings.ts"
export { DjinnClient } from "./service.ts"

/**
 * Connects to a server: an explicit address, else `env.DJINN_SERVER_ADDRESS`, else `env.GENIE_SERVER_ADDRESS`, else
 * localhost:5556. Pass the environment in (the library never reads process.env).
 */
export const connect = (
  address?: string | ServerAddress,
  options: ConnectOptions & { readonly env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<Connection> =>
  Connection.connect(typeof address === "object" ? address : resolveAddress(address, options.env ?? {}), options)
