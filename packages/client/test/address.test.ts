import { connect, LocalModel, modelFingerprint as clientFingerprint, parseAddress, resolveAddress } from "@djinn/client"
import { modelFingerprint as serverFingerprint } from "@djinn/server"
import { createServer } from "node:net"
import { describe, expect, it } from "vitest"
import { fixture } from "../../engine/test/fixtures.ts"

describe("server address", () => {
  it("explicit, then DJINN_SERVER_ADDRESS, then GENIE_SERVER_ADDRESS, then localhost:5556", () => {
    const env = { DJINN_SERVER_ADDRESS: "a.example:1", GENIE_SERVER_ADDRESS: "b.example:2" }
    expect(resolveAddress("x:9", env)).toEqual({ host: "x", port: 9, source: "explicit" })
    expect(resolveAddress(undefined, env)).toEqual({ host: "a.example", port: 1, source: "DJINN_SERVER_ADDRESS" })
    expect(resolveAddress(undefined, { GENIE_SERVER_ADDRESS: "b.example:2" })).toEqual({ host: "b.example", port: 2, source: "GENIE_SERVER_ADDRESS" })
    expect(resolveAddress(undefined, {})).toEqual({ host: "localhost", port: 5556, source: "default" })
  })
  it("parses host:port, tcp://, [v6]:port and bare hosts; names a bad one", () => {
    expect(parseAddress("tcp://10.0.0.1:7000")).toMatchObject({ host: "10.0.0.1", port: 7000 })
    expect(parseAddress("[::1]:5557")).toMatchObject({ host: "::1", port: 5557 })
    expect(parseAddress("gpu-box")).toMatchObject({ host: "gpu-box", port: 5556 })
    expect(() => resolveAddress(undefined, { DJINN_SERVER_ADDRESS: "host:notaport" })).toThrow(/'host:notaport' \(DJINN_SERVER_ADDRESS\) is not a server address/)
  })
  it("a failed connection names the address and where it came from", async () => {
    // A port that was free a moment ago: nothing listens there now.
    const port = await new Promise<number>((resolve) => {
      const s = createServer().listen(0, "127.0.0.1", () => {
        const p = (s.address() as { port: number }).port
        s.close(() => resolve(p))
      })
    })
    await expect(connect(undefined, { env: { GENIE_SERVER_ADDRESS: `127.0.0.1:${port}` } })).rejects.toMatchObject({
      _tag: "ClientError",
      reason: "Connect",
      message: expect.stringContaining(`127.0.0.1:${port} (from GENIE_SERVER_ADDRESS)`),
    })
  })
})

describe("model fingerprint", () => {
  it("client and server compute the same digest of a checkpoint", () => {
    for (const name of ["gpt2-tiny", "gpt2-mini"]) {
      const local = new LocalModel(fixture(name))
      expect(local.fingerprint()).toBe(serverFingerprint(local.config, local.tensors()))
      expect(clientFingerprint(local.config, [], { seed: 3 })).toBe(serverFingerprint(local.config, [], { seed: 3 }))
    }
  })
  it("does not depend on key order or whitespace of the config", () => {
    expect(clientFingerprint(JSON.parse('{"b": 1, "a": [1, {"y": 2, "x": 3}]}'), [])).toBe(clientFingerprint({ a: [1, { x: 3, y: 2 }], b: 1 }, []))
  })
})
