"""Cases shared by the integration tests of the qmatmul kernels (CPU and
GPU): the formats under test, their numerics-core and MLIR schemes, and
helpers to round data to an activation type and write it as MLIR."""

import numpy as np

import lowbit.numerics as nx
from lowbit_run import dense

LUT = tuple(float(v) for v in np.linspace(-3, 4.5, 16))
LUT_MLIR = "lut<[" + ", ".join(f"{v:.6f}" for v in LUT) + "]>"

# (name, format, scale type, zero point, double quant, dq block)
FORMATS = [
    ("i8", "i8", "f32", "none", "none", 256),
    ("i4", "i4", "f16", "none", "none", 256),
    ("i3", "i3", "bf16", "none", "none", 256),
    ("i2", "i2", "f16", "none", "none", 256),
    ("u8_int", "u8", "f32", "int", "none", 256),
    ("u4_int", "u4", "f16", "int", "none", 256),
    ("u3_int", "u3", "bf16", "int", "none", 256),
    ("u2_int", "u2", "f16", "int", "none", 256),
    ("u4_min", "u4", "f16", "min", "none", 256),
    ("u2_min", "u2", "bf16", "min", "none", 256),
    ("nf4", "nf4", "f32", "none", "none", 256),
    ("nf4_dq_dyn8", "nf4", "f16", "none", "dyn8", 4),
    ("fp4", "fp4", "f16", "none", "none", 256),
    ("fp4_dq_i8", "fp4", "f32", "none", "i8", 8),
    ("fp8", "fp8", "bf16", "none", "none", 256),
    ("fp8_dq_fp8", "fp8", "f32", "none", "fp8", 2),
    ("lut", "lut", "f16", "none", "none", 256),
]

# Unit roundoff of each result type: the final rounding's error bound.
OUT_EPS = {"f32": 2.0 ** -24, "f16": 2.0 ** -11, "bf16": 2.0 ** -8}


def schemes(fmt, block):
    _, f, scale, zp, dq, dqb = fmt
    scheme = nx.Scheme(f, block, scale, zp, dq, dqb,
                       lut=LUT if f == "lut" else None)
    parts = [LUT_MLIR if f == "lut" else f,
             f"block = {block}" if block else "per_channel",
             f"scale = {scale}"]
    if zp != "none":
        parts.append(f"zero_point = {zp}")
    if dq != "none":
        parts.append(f"dq = <{dq}, block = {dqb}>")
    return scheme, "#lowbit.scheme<" + ", ".join(parts) + ">"


# Cases of the GPU kernels, run through their CPU-executable form
# (gpu-kernel-exact.py) and on a device (cuda-qmatmul.py): (block size or 0
# = per channel, N, K), batches up to MAX_GPU_BATCH.
GPU_BLOCKS = [(32, 37, 96), (64, 19, 128), (128, 11, 256), (0, 13, 45)]
GPU_EXACT_BLOCKS = [(32, 9, 64), (0, 6, 45)]
GPU_BATCHES = [(1,), (3,), (16,), (2, 8)]
MAX_GPU_BATCH = 16
# Batches above the decode regime: f16 activations take the tensor-core
# kernel (64 x 64 tiles, partial ones included), others row tiles of 16.
GPU_PREFILL_BATCHES = [(64,), (17,), (2, 40), (256,)]
GPU_PREFILL_ACTIVATIONS = ["f16", "f16", "bf16", "f16", "f32"]
ACTIVATIONS = ["f32", "f16", "bf16"]
EXTRAS = ["none", "bias", "lora", "bias+lora"]
# LoRA factors of the cases: rank and scale.
RANK, LORA_SCALE = 3, 0.75


def exact_weight(rng, fmt, block, n, k):
    """A random [n, k] weight quantized with `fmt`: (numerics scheme, MLIR
    scheme, packed bytes, dequantized f32 values). Blocked fp8 gets every
    code but the two NaNs, cyclically, so that decoding is checked for all
    of them."""
    scheme, mlir = schemes(fmt, block)
    w = rng.standard_normal((n, k)).astype(np.float32)
    buf = nx.quantize(w, scheme)
    if fmt[0] == "fp8" and block:
        codes = np.arange(n * k) % 256
        codes[(codes & 0x7F) == 0x7F] = 0
        buf[:n * k] = codes.astype(np.uint8)
    return scheme, mlir, buf, nx.dequantize(buf, scheme, (n, k))


def to_dtype(a, element):
    """float data rounded to `element`; bf16 as its raw uint16 bits."""
    if element == "f16":
        return a.astype(np.float16)
    if element == "bf16":
        bits = a.astype(np.float32).view(np.uint32)
        bits = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16
        return bits.astype(np.uint16)
    return a.astype(np.float32)


