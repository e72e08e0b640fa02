import { clientError, type ClientError } from "./errors.ts"

export const DEFAULT_PORT = 5556

export interface ServerAddress {
  readonly host: string
  readonly port: number
  /** Where the address came from, for error messages. */
  readonly source: "explicit" | "DJINN_SERVER_ADDRESS" | "GENIE_SERVER_ADDRESS" | "default"
}

export const formatAddress = (a: Pick<ServerAddress, "host" | "port">): string => (a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`)

/** `host:port`, `tcp://host:port`, `[::1]:port` or a bare host (port 5556). */
export const parseAddress = (text: string, source: ServerAddress["source"] = "explicit"): ServerAddress => {
  const bad = (): ClientError => clientError("Input", `'${text}' (${source}) is not a server address: expected host:port`)
  const s = text.trim().replace(/^(tcp|djinn):\/\//, "").replace(/\/+$/, "")
  if (s === "") throw bad()
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(s)
  const [host, port] = v6 !== null ? [v6[1], v6[2]] : s.includes(":") ? [s.slice(0, s.lastIndexOf(":")), s.slice(s.lastIndexOf(":") + 1)] : [s, undefined]
  const n = port === undefined ? DEFAULT_PORT : Number(port)
  if (host === "" || !Number.isInteger(n) || n <= 0 || n > 65535) throw bad()
  return { host, port: n, source }
}

/** The server to use: an explicit address, then DJINN_SERVER_ADDRESS, then the seed's GENIE_SERVER_ADDRESS, then localhost:5556. */
export const resolveAddress = (explicit: string | undefined, env: Readonly<Record<string, string | undefined>>): ServerAddress => {
  if (explicit !== undefined && explicit !== "") return parseAddress(explicit, "explicit")
  for (const name of ["DJINN_SERVER_ADDRESS", "GENIE_SERVER_ADDRESS"] as const) {
    const v = env[name]
    if (v !== undefined && v !== "") return parseAddress(v, name)
  }
  return { host: "localhost", port: DEFAULT_PORT, source: "default" }
}
