"""check_npy.py FILE DTYPE SHAPE [VALUE ...]: checks that numpy reads FILE
as an array of DTYPE (a numpy name) and SHAPE ("2,3"; "" for a scalar)
holding exactly VALUE... (row-major); prints "ok FILE" or fails."""

import sys

import numpy as np

path, dtype, shape = sys.argv[1], sys.argv[2], sys.argv[3]
values = sys.argv[4:]
array = np.load(path)
shape = tuple(int(d) for d in shape.split(",") if d)
if array.dtype != np.dtype(dtype):
    sys.exit(f"{path}: dtype {array.dtype}, expected {dtype}")
if array.shape != shape:
    sys.exit(f"{path}: shape {array.shape}, expected {shape}")
if not array.flags.c_contiguous:
    sys.exit(f"{path}: not C order")
expected = np.array([float(v) if array.dtype.kind == "f" else int(v)
                     for v in values], dtype).reshape(shape)
if not np.array_equal(array, expected):
    sys.exit(f"{path}: {array.ravel().tolist()}, expected {values}")
print("ok", path)