def as_f64(a, element):
    if element == "bf16":
        return (a.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
    return a.astype(np.float64)


def literal(a, element):
    if element == "bf16":
        shape = "x".join(str(d) for d in a.shape)
        return (f'dense<"0x{np.ascontiguousarray(a).tobytes().hex().upper()}">'
                f" : tensor<{shape}xbf16>")
    return dense(a)


def tensor_type(shape, element):
    return "tensor<" + "x".join(str(d) for d in shape) + f"x{element}>"


class Case:
    """One qmatmul case of a grid: the format tuple, block size (0 = per
    channel), N, K, both schemes, batch shape, activation type, extras,
    whether x has a dynamic batch, the packed weight, its dequantized
    float64 values and x (rounded to the activation type)."""

    def __init__(self, **fields):
        self.__dict__.update(fields)


def case_grid(rng, blocks, batches, dynamic=False, activations=ACTIVATIONS,
              formats=FORMATS):
    """Every format of `formats` x (block, N, K) of `blocks`, with the batch, activation
    type (from `activations`) and extras rotating across the grid (and,
    with `dynamic`, a dynamic batch for some batch-1 cases); weights and x
    are drawn from `rng` as each case is reached."""
    for i, fmt in enumerate(formats):
        for j, (block, n, k) in enumerate(blocks):
            scheme, mlir = schemes(fmt, block)
            batch = batches[(i + j) % len(batches)]
            act = activations[(i + 2 * j) % len(activations)]
            w = rng.standard_normal((n, k)).astype(np.float32)
            buf = nx.quantize(w, scheme)
            yield Case(
                fmt=fmt, block=block, n=n, k=k, scheme=scheme, mlir=mlir,
                batch=batch, act=act, extra=EXTRAS[(i + j) % 4],
                dynamic=dynamic and (i + j) % 7 == 3 and len(batch) == 1,
                buf=buf,
                wq=nx.dequantize(buf, scheme, (n, k)).astype(np.float64),
                x=to_dtype(rng.standard_normal(batch + (k,)), act))


def reference_product(rng, case):
    """x as float64, the expected y = x·Wᵀ (+ the bias and LoRA terms of the
    case's extras, drawn from `rng`) in float64, the magnitude Σ|terms| of
    each output, and the extras (draw_extras)."""
    x64 = as_f64(case.x, case.act)
    extras = draw_extras(rng, case, x64)
    want = x64 @ case.wq.T + extras.want
    magnitude = np.abs(x64) @ np.abs(case.wq).T + extras.magnitude
    return x64, want, magnitude, extras


def accumulation_bound(case, want, magnitude, f16_parts=False):
    """Error bound of a kernel that sums in f32 (K products, the LoRA and
    bias terms) and rounds once to the activation type; with `f16_parts`,
    plus the error of splitting code values f16 cannot hold into two f16
    parts (the GPU tensor-core kernel)."""
    bound = ((case.k + RANK + 4) * 2.0 ** -23 * magnitude +
             OUT_EPS[case.act] * np.abs(want) + 1e-6)
    if f16_parts and not codes_exact_in_f16(case):
        bound = bound + 2.0 ** -20 * magnitude
    return bound


def codes_exact_in_f16(case):
    """Whether f16 holds every code value of the case's format. Where it
    does not (NF4), the GPU tensor-core kernel splits each value into two
    f16 parts, exact to 2^-20 relative or better, which its error bound
    must allow for."""
    if case.fmt[1] == "nf4":
        return False
    if case.fmt[1] == "lut":
        t = np.asarray(LUT, dtype=np.float32)
        return bool(np.all(t.astype(np.float16).astype(np.float32) == t))
    return True  # integers, FP4 and FP8 values are f16 values


def draw_extras(rng, case, x64):
    """The bias and LoRA factors a case's `extra` names, drawn from `rng`
    (rounded to the activation type), as a Case: `bias` (the array),
    `bias_arg` = (literal, type), `lora_arg` = (A literal, A type,
    B literal, B type), and what they add to y (`want`) and to the
    magnitude of its terms (`magnitude`), given x as float64."""
    act, n, k = case.act, case.n, case.k
    extras = Case(bias=None, bias_arg=None, lora_arg=None, want=0.0,
                  magnitude=0.0)
    if "bias" in case.extra:
        extras.bias = to_dtype(rng.standard_normal(n), act)
        extras.bias_arg = (literal(extras.bias, act), tensor_type((n,), act))
        b64 = as_f64(extras.bias, act)
        extras.want, extras.magnitude = b64, np.abs(b64)
    if "lora" in case.extra:
        a = to_dtype(rng.standard_normal((RANK, k)) * 0.1, act)
        b = to_dtype(rng.standard_normal((n, RANK)) * 0.1, act)
        a64, b64 = as_f64(a, act), as_f64(b, act)
        extras.lora_arg = (literal(a, act), tensor_type((RANK, k), act),
                           literal(b, act), tensor_type((n, RANK), act))
        extras.want = extras.want + LORA_SCALE * (x64 @ a64.T) @ b64.T
        extras.magnitude = extras.magnitude + LORA_SCALE * (
            np.abs(x64) @ np.abs(a64).T) @ np.abs(b64).T
    return extras
