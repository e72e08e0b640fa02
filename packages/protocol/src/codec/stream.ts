// A byte stream in, decoded messages out: FrameDecoder + decodePayload for socket readers.
import { Result } from "effect"
import type { DomainMessage } from "../domain/messages.ts"
import type { ProtocolError } from "../errors.ts"
import { FrameDecoder, type Payload } from "../frame.ts"
import { decodePayload, type DecodeOptions } from "./decode.ts"

/**
 * Push socket chunks, get one Result per complete frame. A bad message fails alone (answer it with an Error and
 * carry on); only a FrameTooLarge fails the whole push — the stream has lost its framing and must be closed.
 */
export class MessageDecoder {
  private readonly frames: FrameDecoder<Payload>
  private readonly options: DecodeOptions | undefined

  constructor(options?: DecodeOptions) {
    this.frames = FrameDecoder.segmented(options)
    this.options = options
  }

  push(chunk: Uint8Array): Result.Result<ReadonlyArray<Result.Result<DomainMessage, ProtocolError>>, ProtocolError> {
    const frames = this.frames.push(chunk)
    if (Result.isFailure(frames)) return Result.fail(frames.failure)
    return Result.succeed(frames.success.map((p) => decodePayload(p, this.options)))
  }
}
