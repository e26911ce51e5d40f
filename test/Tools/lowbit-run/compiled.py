# REQUIRES: cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""lowbit-run on artifacts that lowbit-compile wrote, through the runtime
(docs/Runtime.md):

- a linear layer whose weights live in a weights file (lowbit.weight
  external), as f32 and as NF4 with double quantization: --list shows the
  signature and the weights, the output equals numpy's on the weights the
  numerics core dequantizes, --bench prints its statistics;
- the same model with --weights=inline has no weights file and runs alone;
- the weights file of the other build, a truncated weights file, or a
  missing one are refused with a message naming the file;
- a module with every element type of the C interface and several entry
  points (test/Integration/CPU/Inputs/aot-types.mlir) runs entry by entry,
  bf16 as its raw bits.
"""

import os
import shutil
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

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

TOOLS = os.path.dirname(os.environ["LOWBIT_OPT"])
COMPILE = os.path.join(TOOLS, "lowbit-compile")
RUN = os.path.join(TOOLS, "lowbit-run")
TYPES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                     "Integration", "CPU", "Inputs", "aot-types.mlir")

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def run(*cmd, expect=0):
    result = subprocess.run(cmd, capture_output=True, text=True)
    if result.returncode != expect:
        sys.exit(f"{' '.join(cmd)}: exit {result.returncode}, expected "
                 f"{expect}:\n{result.stdout}{result.stderr}")
    return result.stdout + result.stderr


def rel_err(y, expected):
    return float(np.abs(y - expected).max() / np.abs(expected).max())


def main():
    work = sys.argv[1]
    rng = np.random.default_rng(3)
    w = rng.standard_normal((96, 192)).astype(np.float32)
    b = rng.standard_normal(96).astype(np.float32)
    x = rng.standard_normal((3, 192)).astype(np.float32)
    save_file({"fc.weight": w, "fc.bias": b},
              os.path.join(work, "model.safetensors"))
    source = os.path.join(work, "model.mlir")
    with open(source, "w") as f:
        f.write(SOURCE)
    xpath = os.path.join(work, "x.npy")
    np.save(xpath, x)

    builds = {
        "f32": ([], None),
        "nf4": (["--preset=nf4-dq-bf16"],
                nx.Scheme("nf4", 64, "f16", "none", "dyn8", 256)),
    }
    for name, (flags, scheme) in builds.items():
        lib = os.path.join(work, f"{name}.so")
        run(COMPILE, source, "-o", lib, "--external-min-bytes=256", *flags)
        weights = os.path.join(work, f"{name}.weights.safetensors")
        check(os.path.exists(weights), f"{name}: weights file written")

        listing = run(RUN, lib, "--list")
        check("forward(x: f32[3, 192]) -> (result0: f32[3, 96])" in listing
              and f"from {weights}" in listing,
              f"{name}: --list shows the entry and the weights:\n{listing}")

        out = os.path.join(work, f"out-{name}")
        run(RUN, lib, xpath, "-o", out)
        y = np.load(os.path.join(out, "result0.npy"))
        wq = w if scheme is None else nx.dequantize(
            nx.quantize(w, scheme), scheme, w.shape)
        expected = x.astype(np.float64) @ wq.T.astype(np.float64) + b
        err = rel_err(y, expected)
        check(y.dtype == np.float32 and y.shape == (3, 96) and err < 1e-5,
              f"{name}: output vs numpy (relative error {err:.1e})")

        bench = run(RUN, lib, xpath, "--bench", "5", "--output",
                    f"result0={out}/again.npy")
        check("bench: forward: 5 runs: min" in bench and np.array_equal(
            np.load(os.path.join(out, "again.npy")), y),
              f"{name}: --bench, same output:\n{bench}")

    # Weights that do not belong to the artifact.
    other = run(RUN, os.path.join(work, "f32.so"), xpath, "--weights",
                os.path.join(work, "nf4.weights.safetensors"), expect=1)
    check("nf4.weights.safetensors" in other and "lowbit-run: error:" in other,
          f"the other build's weights are refused: {other.strip()}")
    with open(os.path.join(work, "f32.weights.safetensors"), "rb") as f:
        data = f.read()
    cut = os.path.join(work, "cut.weights.safetensors")
    with open(cut, "wb") as f:
        f.write(data[:-64])
    err = run(RUN, os.path.join(work, "f32.so"), xpath, "--weights", cut,
              expect=1)
    check("cut.weights.safetensors:" in err,
          f"a truncated weights file is refused: {err.strip()}")
    shutil.copy(os.path.join(work, "f32.so"), os.path.join(work, "lone.so"))
    err = run(RUN, os.path.join(work, "lone.so"), xpath, expect=1)
    check("lone.weights.safetensors: cannot open" in err,
          f"a missing weights file is refused: {err.strip()}")

    # Inline weights: no weights file, nothing to bind.
    lib = os.path.join(work, "inline.so")
    run(COMPILE, source, "-o", lib, "--weights=inline")
    check(not os.path.exists(os.path.join(work, "inline.weights.safetensors")),
          "inline: no weights file")
    out = os.path.join(work, "out-inline")
    run(RUN, lib, xpath, "-o", out)
    expected = x.astype(np.float64) @ w.T.astype(np.float64) + b
    err = rel_err(np.load(os.path.join(out, "result0.npy")), expected)
    check(err < 1e-5, f"inline: output vs numpy (relative error {err:.1e})")

    # Every element type, several entries.
    lib = os.path.join(work, "types.so")
    run(COMPILE, TYPES, "-o", lib)
    listing = run(RUN, lib, "--list")
    check("5 entries" in listing and
          "ints(a: i8[2, 3], b: i32[2, 3], c: i64[]) -> "
          "(result0: i32[2, 3], result1: i64[])" in listing,
          f"types: --list:\n{listing}")
    def npy(name, array):
        path = os.path.join(work, name + ".npy")
        np.save(path, array)
        return path
    h = np.array([1.5, -2, 0, 1], np.float16)
    bf = np.array([0x3FC0, 0xC000, 0, 0x3F80], np.uint16)  # 1.5 -2 0 1
    out = os.path.join(work, "out-widen")
    run(RUN, lib, "--entry", "widen", npy("h", h), npy("bf", bf), "-o", out)
    check(np.array_equal(np.load(os.path.join(out, "result0.npy")),
                         h.astype(np.float32)) and
          np.array_equal(np.load(os.path.join(out, "result1.npy")),
                         np.array([1.5, -2, 0, 1], np.float32)),
          "types: widen f16 and bf16 bits")
    a = np.array([[1, -2, 3], [127, -128, 0]], np.int8)
    bi = np.array([[10, 20, 30], [40, 50, 60]], np.int32)
    c = np.array(-3000000000, np.int64)
    out = os.path.join(work, "out-ints")
    run(RUN, lib, "--entry", "ints", npy("a", a), npy("bi", bi), npy("c", c),
        "-o", out)
    r0 = np.load(os.path.join(out, "result0.npy"))
    r1 = np.load(os.path.join(out, "result1.npy"))
    check(r0.dtype == np.int32 and np.array_equal(r0, a.astype(np.int32) + bi)
          and r1.shape == () and int(r1) == 9000000000000000000,
          f"types: ints {r0.tolist()} {r1}")
    printed = run(RUN, lib, "--entry", "table")
    check("result0: i64[2] = [7, -9000000000]" in printed,
          f"types: table printed: {printed.strip()}")
    err = run(RUN, lib, "--entry", "ints", npy("bi", bi), npy("bi", bi),
              npy("c", c), expect=1)
    check("dtype '<i4' does not match argument 'a' (i8[2, 3]), which needs "
          "'|i1'" in err, f"types: a wrong input dtype is refused: {err}")

    if failures:
        sys.exit(f"{len(failures)} checks failed")
    print("all checks passed")


if __name__ == "__main__":
    main()
