"""The matrix products of the FC net's gradient pass (batch 500) in PyTorch, best of three rounds, and
their sum: the GEMM time of one pass, beside org.hbp.backend.blas.FcPassGemms (hbp's OpenBLAS).
Usage: python3 scripts/torch_fc_gemms.py s|d THREADS (torch.set_num_threads; Debian's torch
leaves its OpenBLAS threads to OPENBLAS_NUM_THREADS)."""
import torch, time, sys
dt = torch.float64 if sys.argv[1] == 'd' else torch.float32; torch.set_num_threads(int(sys.argv[2]))
dims = [3072,1024,512,256,128,64,32,16,10]; tot = 0
for i in range(8):
    k, m = dims[i], dims[i+1]
    x = torch.randn(500, k, dtype=dt); W = torch.randn(m, k, dtype=dt); d = torch.randn(500, m, dtype=dt)
    cases = [("fwd", lambda: x @ W.t(), 500*m*k)]
    if i > 0: cases.append(("dX", lambda: d @ W, 500*m*k))
    cases.append(("dW", lambda: d.t() @ x, 500*m*k))
    for name, f, mnk in cases:
        reps = max(3, int(2e9 / (2*mnk)))
        for _ in range(2): f()
        best = 1e9
        for _ in range(3):
            t0 = time.perf_counter()
            for _ in range(reps): f()
            best = min(best, (time.perf_counter() - t0) / reps)
        tot += best
        if mnk > 1e7: print(f"{name} {m}x{k} {best*1e3:.3f} ms {2*mnk/best*1e-9:.1f} GFLOP/s")
print(f"total gemm time of the pass {tot*1e3:.2f} ms (torch {sys.argv[1]}, {sys.argv[2]} threads)")
