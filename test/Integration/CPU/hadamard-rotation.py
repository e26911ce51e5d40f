# REQUIRES: cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""Hadamard rotation from the op to a quantized model:

- lowbit.hadamard compiled for the CPU (vector kernel, 16 and 8 lanes; a
  block too large to unroll; the reference pipeline) equals
  lowbit.numerics.hadamard bit for bit, for f32 and f16 tensors of rank
  1 to 3;
- lowbit-quantize-weights hadamard-block-size=128 computes
  x·R·(quantize(W·R))ᵀ exactly as numpy does from the numerics core, and
  on weights with outlier input channels its output error is well below
  the unrotated weight's, with and without GPTQ;
- bad block sizes are rejected.
"""

import os
import sys

import numpy as np
from safetensors.numpy import save_file

import lowbit
from lowbit import numerics as nx

work = sys.argv[1]
failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


# --- The op alone --------------------------------------------------------

CASES = [  # (name, shape, element type, block)
    ("f3d", (3, 5, 256), "f32", 128),
    ("f2", (2, 64), "f32", 2),
    ("f1", (512,), "f32", 64),
    ("h16", (4, 64), "f16", 16),
    ("big", (2, 2048), "f32", 2048),
]


def tensor_type(shape, element):
    return "tensor<%sx%s>" % ("x".join(map(str, shape)), element)


functions = []
for name, shape, element, block in CASES:
    t = tensor_type(shape, element)
    functions.append(
        "  func.func @%s(%%x: %s) -> %s {\n"
        "    %%y = lowbit.hadamard %%x block %d : %s\n"
        "    return %%y : %s\n  }" % (name, t, t, block, t, t))
op_source = os.path.join(work, "hadamard.mlir")
with open(op_source, "w") as f:
    f.write("module {\n%s\n}\n" % "\n".join(functions))

rng = np.random.default_rng(7)
inputs = {}
for name, shape, element, block in CASES:
    x = rng.standard_normal(shape).astype(np.float32) * 3
    inputs[name] = x.astype(np.float16) if element == "f16" else x

builds = [("cpu", {}), ("cpu-8-lanes", {"pipeline_options": "vector-width=8"}),
          ("reference", {"extra_args": ["--pipeline=reference"]})]
for build, options in builds:
    library = os.path.join(work, "hadamard-%s.so" % build)
    lowbit.compile(op_source, library, **options)
    with lowbit.load(library) as artifact:
        for name, shape, element, block in CASES:
            x = inputs[name]
            (got,) = artifact[name](x)
            want = nx.hadamard(x.astype(np.float32), block)
            if element == "f16":
                want = want.astype(np.float16)
            check(got.dtype == want.dtype and got.shape == want.shape
                  and np.array_equal(got, want),
                  "%s: %s %s block %d equals the numerics core bit for bit"
                  % (build, element, shape, block))

x = inputs["f3d"]
check(np.allclose(nx.hadamard(nx.hadamard(x, 128), 128), x, atol=1e-5),
      "the rotation is its own inverse")
check(np.allclose(np.linalg.norm(nx.hadamard(x, 128), axis=-1),
                  np.linalg.norm(x, axis=-1), rtol=1e-5),
      "the rotation keeps row norms")

# --- Rotated quantized weights --------------------------------------------

M, K, N = 16, 256, 96
SOURCE = """
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
module attributes {lowbit.weights_file = "fc.safetensors"} {
  func.func @forward(%%x: tensor<%(M)dx%(K)dxf32>) -> tensor<%(M)dx%(N)dxf32> {
    %%z = arith.constant 0.0 : f32
    %%w = lowbit.weight external "fc.weight" : tensor<%(N)dx%(K)dxf32>
    %%e = tensor.empty() : tensor<%(M)dx%(N)dxf32>
    %%f = linalg.fill ins(%%z : f32) outs(%%e : tensor<%(M)dx%(N)dxf32>) -> tensor<%(M)dx%(N)dxf32>
    %%y = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc"}
         ins(%%x, %%w : tensor<%(M)dx%(K)dxf32>, tensor<%(N)dx%(K)dxf32>)
         outs(%%f : tensor<%(M)dx%(N)dxf32>) -> tensor<%(M)dx%(N)dxf32>
    return %%y : tensor<%(M)dx%(N)dxf32>
  }
}
""" % dict(M=M, K=K, N=N)
source = os.path.join(work, "fc.mlir")
with open(source, "w") as f:
    f.write(SOURCE)
# Weights with a few outlier input channels, as trained linears have.
w = rng.standard_normal((N, K)).astype(np.float32)
outliers = rng.choice(K, 6, replace=False)
w[:, outliers] *= 12
save_file({"fc.weight": w}, os.path.join(work, "fc.safetensors"))
# Inputs correlated through a few shared factors, as activations are.
factors = rng.standard_normal((12, K)).astype(np.float32)


def activations(rows):
    a = rng.standard_normal((rows, 12)).astype(np.float32) @ factors
    a += 0.3 * rng.standard_normal((rows, K)).astype(np.float32)
    a[:, outliers] *= 0.2
    return a


calibration = activations(2048)
hessian = calibration.T @ calibration / len(calibration)
hessians = os.path.join(work, "fc-hessians.safetensors")
save_file({"fc": hessian.astype(np.float32)}, hessians)
x = activations(M)
expected = x.astype(np.float64) @ w.T.astype(np.float64)
scheme = nx.Scheme(format="u4", block_size=128, scale_type="f16",
                   zero_point="int")
INT4 = "format=int4 block-size=128 symmetric=false"


def run(name, quantize, **options):
    library = os.path.join(work, "fc-%s.so" % name)
    lowbit.compile(source, library, quantize=quantize, **options)
    with lowbit.load(library) as artifact:
        (y,) = artifact.forward(x)
    return y


def relative_error(y):
    return np.linalg.norm(y - expected) / np.linalg.norm(expected)


rotated = run("rtn-rotated", INT4 + " hadamard-block-size=128")
wr = nx.hadamard(w, 128)
q = nx.dequantize(nx.quantize(wr, scheme), scheme, wr.shape)
want = nx.hadamard(x, 128).astype(np.float64) @ q.T.astype(np.float64)
check(np.allclose(rotated, want, rtol=1e-4, atol=1e-3),
      "rotated int4: x·R·dequant(quantize(W·R))ᵀ as numpy computes it "
      "(max diff %.2e)" % np.abs(rotated - want).max())
plain = relative_error(run("rtn", INT4))
turned = relative_error(rotated)
check(turned < 0.7 * plain,
      "outlier channels: rotation lowers the int4 output error "
      "(%.4f -> %.4f)" % (plain, turned))
gptq_plain = relative_error(run("gptq", INT4, hessians=hessians))
gptq_turned = relative_error(run("gptq-rotated",
                                 INT4 + " hadamard-block-size=128",
                                 hessians=hessians))
check(gptq_turned < gptq_plain,
      "GPTQ with the Hessian rotated too beats GPTQ unrotated "
      "(%.4f -> %.4f)" % (gptq_plain, gptq_turned))
check(gptq_turned < turned,
      "GPTQ on the rotated weight beats rounding it to nearest "
      "(%.4f -> %.4f)" % (turned, gptq_turned))

# --- Bad block sizes -------------------------------------------------------

for bad in ("96", "1", "-4"):
    try:
        run("bad", INT4 + " hadamard-block-size=" + bad)
        check(False, "hadamard-block-size=%s is rejected" % bad)
    except lowbit.CompileError as e:
        check("hadamard-block-size must be 0 or a power of two" in str(e),
              "hadamard-block-size=%s is rejected: %s"
              % (bad, str(e).strip().splitlines()[-1]))
try:
    nx.hadamard(np.zeros((2, 96), np.float32), 64)
    check(False, "numerics: a block that does not divide K is rejected")
except Exception as e:
    check("does not divide" in str(e),
          "numerics: a block that does not divide K is rejected (%s)" % e)

if failures:
    sys.exit("%d checks failed" % len(failures))
