"""ctypes bindings of lowbit's numerics core (include/lowbit-c/Numerics.h).

The shared library liblowbit_numerics_c is looked up in the directory named
by the environment variable LOWBIT_LIBRARY_DIR, then in the package.
Arrays go in and come out as numpy arrays; library errors raise ValueError
with the library's message.
"""

import ctypes
from dataclasses import dataclass

import numpy as np

from . import _paths

_LIB_NAME = "liblowbit_numerics_c.so"


class _Scheme(ctypes.Structure):
    _fields_ = [
        ("format", ctypes.c_int32),
        ("scale_type", ctypes.c_int32),
        ("zero_point", ctypes.c_int32),
        ("double_quant", ctypes.c_int32),
        ("block_size", ctypes.c_int64),
        ("double_quant_block_size", ctypes.c_int64),
        ("lut", ctypes.c_float * 16),
    ]


class _Layout(ctypes.Structure):
    _fields_ = [(n, ctypes.c_int64) for n in ("rows", "k", "blocks_per_row")] + [
        (n, ctypes.c_uint64)
        for n in (
            "row_bytes", "codes_offset", "codes_size", "scales_offset",
            "scales_size", "scale_scales_offset", "scale_scales_size",
            "scale_offset_offset", "scale_offset_size", "zero_points_offset",
            "zero_points_size", "total_bytes")
    ]


class _ErrorStats(ctypes.Structure):
    _fields_ = [("count", ctypes.c_int64), ("skipped", ctypes.c_int64),
                ("max_abs", ctypes.c_double), ("rms", ctypes.c_double),
                ("snr_db", ctypes.c_double)]


_lib = ctypes.CDLL(_paths.library(_LIB_NAME))
_lib.lowbit_last_error.restype = ctypes.c_char_p
_lib.lowbit_active_isa.restype = ctypes.c_char_p
_lib.lowbit_detected_isa.restype = ctypes.c_char_p
_lib.lowbit_nominal_bits_per_parameter.restype = ctypes.c_double
_lib.lowbit_bnb_nf4_to_canonical.argtypes = [
    ctypes.c_void_p, ctypes.c_uint64, ctypes.c_void_p, ctypes.c_uint64,
    ctypes.c_void_p, ctypes.c_uint64, ctypes.c_float, ctypes.c_void_p,
    ctypes.c_void_p, ctypes.c_int64, ctypes.c_int64, ctypes.c_int64,
    ctypes.c_int64, ctypes.c_void_p, ctypes.c_uint64]

_i64, _u64, _u32 = ctypes.c_int64, ctypes.c_uint64, ctypes.c_uint32


def _check(rc):
    if rc != 0:
        raise ValueError(_lib.lowbit_last_error().decode())


def _ptr(a):
    return ctypes.c_void_p(a.ctypes.data)


def _cstr(s):
    return None if s is None else s.encode()


_DTYPES = {"f32": np.float32, "f16": np.float16}


def _element_type(dtype):
    dtype = np.dtype(dtype)
    if dtype == np.float32:
        return "f32"
    if dtype == np.float16:
        return "f16"
    if dtype.name == "bfloat16":
        return "bf16"
    raise ValueError("unsupported element type %s (expected float32, "
                     "float16 or bfloat16)" % dtype)


def _bf16_dtype():
    import ml_dtypes
    return np.dtype(ml_dtypes.bfloat16)


@dataclass(frozen=True)
class Scheme:
    """A quantization scheme; see include/lowbit/Numerics/Scheme.h."""
    format: str
    block_size: int = 0
    scale_type: str = "f32"
    zero_point: str = "none"
    double_quant: str = "none"
    double_quant_block_size: int = 256
    lut: tuple = None

    def _c(self):
        s = _Scheme()
        lut = None
        if self.lut is not None:
            lut = (ctypes.c_float * 16)(*[float(v) for v in self.lut])
        _check(_lib.lowbit_scheme_init(
            ctypes.byref(s), _cstr(self.format), _i64(self.block_size),
            _cstr(self.scale_type), _cstr(self.zero_point),
            _cstr(self.double_quant), _i64(self.double_quant_block_size), lut))
        return s


def _scheme_from_c(c):
    names = {
        "format": ["i8", "i4", "i3", "i2", "u8", "u4", "u3", "u2", "nf4",
                   "fp4", "fp8", "lut"],
        "scale_type": ["f32", "f16", "bf16"],
        "zero_point": ["none", "int", "min"],
        "double_quant": ["none", "i8", "fp8", "dyn8"],
    }
    return Scheme(format=names["format"][c.format],
                  block_size=c.block_size,
                  scale_type=names["scale_type"][c.scale_type],
                  zero_point=names["zero_point"][c.zero_point],
                  double_quant=names["double_quant"][c.double_quant],
                  double_quant_block_size=c.double_quant_block_size)


