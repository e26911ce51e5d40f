"""Helpers for integration tests: run lowbit-opt pipelines and execute the
result with mlir-runner, reading printed memrefs back as numpy arrays.

Paths come from the environment that test/lit.cfg.py sets: LOWBIT_OPT,
LOWBIT_MLIR_RUNNER, LOWBIT_RUNNER_LIBS.
"""

import os
import re
import subprocess
import sys

import numpy as np


def _env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set; run this test through lit")
    return value


def opt(source, *args):
    """Runs lowbit-opt on MLIR text; returns (stdout, stderr)."""
    result = subprocess.run([_env("LOWBIT_OPT"), "-", *args], input=source,
                            capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"lowbit-opt {' '.join(args)} failed (exit code "
                 f"{result.returncode}):\n{result.stderr}")
    return result.stdout, result.stderr


def execute(source, *pipeline):
    """Runs `pipeline` (lowbit-opt arguments), then the reference lowering,
    then mlir-runner's @main; returns what @main printed."""
    text = source
    if pipeline:
        text, _ = opt(text, *pipeline)
    lowered, _ = opt(text, "--lowbit-reference-pipeline")
    result = subprocess.run(
        [_env("LOWBIT_MLIR_RUNNER"), "-e", "main", "-entry-point-result=void",
         "-shared-libs=" + _env("LOWBIT_RUNNER_LIBS")],
        input=lowered, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"mlir-runner failed:\n{result.stderr}")
    return result.stdout


def memrefs(output):
    """Every memref printed by printMemref* in `output`, as flat arrays in
    print order (integers stay exact)."""
    arrays = []
    for chunk in output.split("Unranked Memref")[1:]:
        data = chunk.split("data =", 1)[1]
        tokens = re.findall(r"-?(?:nan|inf|[\d.]+(?:e[-+]?\d+)?)", data)
        arrays.append(np.array([float(t) for t in tokens]))
    return arrays


def dense(array):
    """An exact MLIR dense literal for a numpy array of uint8 (as i8 bytes),
    float32 or float16, from its raw little-endian bytes."""
    array = np.ascontiguousarray(array)
    element = {np.dtype(np.uint8): "i8", np.dtype(np.float32): "f32",
               np.dtype(np.float16): "f16"}.get(array.dtype)
    if element is None:
        raise TypeError(f"dense(): unsupported dtype {array.dtype}")
    shape = "x".join(str(d) for d in array.shape)
    return f'dense<"0x{array.tobytes().hex().upper()}"> : tensor<{shape}x{element}>'
