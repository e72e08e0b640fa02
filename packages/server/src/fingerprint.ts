// One fingerprint for client and server: it lives in @djinn/protocol.
export { canonicalJson, modelFingerprint, tensorInfoOf, type FingerprintTensor } from "@djinn/protocol"
