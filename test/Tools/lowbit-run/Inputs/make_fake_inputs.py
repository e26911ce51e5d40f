"""Writes, into the directory given as argv[1], a weights file for the fake
artifact (unittests/Runtime/FakeArtifact.c) and .npy inputs for lowbit-run:
valid ones and ones lowbit-run must reject.

  model.weights.safetensors   "bias" (6 floats) and "table" (100 bytes)
  bad-dtype.weights.safetensors, truncated.weights.safetensors
  x.npy (f32 2x3), a.npy (i64 4), s.npy (i8 scalar), h.npy (f16 3),
  b.npy (bf16 bits as uint16 3), code2.npy (i32 scalar 2)
  bad-*.npy                   one flaw each
"""

import json
import os
import struct
import sys

import numpy as np

out = sys.argv[1]
os.makedirs(out, exist_ok=True)


def path(name):
    return os.path.join(out, name)


def weights_file(name, tensors, shift=0):
    """A lowbit weights file: U8 tensors, data section 64-byte aligned."""
    header = {"__metadata__": {"format": "lowbit-weights"}}
    offset = 0
    for tname, dtype, data in tensors:
        header[tname] = {"dtype": dtype, "shape": [len(data)],
                         "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * ((shift - 8 - len(text)) % 64)
    with open(path(name), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for _, _, data in tensors:
            f.write(data)


BIAS = np.array([0.5, 1, 1.5, 2, 2.5, 3], np.float32)
bias = BIAS.tobytes() + bytes(40)
table = bytes(range(1, 101)) + bytes(28)
weights_file("model.weights.safetensors", [("bias", "U8", bias),
                                           ("table", "U8", table)])
weights_file("bad-dtype.weights.safetensors", [("bias", "I8", bias),
                                               ("table", "U8", table)])
weights_file("misaligned.weights.safetensors", [("bias", "U8", bias),
                                                ("table", "U8", table)],
             shift=8)
with open(path("model.weights.safetensors"), "rb") as f:
    data = f.read()
with open(path("truncated.weights.safetensors"), "wb") as f:
    f.write(data[:-1])

np.save(path("x.npy"), np.arange(6, dtype=np.float32).reshape(2, 3))
np.save(path("a.npy"), np.array([1, -2, 3, 40], np.int64))
np.save(path("s.npy"), np.array(-3, np.int8))
np.save(path("h.npy"), np.array([1.5, -2, 65504], np.float16))
np.save(path("b.npy"), np.array([0x3FC0, 0xC000, 0x4049], np.uint16))
np.save(path("code2.npy"), np.array(2, np.int32))
np.save(path("code0.npy"), np.array(0, np.int32))

# Flawed inputs for argument x (f32[2, 3]).
np.save(path("bad-dtype.npy"), np.zeros((2, 3), np.float64))
np.save(path("bad-shape.npy"), np.zeros((3, 2), np.float32))
np.save(path("bad-rank.npy"), np.zeros(6, np.float32))
np.save(path("bad-fortran.npy"), np.asfortranarray(np.zeros((2, 3), np.float32)))
np.save(path("bad-bigendian.npy"), np.zeros((2, 3), ">f4"))
np.save(path("bad-object.npy"), np.array([1, "a", None], dtype=object),
        allow_pickle=True)
np.save(path("bad-structured.npy"), np.zeros(2, dtype=[("a", "<f4"), ("b", "<i4")]))
with open(path("x.npy"), "rb") as f:
    good = f.read()
with open(path("bad-truncated.npy"), "wb") as f:
    f.write(good[:-4])
with open(path("bad-trailing.npy"), "wb") as f:
    f.write(good + b"\0\0\0\0")
# The header claims more data than there is.
with open(path("bad-header-lie.npy"), "wb") as f:
    f.write(good.replace(b"(2, 3)", b"(2, 9)"))
with open(path("bad-magic.npy"), "wb") as f:
    f.write(b"PK\x03\x04" + good[4:])
