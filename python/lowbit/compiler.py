"""Import and compile models with lowbit's tools from Python.

    lowbit.import_model("all-MiniLM-L6-v2/", "minilm.mlir", seq_len=32)
    lowbit.compile("minilm.mlir", "minilm.so", preset="nf4-dq-bf16")
    model = lowbit.load("minilm.so")

Both run the command-line tools (lowbit-import, lowbit-compile) and raise
CompileError with their diagnostics when they fail.
"""

import os
import subprocess

from . import _paths


class CompileError(RuntimeError):
    """A tool failed; the message holds its diagnostics."""


def _run(tool, args):
    cmd = [_paths.tool(tool)] + [str(a) for a in args]
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        raise CompileError("%s failed (exit %d):\n%s" % (
            tool, result.returncode, result.stderr.strip()))
    return result


def import_model(model, output, seq_len, batch=1, adapter=None,
                 pooling=None, normalize=None, quiet=True):
    """Writes the MLIR of a Hugging Face model directory (config.json +
    safetensors) to `output`; weights stay in the model's files."""
    args = [model, "-o", output, "--seq-len=%d" % seq_len,
            "--batch=%d" % batch]
    if adapter:
        args.append("--adapter=%s" % adapter)
    if pooling:
        args.append("--pooling=%s" % pooling)
    if normalize is not None:
        args.append("--normalize=%s" % ("on" if normalize else "off"))
    if quiet:
        args.append("--quiet")
    _run("lowbit-import", args)
    return output


def compile(source, output, preset=None, quantize=None, pipeline_options=None,
            header=None, weights=None, threads=None, extra_args=(),
            target="cpu", gpu_chip=None, hessians=None, keep_float=()):
    """Compiles an MLIR file to a shared library (and its weights file).

    preset: "nf4-dq-bf16", "nf4", "int4-g128", "int4-g32" or "int8";
    quantize: lowbit-quantize-pipeline options instead; neither keeps the
    weights in float. threads: run kernels on OpenMP threads (0: all
    cores; lowbit.set_num_threads changes it at run time). target: "cpu"
    or "cuda" (NVIDIA GPUs, architecture gpu_chip, default sm_90; see
    docs/CudaRuntime.md). hessians: a file from lowbit.calibrate; the
    weights it has Hessians for are quantized with GPTQ instead of
    round-to-nearest. keep_float: regular expressions naming matmuls
    (lowbit.name) to leave in float. Returns the library's path."""
    args = ["--target=%s" % target, source, "-o", output]
    if gpu_chip:
        args.append("--gpu-chip=%s" % gpu_chip)
    if preset:
        args.append("--preset=%s" % preset)
    if quantize is not None:
        args.append("--quantize=%s" % quantize)
    if hessians:
        args.append("--hessians=%s" % os.fspath(hessians))
    args += ["--keep-float=%s" % pattern for pattern in keep_float]
    if pipeline_options:
        args.append("--pipeline-options=%s" % pipeline_options)
    if header:
        args += ["--emit-header", header]
    if weights:
        args.append("--weights=%s" % weights)
    if threads is not None:
        args.append("--num-threads=%d" % threads)
    args += list(extra_args)
    _run("lowbit-compile", args)
    return os.fspath(output)
