"""Calls every entry point of a --target=cuda artifact through its C ABI
(ctypes, no lowbit runtime) and prints what happened:

    target: cuda
    <entry>: rc <code>: <lowbit_last_error()>
    <entry>: results zeroed            (on an error: no stale memory leaks)

Arguments are ones; result buffers start as 0x7f bytes."""

import ctypes
import json
import sys

import numpy as np

DTYPES = {"f32": np.float32, "f16": np.float16, "bf16": np.uint16,
          "f64": np.float64, "i8": np.int8, "i32": np.int32, "i64": np.int64}


def main():
    lib = ctypes.CDLL(sys.argv[1])
    lib.lowbit_manifest.restype = ctypes.c_char_p
    lib.lowbit_last_error.restype = ctypes.c_char_p
    manifest = json.loads(lib.lowbit_manifest())
    print("target:", manifest["target"], flush=True)
    for entry in manifest["entries"]:
        args = [np.ones(a["shape"], DTYPES[a["dtype"]]) for a in entry["args"]]
        results = []
        for r in entry["results"]:
            out = np.empty(r["shape"], DTYPES[r["dtype"]])
            out.view(np.uint8).fill(0x7F)
            results.append(out)
        buffers = args + results
        pointers = (ctypes.c_void_p * len(buffers))(
            *[b.ctypes.data for b in buffers])
        lens = (ctypes.c_int64 * len(buffers))(*[b.size for b in buffers])
        packed = getattr(lib, entry["packed_symbol"])
        rc = packed(pointers, lens)
        print(f"{entry['name']}: rc {rc}: {lib.lowbit_last_error().decode()}",
              flush=True)
        if rc != 0 and all(not r.view(np.uint8).any() for r in results):
            print(f"{entry['name']}: results zeroed", flush=True)


if __name__ == "__main__":
    main()
