# REQUIRES: cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""Asymmetric calibration stage by stage, on a chain of three linear
layers (fc1 -> relu -> fc2 -> relu -> fc3), against numpy:

- fc1 (stage 1) keeps the float model's Hessian, with cross = H;
- fc2 (stage 2) is calibrated on the model with fc1 quantized and fc2, fc3
  in float: H~ and cross from numpy's x~ = relu(x·Q1ᵀ), Q1 being
  lowbit.numerics' GPTQ of fc1;
- fc3 (stage 3) on the model with fc1 and fc2 quantized, fc2 from its
  asymmetric target (lowbit.numerics.asymmetric_target, blend 0.5): the
  stages before are quantized as the final build will quantize them;
- a stage function can merge stages (fc2 and fc3 together: fc3 then sees
  fc2 in float).
"""

import os
import sys

import numpy as np
from safetensors.numpy import save_file

import lowbit
from lowbit import modelio
from lowbit import numerics as nx

from checks import check, finish

BATCH, K = 8, 64
QUANTIZE = "format=int4 block-size=32"
SCHEME = nx.Scheme("i4", 32, "f16")


def linear(name, x, width_in, width_out, relu):
    """MLIR for y = x·Wᵀ (then relu)."""
    body = f"""
    %w_{name} = lowbit.weight external "{name}.weight" : tensor<{width_out}x{width_in}xf32>
    %e_{name} = tensor.empty() : tensor<{BATCH}x{width_out}xf32>
    %f_{name} = linalg.fill ins(%z : f32) outs(%e_{name} : tensor<{BATCH}x{width_out}xf32>) -> tensor<{BATCH}x{width_out}xf32>
    %m_{name} = linalg.matmul indexing_maps = [#mk, #nk, #mn] {{lowbit.name = "{name}"}}
         ins({x}, %w_{name} : tensor<{BATCH}x{width_in}xf32>, tensor<{width_out}x{width_in}xf32>)
         outs(%f_{name} : tensor<{BATCH}x{width_out}xf32>) -> tensor<{BATCH}x{width_out}xf32>"""
    if relu:
        body += f"""
    %zeros_{name} = arith.constant dense<0.0> : tensor<{BATCH}x{width_out}xf32>
    %r_{name} = arith.maximumf %m_{name}, %zeros_{name} : tensor<{BATCH}x{width_out}xf32>"""
        return body, f"%r_{name}"
    return body, f"%m_{name}"


def source():
    lines = []
    value = "%x"
    for name, last in (("fc1", False), ("fc2", False), ("fc3", True)):
        body, value = linear(name, value, K, K, not last)
        lines.append(body)
    return f"""
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
module attributes {{lowbit.weights_file = "chain.safetensors"}} {{
  func.func @forward(%x: tensor<{BATCH}x{K}xf32>) -> tensor<{BATCH}x{K}xf32> {{
    %z = arith.constant 0.0 : f32{"".join(lines)}
    return {value} : tensor<{BATCH}x{K}xf32>
  }}
}}
"""


def read(path):
    with modelio.SafetensorsFile(path) as f:
        return {t.name: np.frombuffer(t.data, np.float32).reshape(t.shape)
                for t in f.tensors()}


def close(got, want, what):
    err = np.abs(got - want).max() / np.abs(want).max()
    check(err < 1e-4, "%s (rel err %.1e)" % (what, err))


def gram(a, b):
    return (a.T @ b / len(a)).astype(np.float64)


def main():
    work = sys.argv[1]
    rng = np.random.default_rng(11)
    weights = {name: (rng.standard_normal((K, K)) / np.sqrt(K)).astype(
        np.float32) for name in ("fc1", "fc2", "fc3")}
    save_file({n + ".weight": w for n, w in weights.items()},
              os.path.join(work, "chain.safetensors"))
    path = os.path.join(work, "chain.mlir")
    with open(path, "w") as f:
        f.write(source())
    mixing = rng.standard_normal((5, K))
    x = (rng.standard_normal((BATCH * 128, 5)) @ mixing +
         0.3 * rng.standard_normal((BATCH * 128, K))).astype(np.float32)
    batches = [x[i:i + BATCH] for i in range(0, len(x), BATCH)]

    out = os.path.join(work, "stages.safetensors")
    lowbit.calibrate(path, out, batches, asymmetric={"quantize": QUANTIZE})
    got = read(out)

    def dequantized(w, h):
        return nx.dequantize(nx.quantize_gptq(w, SCHEME, h), SCHEME, w.shape)

    relu = lambda v: np.maximum(v, 0.0)  # noqa: E731
    x64 = x.astype(np.float64)
    h1 = gram(x64, x64)
    close(got["fc1"], h1, "fc1: the float Hessian")
    close(got["fc1#cross"], h1, "fc1: cross = H")
    # Stage 2: fc1 quantized from its (unchanged) target.
    q1 = dequantized(nx.asymmetric_target(weights["fc1"], got["fc1"],
                                          got["fc1#cross"]), got["fc1"])
    x2 = relu(x64 @ weights["fc1"].T.astype(np.float64))
    x2t = relu(x64 @ q1.T.astype(np.float64))
    close(got["fc2"], gram(x2t, x2t), "fc2: H~ with fc1 quantized")
    close(got["fc2#cross"], gram(x2t, x2), "fc2: cross with fc1 quantized")
    # Stage 3: fc2 quantized from its asymmetric target.
    q2 = dequantized(nx.asymmetric_target(weights["fc2"], got["fc2"],
                                          got["fc2#cross"]), got["fc2"])
    x3 = relu(x2 @ weights["fc2"].T.astype(np.float64))
    x3t = relu(x2t @ q2.T.astype(np.float64))
    close(got["fc3"], gram(x3t, x3t),
          "fc3: H~ with fc1 and fc2 (its target) quantized")
    close(got["fc3#cross"], gram(x3t, x3),
          "fc3: cross with fc1 and fc2 quantized")
    x3_plain = relu(x2t @ dequantized(weights["fc2"], got["fc2"]).T.astype(
        np.float64))
    check(np.abs(gram(x3_plain, x3_plain) - got["fc3"]).max() >
          1e-3 * np.abs(got["fc3"]).max(),
          "fc3's H~ is not what fc2 quantized from W (not its target) gives")

    # fc2 and fc3 in one stage: fc3 sees fc2 in float.
    merged = os.path.join(work, "merged.safetensors")
    lowbit.calibrate(path, merged, batches, asymmetric={"quantize": QUANTIZE},
                     stage=lambda label: min(int(label[2:]), 2))
    two = read(merged)
    x3_float_fc2 = relu(x2t @ weights["fc2"].T.astype(np.float64))
    close(two["fc3"], gram(x3_float_fc2, x3_float_fc2),
          "merged stage: fc3's H~ with fc2 in float")
    close(two["fc2"], got["fc2"], "merged stage: fc2 as before")

    finish()


main()
