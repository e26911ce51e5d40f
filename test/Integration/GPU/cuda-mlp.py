# REQUIRES: cuda, ptxas, fatbinary, cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""A model with host code between GPU kernels, on the GPU: the MLP of
examples/make_mlp.py (qmatmul with LoRA, relu, qmatmul) quantized to NF4
with double quantization, compiled with --target=cuda for this machine's
GPU and with --target=cpu, gives the same output from both (f32
accumulation in different orders: relative error below 1e-5)."""

import os
import subprocess
import sys

import numpy as np

import lowbit
from cuda_device import gpu_chip
import make_mlp

QUANTIZE = "format=nf4 block-size=64 double-quant"


def compile_for(work, source, target, *extra):
    library = os.path.join(work, f"mlp-{target}.so")
    compiler = os.path.join(os.path.dirname(os.environ["LOWBIT_OPT"]),
                            "lowbit-compile")
    result = subprocess.run([compiler, f"--target={target}", source, "-o",
                             library, f"--quantize={QUANTIZE}", *extra],
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"lowbit-compile --target={target} failed:\n"
                 f"{result.stderr}")
    return library


def main():
    work = sys.argv[1]
    args = make_mlp.parse_args(["--batch", "2", "--scale", "1.5"])
    weights = make_mlp.make_weights(args)
    source = os.path.join(work, "mlp.mlir")
    with open(source, "w") as f:
        f.write(make_mlp.emit(args, weights))
    cpu = lowbit.load(compile_for(work, source, "cpu"))
    gpu = lowbit.load(compile_for(work, source, "cuda",
                                  f"--gpu-chip={gpu_chip()}"))
    x = weights["x"].astype(np.float32)
    (want,) = cpu.mlp(x)
    (got,) = gpu.mlp(x)
    rel = float(np.linalg.norm(got - want) / np.linalg.norm(want))
    print(f"cpu vs cuda: relative error {rel:.2e}")
    if not rel < 1e-5:
        sys.exit("the GPU's result differs from the CPU's")
    print("all checks passed")


if __name__ == "__main__":
    main()
