"""lowbit: an MLIR-based quantization compiler.

- `lowbit.quantize` / `lowbit.dequantize` / `lowbit.Scheme`: the numerics
  core on numpy arrays (`lowbit.numerics` has the rest: GGUF and
  bitsandbytes layouts, error statistics);
- `lowbit.import_model` and `lowbit.compile`: Hugging Face model -> MLIR ->
  shared library + weights file, through lowbit-import and lowbit-compile;
- `lowbit.calibrate`: run the float model on calibration inputs and write
  its layers' Hessians, for GPTQ (`lowbit.compile(..., hessians=...)`);
- `lowbit.load`: open a compiled artifact with the lowbit runtime and call
  its entry points on numpy arrays.
"""

from .calibration import calibrate
from .compiler import CompileError, compile, import_model
from .runtime import Artifact, LowbitError, load, set_num_threads


def __getattr__(name):
    # The numerics core loads its C library on first use only.
    if name in ("quantize", "dequantize", "Scheme"):
        from . import numerics
        return getattr(numerics, name)
    raise AttributeError(name)


__all__ = ["Artifact", "CompileError", "LowbitError", "Scheme", "calibrate",
           "compile",
           "dequantize", "import_model", "load", "quantize",
           "set_num_threads"]
