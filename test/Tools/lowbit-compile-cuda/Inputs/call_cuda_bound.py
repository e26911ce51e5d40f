"""Loads a --target=cuda artifact with external weights through the lowbit
runtime (which maps the weights file and binds it), calls every entry point
twice with ones, and prints what happened:

    <weight>: <bytes> bytes -> <device symbol>
    <entry>: rc 0 | error: <message>
    <symbol>: device global matches the weights file | differs

On the fake CUDA driver ($LOWBIT_CUDA_DRIVER, FakeCuda.c) the device
globals are host memory that fake_cuda_global reveals, so the test sees
the bytes that reached the "device"."""

import ctypes
import os
import sys

import numpy as np

import lowbit

DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16}


def weights_file_tensors(path):
    """name -> bytes of a lowbit weights file (safetensors of U8 tensors)."""
    import json
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    base = 8 + size
    return {name: data[base + t["data_offsets"][0]:base + t["data_offsets"][1]]
            for name, t in header.items() if name != "__metadata__"}


def main():
    artifact = lowbit.load(sys.argv[1])
    weights = artifact.manifest["weights"]
    for w in weights:
        print(f"{w['name']}: {w['bytes']} bytes -> {w.get('device', 'host')}",
              flush=True)
    for entry in artifact.manifest["entries"]:
        args = [np.ones(a["shape"], DTYPES[a["dtype"]]) for a in entry["args"]]
        for _ in range(2):
            try:
                artifact[entry["name"]](*args)
                print(f"{entry['name']}: rc 0", flush=True)
            except lowbit.LowbitError as error:
                print(f"{entry['name']}: error: {error}", flush=True)
    try:
        fake = ctypes.CDLL(os.environ["LOWBIT_CUDA_DRIVER"])
        fake.fake_cuda_global
    except (KeyError, OSError, AttributeError):
        return  # not the fake driver: nothing to inspect
    fake.fake_cuda_global.restype = ctypes.POINTER(ctypes.c_ubyte)
    fake.fake_cuda_global.argtypes = [ctypes.c_void_p, ctypes.c_char_p,
                                      ctypes.POINTER(ctypes.c_size_t)]
    stored = weights_file_tensors(artifact.weights_path)
    for w in weights:
        if "device" not in w:
            continue
        size = ctypes.c_size_t(0)
        pointer = fake.fake_cuda_global(None, w["device"].encode(),
                                        ctypes.byref(size))
        on_device = (bytes(pointer[:size.value]) if pointer else b"")
        same = on_device == stored[w["name"]][:w["bytes"]]
        print(f"{w['device']}: device global "
              f"{'matches the weights file' if same else 'differs'}",
              flush=True)


if __name__ == "__main__":
    main()
