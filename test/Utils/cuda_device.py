"""The GPU that the lowbit CUDA runtime uses, for the tests that run on
one (lit feature `cuda`)."""

import ctypes
import os
import sys


class _DeviceInfo(ctypes.Structure):
    # lowbit_cuda_device (include/lowbit/Runtime/lowbit_cuda.h).
    _fields_ = [("ordinal", ctypes.c_int32),
                ("compute_major", ctypes.c_int32),
                ("compute_minor", ctypes.c_int32),
                ("multiprocessors", ctypes.c_int32),
                ("driver_version", ctypes.c_int32),
                ("total_memory", ctypes.c_int64),
                ("name", ctypes.c_char * 256)]


def gpu_chip(report=False):
    """sm_XY of the device; exits when there is none. With `report`, prints
    its name, SMs and driver version."""
    runtime = ctypes.CDLL(os.path.join(os.environ["LOWBIT_LIBRARY_DIR"],
                                       "liblowbit_cuda_runtime.so"))
    runtime.lowbit_cuda_last_error.restype = ctypes.c_char_p
    device = _DeviceInfo()
    if runtime.lowbit_cuda_device_info(ctypes.byref(device)) != 0:
        sys.exit("no usable GPU: " + runtime.lowbit_cuda_last_error().decode())
    chip = f"sm_{device.compute_major}{device.compute_minor}"
    if report:
        print(f"device {device.ordinal}: {device.name.decode()}, {chip}, "
              f"{device.multiprocessors} SMs, driver {device.driver_version}")
    return chip
