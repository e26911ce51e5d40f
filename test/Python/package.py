# REQUIRES: cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: env LOWBIT_BUILD_DIR=%lowbit_obj %python -m pip install -q \
# RUN:   --no-build-isolation --no-deps --target %t/site %lowbit_src/python
# RUN: env -u LOWBIT_LIBRARY_DIR -u LOWBIT_TOOLS_DIR PYTHONPATH=%t/site \
# RUN:   %python %s %t
"""The pip-installed package, with nothing from the build tree on its paths:

- it carries the tools and libraries (lowbit/_bin, lowbit/_lib) and its
  console scripts run them;
- lowbit.quantize/dequantize work on numpy arrays;
- lowbit.compile builds a model with external weights under a preset and
  lowbit.load runs it: the output matches numpy on the dequantized
  weights;
- wrong shapes, dtypes, argument counts, a closed artifact, a bad preset
  and a missing artifact raise clear Python errors.
"""

import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

import lowbit

SOURCE = """
func.func @forward(%x: tensor<2x128xf32>) -> tensor<2x64xf32> {
  %w = lowbit.weight external "fc.weight" in "model.safetensors" : tensor<64x128xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<2x64xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<2x64xf32>) -> tensor<2x64xf32>
  %y = linalg.matmul indexing_maps = [
         affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
         affine_map<(m, n, k) -> (m, n)>]
       ins(%x, %w : tensor<2x128xf32>, tensor<64x128xf32>)
       outs(%f : tensor<2x64xf32>) -> tensor<2x64xf32>
  return %y : tensor<2x64xf32>
}
"""

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def raises(exc, call, text):
    try:
        call()
    except exc as e:
        return text in str(e)
    return False


def main():
    work = sys.argv[1]
    site = os.path.join(work, "site")
    check(lowbit.__file__.startswith(site), "imported from the install")
    for tool in ("lowbit-compile", "lowbit-import", "lowbit-run",
                 "lowbit-opt"):
        check(os.access(os.path.join(site, "lowbit", "_bin", tool), os.X_OK),
              f"the package carries {tool}")
    help_text = subprocess.run(
        [sys.executable, "-c", "import sys; from lowbit.cli import "
         "lowbit_compile; sys.argv[0] = 'lowbit-compile'; lowbit_compile()",
         "--help"], capture_output=True, text=True).stdout
    check("--preset" in help_text, "the lowbit-compile entry point runs")

    rng = np.random.default_rng(3)
    w = rng.standard_normal((64, 128)).astype(np.float32)
    scheme = lowbit.Scheme("nf4", 64, "f16", "none", "dyn8", 256)
    packed = lowbit.quantize(w, scheme)
    wq = lowbit.dequantize(packed, scheme, w.shape)
    rel = float(np.linalg.norm(wq - w) / np.linalg.norm(w))
    check(wq.shape == w.shape and 0.01 < rel < 0.15,
          f"quantize/dequantize round trip on numpy (relative error {rel:.3f})")

    save_file({"fc.weight": w}, os.path.join(work, "model.safetensors"))
    source = os.path.join(work, "model.mlir")
    with open(source, "w") as f:
        f.write(SOURCE)
    library = lowbit.compile(source, os.path.join(work, "model.so"),
                             preset="nf4-dq-bf16")
    model = lowbit.load(library)
    check(model.weights_path.endswith("model.weights.safetensors"),
          f"weights file found next to the library ({model.weights_path})")
    x = rng.standard_normal((2, 128)).astype(np.float32)
    (y,) = model.forward(x)
    expected = x.astype(np.float64) @ wq.T.astype(np.float64)
    err = float(np.abs(y - expected).max() / np.abs(expected).max())
    check(err < 1e-5, f"output vs numpy on dequantized weights ({err:.1e})")
    (y64,) = model["forward"](x.astype(np.float64).astype(np.float32))
    check(np.array_equal(y, y64), "entries by item")

    check(raises(ValueError, lambda: model.forward(x[:1]),
                 "x has shape (1, 128), expected (2, 128)"), "wrong shape")
    check(raises(TypeError, lambda: model.forward(x.astype(np.complex64)),
                 "expected f32"), "wrong dtype")
    check(raises(TypeError, lambda: model.forward(x, x),
                 "takes 1 arguments"), "wrong argument count")
    model.close()
    check(raises(lowbit.LowbitError, lambda: model.forward(x), "closed"),
          "a closed artifact")
    check(raises(lowbit.CompileError,
                 lambda: lowbit.compile(source, os.path.join(work, "b.so"),
                                        preset="int5"),
                 "unknown --preset=int5"), "a bad preset")
    check(raises(lowbit.LowbitError,
                 lambda: lowbit.load(os.path.join(work, "missing.so")),
                 "missing.so"), "a missing artifact")

    if failures:
        sys.exit(f"{len(failures)} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