def _shape2d(x):
    if x.ndim != 2:
        raise ValueError("expected a 2-D [rows, K] array, got shape %s"
                         % (x.shape,))
    return x.shape


def layout(scheme, rows, k):
    """The canonical layout as a dict of offsets and sizes in bytes."""
    out = _Layout()
    _check(_lib.lowbit_compute_layout(ctypes.byref(scheme._c()), _i64(rows),
                                      _i64(k), ctypes.byref(out)))
    return {name: getattr(out, name) for name, _ in _Layout._fields_}


def quantize(x, scheme, threads=1):
    """Quantizes a [rows, K] float32/float16/bfloat16 array; returns the
    canonical packed buffer (uint8)."""
    x = np.ascontiguousarray(x)
    rows, k = _shape2d(x)
    etype = _element_type(x.dtype)
    c = scheme._c()
    total = layout(scheme, rows, k)["total_bytes"]
    out = np.empty(total, dtype=np.uint8)
    _check(_lib.lowbit_quantize(ctypes.byref(c), _ptr(x), _cstr(etype),
                                _i64(rows), _i64(k), _ptr(out), _u64(total),
                                _u32(threads)))
    return out


def quantize_gptq(w, scheme, hessian, damping=0.01, act_order=True,
                  clip=True, refine=0, threads=0):
    """GPTQ: quantizes a [rows, K] float32 weight knowing its inputs'
    Hessian (a [K, K] array, the sum or mean of x xᵀ over calibration
    inputs x of the layer) and returns the canonical packed buffer, which
    dequantize() reads like any other. damping, act_order, clip and refine
    are lowbit-quantize-weights' gptq-damping, gptq-act-order, gptq-clip
    and gptq-refine."""
    w = np.ascontiguousarray(w, dtype=np.float32)
    rows, k = _shape2d(w)
    h = np.ascontiguousarray(hessian, dtype=np.float32)
    if h.shape != (k, k):
        raise ValueError("hessian has shape %s, expected (%d, %d)"
                         % (h.shape, k, k))
    c = scheme._c()
    total = layout(scheme, rows, k)["total_bytes"]
    out = np.empty(total, dtype=np.uint8)
    _check(_lib.lowbit_quantize_gptq(
        ctypes.byref(c), _ptr(w), _i64(rows), _i64(k), _ptr(h),
        ctypes.c_double(damping), ctypes.c_int(bool(act_order)),
        ctypes.c_int(bool(clip)), _u32(refine), _ptr(out), _u64(total),
        _u32(threads)))
    return out


def asymmetric_target(w, hessian, cross, blend=0.5, damping=0.01,
                      threads=0):
    """The weight GPTQ should quantize when the layer's inputs in the
    quantized model differ from the float model's (asymmetric calibration,
    as GPTAQ): hessian is the sum (or mean) of x~ x~ᵀ over the quantized
    model's inputs x~, cross the sum (or mean, alike) of x~ xᵀ pairing
    them with the float model's inputs x. Returns (1 - blend)·w + blend·t
    as float32 [rows, K], where t·(hessian + D) = w·crossᵀ + w·D, D being
    quantize_gptq's damping of the diagonal (least squares, pulled toward
    w: t = w when x~ = x); quantize it with quantize_gptq(..., hessian)
    and the same damping."""
    w = np.ascontiguousarray(w, dtype=np.float32)
    rows, k = _shape2d(w)
    arrays = []
    for name, a in (("hessian", hessian), ("cross", cross)):
        a = np.ascontiguousarray(a, dtype=np.float32)
        if a.shape != (k, k):
            raise ValueError("%s has shape %s, expected (%d, %d)"
                             % (name, a.shape, k, k))
        arrays.append(a)
    out = np.empty_like(w)
    _check(_lib.lowbit_gptq_asymmetric_target(
        _ptr(w), _i64(rows), _i64(k), _ptr(arrays[0]), _ptr(arrays[1]),
        ctypes.c_double(damping), ctypes.c_double(blend), _ptr(out),
        _u32(threads)))
    return out


