# REQUIRES: cpu-avx512, cpu-avx512-vnni
# RUN: %python %s --options "dot=i8"
# RUN: %python %s --options "dot=i8 isa=avx512 parallel=true threads=2 n-tile=8 batch-tile=4"
# RUN: %python %s --options "dot=i8 vbmi=false"
"""lowbit-cpu-pipeline{dot=i8}: the int8 dot-product (vpdpbusd) kernels.

The kernels quantize each row of x to int8 per 128 elements and multiply
the weight codes as unsigned bytes; results therefore differ from the f32
kernels by x's rounding (and NF4's codebook rounded to a grid of 1/127).
This test models that arithmetic exactly in numpy (float64):

    dx = f32(max|x_chunk| / 127),  q = clip(rint(f32(x / dx)), ±127)
         (chunks of 128 elements, of 256 for 2-bit codes)
    u  = code, code ^ 2^(bits-1) (signed integers) or round(t · F) + offset
         (codebooks; F = the smallest power of two making every entry an
         integer, else 127 / max|t|; offset = −min round(t · F))
    w' = s_b / F · (u − offset − z_b) + m_b
    y  = Σ dx · q · w'  (+ bias + LoRA as in the f32 kernels)

and holds the kernel to it within the error of f32 accumulation of the
(uncancelled) partial sums. The same bound is far below the int8 rounding
itself, which is checked too: the f32 kernels' exact answer must lie
outside it, so a kernel that silently took the f32 path would fail.

The int8 kernels serve every batch (also those the f32 path would give
the GEMM strategy, batch 2x8 here). Weights they do not cover (FP8, 3-bit
codes without AVX-512 VBMI or with vbmi=false, K not a multiple of the
chunk, blocks that do not tile its lanes) must give the f32 kernels'
result instead.
"""

import argparse
import os
import sys

import numpy as np

import lowbit.numerics as nx
from lowbit_run import dense
from qmatmul_cases import (FORMATS, OUT_EPS, RANK, as_f64, case_grid, draw_extras,
                           literal, schemes, tensor_type)
from qmatmul_module import Module, host_flags, qmatmul_body, run_cpu, runner_libs

# (block size or 0 = per channel, N, K). The last two are not covered.
# Blocks smaller than a chunk are read as runs of up to 16 (blocks of 16:
# 16 per chunk of 2-bit codes, per 2 chunks of 4- and 8-bit codes; blocks
# of 32 with K = 384: runs of 4).
BLOCKS = [(32, 21, 256), (64, 12, 384), (128, 11, 256), (256, 6, 512),
          (0, 9, 384), (16, 7, 512), (32, 10, 384), (32, 37, 96), (0, 13, 45)]
# Double quantization in second-level groups of 6 blocks: runs of 4 blocks
# then straddle two groups, and runs of 16 exceed one.
FORMATS_HERE = FORMATS + [("nf4_dq6", "nf4", "bf16", "none", "dyn8", 6)]
BATCHES = [(1,), (3,), (8,), (2, 4), (2, 8)]
def chunk_size(bits):
    """Elements of x per int8 scale: the codes of 64 bytes of weights (of
    128 bytes for 8-bit codes)."""
    return 256 if bits == 2 else 128


def plan(fmt, scheme, block, k, vbmi):
    """(bits, map(codes) -> u, offset, factor) as the kernel chooses it, or
    None where the kernel falls back to f32. 3-bit codes need `vbmi`."""
    f = fmt[1]
    bits = {"i8": 8, "u8": 8, "i4": 4, "u4": 4, "nf4": 4, "fp4": 4,
            "lut": 4, "i3": 3, "u3": 3, "i2": 2, "u2": 2}.get(f)
    if bits is None or (bits == 3 and not vbmi) or k % chunk_size(bits):
        return None
    b, chunk = block or k, chunk_size(bits)
    # Codes per accumulator, and the window of codes an int32 lane draws
    # from (a lane of 3-bit codes: 8 of 16).
    group = 128 if bits == 3 else 64 * 8 // bits
    span = 16 if bits == 3 else group // 16
    tiles = (b % span == 0 and group % b == 0) if b < chunk else b % chunk == 0
    if not tiles:
        return None
    if f in ("i8", "i4", "i3", "i2"):
        half = 1 << (bits - 1)
        return bits, (lambda c: c ^ half), half, 1.0
    if f in ("u8", "u4", "u2"):
        return bits, (lambda c: c), 0, 1.0
    t = nx.code_values(scheme).astype(np.float32)
    factor = np.float32(127.0) / np.max(np.abs(t))
    for j in range(8):
        scaled = t * np.float32(2.0 ** j)
        if np.all(np.abs(scaled) <= 127) and np.all(np.rint(scaled) == scaled):
            factor = np.float32(2.0 ** j)
            break
    entries = np.rint(t * factor).astype(np.int64)
    offset = -int(entries.min())
    table = entries + offset
    return bits, (lambda c: table[c]), offset, float(factor)


