"""The lowbit CUDA runtime (liblowbit_cuda_runtime.so) from Python: is
there a usable GPU, which one, and the GPU time of the kernels of the last
call (docs/CudaRuntime.md). Needs neither CUDA nor a GPU to import:

    import lowbit.cuda
    if lowbit.cuda.available():
        print(lowbit.cuda.device_info()["name"])
"""

import ctypes

from . import _paths
from .runtime import LowbitError


class _Device(ctypes.Structure):
    # lowbit_cuda_device (include/lowbit/Runtime/lowbit_cuda.h).
    _fields_ = [("ordinal", ctypes.c_int32),
                ("compute_major", ctypes.c_int32),
                ("compute_minor", ctypes.c_int32),
                ("multiprocessors", ctypes.c_int32),
                ("driver_version", ctypes.c_int32),
                ("total_memory", ctypes.c_int64),
                ("name", ctypes.c_char * 256)]


_handle = None


def _lib():
    global _handle
    if _handle is None:
        lib = ctypes.CDLL(_paths.library("liblowbit_cuda_runtime.so"))
        lib.lowbit_cuda_last_error.restype = ctypes.c_char_p
        lib.lowbit_cuda_device_info.argtypes = [ctypes.POINTER(_Device)]
        lib.lowbit_cuda_set_kernel_timing.argtypes = [ctypes.c_int]
        lib.lowbit_cuda_last_kernel_time.argtypes = [
            ctypes.POINTER(ctypes.c_double), ctypes.POINTER(ctypes.c_int64)]
        _handle = lib
    return _handle


def last_error():
    """The runtime's last error on this thread ("" when none)."""
    return _lib().lowbit_cuda_last_error().decode()


def available():
    """True when the CUDA driver loads and the device initializes; else
    last_error() says why ("no CUDA driver (...)", "no CUDA device ...")."""
    return _lib().lowbit_cuda_available() == 1


def device_info():
    """The device in use: ordinal, compute_major/minor, chip ("sm_90"),
    multiprocessors, driver_version, total_memory, name."""
    device = _Device()
    if _lib().lowbit_cuda_device_info(ctypes.byref(device)) != 0:
        raise LowbitError(last_error())
    info = {name: getattr(device, name) for name, _ in _Device._fields_}
    info["name"] = device.name.decode()
    info["chip"] = f"sm_{device.compute_major}{device.compute_minor}"
    return info


def set_kernel_timing(enabled):
    """On this thread, time the kernels of every entry-point call."""
    _lib().lowbit_cuda_set_kernel_timing(1 if enabled else 0)


def last_kernel_time():
    """(milliseconds, kernels) of this thread's last timed call: GPU time
    from its first kernel's start to its last kernel's end, without the
    call's host copies."""
    ms, kernels = ctypes.c_double(), ctypes.c_int64()
    if _lib().lowbit_cuda_last_kernel_time(ctypes.byref(ms),
                                           ctypes.byref(kernels)) != 0:
        raise LowbitError(last_error())
    return ms.value, kernels.value
