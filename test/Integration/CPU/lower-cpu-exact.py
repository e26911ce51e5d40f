# RUN: %python %s
# RUN: %python %s --options "isa=generic pair-min-k=1"
# RUN: %python %s --options "isa=avx2 vector-width=8"
# RUN: %python %s --options "isa=avx512 parallel=true threads=2 n-tile=4 pair-min-k=1"
# RUN: %python %s --options "gemm-min-batch=1"
# RUN: %python %s --options "gemm-min-batch=1 vectorize-linalg=false"
# RUN: %python %s --options "isa=avx2 vector-width=8 gemm-min-batch=2 parallel=true threads=2 n-tile=8"
"""lowbit-cpu-pipeline's fused kernels compute lowbit.qmatmul correctly.

For every format (with zero points, scale types and double quantization),
block sizes 32/64/128 and per-channel, batches 1, 3, 16 and 64 (and a
dynamic batch), N and K that are not multiples of the vector width, with and
without bias and LoRA, and f32/f16/bf16 activations:

1. decoded weights are bit-exact: with one-hot rows of x, y[m, n] is
   exactly W[n, m], compared bit for bit with the numerics core's
   dequantize;
2. y agrees with numpy (float64) on the numerics core's dequantized
   weights within the error of f32 accumulation over K, and with the
   reference pipeline's output within twice that.

All cases of a check run in one module, so mlir-runner starts only a few
times. `--options` passes lowbit-cpu-pipeline options, to force each code
path (portable select tree, AVX2 and AVX-512 permutes, OpenMP threads, the
GEMM strategy for every static batch with `gemm-min-batch`); a
path the host cannot run is skipped. The reference pipeline is compared only
with the default options (the other paths are held to the same numpy
bounds).
"""

import argparse
import os
import sys
import time

import numpy as np

from lowbit_run import dense, execute, memrefs
from qmatmul_cases import (FORMATS, accumulation_bound, case_grid,
                           exact_weight, literal, reference_product,
                           tensor_type)
from qmatmul_module import Module, host_flags, qmatmul_body, run_cpu, runner_libs


# (block size or 0 = per channel, N, K)
# The last: per channel with K a multiple of 32 and more than 8 chunks
# (the looped form of the split-nibble path).
BLOCKS = [(32, 37, 96), (64, 20, 128), (128, 11, 256), (0, 13, 45),
          (0, 9, 320)]
BATCHES = [(1,), (3,), (2, 8), (64,)]



PIPELINE_OPTIONS = ""


def check_exact_decode(rng):
    """One-hot x: y[m, n] = W[n, m] exactly."""
    module, expected = Module(), []
    for fmt in FORMATS:
        for block, n, k in (BLOCKS[0], BLOCKS[3]):
            _, mlir, buf, want = exact_weight(rng, fmt, block, n, k)
            q = f"!lowbit.qtensor<{n}x{k}xf32, {mlir}>"
            x = np.eye(k, dtype=np.float32)
            name = f"exact_{fmt[0]}_{block}"
            module.add(name, qmatmul_body(literal(x, "f32"), tensor_type((k, k), "f32"),
                                          dense(buf), q, tensor_type((k, n), "f32")),
                       (k, n), "f32")
            expected.append((name, want.T.copy()))
    got = run_cpu(module.text(), PIPELINE_OPTIONS)
    if len(got) != len(expected):
        sys.exit(f"expected {len(expected)} results, got {len(got)}")
    failures = 0
    for (name, want), out in zip(expected, got):
        # x·Wᵀ sums zeros with W[n, m], so -0 comes out as +0.
        want = want + np.float32(0)
        out = out + np.float32(0)
        bad = np.flatnonzero(want.view(np.int32).ravel() != out.view(np.int32))
        if bad.size:
            i = bad[0]
            print(f"{name}: {bad.size} of {want.size} values differ; first at "
                  f"{i}: numerics {want.ravel()[i]!r}, kernel {out[i]!r}")
            failures += 1
    print(f"exact decode: {len(expected)} cases, {failures} failed")
    return failures


def check_qmatmul(rng):
    module, cases = Module(), []
    for case in case_grid(rng, BLOCKS, BATCHES, dynamic=True):
        fmt, block, n, k = case.fmt, case.block, case.n, case.k
        mlir, batch, act = case.mlir, case.batch, case.act
        extra, buf, x = case.extra, case.buf, case.x
        dynamic = case.dynamic
        q = f"!lowbit.qtensor<{n}x{k}x{act}, {mlir}>"
        xt = tensor_type(batch + (k,), act)
        yshape = batch + (n,)
        _, want, magnitude, extras = reference_product(rng, case)
        bias_arg, lora_arg = extras.bias_arg, extras.lora_arg
        dyn = None
        if dynamic:
            dyn = (tensor_type(("?", k), act),)
        yt = tensor_type(("?",) + yshape[1:] if dynamic else yshape, act)
        name = f"mm_{fmt[0]}_{block}_{k}"
        module.add(name, qmatmul_body(literal(x, act), xt, dense(buf), q, yt,
                                      bias_arg, lora_arg, dyn),
                   yshape, act, dynamic)
        bound = accumulation_bound(case, want, magnitude)
        cases.append((name, want.ravel(), bound.ravel(),
                      f"batch {'x'.join(map(str, batch))}{' (dynamic)' if dynamic else ''}, "
                      f"{act}, {extra}"))
    source = module.text()
    start = time.time()
    got = run_cpu(source, PIPELINE_OPTIONS)
    cpu_time = time.time() - start
    start = time.time()
    if PIPELINE_OPTIONS:
        reference = got
    else:
        reference = [a.astype(np.int64).astype(np.int32).view(np.float32)
                     for a in memrefs(execute(source))]
    ref_time = time.time() - start
    if len(got) != len(cases) or len(reference) != len(cases):
        sys.exit(f"expected {len(cases)} results, got {len(got)} and "
                 f"{len(reference)}")
    failures = 0
    for (name, want, bound, what), out, ref in zip(cases, got, reference):
        worst = np.max(np.abs(out - want) / bound)
        worst_ref = np.max(np.abs(out - ref) / (2 * bound))
        ok = worst <= 1.0 and worst_ref <= 1.0 and out.shape == want.shape
        if not ok:
            print(f"qmatmul {name} ({what}): error / bound = {worst:.3f}, "
                  f"vs reference {worst_ref:.3f} FAILED")
        failures += not ok
    print(f"qmatmul: {len(cases)} cases, {failures} failed "
          f"(cpu pipeline {cpu_time:.1f} s, reference {ref_time:.1f} s)")
    return failures


def main():
    global PIPELINE_OPTIONS
    parser = argparse.ArgumentParser()
    parser.add_argument("--options", default="",
                        help="lowbit-cpu-pipeline options")
    PIPELINE_OPTIONS = parser.parse_args().options
    flags = host_flags()
    for isa, flag in (("avx512", "avx512f"), ("avx2", "avx2")):
        if f"isa={isa}" in PIPELINE_OPTIONS and flag not in flags:
            print(f"skipped: the host has no {flag} for {PIPELINE_OPTIONS}")
            return
    if "parallel=true" in PIPELINE_OPTIONS and not os.path.exists(
            runner_libs(PIPELINE_OPTIONS).split(",")[-1]):
        print("skipped: no libomp.so next to the runner-utils libraries")
        return
    print(f"pipeline options: {PIPELINE_OPTIONS or '(defaults)'}")
    rng = np.random.default_rng(2024)
    failures = check_exact_decode(rng) + check_qmatmul(rng)
    if failures:
        sys.exit(f"{failures} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
