"""`pytorch_rpc`: torch.distributed.rpc, the canonical remote PyTorch call. This process is rank 1 ("client"): it
speaks JSON lines with the harness (same protocol as native_pytorch.py) and starts rank 0 ("server", this script with
--server) as its child; the server holds the model, the client ships the input as a tensor with rpc_sync (ids int64,
or the images float32 [N, C, H, W], made before the clock as every baseline does) and gets the output tensor back. Timing is taken on the client around rpc_sync (the round trip included), with the server's
own time in the reply.
  python pytorch_rpc.py [--master-addr 127.0.0.1] [--master-port 29500]
"""
import argparse
import base64
import os
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import peer  # noqa: E402

SERVER = {}


def remote_setup(spec):
    model, device, dtype = peer.load(spec)
    SERVER.update(model=model, device=device)
    return peer.describe(model, device, dtype)


def remote_run(kind, tensor, extra):
    """On rank 0: the input arrives as a tensor (ids, or images); the output goes back as a tensor (tokens i32, or
    f32 values in the output's shape)."""
    import numpy as np
    import torch
    start = time.perf_counter()
    work = {"kind": kind, **extra}
    if kind != "classify":
        work["ids"] = tensor.tolist()
    output, engine_ms = peer.run(SERVER["model"], SERVER["device"], work, tensor if kind == "classify" else None)
    if output["kind"] == "tokens":
        out = torch.tensor(output["tokens"], dtype=torch.int32)
    else:
        out = torch.from_numpy(np.frombuffer(base64.b64decode(output["values_b64"]), dtype="<f4").copy()).view(output["shape"])
    return out, engine_ms, (time.perf_counter() - start) * 1000


def init(rank, args):
    import torch.distributed.rpc as rpc
    os.environ["MASTER_ADDR"] = args.master_addr
    os.environ["MASTER_PORT"] = str(args.master_port)
    opts = rpc.TensorPipeRpcBackendOptions(rpc_timeout=600, init_method=f"tcp://{args.master_addr}:{args.master_port}")
    rpc.init_rpc("server" if rank == 0 else "client", rank=rank, world_size=2, rpc_backend_options=opts)
    return rpc


def client(args):
    import torch
    server = subprocess.Popen([sys.executable, os.path.abspath(__file__), "--server", "--master-addr", args.master_addr, "--master-port", str(args.master_port)])
    rpc = init(1, args)

    def handle(msg):
        if msg["op"] == "setup":
            return {"ok": True, "info": rpc.rpc_sync("server", remote_setup, args=(msg["spec"],))}
        if msg["op"] == "run":
            work = msg["input"]
            kind = work["kind"]
            extra = {k: v for k, v in work.items() if k not in ("kind", "ids")}
            images = peer.pixels(work["seed"], work["shape"]) if kind == "classify" else None
            start = time.perf_counter()
            sent = images if images is not None else torch.tensor(work["ids"], dtype=torch.int64)
            tensor, engine_ms, server_ms = rpc.rpc_sync("server", remote_run, args=(kind, sent, extra))
            ms = (time.perf_counter() - start) * 1000
            output = {"kind": "tokens", "tokens": tensor.tolist()} if kind == "generate" else peer.values_json(tensor)
            # Bytes of the tensors shipped (the payload; TensorPipe's own framing is not visible from here).
            return {"ok": True, "ms": ms, "server_ms": server_ms, "engine_ms": engine_ms, "bytes_out": sent.numel() * sent.element_size(),
                    "bytes_in": tensor.numel() * tensor.element_size(), "output": output}
        return {"ok": False, "error": f"unknown op {msg['op']!r}"}

    try:
        peer.serve_lines(handle)
    finally:
        rpc.shutdown()
        server.wait(timeout=30)


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--server", action="store_true")
    p.add_argument("--master-addr", default="127.0.0.1")
    p.add_argument("--master-port", type=int, default=29500)
    args = p.parse_args()
    if args.server:
        rpc = init(0, args)
        rpc.shutdown()  # blocks until the client shuts down too
    else:
        client(args)


if __name__ == "__main__":
    main()
