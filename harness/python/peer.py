"""Shared by the PyTorch peers of the harness: build the model a Job describes and run one input.

The model is HF transformers in eager mode. With a checkpoint folder (a workload's model_dir, or the seeded synthetic
weights the harness exported from the engine) it is `AutoModelForCausalLM.from_pretrained(dir)`: the same tensors the
engine runs. Without one (a model too large to export) it is built from the config with torch's own seeded init, and
its outputs are not comparable with the engine's.

Inputs and outputs are the harness's WorkInput / WorkOutputJson (harness/src/engine/work.ts):
  {"kind": "generate", "ids": [...], "newTokens": n}  -> {"kind": "tokens", "tokens": [...]}
  {"kind": "forward", "ids": [...]}                   -> {"kind": "values", "shape": [1, V], "values_b64": f32 LE}
"""
import base64
import json
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


def load(spec):
    """spec: {"dir": str | None, "config": dict | None, "seed": int, "dtype": "float16"|"float32", "device": str}."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM
    device = pick_device(spec["device"])
    # float16 on a CPU is slow and partly unsupported: compute in float32 there (recorded in the environment).
    dtype = torch.float16 if spec["dtype"] == "float16" and device != "cpu" else torch.float32
    # transformers 5 names the argument `dtype`; 4.x before 4.56 only knew `torch_dtype`.
    kw = {"dtype": dtype}
    if spec.get("dir"):
        try:
            model = AutoModelForCausalLM.from_pretrained(spec["dir"], **kw)
        except TypeError:
            model = AutoModelForCausalLM.from_pretrained(spec["dir"], torch_dtype=dtype)
    else:
        torch.manual_seed(spec.get("seed", 0))
        config = AutoConfig.for_model(**spec["config"])
        # Built on the target device: a 7B model initialised on the CPU takes minutes.
        with torch.device(device):
            try:
                model = AutoModelForCausalLM.from_config(config, **kw)
            except TypeError:
                model = AutoModelForCausalLM.from_config(config, torch_dtype=dtype)
    model.to(device).eval()
    return model, device, str(dtype).replace("torch.", "")


def sync(device):
    import torch
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def run(model, device, work):
    """Runs one input; returns (output json, engine ms). Greedy decoding with the KV cache, token by token — what
    generate(do_sample=False) computes — and never stopping at EOS (as the engine does)."""
    import torch
    ids = torch.tensor([work["ids"]], dtype=torch.long, device=device)
    sync(device)
    start = time.perf_counter()
    with torch.no_grad():
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
        raw = logits.numpy().astype("<f4").tobytes()
        return {"kind": "values", "shape": [1, int(logits.shape[0])], "values_b64": base64.b64encode(raw).decode("ascii")}, ms


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
