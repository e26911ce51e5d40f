"""Helpers for the lowbit-import tests: import a model, wrap @forward in a
@main that feeds constant inputs and prints the result, lower it with a
lowbit-opt pipeline and run it with mlir-runner.

Paths come from the environment test/lit.cfg.py sets (LOWBIT_OPT,
LOWBIT_MLIR_RUNNER, LOWBIT_RUNNER_LIBS); lowbit-import sits next to
lowbit-opt.
"""

import os
import subprocess
import sys

import numpy as np

from lowbit_run import memrefs



def _env(name):
    value = os.environ.get(name)
    if not value:
        sys.exit(f"{name} is not set; run this test through lit")
    return value


def tool():
    return os.path.join(os.path.dirname(_env("LOWBIT_OPT")), "lowbit-import")


def run(cmd, input_text=None, check=True):
    result = subprocess.run(cmd, input=input_text, capture_output=True,
                            text=True)
    if check and result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                 f"{result.stderr[-4000:]}")
    return result


def import_model(path, *args):
    """Runs lowbit-import; returns the module text."""
    return run([tool(), str(path), "-o", "-", "--quiet", *args]).stdout


def opt(text, *args):
    return run([_env("LOWBIT_OPT"), "-", *args], text).stdout


def _dense_i64(array):
    array = np.asarray(array, dtype=np.int64)
    shape = "x".join(str(d) for d in array.shape)
    body = np.array2string(array, separator=", ", threshold=1 << 30,
                           max_line_width=1 << 30).replace("\n", "")
    return f"dense<{body}> : tensor<{shape}xi64>"


def with_main(module, inputs, result_shape):
    """Adds @main (constant i64 inputs, call @forward, printMemrefF32) to the
    module text printed by lowbit-import."""
    head, sep, resources = module.partition("\n{-#")
    end = head.rstrip().rfind("}")
    rtype = "tensor<" + "x".join(str(d) for d in result_shape) + "xf32>"
    mtype = rtype.replace("tensor", "memref")
    lines = ["  func.func @main() {"]
    names, types = [], []
    for i, array in enumerate(inputs):
        lines.append(f"    %in{i} = arith.constant {_dense_i64(array)}")
        names.append(f"%in{i}")
        types.append("tensor<" + "x".join(str(d) for d in np.shape(array)) +
                     "xi64>")
    lines.append(f"    %r = call @forward({', '.join(names)}) : "
                 f"({', '.join(types)}) -> {rtype}")
    lines.append(f"    %m = bufferization.to_buffer %r : {rtype} to {mtype}")
    lines.append(f"    %u = memref.cast %m : {mtype} to memref<*xf32>")
    lines.append("    call @printMemrefF32(%u) : (memref<*xf32>) -> ()")
    lines.append("    return")
    lines.append("  }")
    lines.append("  func.func private @printMemrefF32(memref<*xf32>)")
    return (head[:end] + "\n".join(lines) + "\n" + head[end:] + sep +
            resources)


def execute(module, inputs, result_shape, pipeline="--lowbit-reference-pipeline",
            pre=()):
    """Runs @forward on `inputs` through `pre` (lowbit-opt arguments, e.g.
    --lowbit-load-weights), `pipeline` and mlir-runner; returns the result
    as a float array of `result_shape`."""
    text = with_main(module, inputs, result_shape)
    lowered = opt(text, *pre, pipeline)
    out = run([_env("LOWBIT_MLIR_RUNNER"), "-e", "main",
               "-entry-point-result=void",
               "-shared-libs=" + _env("LOWBIT_RUNNER_LIBS")], lowered).stdout
    return memrefs(out)[0].reshape(result_shape)


def rel(a, b):
    """max |a - b| / max |b|."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30))
