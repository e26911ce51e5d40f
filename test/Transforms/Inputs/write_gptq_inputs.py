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
asymmetric.safetensors
                      asymmetric calibration: per layer H~ = X~^T X~ over
                      perturbed inputs x~ = 0.95 x + noise and, as
                      "<name>#cross", X~^T X (fc2's as f64)
asymmetric-hessians-only.safetensors
                      the same H~ without the cross-covariances
badcross.safetensors  fc1's H and fc1#cross as f32 [3, 3]
"""
import os
import sys

import numpy as np
from safetensors.numpy import save_file

out = sys.argv[1]
os.makedirs(out, exist_ok=True)
rng = np.random.default_rng(7)


def inputs(k, n=512):
    factors = rng.standard_normal((n, 6))
    return factors @ rng.standard_normal((6, k)) + 0.3 * rng.standard_normal((n, k))


def hessian(k, n=512):
    x = inputs(k, n)
    return x.T @ x / n


def asymmetric(k, n=512):
    """(H~, C) for inputs x and their perturbed copies x~."""
    x = inputs(k, n)
    xt = 0.95 * x + 0.2 * rng.standard_normal((n, k))
    return xt.T @ xt / n, xt.T @ x / n


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
save_file({"fc1": h1.astype(np.float32),
           "fc1#cross": np.eye(3, dtype=np.float32)},
          os.path.join(out, "badcross.safetensors"))
(t1, c1), (t2, c2) = asymmetric(64), asymmetric(32)
save_file({"fc1": t1.astype(np.float32), "fc1#cross": c1.astype(np.float32),
           "fc2": t2.astype(np.float32), "fc2#cross": c2.astype(np.float64)},
          os.path.join(out, "asymmetric.safetensors"))
save_file({"fc1": t1.astype(np.float32), "fc2": t2.astype(np.float32)},
          os.path.join(out, "asymmetric-hessians-only.safetensors"))
