"""Shared by the PyTorch peers of the harness: build the model a Job describes and run one input.

The model is HF transformers in eager mode, by the checkpoint's model_type: `BertModel` (bert),
`ResNetForImageClassification` (resnet; the harness exports synthetic ResNets under HF names), else
`AutoModelForCausalLM`. With a checkpoint folder (a workload's model_dir, or the seeded synthetic weights the harness
exported from the engine) it is `from_pretrained(dir)`: the same tensors the engine runs. Without one (a model too
large to export) it is built from the config with torch's own seeded init, and its outputs are not comparable with
the engine's.

Inputs and outputs are the harness's WorkInput / WorkOutputJson (harness/src/engine/work.ts):
  {"kind": "generate", "ids": [...], "newTokens": n}            -> {"kind": "tokens", "tokens": [...]}
  {"kind": "forward", "ids": [...]}                             -> {"kind": "values", "shape": [1, V], "values_b64": f32 LE}
  {"kind": "encode", "ids": [...], "batch": B, "seq": S}        -> values [B, S, hidden] (last_hidden_state)
  {"kind": "classify", "seed": s, "shape": [N, C, H, W]}        -> values [N, classes] (logits of `pixels(s, shape)`)
"""
import base64
import json
import os
import sys
import time


def versions():
    import torch
    import transformers
    return {"torch": torch.__version__, "transformers": transformers.__version__, "python": sys.version.split()[0]}


def pick_device(requested):
    import torch
    if requested.startswith("cuda") and not torch.cuda.is_available():
        return "cpu"
    return requested


def model_type(spec):
    """The model_type of the checkpoint folder's config.json, or of the config a model is built from."""
    if spec.get("dir"):
        with open(os.path.join(spec["dir"], "config.json")) as f:
            return json.load(f).get("model_type")
    return spec["config"].get("model_type")


def model_class(kind):
    import transformers
    if kind == "bert":
        return transformers.BertModel
    if kind == "resnet":
        return transformers.ResNetForImageClassification
    return transformers.AutoModelForCausalLM


def load(spec):
    """spec: {"dir": str | None, "config": dict | None, "seed": int, "dtype": "float16"|"float32", "device": str}."""
    import torch
    from transformers import AutoConfig
    device = pick_device(spec["device"])
    # float16 on a CPU is slow and partly unsupported: compute in float32 there (recorded in the environment).
    dtype = torch.float16 if spec["dtype"] == "float16" and device != "cpu" else torch.float32
    cls = model_class(model_type(spec))
    # transformers 5 names the argument `dtype`; 4.x before 4.56 only knew `torch_dtype`.
    kw = {"dtype": dtype}
    if spec.get("dir"):
        try:
            model = cls.from_pretrained(spec["dir"], **kw)
        except TypeError:
            model = cls.from_pretrained(spec["dir"], torch_dtype=dtype)
    else:
        torch.manual_seed(spec.get("seed", 0))
        config = AutoConfig.for_model(**spec["config"])
        # Built on the target device: a 7B model initialised on the CPU takes minutes.
        build = cls.from_config if hasattr(cls, "from_config") else cls._from_config  # Auto classes / a model class
        with torch.device(device):
            try:
                model = build(config, **kw)
            except TypeError:
                model = build(config, torch_dtype=dtype)
    model.to(device).eval()
    return model, device, str(dtype).replace("torch.", "")


def _imul(a, b):
    import numpy as np
    return ((a.astype(np.uint64) * b.astype(np.uint64)) & 0xFFFFFFFF).astype(np.uint32)


def pixel_array(seed, shape):
    """The images of a classify input, exactly as harness/src/engine/work.ts makes them: mulberry32's counter stream
    (state_i = seed + (i+1)·0x6d2b79f5) mapped to [-1, 1), float32 of `shape` (NCHW)."""
    import numpy as np
    n = int(np.prod(shape))
    i = np.arange(1, n + 1, dtype=np.uint64)
    t = ((np.uint64(seed) + i * np.uint64(0x6D2B79F5)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    t = _imul(t ^ (t >> np.uint32(15)), t | np.uint32(1))
    t = t ^ (t + _imul(t ^ (t >> np.uint32(7)), t | np.uint32(61)))
    u = (t ^ (t >> np.uint32(14))).astype(np.float64) / 4294967296.0
    return (2.0 * u - 1.0).astype(np.float32).reshape([int(d) for d in shape])


def pixels(seed, shape):
    """`pixel_array` as a CPU tensor."""
    import torch
    return torch.from_numpy(pixel_array(seed, shape))


def describe(model, device, dtype):
    """What the harness records about the peer's model."""
    attn = getattr(model.config, "_attn_implementation", None)
    return {"device": device, "dtype": dtype, "model_class": type(model).__name__, "attn_implementation": attn, "versions": versions()}


def values_json(tensor):
    """An f32 CPU tensor as WorkOutputJson values."""
    raw = tensor.contiguous().numpy().astype("<f4").tobytes()
    return {"kind": "values", "shape": [int(d) for d in tensor.shape], "values_b64": base64.b64encode(raw).decode("ascii")}


def sync(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(model, device, work, images=None):
    """Runs one input; returns (output json, engine ms). Generation is greedy decoding with the KV cache, token by
    token — what generate(do_sample=False) computes — never stopping at EOS (as the engine does). A classify input's
    images are `images` when given (pytorch_rpc ships them), else made from its seed; either way before the clock
    starts, and their copy to the device is timed, as the engine's upload is."""
    import torch
    if work["kind"] == "classify":
        x = images if images is not None else pixels(work["seed"], work["shape"])
        sync(device)
        start = time.perf_counter()
        with torch.no_grad():
            logits = model(pixel_values=x.to(device=device, dtype=model.dtype)).logits.float().cpu()
        sync(device)
        return values_json(logits), (time.perf_counter() - start) * 1000
    ids = torch.tensor([work["ids"]], dtype=torch.long, device=device)
    if work["kind"] == "encode":
        ids = ids.view(work["batch"], work["seq"])
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
        if work["kind"] == "encode":
            # No attention_mask: every position attends, as in the engine's encode input.
            hidden = model(input_ids=ids).last_hidden_state.float().cpu()
            sync(device)
            return values_json(hidden), (time.perf_counter() - start) * 1000
        if work["kind"] == "generate":
            out = model(input_ids=ids, use_cache=True)
            tokens = []
            nxt = out.logits[:, -1, :].argmax(dim=-1)
            for i in range(work["newTokens"]):
                tokens.append(nxt)
                if i + 1 == work["newTokens"]:
                    break
                out = model(input_ids=nxt[:, None], past_key_values=out.past_key_values, use_cache=True)
                nxt = out.logits[:, -1, :].argmax(dim=-1)
            result = torch.stack(tokens, dim=1)[0].tolist() if tokens else []
            sync(device)
            ms = (time.perf_counter() - start) * 1000
            return {"kind": "tokens", "tokens": result}, ms
        logits = model(input_ids=ids).logits[0, -1, :].float().cpu()
        sync(device)
        ms = (time.perf_counter() - start) * 1000
        return values_json(logits[None, :]), ms


def serve_lines(handle):
    """The worker protocol: one JSON request per stdin line, one JSON reply per stdout line; exits at EOF."""
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            reply = handle(json.loads(line))
        except Exception as e:  # every failure is a reply, never a crash: the harness records it
            reply = {"ok": False, "error": f"{type(e).__name__}: {e}"}
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()
