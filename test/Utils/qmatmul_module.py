"""A test module of lowbit.qmatmul cases for mlir-runner: one function per
case, and @main printing each result's f32 bits (so the test compares them
exactly), the body of a case function, and running such a module through
lowbit-cpu-pipeline."""

import os
import subprocess
import sys

import numpy as np

from lowbit_run import memrefs, opt
from qmatmul_cases import LORA_SCALE, tensor_type


class Module:
    """A function per case, and @main printing each result's f32 bits."""

    def __init__(self):
        self.funcs, self.calls = [], []

    def add(self, name, body, result_shape, element, dynamic=False):
        """`dynamic`: the function returns its result with a dynamic first
        dimension."""
        shown = ("?",) + tuple(result_shape[1:]) if dynamic else result_shape
        rt = tensor_type(shown, element)
        t32, ti = tensor_type(shown, "f32"), tensor_type(shown, "i32")
        mem = "memref<" + "x".join(str(d) for d in shown) + "xi32>"
        self.funcs.append(f"func.func @{name}() -> {rt} {{\n{body}\n}}")
        ext = (f"  %{name}_f = arith.extf %{name} : {rt} to {t32}\n"
               if element != "f32" else f"  %{name}_f = tensor.cast %{name} : {rt} to {t32}\n")
        self.calls.append(
            f"  %{name} = call @{name}() : () -> {rt}\n" + ext +
            f"  %{name}_i = arith.bitcast %{name}_f : {t32} to {ti}\n"
            f"  %{name}_m = bufferization.to_buffer %{name}_i : {ti} to {mem}\n"
            f"  %{name}_u = memref.cast %{name}_m : {mem} to memref<*xi32>\n"
            f"  call @printMemrefI32(%{name}_u) : (memref<*xi32>) -> ()\n")

    def text(self):
        return ("\n".join(self.funcs) + "\nfunc.func @main() {\n" +
                "".join(self.calls) +
                "  return\n}\nfunc.func private @printMemrefI32(memref<*xi32>)\n")


def qmatmul_body(x_lit, xt, w_lit, q, yt, bias=None, lora=None, dynamic=None):
    """x = x_lit : xt, W inline; bias = (literal, type), lora = (A literal,
    A type, B literal, B type); dynamic = (x's type with a dynamic batch,)."""
    lines = [f"  %x = arith.constant {x_lit}",
             f"  %w = lowbit.weight inline {w_lit} -> {q}"]
    operands, types, suffix = "%x, %w", [xt, q], ""
    if dynamic:
        lines.append(f"  %xd = tensor.cast %x : {xt} to {dynamic[0]}")
        operands, types[0] = "%xd, %w", dynamic[0]
    if bias:
        lines.append(f"  %bias = arith.constant {bias[0]}")
        suffix += " bias(%bias)"
        types.append(bias[1])
    if lora:
        lines.append(f"  %a = arith.constant {lora[0]}")
        lines.append(f"  %b = arith.constant {lora[2]}")
        suffix += f" lora(%a, %b) scale {LORA_SCALE}"
        types += [lora[1], lora[3]]
    lines.append(f"  %y = lowbit.qmatmul {operands}{suffix} : ({', '.join(types)}) -> {yt}")
    lines.append(f"  return %y : {yt}")
    return "\n".join(lines)


def host_flags():
    """The CPU feature flags of this machine (empty where unknown)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def runner_libs(options):
    """mlir-runner's shared libraries, with the OpenMP runtime (next to the
    runner-utils libraries) for `parallel=true`."""
    libs = os.environ["LOWBIT_RUNNER_LIBS"]
    if "parallel=true" in options:
        omp = os.path.join(os.path.dirname(libs.split(",")[0]), "libomp.so")
        libs += "," + omp
    return libs


def run_cpu(source, options=""):
    """`source` through lowbit-cpu-pipeline{options} and mlir-runner: the
    f32 arrays @main printed."""
    pipeline = "--lowbit-cpu-pipeline"
    if options:
        pipeline += "=" + options
    lowered, _ = opt(source, pipeline)
    result = subprocess.run(
        [os.environ["LOWBIT_MLIR_RUNNER"], "-e", "main",
         "-entry-point-result=void", "-shared-libs=" + runner_libs(options)],
        input=lowered, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"mlir-runner failed:\n{result.stderr}")
    return [a.astype(np.int64).astype(np.int32).view(np.float32)
            for a in memrefs(result.stdout)]