def hadamard(x, block_size, threads=1):
    """x·R for R = diag(H_b/√b, ...), the blockwise normalized
    Walsh-Hadamard rotation of the last axis (lowbit/Numerics/Hadamard.h),
    computed in float32 in the order lowbit.hadamard's lowering uses. R is
    its own inverse: hadamard(hadamard(x, b), b) == x up to rounding."""
    x = np.array(x, dtype=np.float32, order="C", copy=True)
    if x.ndim < 1:
        raise ValueError("hadamard needs at least one axis")
    k = x.shape[-1]
    rows = x.size // k if k else 0
    _check(_lib.lowbit_hadamard_rotate(_ptr(x), _i64(rows), _i64(k),
                                       _i64(block_size), _u32(threads)))
    return x


def dequantize(buf, scheme, shape, dtype=np.float32, threads=1):
    """Dequantizes a canonical buffer to a [rows, K] array of dtype."""
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    rows, k = shape
    dtype = _bf16_dtype() if dtype == "bf16" else np.dtype(dtype)
    etype = _element_type(dtype)
    out = np.empty((rows, k), dtype=dtype)
    _check(_lib.lowbit_dequantize(ctypes.byref(scheme._c()), _ptr(buf),
                                  _u64(buf.size), _i64(rows), _i64(k),
                                  _ptr(out), _cstr(etype), _u32(threads)))
    return out


def decode_scales(buf, scheme, shape):
    """Per-block f32 scales of a canonical buffer (double quant undone)."""
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    rows, k = shape
    n = rows * layout(scheme, rows, k)["blocks_per_row"]
    out = np.empty(n, dtype=np.float32)
    _check(_lib.lowbit_decode_scales(ctypes.byref(scheme._c()), _ptr(buf),
                                     _u64(buf.size), _i64(rows), _i64(k),
                                     _ptr(out), _u64(n)))
    return out


def error_stats(reference, approx):
    """dict(count, skipped, max_abs, rms, snr_db) of approx vs reference."""
    r = np.ascontiguousarray(reference, dtype=np.float32).ravel()
    a = np.ascontiguousarray(approx, dtype=np.float32).ravel()
    if r.size != a.size:
        raise ValueError("arrays differ in size: %d vs %d" % (r.size, a.size))
    st = _ErrorStats()
    _check(_lib.lowbit_error_stats_compute(_ptr(r), _ptr(a), _i64(r.size),
                                           ctypes.byref(st)))
    return {name: getattr(st, name) for name, _ in _ErrorStats._fields_}


def bits_per_parameter(scheme, rows=None, k=None):
    """Storage bits per element for a [rows, K] tensor, or the nominal value
    for an unbounded one when no shape is given."""
    c = scheme._c()
    if rows is None:
        return _lib.lowbit_nominal_bits_per_parameter(ctypes.byref(c))
    out = ctypes.c_double()
    _check(_lib.lowbit_bits_per_parameter(ctypes.byref(c), _i64(rows),
                                          _i64(k), ctypes.byref(out)))
    return out.value


def code_values(scheme):
    """Value of every code of the scheme's format before scaling."""
    out = np.empty(256, dtype=np.float32)
    n = _u64()
    _check(_lib.lowbit_code_values(ctypes.byref(scheme._c()), _ptr(out),
                                   _u64(256), ctypes.byref(n)))
    return out[:n.value].copy()


def named_table(name):
    """'nf4', 'fp4', 'fp8' or 'dyn8' as a float32 array."""
    out = np.empty(256, dtype=np.float32)
    n = _u64()
    _check(_lib.lowbit_named_table(_cstr(name), _ptr(out), _u64(256),
                                   ctypes.byref(n)))
    return out[:n.value].copy()


def set_isa(name):
    """Selects the kernels: 'scalar', 'avx2' or 'avx512'."""
    _check(_lib.lowbit_set_isa(_cstr(name)))


def active_isa():
    return _lib.lowbit_active_isa().decode()


def detected_isa():
    return _lib.lowbit_detected_isa().decode()


# GGUF ---------------------------------------------------------------------

def gguf_scheme(qtype):
    c = _Scheme()
    _check(_lib.lowbit_gguf_canonical_scheme(_cstr(qtype), ctypes.byref(c)))
    return _scheme_from_c(c)


def _gguf_bytes(qtype, rows, k):
    n = _u64()
    _check(_lib.lowbit_gguf_tensor_bytes(_cstr(qtype), _i64(rows), _i64(k),
                                         ctypes.byref(n)))
    return n.value


