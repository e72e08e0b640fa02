// Reading a socket into a FrameDecoder without Node's per-chunk stream machinery: libuv reads into the buffer the
// decoder names (net's `onread` option), so a large tensor crosses from the kernel into the buffer it is decoded
// from, in reads as large as the kernel has data for, instead of being copied out of 64 KiB chunks that are each
// allocated and pushed through a Readable.
import type { Result } from "effect"
import type { Socket } from "node:net"
import type { ProtocolError } from "./errors.ts"
import type { FrameDecoder, Payload } from "./frame.ts"

/**
 * Gets the frames of each read (or a FrameTooLarge) and the bytes read. Payloads may be views of a buffer the next
 * read reuses: decode them before returning. Returning false stops reading for good, so the peer's close goes
 * unseen: return it only when destroying the socket.
 */
export type FrameSink<P extends Payload> = (frames: Result.Result<ReadonlyArray<P>, ProtocolError>, bytes: number) => boolean

/** net.connect's `onread` option that feeds `decoder` in place. */
export const frameReads = <P extends Payload>(decoder: FrameDecoder<P>, sink: FrameSink<P>) => ({
  buffer: (): Uint8Array => decoder.readBuffer(),
  callback: (n: number): boolean => sink(decoder.commit(n), n),
})

// net.Server has no `onread` option: an accepted socket gets one by the fields net.Socket's constructor sets from it
// (Node ≥ 18). Where they are missing (another Node), the socket is read through 'data' events instead.
type Adoptable = Record<symbol, unknown> & { _handle?: { reading?: boolean; useUserBuffer?: (b: Uint8Array) => void } }
const symbolNamed = (socket: object, name: string): symbol | undefined =>
  Object.getOwnPropertySymbols(socket).find((s) => s.description === name)

/**
 * Starts reading `socket` into `decoder`. A socket accepted with `pauseOnConnect` (not yet reading) is read in
 * place, as with {@link frameReads}; any other through 'data' events and FrameDecoder.push. Returns which.
 */
export const startFrameReads = <P extends Payload>(socket: Socket, decoder: FrameDecoder<P>, sink: FrameSink<P>): "in-place" | "events" => {
  const s = socket as unknown as Adoptable
  const kBuffer = symbolNamed(s, "kBuffer")
  const kBufferCb = symbolNamed(s, "kBufferCb")
  const kBufferGen = symbolNamed(s, "kBufferGen")
  const handle = s._handle
  if (kBuffer !== undefined && kBufferCb !== undefined && kBufferGen !== undefined && s[kBuffer] === null &&
    typeof handle?.useUserBuffer === "function" && handle.reading === false && !socket.destroyed) {
    const reads = frameReads(decoder, sink)
    const first = reads.buffer()
    s[kBuffer] = first
    s[kBufferGen] = reads.buffer
    s[kBufferCb] = reads.callback
    handle.useUserBuffer(first)
    socket.resume() // with a user buffer, resume starts the handle reading
    return "in-place"
  }
  socket.on("data", (chunk: Buffer) => {
    if (!sink(decoder.push(chunk), chunk.byteLength)) socket.pause()
  })
  socket.resume()
  return "events"
}