def unpack(buf, lay, bits, n, k):
    """[n, k] codes of a canonical buffer (each row a little-endian bit
    stream, code j at bits [j·bits, (j+1)·bits))."""
    start, row = lay["codes_offset"], lay["row_bytes"]
    rows = buf[start:start + n * row].reshape(n, row)
    stream = np.unpackbits(rows, axis=1, bitorder="little")[:, :k * bits]
    weights = 1 << np.arange(bits, dtype=np.int64)
    return stream.reshape(n, k, bits).astype(np.int64) @ weights


def block_values(buf, scheme, fmt, lay, n, k):
    """Per-block scale, integer zero point and minimum, [n, blocks] f64."""
    blocks = lay["blocks_per_row"]
    s = nx.decode_scales(buf, scheme, (n, k)).astype(np.float64).reshape(n, blocks)
    z = np.zeros_like(s)
    m = np.zeros_like(s)
    start = lay["zero_points_offset"]
    if fmt[3] == "int":
        z = buf[start:start + n * blocks].astype(np.float64).reshape(n, blocks)
    elif fmt[3] == "min":
        raw = buf[start:start + lay["zero_points_size"]]
        if fmt[2] == "f32":
            m = raw.view(np.float32)
        elif fmt[2] == "f16":
            m = raw.view(np.float16)
        else:
            m = (raw.view(np.uint16).astype(np.uint32) << 16).view(np.float32)
        m = m.astype(np.float64).reshape(n, blocks)
    return s, z, m