def gguf_quantize(x, qtype, threads=1):
    """f32 [rows, K] -> GGUF blocks as uint8 [rows, K / block * block_bytes]."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    rows, k = _shape2d(x)
    n = _gguf_bytes(qtype, rows, k)
    out = np.empty(n, dtype=np.uint8)
    _check(_lib.lowbit_gguf_quantize(_cstr(qtype), _ptr(x), _i64(rows),
                                     _i64(k), _ptr(out), _u64(n),
                                     _u32(threads)))
    return out.reshape(rows, n // rows)


def gguf_to_canonical(data, qtype, shape):
    data = np.ascontiguousarray(data, dtype=np.uint8)
    rows, k = shape
    total = layout(gguf_scheme(qtype), rows, k)["total_bytes"]
    out = np.empty(total, dtype=np.uint8)
    _check(_lib.lowbit_gguf_to_canonical(_cstr(qtype), _ptr(data),
                                         _u64(data.size), _i64(rows), _i64(k),
                                         _ptr(out), _u64(total)))
    return out


def canonical_to_gguf(buf, qtype, shape):
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    rows, k = shape
    n = _gguf_bytes(qtype, rows, k)
    out = np.empty(n, dtype=np.uint8)
    _check(_lib.lowbit_canonical_to_gguf(_cstr(qtype), _ptr(buf),
                                         _u64(buf.size), _i64(rows), _i64(k),
                                         _ptr(out), _u64(n)))
    return out.reshape(rows, n // rows)


# bitsandbytes NF4 + double quantization -----------------------------------

def bnb_nf4_scheme(block_size=64, nested_block_size=256):
    c = _Scheme()
    _check(_lib.lowbit_bnb_nf4_scheme(_i64(block_size),
                                      _i64(nested_block_size),
                                      ctypes.byref(c)))
    return _scheme_from_c(c)


def canonical_to_bnb_nf4(buf, scheme, shape):
    """Canonical buffer -> dict(packed, absmax, nested_absmax, offset,
    nested_code, quant_map) as bitsandbytes stores them."""
    buf = np.ascontiguousarray(buf, dtype=np.uint8)
    rows, k = shape
    sizes = [_u64(), _u64(), _u64()]
    _check(_lib.lowbit_bnb_nf4_sizes(
        _i64(rows), _i64(k), _i64(scheme.block_size),
        _i64(scheme.double_quant_block_size),
        *[ctypes.byref(s) for s in sizes]))
    packed = np.empty(sizes[0].value, dtype=np.uint8)
    absmax = np.empty(sizes[1].value, dtype=np.uint8)
    nested = np.empty(sizes[2].value, dtype=np.float32)
    offset = ctypes.c_float()
    code = np.empty(256, dtype=np.float32)
    qmap = np.empty(16, dtype=np.float32)
    _check(_lib.lowbit_canonical_to_bnb_nf4(
        ctypes.byref(scheme._c()), _ptr(buf), _u64(buf.size), _i64(rows),
        _i64(k), _ptr(packed), _u64(packed.size), _ptr(absmax),
        _u64(absmax.size), _ptr(nested), _u64(nested.size),
        ctypes.byref(offset), _ptr(code), _ptr(qmap)))
    return {"packed": packed, "absmax": absmax, "nested_absmax": nested,
            "offset": np.float32(offset.value), "nested_code": code,
            "quant_map": qmap}


def bnb_nf4_to_canonical(state, shape, block_size=64, nested_block_size=256):
    """A bitsandbytes state dict (keys as returned by canonical_to_bnb_nf4;
    nested_code and quant_map optional) -> canonical buffer."""
    rows, k = shape
    packed = np.ascontiguousarray(state["packed"], dtype=np.uint8).ravel()
    absmax = np.ascontiguousarray(state["absmax"], dtype=np.uint8).ravel()
    nested = np.ascontiguousarray(state["nested_absmax"],
                                  dtype=np.float32).ravel()
    code = state.get("nested_code")
    qmap = state.get("quant_map")
    code = None if code is None else np.ascontiguousarray(code, np.float32)
    qmap = None if qmap is None else np.ascontiguousarray(qmap, np.float32)
    scheme = bnb_nf4_scheme(block_size, nested_block_size)
    total = layout(scheme, rows, k)["total_bytes"]
    out = np.empty(total, dtype=np.uint8)
    _check(_lib.lowbit_bnb_nf4_to_canonical(
        _ptr(packed), packed.size, _ptr(absmax), absmax.size, _ptr(nested),
        nested.size, float(state["offset"]),
        None if code is None else _ptr(code),
        None if qmap is None else _ptr(qmap), rows, k, block_size,
        nested_block_size, _ptr(out), total))
    return out
