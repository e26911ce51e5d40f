# RUN: %python %s
"""lowbit-lower-gpu's kernel form computes lowbit.qmatmul correctly.

The GPU kernel forms run on the CPU through lowbit-gpu-kernel-cpu-pipeline; no
GPU is needed: the decode kernel (blocks of 4 warps, a warp per row of W,
16-byte chunks decoded in registers, warp-level sums) and the tensor-core
kernel (64 x 64 tiles of f16 through shared memory, warp-level
contractions). For every format (zero points, scale types, double
quantization), blocks 32/64/128 and per-channel (N and K not multiples of
the warp, chunk or tile size), batches 1, 3, 16 and 2x8 and, above the
decode regime, 17, 64, 2x40 and 256 (mostly f16, which takes tensor cores
where the format allows; bf16 and f32 take row tiles of the decode
kernel), f32/f16/bf16 activations, with and without bias and LoRA:

1. decoded weights are bit-exact: with one-hot rows of x (16 per call, the
   largest decode-regime batch), y[m, n] is exactly W[n, k_m], compared bit
   for bit with the numerics core's dequantize (fp8 also sets every
   non-NaN code);
2. y agrees with numpy (float64) on the numerics core's dequantized
   weights within the error of f32 accumulation over K (plus 2^-20 of
   the magnitude where the tensor-core kernel splits NF4 values into two
   f16 parts).

All cases run in one module: mlir-runner starts once.
"""

import os
import subprocess
import sys
import time

import numpy as np

from lowbit_run import dense, memrefs, opt
from qmatmul_cases import (ACTIVATIONS, FORMATS, accumulation_bound,
                           case_grid, exact_weight, literal,
                           reference_product, tensor_type)
from qmatmul_cases import GPU_BATCHES as BATCHES
from qmatmul_cases import GPU_BLOCKS as BLOCKS
from qmatmul_cases import GPU_EXACT_BLOCKS as EXACT_BLOCKS
from qmatmul_cases import GPU_PREFILL_ACTIVATIONS as PREFILL_ACTIVATIONS
from qmatmul_cases import GPU_PREFILL_BATCHES as PREFILL_BATCHES
from qmatmul_cases import MAX_GPU_BATCH as MAX_BATCH
from qmatmul_module import Module, qmatmul_body


def exact_cases(rng, module):
    """One-hot x, 16 columns of W per call: y[m, n] = W[n, k0 + m]."""
    cases = []
    for fmt in FORMATS:
        for block, n, k in EXACT_BLOCKS:
            _, mlir, buf, want = exact_weight(rng, fmt, block, n, k)
            q = f"!lowbit.qtensor<{n}x{k}xf32, {mlir}>"
            for k0 in range(0, k, MAX_BATCH):
                rows = min(MAX_BATCH, k - k0)
                x = np.zeros((rows, k), dtype=np.float32)
                x[np.arange(rows), k0 + np.arange(rows)] = 1
                name = f"exact_{fmt[0]}_{block}_{k0}"
                module.add(name, qmatmul_body(
                    literal(x, "f32"), tensor_type((rows, k), "f32"), dense(buf),
                    q, tensor_type((rows, n), "f32")), (rows, n), "f32")
                cases.append((name, want[:, k0:k0 + rows].T.copy()))
    return cases


def matmul_cases(rng, module, batches, activations=ACTIVATIONS, prefix="mm"):
    cases = []
    for case in case_grid(rng, BLOCKS, batches, activations=activations):
        fmt, block, n, k = case.fmt, case.block, case.n, case.k
        mlir, batch, act = case.mlir, case.batch, case.act
        extra, buf, x = case.extra, case.buf, case.x
        q = f"!lowbit.qtensor<{n}x{k}x{act}, {mlir}>"
        _, want, magnitude, extras = reference_product(rng, case)
        bias_arg, lora_arg = extras.bias_arg, extras.lora_arg
        yshape = batch + (n,)
        name = f"{prefix}_{fmt[0]}_{block}"
        module.add(name, qmatmul_body(
            literal(x, act), tensor_type(batch + (k,), act), dense(buf), q,
            tensor_type(yshape, act), bias_arg, lora_arg), yshape, act)
        bound = accumulation_bound(case, want, magnitude, f16_parts=True)
        cases.append((name, want.ravel(), bound.ravel(),
                      f"batch {'x'.join(map(str, batch))}, {act}, {extra}"))
    return cases


def run(source):
    start = time.time()
    lowered, _ = opt(source, "--lowbit-gpu-kernel-cpu-pipeline")
    result = subprocess.run(
        [os.environ["LOWBIT_MLIR_RUNNER"], "-e", "main",
         "-entry-point-result=void",
         "-shared-libs=" + os.environ["LOWBIT_RUNNER_LIBS"]],
        input=lowered, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"mlir-runner failed:\n{result.stderr}")
    print(f"kernel form compiled and run on the CPU in "
          f"{time.time() - start:.1f} s")
    return [a.astype(np.int64).astype(np.int32).view(np.float32)
            for a in memrefs(result.stdout)]


def main():
    rng = np.random.default_rng(2025)
    module = Module()
    exact = exact_cases(rng, module)
    matmul = (matmul_cases(rng, module, BATCHES) +
              matmul_cases(rng, module, PREFILL_BATCHES, PREFILL_ACTIVATIONS,
                           prefix="prefill"))
    got = run(module.text())
    if len(got) != len(exact) + len(matmul):
        sys.exit(f"expected {len(exact) + len(matmul)} results, got {len(got)}")
    failures = 0
    for (name, want), out in zip(exact, got):
        # x·Wᵀ sums zeros with W[n, k], so -0 comes out as +0.
        want = (want + np.float32(0)).ravel()
        out = out + np.float32(0)
        bad = np.flatnonzero(want.view(np.int32) != out.view(np.int32))
        if bad.size or out.shape != want.shape:
            i = bad[0] if bad.size else 0
            print(f"{name}: {bad.size} of {want.size} values differ; first at "
                  f"{i}: numerics {want[i]!r}, kernel {out[i]!r}")
            failures += 1
    print(f"exact decode: {len(exact)} cases, "
          f"{failures} failed")
    mm_failures = 0
    for (name, want, bound, what), out in zip(matmul, got[len(exact):]):
        ok = out.shape == want.shape and np.max(np.abs(out - want) / bound) <= 1.0
        if not ok:
            worst = (np.max(np.abs(out - want) / bound)
                     if out.shape == want.shape else float("inf"))
            print(f"qmatmul {name} ({what}): error / bound = {worst:.3f} FAILED")
        mm_failures += not ok
    print(f"qmatmul: {len(matmul)} cases, {mm_failures} failed")
    if failures + mm_failures:
        sys.exit(f"{failures + mm_failures} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
