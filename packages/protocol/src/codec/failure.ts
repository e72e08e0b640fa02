import type { ProtocolErrorReason } from "../errors.ts"

/** Thrown inside the reader and turned into a ProtocolError by `guard`; never escapes the codec. */
export class DecodeFailure {
  readonly reason: ProtocolErrorReason
  readonly message: string
  constructor(reason: ProtocolErrorReason, message: string) {
    this.reason = reason
    this.message = message
  }
}

export const fail = (reason: ProtocolErrorReason, message: string): never => {
  throw new DecodeFailure(reason, message)
}
