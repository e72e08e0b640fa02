"""`native_pytorch`: HF transformers eager in a dedicated process, driven by the harness over JSON lines on stdio
(the same protocol as harness/src/workers/native-worker.ts). Timing is taken here, around the model call only.
  -> {"op": "setup", "spec": {...}}   <- {"ok": true, "info": {"device", "dtype", "versions"}}
  -> {"op": "run", "input": {...}}    <- {"ok": true, "ms": n, "output": {...}}
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer  # noqa: E402

state = {}


def handle(msg):
    if msg["op"] == "setup":
        model, device, dtype = peer.load(msg["spec"])
        state.update(model=model, device=device)
        return {"ok": True, "info": peer.describe(model, device, dtype)}
    if msg["op"] == "run":
        if "model" not in state:
            return {"ok": False, "error": "run before setup"}
        output, ms = peer.run(state["model"], state["device"], msg["input"])
        return {"ok": True, "ms": ms, "output": output}
    return {"ok": False, "error": f"unknown op {msg['op']!r}"}


if __name__ == "__main__":
    peer.serve_lines(handle)
