"""Writes the weights and calibration Hessians that quantize-weights-gptq.mlir
reads, into the directory given as the first argument:

weights.safetensors   fc1.weight f32 [32, 64], fc2.weight f32 [16, 32] and
                      other.weight f32 [16, 32], pseudo-random
hessians.safetensors  fc1: X^T X of 512 correlated inputs, f32 [64, 64];
                      fc2: the same for 32 features, as f64;
                      unused.layer: f32 [8, 8] (names no matmul)
diagonal.safetensors  fc1 and fc2 with only their diagonals (no correlation:
                      GPTQ must give round-to-nearest's bytes)
badshape.safetensors  fc1 as f32 [3, 3]
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def hessian(k, n=512):
    factors = rng.standard_normal((n, 6))
    x = factors @ rng.standard_normal((6, k)) + 0.3 * rng.standard_normal((n, k))
    return x.T @ x / n


save_file({
    "fc1.weight": rng.standard_normal((32, 64)).astype(np.float32),
    "fc2.weight": rng.standard_normal((16, 32)).astype(np.float32),
    "other.weight": rng.standard_normal((16, 32)).astype(np.float32),
}, os.path.join(out, "weights.safetensors"))
h1, h2 = hessian(64), hessian(32)
save_file({
    "fc1": h1.astype(np.float32),
    "fc2": h2.astype(np.float64),
    "unused.layer": np.eye(8, dtype=np.float32),
}, os.path.join(out, "hessians.safetensors"))
save_file({
    "fc1": np.diag(np.diag(h1)).astype(np.float32),
    "fc2": np.diag(np.diag(h2)).astype(np.float32),
}, os.path.join(out, "diagonal.safetensors"))
save_file({"fc1": np.eye(3, dtype=np.float32)},
          os.path.join(out, "badshape.safetensors"))
