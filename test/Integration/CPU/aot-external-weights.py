# REQUIRES: cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""A linear layer whose weights live in a safetensors file (lowbit.weight
external), compiled by lowbit-compile to a shared library plus a weights
file, called through the raw artifact ABI (docs/Runtime.md):

- the manifest describes the entry point and the weights, which the
  weights file holds, 64-byte aligned, with the promised sizes;
- before bind_weights the entry point refuses to run (code 3); bind_weights
  refuses a wrong count, a NULL or misaligned pointer and a wrong size
  (code 4);
- once bound, the float build computes x·Wᵀ + b, and the int8 (per-channel)
  and NF4 + double-quant builds compute it with the weights the numerics
  core dequantizes;
- --weights=inline keeps everything in the code (no weights to bind);
- --num-threads=2 links the library against libomp and computes the same.
"""

import ctypes
import json
import mmap
import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

import lowbit.numerics as nx

SOURCE = """
func.func @forward(%x: tensor<3x192xf32>) -> tensor<3x96xf32> {
  %w = lowbit.weight external "fc.weight" in "model.safetensors" : tensor<96x192xf32>
  %b = lowbit.weight external "fc.bias" in "model.safetensors" : tensor<96xf32>
  %z = arith.constant 0.0 : f32
  %e = tensor.empty() : tensor<3x96xf32>
  %f = linalg.fill ins(%z : f32) outs(%e : tensor<3x96xf32>) -> tensor<3x96xf32>
  %y = linalg.matmul indexing_maps = [
         affine_map<(m, n, k) -> (m, k)>, affine_map<(m, n, k) -> (n, k)>,
         affine_map<(m, n, k) -> (m, n)>]
       ins(%x, %w : tensor<3x192xf32>, tensor<96x192xf32>)
       outs(%f : tensor<3x96xf32>) -> tensor<3x96xf32>
  %bb = linalg.broadcast ins(%b : tensor<96xf32>) outs(%e : tensor<3x96xf32>)
        dimensions = [0]
  %r = arith.addf %y, %bb : tensor<3x96xf32>
  return %r : tensor<3x96xf32>
}
"""

BUILDS = {
    "f32": ([], None),
    "int8": (["--preset=int8"], nx.Scheme("i8", 0, "f32")),
    "nf4-dq": (["--preset=nf4-dq-bf16"],
               nx.Scheme("nf4", 64, "f16", "none", "dyn8", 256)),
    "int8-threads": (["--preset=int8", "--num-threads=2"],
                     nx.Scheme("i8", 0, "f32")),
}


def run(*cmd):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed ({result.returncode}):\n"
                 f"{result.stdout}{result.stderr}")
    return result


class Artifact:
    """The raw C ABI of a compiled library, through ctypes."""

    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.lowbit_manifest.restype = ctypes.c_char_p
        self.lib.lowbit_last_error.restype = ctypes.c_char_p
        self.manifest = json.loads(self.lib.lowbit_manifest())

    def error(self):
        return self.lib.lowbit_last_error().decode()

    def bind(self, pointers, sizes):
        n = len(pointers)
        return self.lib.lowbit_bind_weights(
            (ctypes.c_void_p * max(n, 1))(*pointers),
            (ctypes.c_int64 * max(n, 1))(*sizes), ctypes.c_int64(n))

    def forward(self, x):
        y = np.zeros((3, 96), np.float32)
        buffers = (ctypes.c_void_p * 2)(x.ctypes.data, y.ctypes.data)
        lens = (ctypes.c_int64 * 2)(x.size, y.size)
        return self.lib.lowbit_forward_packed(buffers, lens), y


def main():
    work = sys.argv[1]
    compiler = os.path.join(os.path.dirname(os.environ["LOWBIT_OPT"]),
                            "lowbit-compile")
    rng = np.random.default_rng(7)
    w = rng.standard_normal((96, 192)).astype(np.float32)
    b = rng.standard_normal(96).astype(np.float32)
    x = rng.standard_normal((3, 192)).astype(np.float32)
    save_file({"fc.weight": w, "fc.bias": b},
              os.path.join(work, "model.safetensors"))
    with open(os.path.join(work, "model.mlir"), "w") as f:
        f.write(SOURCE)

    failures = []

    def check(ok, what):
        print(("ok: " if ok else "FAILED: ") + what)
        if not ok:
            failures.append(what)

    for name, (flags, scheme) in BUILDS.items():
        library = os.path.join(work, f"{name}.so")
        run(compiler, os.path.join(work, "model.mlir"), "-o", library,
            "--external-min-bytes=256", *flags)
        weights_path = os.path.join(work, f"{name}.weights.safetensors")
        needed = run("llvm-readelf", "-d", library).stdout
        check(("libomp" in needed) == ("--num-threads=2" in flags),
              f"{name}: needs libomp exactly when threaded")
        artifact = Artifact(library)
        manifest = artifact.manifest
        entry = manifest["entries"][0]
        check(entry["name"] == "forward" and
              entry["args"] == [{"name": "x", "dtype": "f32",
                                 "shape": [3, 192]}] and
              entry["results"] == [{"name": "result0", "dtype": "f32",
                                    "shape": [3, 96]}],
              f"{name}: manifest entry {entry}")
        stored = load_file(weights_path)
        listed = manifest["weights"]
        check(len(listed) >= 2 and len(stored) == len(listed) and
              all(stored[wt["name"]].size == -(-wt["bytes"] // 64) * 64
                  for wt in listed),
              f"{name}: the weights file holds the manifest's weights")

        rc, _ = artifact.forward(x)
        check(rc == 3 and "not bound" in artifact.error(),
              f"{name}: unbound call refused ({rc}, {artifact.error()!r})")

        # Map the file and point at each tensor, as the runtime does.
        with open(weights_path, "rb") as f:
            mapped = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
        header = int.from_bytes(mapped[:8], "little")
        meta = json.loads(mapped[8:8 + header])
        view = np.frombuffer(mapped, np.uint8)
        base = view.ctypes.data + 8 + header
        pointers = [base + meta[wt["name"]]["data_offsets"][0]
                    for wt in listed]
        sizes = [wt["bytes"] for wt in listed]
        check(all(p % 64 == 0 for p in pointers),
              f"{name}: mapped weights are 64-byte aligned")

        for bad, what in [
                ((pointers[:1], sizes[:1]), "a wrong count"),
                (([0] + pointers[1:], sizes), "a NULL pointer"),
                (([pointers[0] + 4] + pointers[1:], sizes), "misalignment"),
                ((pointers, [sizes[0] + 1] + sizes[1:]), "a wrong size")]:
            rc = artifact.bind(*bad)
            check(rc == 4, f"{name}: bind refuses {what} ({rc}, "
                  f"{artifact.error()!r})")
        rc, _ = artifact.forward(x)
        check(rc == 3, f"{name}: a refused bind leaves the weights unbound")

        check(artifact.bind(pointers, sizes) == 0, f"{name}: bind")
        rc, y = artifact.forward(x)
        if scheme is None:
            wq = w
        else:
            wq = nx.dequantize(nx.quantize(w, scheme), scheme, w.shape)
        expected = x.astype(np.float64) @ wq.T.astype(np.float64) + b
        err = float(np.abs(y - expected).max() / np.abs(expected).max())
        check(rc == 0 and err < 1e-5,
              f"{name}: output vs numpy on the dequantized weights "
              f"(rc {rc}, relative error {err:.1e})")
        del view

    # Inline: nothing to bind, the output is the same.
    library = os.path.join(work, "inline.so")
    run(compiler, os.path.join(work, "model.mlir"), "-o", library,
        "--weights=inline", "--preset=int8")
    check(not os.path.exists(os.path.join(work, "inline.weights.safetensors")),
          "inline: no weights file")
    artifact = Artifact(library)
    check(artifact.manifest["weights"] == [] and artifact.bind([], []) == 0,
          "inline: no weights in the manifest, binding nothing succeeds")
    rc, y_inline = artifact.forward(x)
    scheme = BUILDS["int8"][1]
    wq = nx.dequantize(nx.quantize(w, scheme), scheme, w.shape)
    expected = x.astype(np.float64) @ wq.T.astype(np.float64) + b
    err = float(np.abs(y_inline - expected).max() / np.abs(expected).max())
    check(rc == 0 and err < 1e-5, f"inline: output (relative error {err:.1e})")

    if failures:
        sys.exit(f"{len(failures)} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
