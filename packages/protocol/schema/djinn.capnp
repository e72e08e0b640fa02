# djinn wire protocol. One `Message` per frame; see packages/protocol/README.md for the flows.
# Field order is the wire layout: append new fields with the next ordinal, never renumber.
@0xebdfba413735e2db;

# ---------------------------------------------------------------------------------------------------------------
# Tensors and references

enum DType {
  f32 @0;
  f16 @1;
  i32 @2;
  u32 @3;
  i8 @4;
  u8 @5;
  bf16 @6;
}

struct Tensor {
  dtype @0 :DType;
  shape @1 :List(UInt32);
  data @2 :Data;             # little-endian, row-major, exactly product(shape) * sizeof(dtype) bytes
}

struct NamedTensor {
  name @0 :Text;
  tensor @1 :Tensor;
}

# A tensor that stays on the server (skeletonization): data moves only on fetchRef.
struct RemoteRef {
  id @0 :UInt64;
  dtype @1 :DType;
  shape @2 :List(UInt32);
  byteSize @3 :UInt64;
}

# A request input: inline bytes, or a reference the server already holds.
struct Input {
  name @0 :Text;
  value :union {
    tensor @1 :Tensor;
    ref @2 :UInt64;
  }
}

# ---------------------------------------------------------------------------------------------------------------
# Semantic hints and profiling

enum Phase {
  auto @0;
  prefill @1;
  decode @2;
  vision @3;
}

enum Priority {
  interactive @0;
  realtime @1;
  batch @2;
}

struct Hints {
  phase @0 :Phase;
  priority @1 :Priority;
  expectedTokens @2 :UInt32;
  kvBudgetBytes @3 :UInt64;  # 0 = server default
  finalize @4 :Bool;         # last request of the session: free its arena afterwards
}

# Server-side time per phase, milliseconds.
struct Profile {
  queueMs @0 :Float64;
  planMs @1 :Float64;
  placementMs @2 :Float64;
  executionMs @3 :Float64;
  skeletonizationMs @4 :Float64;
  cleanupMs @5 :Float64;
  durationMs @6 :Float64;
}

# ---------------------------------------------------------------------------------------------------------------
# Handshake and sessions

struct Hello {
  protocolVersion @0 :UInt32;
  clientName @1 :Text;
  auth :union {
    none @2 :Void;
    token @3 :Text;
  }
}

struct Welcome {
  protocolVersion @0 :UInt32;
  serverName @1 :Text;
}

struct OpenSession {
  hints @0 :Hints;
}

struct SessionOpened {
  sessionId @0 :UInt64;
  kvArenaBytes @1 :UInt64;
}

struct CloseSession {
  sessionId @0 :UInt64;
}

# ---------------------------------------------------------------------------------------------------------------
# Models

struct ModelKey {
  id @0 :Text;               # e.g. "sshleifer/tiny-gpt2"
  fingerprint @1 :Text;      # content hash of config + weights, e.g. "sha256:…"; "" = any
}

struct LookupModel {
  key @0 :ModelKey;
}

struct LoadModel {
  key @0 :ModelKey;
}

struct TensorInfo {
  name @0 :Text;
  dtype @1 :DType;
  shape @2 :List(UInt32);
}

# A client-supplied model: config + tensor table now, bytes in weightChunk messages, then commitModel.
struct RegisterModel {
  key @0 :ModelKey;
  configJson @1 :Text;
  tensors @2 :List(TensorInfo);
}

struct WeightChunk {
  modelHandle @0 :UInt64;
  tensorIndex @1 :UInt32;    # index into RegisterModel.tensors
  offset @2 :UInt64;         # byte offset of `data` inside that tensor (not `byteOffset`: capnp-es structs own that name)
  data @3 :Data;
}

struct CommitModel {
  modelHandle @0 :UInt64;
}

struct ModelInfo {
  handle @0 :UInt64;
  key @1 :ModelKey;
  paramBytes @2 :UInt64;
  resident @3 :Bool;         # false after registerModel: weights still to upload
}

# ---------------------------------------------------------------------------------------------------------------
# Semantic requests

struct Want {
  tokens @0 :Bool;
  lastLogits @1 :Bool;
  refs @2 :Bool;
}