def quantize_x(x32, chunk):
    """x ([rows, k] f32) as the kernels quantize it, per `chunk` elements:
    dx · q as f64."""
    rows, k = x32.shape
    chunks = x32.reshape(rows, k // chunk, chunk)
    dx = np.max(np.abs(chunks), axis=2) / np.float32(127)
    divisor = np.where(dx > 0, dx, np.float32(1)).astype(np.float32)
    q = np.clip(np.rint(chunks / divisor[:, :, None]), -127, 127)
    xq = (q.astype(np.float64) * dx[:, :, None].astype(np.float64))
    return xq.reshape(rows, k)


def int8_model(x32, buf, scheme, fmt, block, n, k, p):
    """(y, magnitude of the partial sums) of the int8 kernel, float64."""
    bits, to_u, offset, factor = p
    lay = nx.layout(scheme, n, k)
    u = to_u(unpack(buf, lay, bits, n, k)).astype(np.float64)
    s, z, m = block_values(buf, scheme, fmt, lay, n, k)
    size = block or k
    expand = lambda a: np.repeat(a, size, axis=1)  # noqa: E731
    s, z, m = expand(s) / factor, expand(z), expand(m)
    w = s * (u - offset - z) + m
    xq = quantize_x(x32, chunk_size(bits))
    pieces = np.abs(s) * (u + offset + np.abs(z)) + np.abs(m)
    return xq @ w.T, np.abs(xq) @ pieces.T


def check(rng, options):
    module, cases = Module(), []
    covered = 0
    # The pipeline's vbmi=host: 3-bit codes take the int8 kernels where the
    # machine has AVX-512 VBMI, unless the options turn it off.
    vbmi = "vbmi=false" not in options.split() and "avx512vbmi" in host_flags()
    for case in case_grid(rng, BLOCKS, BATCHES, dynamic=True,
                          formats=FORMATS_HERE):
        fmt, block, n, k = case.fmt, case.block, case.n, case.k
        scheme, mlir, batch, act = case.scheme, case.mlir, case.batch, case.act
        extra, buf, wq, x = case.extra, case.buf, case.wq, case.x
        dynamic = case.dynamic
        x64 = as_f64(x, act).reshape(-1, k)
        p = plan(fmt, scheme, block, k, vbmi)
        exact = x64 @ wq.T
        exact_magnitude = np.abs(x64) @ np.abs(wq).T
        if p:
            want, magnitude = int8_model(x64.astype(np.float32), buf,
                                         scheme, fmt, block, n, k, p)
            terms = k // 8 + RANK + 16
        else:
            want, magnitude, terms = exact, exact_magnitude, k + RANK + 4
        extras = draw_extras(rng, case, x64)
        bias_arg, lora_arg = extras.bias_arg, extras.lora_arg
        extra_want = extras.want + np.zeros_like(want)
        extra_magnitude = extras.magnitude + np.zeros_like(want)
        want, exact = want + extra_want, exact + extra_want
        magnitude = magnitude + extra_magnitude
        xt = tensor_type(batch + (k,), act)
        q = f"!lowbit.qtensor<{n}x{k}x{act}, {mlir}>"
        yshape = batch + (n,)
        yt = tensor_type(("?",) + yshape[1:] if dynamic else yshape, act)
        dyn = (tensor_type(("?", k), act),) if dynamic else None
        name = f"mm_{fmt[0]}_{block}_{k}"
        module.add(name, qmatmul_body(literal(x, act), xt, dense(buf), q,
                                      yt, bias_arg, lora_arg, dyn),
                   yshape, act, dynamic)
        bound = (terms * 2.0 ** -23 * magnitude +
                 (k + RANK + 4) * 2.0 ** -23 * extra_magnitude +
                 OUT_EPS[act] * np.abs(want) + 1e-6)
        covered += p is not None
        what = (f"{'int8' if p else 'f32'} kernel, batch "
                f"{'x'.join(map(str, batch))}"
                f"{' (dynamic)' if dynamic else ''}, {act}, {extra}")
        cases.append((name, want.ravel(), exact.ravel(), bound.ravel(),
                      p is not None and act == "f32", what))
    got = run_cpu(module.text(), options)
    if len(got) != len(cases):
        sys.exit(f"expected {len(cases)} results, got {len(got)}")
    failures = 0
    for (name, want, exact, bound, distinct, what), out in zip(cases, got):
        worst = np.max(np.abs(out - want) / bound)
        ok = worst <= 1.0
        if not ok:
            print(f"{name} ({what}): error / bound = {worst:.3f} FAILED")
        # The int8 rounding must be visible at this bound (f32 results;
        # a rounded f16/bf16 output can hide it).
        separation = np.max(np.abs(exact - want) / bound)
        if distinct and separation < 3:
            print(f"{name} ({what}): the f32 result is only {separation:.1f} "
                  f"bounds from the int8 model; the check cannot tell them apart")
            ok = False
        failures += not ok
    print(f"dot=i8: {len(cases)} cases ({covered} on the int8 kernel), "
          f"{failures} failed")
    return failures


def check_nan(options):
    """A NaN in a row of x gives NaN in that row's outputs (as the f32
    kernels do), not a finite value from a garbage int8 code; the other row
    stays finite."""
    k, n = 256, 8
    scheme, mlir = schemes(FORMATS[1], 128)  # int4, blocks of 128
    buf = nx.quantize(np.random.default_rng(3).standard_normal((n, k))
                      .astype(np.float32), scheme)
    x = np.ones((2, k), np.float32)
    x[0, 5] = np.nan
    module = Module()
    module.add("nan_row", qmatmul_body(
        "dense<[" + ", ".join("[" + ", ".join("0x7FC00000" if np.isnan(v)
                                              else "1.0" for v in row) + "]"
                              for row in x) + "]> : tensor<2x256xf32>",
        tensor_type((2, k), "f32"), dense(buf),
        f"!lowbit.qtensor<{n}x{k}xf32, {mlir}>", tensor_type((2, n), "f32")),
        (2, n), "f32")
    (got,) = run_cpu(module.text(), options)
    got = got.reshape(2, n)
    ok = np.all(np.isnan(got[0])) and np.all(np.isfinite(got[1]))
    print(f"NaN in x: row 0 {'all NaN' if np.all(np.isnan(got[0])) else got[0]}, "
          f"row 1 {'finite' if np.all(np.isfinite(got[1])) else got[1]}"
          f"{'' if ok else ' FAILED'}")
    return 0 if ok else 1


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--options", default="dot=i8",
                        help="lowbit-cpu-pipeline options")
    options = parser.parse_args().options
    if "parallel=true" in options and not os.path.exists(
            runner_libs(options).split(",")[-1]):
        print("skipped: no libomp.so next to the runner-utils libraries")
        return
    print(f"pipeline options: {options}")
    failures = check(np.random.default_rng(7), options) + check_nan(options)
    if failures:
        sys.exit(f"{failures} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
