// @djinn/protocol — the Cap'n Proto wire format between djinn clients and servers (schema/djinn.capnp).
//
//   encode(msg)  → one framed message: 4-byte little-endian payload length, then the capnp stream (unpacked).
//   decode(frame) → Result<DomainMessage, ProtocolError>; exactly one framed message. Never throws.
//   FrameDecoder / decodeFrames split a byte stream into payloads; decodePayload decodes one payload.
export { decode, decodePayload, type DecodeOptions } from "./codec/decode.ts"
export { encode, encodeParts, encodePayload } from "./codec/encode.ts"
export { MessageDecoder } from "./codec/stream.ts"
export { warmCodec } from "./codec/warm.ts"
export { validate } from "./codec/validate.ts"
export * from "./domain/common.ts"
export * from "./domain/gpu.ts"
export * from "./domain/messages.ts"
export { ProtocolError, ProtocolErrorReason } from "./errors.ts"
export {
  DEFAULT_MAX_FRAME_BYTES,
  decodeFrames,
  encodeFrame,
  FRAME_PREFIX_BYTES,
  FrameDecoder,
  frameHeader,
  SegmentedPayload,
  SegmentPool,
  SPLIT_SEGMENTS_FROM,
  type FrameDecoderOptions,
  type FrameOptions,
  type Payload,
} from "./frame.ts"
export { frameReads, startFrameReads, type FrameSink } from "./socket.ts"
export { canonicalJson, modelFingerprint, tensorInfoOf, type FingerprintTensor } from "./fingerprint.ts"
