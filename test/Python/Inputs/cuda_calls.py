"""Calls each entry point of a --target=cuda artifact with kernel timing
on and prints lowbit.cuda's view (see cuda-module.test)."""

import sys

import numpy as np

import lowbit
import lowbit.cuda

DTYPES = {"f32": np.float32, "f16": np.float16}

print("available:", lowbit.cuda.available())
info = lowbit.cuda.device_info()
print(f"device: {info['name']}, {info['chip']}, {info['multiprocessors']} SMs")
try:
    lowbit.cuda.last_kernel_time()
    print("untimed: a time")
except lowbit.LowbitError:
    print("untimed: LowbitError")
artifact = lowbit.load(sys.argv[1])
lowbit.cuda.set_kernel_timing(True)
for entry in artifact.manifest["entries"]:
    args = [np.ones(a["shape"], DTYPES[a["dtype"]]) for a in entry["args"]]
    artifact[entry["name"]](*args)
    ms, kernels = lowbit.cuda.last_kernel_time()
    print(f"{entry['name']}: {ms:g} ms, {kernels} kernels")
