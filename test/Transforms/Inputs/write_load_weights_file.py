"""Writes the safetensors file that load-weights.mlir reads.

fc.weight is f32 [2, 4] with values 0..7, fc.bias is f16 [2], q.packed is
72 bytes (the packed size of a 2x16 int8 per-channel weight with f32
scales: 32 code bytes padded to 64, then two f32 scales), wrong.dtype is I32 and wrong.shape is f32 [3].
"""
import sys

import numpy as np
from safetensors.numpy import save_file

packed = np.arange(72, dtype=np.uint8)
save_file(
    {
        "fc.weight": np.arange(8, dtype=np.float32).reshape(2, 4),
        "fc.bias": np.array([1.5, -2.0], dtype=np.float16),
        "q.packed": packed,
        "wrong.dtype": np.zeros(3, dtype=np.int32),
        "wrong.shape": np.zeros(3, dtype=np.float32),
    },
    sys.argv[1],
)
