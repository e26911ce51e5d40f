# REQUIRES: cuda, ptxas, fatbinary, cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""lowbit.qmatmul compiled with `lowbit-compile --target=cuda` runs on the
GPU and computes what numpy computes.

One module with an entry point per case is compiled for the GPU of this
machine (its compute capability, from lowbit_cuda_device_info) and called
through the lowbit runtime (lowbit.load), as a user would:

1. bit-exact decode: with one-hot rows of x (16 per call, the largest
   decode-regime batch), y[m, n] is exactly W[n, k_m], compared bit for bit
   with the numerics core's dequantize;
2. for every format (zero points, scale types, double quantization),
   blocks 32/64/128 and per-channel, batches 1, 3, 16 and 2x8, f32/f16/bf16
   activations, with a bias argument and inline LoRA: y agrees with numpy
   (float64) on the dequantized weights within the error of f32
   accumulation over K;
3. the same entry point called from 4 threads at once gives the same
   results, and so do repeated calls;
4. the module compiled with `--weights=external` (weights in a weights
   file, uploaded into device globals when bound) gives bit-identical
   results for every case.
"""

import os
import subprocess
import sys
import threading

import numpy as np

import lowbit
from cuda_device import gpu_chip
from lowbit_run import dense
from qmatmul_cases import (ACTIVATIONS, FORMATS, LORA_SCALE,
                           accumulation_bound, case_grid, exact_weight,
                           reference_product, tensor_type)
from qmatmul_cases import GPU_BATCHES as BATCHES
from qmatmul_cases import GPU_PREFILL_ACTIVATIONS as PREFILL_ACTIVATIONS
from qmatmul_cases import GPU_PREFILL_BATCHES as PREFILL_BATCHES
from qmatmul_cases import GPU_BLOCKS as BLOCKS
from qmatmul_cases import GPU_EXACT_BLOCKS as EXACT_BLOCKS
from qmatmul_cases import MAX_GPU_BATCH as MAX_BATCH

NP_TYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}


class Module:
    """Public functions; each becomes an entry point of the artifact."""

    def __init__(self):
        self.funcs = []

    def add(self, name, params, body):
        args = ", ".join(f"%{p}: {t}" for p, t in params)
        ret = body.rsplit(" : ", 1)[1]
        self.funcs.append(f"func.func @{name}({args}) -> {ret} {{\n{body}\n}}")

    def text(self):
        return "\n".join(self.funcs) + "\n"


def qmatmul_body(w_lit, q, xt, yt, bias_type=None, lora=None):
    lines = [f"  %w = lowbit.weight inline {w_lit} -> {q}"]
    types, suffix = [xt, q], ""
    if bias_type:
        suffix += " bias(%bias)"
        types.append(bias_type)
    if lora:
        lines.append(f"  %a = arith.constant {lora[0]}")
        lines.append(f"  %b = arith.constant {lora[2]}")
        suffix += f" lora(%a, %b) scale {LORA_SCALE}"
        types += [lora[1], lora[3]]
    lines.append(f"  %y = lowbit.qmatmul %x, %w{suffix} : "
                 f"({', '.join(types)}) -> {yt}")
    lines.append(f"  return %y : {yt}")
    return "\n".join(lines)


def exact_cases(rng, module):
    """One-hot x, 16 columns of W per call: y[m, n] = W[n, k0 + m]."""
    cases = []
    for fmt in FORMATS:
        for block, n, k in EXACT_BLOCKS:
            _, mlir, buf, want = exact_weight(rng, fmt, block, n, k)
            q = f"!lowbit.qtensor<{n}x{k}xf32, {mlir}>"
            name = f"exact_{fmt[0]}_{block}"
            xt = tensor_type((MAX_BATCH, k), "f32")
            module.add(name, [("x", xt)], qmatmul_body(
                dense(buf), q, xt, tensor_type((MAX_BATCH, n), "f32")))
            for k0 in range(0, k, MAX_BATCH):
                rows = min(MAX_BATCH, k - k0)
                x = np.zeros((MAX_BATCH, k), dtype=np.float32)
                x[np.arange(rows), k0 + np.arange(rows)] = 1
                cases.append((name, x, want[:, k0:k0 + rows].T.copy(), rows))
    return cases


def matmul_cases(rng, module, batches, activations=ACTIVATIONS, prefix="mm"):
    cases = []
    for case in case_grid(rng, BLOCKS, batches, activations=activations):
        fmt, block, n, k = case.fmt, case.block, case.n, case.k
        mlir, batch, act = case.mlir, case.batch, case.act
        extra, buf, x = case.extra, case.buf, case.x
        q = f"!lowbit.qtensor<{n}x{k}x{act}, {mlir}>"
        xt = tensor_type(batch + (k,), act)
        params, inputs = [("x", xt)], [x]
        _, want, magnitude, extras = reference_product(rng, case)
        bias_type, lora_arg = None, extras.lora_arg
        if extras.bias is not None:
            bias_type = extras.bias_arg[1]
            params.append(("bias", bias_type))
            inputs.append(extras.bias)
        name = f"{prefix}_{fmt[0]}_{block}"
        module.add(name, params, qmatmul_body(
            dense(buf), q, xt, tensor_type(batch + (n,), act), bias_type,
            lora_arg))
        bound = accumulation_bound(case, want, magnitude, f16_parts=True)
        cases.append((name, inputs, act, want, bound,
                      f"batch {'x'.join(map(str, batch))}, {act}, {extra}"))
    return cases


def compile_module(work, text, chip, name="cases", extra=()):
    source = os.path.join(work, "cases.mlir")
    library = os.path.join(work, name + ".so")
    with open(source, "w") as f:
        f.write(text)
    compiler = os.path.join(os.path.dirname(os.environ["LOWBIT_OPT"]),
                            "lowbit-compile")
    result = subprocess.run([compiler, "--target=cuda", f"--gpu-chip={chip}",
                             *extra, source, "-o", library],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"lowbit-compile failed:\n{result.stderr}")
    return library


def as_f32(y, act):
    if act == "bf16":
        return (y.astype(np.uint32) << 16).view(np.float32)
    return y.astype(np.float32)


def main():
    work = sys.argv[1]
    chip = gpu_chip(report=True)
    rng = np.random.default_rng(2026)
    module = Module()
    exact = exact_cases(rng, module)
    matmul = (matmul_cases(rng, module, BATCHES) +
              matmul_cases(rng, module, PREFILL_BATCHES, PREFILL_ACTIVATIONS,
                           prefix="prefill"))
    model = lowbit.load(compile_module(work, module.text(), chip))
    print(f"compiled {len(module.funcs)} entry points for {chip}")

    failures = 0
    for name, x, want, rows in exact:
        (y,) = model[name](x)
        # x·Wᵀ sums zeros with W[n, k], so -0 comes out as +0.
        got = (y[:rows] + np.float32(0)).ravel()
        want = (want + np.float32(0)).ravel()
        bad = np.flatnonzero(want.view(np.int32) != got.view(np.int32))
        if bad.size:
            i = bad[0]
            print(f"{name}: {bad.size} of {want.size} values differ; first at "
                  f"{i}: numerics {want[i]!r}, GPU {got[i]!r}")
            failures += 1
    print(f"exact decode: {len(exact)} calls, {failures} failed")

    mm_failures = 0
    for name, inputs, act, want, bound, what in matmul:
        (y,) = model[name](*inputs)
        got = as_f32(y, act).astype(np.float64)
        worst = float(np.max(np.abs(got - want) / bound))
        if not worst <= 1.0:
            print(f"qmatmul {name} ({what}): error / bound = {worst:.3f} "
                  "FAILED")
            mm_failures += 1
    print(f"qmatmul: {len(matmul)} cases, {mm_failures} failed")

    # Concurrent and repeated calls of one entry point.
    name, inputs, act, _, _, _ = matmul[1]
    (reference,) = model[name](*inputs)
    outputs = [None] * 4

    def worker(t):
        for _ in range(20):
            (outputs[t],) = model[name](*inputs)

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    same = all(o is not None and np.array_equal(o.view(np.uint8),
                                                reference.view(np.uint8))
               for o in outputs)
    print(f"threads: {'same results' if same else 'results differ FAILED'}")

    # Every weight of at least 64 bytes in the weights file.
    external = lowbit.load(compile_module(
        work, module.text(), chip, "external",
        ["--weights=external", "--external-min-bytes=64"]))
    device_weights = sum(1 for w in external.manifest["weights"]
                         if "device" in w)
    ext_failures = 0
    for name, inputs in ([(n, (x,)) for n, x, _, _ in exact] +
                         [(n, i) for n, i, _, _, _, _ in matmul]):
        (want,) = model[name](*inputs)
        (got,) = external[name](*inputs)
        if not np.array_equal(want.view(np.uint8), got.view(np.uint8)):
            print(f"external weights: {name} differs FAILED")
            ext_failures += 1
    print(f"external weights: {device_weights} device weights, "
          f"{ext_failures} entry points differ")

    total = failures + mm_failures + (not same) + ext_failures
    if device_weights == 0:
        print("external weights: no weight left the kernels FAILED")
        total += 1
    if total:
        sys.exit(f"{total} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