struct GenerationParams {
  maxNewTokens @0 :UInt32;
  temperature @1 :Float32;   # 0 = greedy
  topK @2 :UInt32;
  topP @3 :Float32;
  seed @4 :UInt64;
  stopTokens @5 :List(UInt32);
  stream @6 :Bool;           # send a tokenEvent per token before the result
}

struct Generate {
  sessionId @0 :UInt64;
  modelHandle @1 :UInt64;
  inputs @2 :List(Input);
  hints @3 :Hints;
  params @4 :GenerationParams;
  want @5 :Want;
}

struct Forward {
  sessionId @0 :UInt64;
  modelHandle @1 :UInt64;
  inputs @2 :List(Input);
  hints @3 :Hints;
  want @4 :Want;
}

struct TokenEvent {
  index @0 :UInt32;          # position in the generated sequence, from 0
  token @1 :UInt32;
}

struct InferenceResult {
  tokens @0 :List(UInt32);
  lastLogits :union {
    none @1 :Void;
    tensor @2 :Tensor;
  }
  refs @3 :List(RemoteRef);
  profile @4 :Profile;
}

struct FetchRef {
  refId @0 :UInt64;
}

struct RefData {
  ref @0 :RemoteRef;
  data @1 :Data;
}

struct FreeRefs {
  refIds @0 :List(UInt64);
}

# ---------------------------------------------------------------------------------------------------------------
# Semantic-blind mode: GPU calls forwarded one by one, batched per submit. Ids are chosen by the client.

struct Binding {
  slot @0 :UInt32;
  bufferId @1 :UInt64;
  offset @2 :UInt64;
  size @3 :UInt64;
}

struct GpuCall {
  union {
    createBuffer :group {
      bufferId @0 :UInt64;
      size @1 :UInt64;
      usage @2 :UInt32;
    }
    writeBuffer :group {
      bufferId @3 :UInt64;
      offset @4 :UInt64;
      data @5 :Data;
    }
    readBuffer :group {
      bufferId @6 :UInt64;
      offset @7 :UInt64;
      size @8 :UInt64;
    }
    destroyBuffer :group {
      bufferId @9 :UInt64;
    }
    createPipeline :group {
      pipelineId @10 :UInt64;
      kernelId @11 :Text;
      variantKey @12 :Text;
    }
    dispatch :group {
      pipelineId @13 :UInt64;
      bindings @14 :List(Binding);
      uniforms @15 :Data;
      workgroupsX @16 :UInt32;
      workgroupsY @17 :UInt32;
      workgroupsZ @18 :UInt32;
    }
  }
}

struct GpuSubmit {
  calls @0 :List(GpuCall);
}

# One entry per readBuffer call of the submit, in call order.
struct GpuSubmitResult {
  reads @0 :List(Data);
  profile @1 :Profile;
}

# ---------------------------------------------------------------------------------------------------------------
# Errors, acks, stats

enum ErrorCode {
  internal @0;
  badRequest @1;
  unauthorized @2;
  versionMismatch @3;
  notFound @4;
  outOfMemory @5;
  overloaded @6;
  cancelled @7;
  unsupported @8;
  protocol @9;
}

struct ErrorReply {
  code @0 :ErrorCode;
  message @1 :Text;
}

struct StatsReply {
  json @0 :Text;
}

# ---------------------------------------------------------------------------------------------------------------

struct Message {
  requestId @0 :UInt32;      # chosen by the client; replies and stream events echo it
  body :union {
    hello @1 :Hello;
    welcome @2 :Welcome;
    openSession @3 :OpenSession;
    sessionOpened @4 :SessionOpened;
    closeSession @5 :CloseSession;
    lookupModel @6 :LookupModel;
    loadModel @7 :LoadModel;
    registerModel @8 :RegisterModel;
    weightChunk @9 :WeightChunk;
    commitModel @10 :CommitModel;
    modelInfo @11 :ModelInfo;
    generate @12 :Generate;
    forward @13 :Forward;
    tokenEvent @14 :TokenEvent;
    result @15 :InferenceResult;
    fetchRef @16 :FetchRef;
    refData @17 :RefData;
    freeRefs @18 :FreeRefs;
    gpuSubmit @19 :GpuSubmit;
    gpuSubmitResult @20 :GpuSubmitResult;
    statsRequest @21 :Void;
    statsReply @22 :StatsReply;
    ack @23 :Void;
    error @24 :ErrorReply;
  }
}
