"""cuBLAS through PyTorch on the GPU host: f16 y = x @ W.T (nn.Linear's layout, "nk") on Llama-2-7B's 1k-token prefill
shapes and BERT-base's at 128 tokens, timed with CUDA events (median of 50 after 20 warm-up runs). Prints one line a
shape: M N K median_us TFLOP/s. The side-by-side reference for the tensor-core GEMM's rate (docs/perf-notes.md)."""
import statistics
import torch

SHAPES = [(1024, 4096, 4096), (1024, 22016, 4096), (1024, 4096, 11008), (1024, 12288, 4096), (512, 22016, 4096),
          (128, 2304, 768), (128, 3072, 768), (128, 768, 3072)]

def main() -> None:
    torch.backends.cuda.matmul.allow_tf32 = False
    print("device", torch.cuda.get_device_name(0), "torch", torch.__version__)
    for m, n, k in SHAPES:
        x = torch.randn(m, k, device="cuda", dtype=torch.float16)
        w = torch.randn(n, k, device="cuda", dtype=torch.float16) * 0.02
        for _ in range(20):
            y = x @ w.t()
        torch.cuda.synchronize()
        times = []
        for _ in range(50):
            a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            a.record()
            y = x @ w.t()
            b.record()
            b.synchronize()
            times.append(a.elapsed_time(b) * 1000)
        us = statistics.median(times)
        print(f"{m} {n} {k} {us:.1f} {2 * m * n * k / us / 1e6:.1f}")
        del y

if __name__ == "__main__":
    main()
