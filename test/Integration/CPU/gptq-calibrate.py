# REQUIRES: cc
# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""GPTQ from calibration to a running artifact, on a two-layer MLP whose
inputs are correlated (a few shared factors plus noise, as in real
activations):

- lowbit.calibrate's Hessians are numpy's mean xᵀx of each layer's input
  (fc2's input is relu(fc1(x)), computed by the compiled float model), also
  with padding rows masked out;
- the lowbit-calibrate command writes the same file from stacked .npy
  inputs, and rejects inputs that do not fit the model;
- compiled with --hessians, the int4 and NF4 builds' outputs on held-out
  inputs are much closer to the float model's than round-to-nearest's;
- the accumulator behind it shares one product between layers that read
  the same input in a batch (Q, K, V), only in the batches where they do,
  and gathers rows over batches before multiplying: each sum is still
  numpy's xᵀx;
- bad calibration input raises clear errors.
"""

import os
import subprocess
import sys

import numpy as np
from safetensors.numpy import save_file

import lowbit
from lowbit import modelio

BATCH, K, HIDDEN, OUT = 8, 128, 96, 64

SOURCE = """
#mk = affine_map<(m, n, k) -> (m, k)>
#nk = affine_map<(m, n, k) -> (n, k)>
#mn = affine_map<(m, n, k) -> (m, n)>
module attributes {lowbit.weights_file = "mlp.safetensors"} {
  func.func @forward(%x: tensor<8x128xf32>, %mask: tensor<8xi64>) -> tensor<8x64xf32> {
    %z = arith.constant 0.0 : f32
    %w1 = lowbit.weight external "fc1.weight" : tensor<96x128xf32>
    %e1 = tensor.empty() : tensor<8x96xf32>
    %f1 = linalg.fill ins(%z : f32) outs(%e1 : tensor<8x96xf32>) -> tensor<8x96xf32>
    %h = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc1"}
         ins(%x, %w1 : tensor<8x128xf32>, tensor<96x128xf32>)
         outs(%f1 : tensor<8x96xf32>) -> tensor<8x96xf32>
    %zeros = arith.constant dense<0.0> : tensor<8x96xf32>
    %r = arith.maximumf %h, %zeros : tensor<8x96xf32>
    %w2 = lowbit.weight external "fc2.weight" : tensor<64x96xf32>
    %e2 = tensor.empty() : tensor<8x64xf32>
    %f2 = linalg.fill ins(%z : f32) outs(%e2 : tensor<8x64xf32>) -> tensor<8x64xf32>
    %y = linalg.matmul indexing_maps = [#mk, #nk, #mn] {lowbit.name = "fc2"}
         ins(%r, %w2 : tensor<8x96xf32>, tensor<64x96xf32>)
         outs(%f2 : tensor<8x64xf32>) -> tensor<8x64xf32>
    return %y : tensor<8x64xf32>
  }
}
"""

failures = []


def check(ok, what):
    print(("ok: " if ok else "FAILED: ") + what)
    if not ok:
        failures.append(what)


def raises(fn, text, what):
    try:
        fn()
    except (ValueError, lowbit.CompileError) as e:
        check(text in str(e), "%s: %s" % (what, e))
        return
    check(False, what + ": no error")


rng = np.random.default_rng(3)
mixing = rng.standard_normal((6, K))


def inputs(n):
    """n rows of correlated activations with a few loud features."""
    x = rng.standard_normal((n, 6)) @ mixing + 0.2 * rng.standard_normal(
        (n, K))
    x[:, ::11] *= 5.0
    return x.astype(np.float32)


def main():
    work = sys.argv[1]
    w1 = (rng.standard_normal((HIDDEN, K)) / np.sqrt(K)).astype(np.float32)
    w2 = (rng.standard_normal((OUT, HIDDEN)) / np.sqrt(HIDDEN)).astype(
        np.float32)
    save_file({"fc1.weight": w1, "fc2.weight": w2},
              os.path.join(work, "mlp.safetensors"))
    source = os.path.join(work, "mlp.mlir")
    with open(source, "w") as f:
        f.write(SOURCE)

    def forward(x):
        return np.maximum(x @ w1.T, 0.0) @ w2.T

    # Calibration: 16 batches, the last two rows of each are padding.
    calib = [inputs(BATCH) for _ in range(16)]
    mask = np.array([1] * (BATCH - 2) + [0, 0], np.int64)
    hessians = os.path.join(work, "hessians.safetensors")
    result = lowbit.calibrate(source, hessians, [(x, mask) for x in calib])
    check(result == {"batches": 16, "layers": {"fc1": 128, "fc2": 128}},
          "calibrate reports batches and rows: %s" % result)
    with modelio.SafetensorsFile(hessians) as f:
        got = {t.name: np.frombuffer(t.data, np.float32).reshape(t.shape)
               for t in f.tensors()}
        check(f.metadata().get("format") == "lowbit-hessians",
              "the file says what it holds")
    x_all = np.concatenate(calib).astype(np.float64)
    h_all = np.maximum(x_all @ w1.T.astype(np.float64), 0.0)
    for name, x in (("fc1", x_all), ("fc2", h_all)):
        want = x.T @ x / len(x)
        err = np.abs(got[name] - want).max() / np.abs(want).max()
        check(err < 1e-5, "%s Hessian = mean xᵀx (rel err %.1e)" % (name, err))

    # Only the unmasked rows count.
    masked = os.path.join(work, "masked.safetensors")
    result = lowbit.calibrate(source, masked,
                              [{"x": x, "mask": mask} for x in calib],
                              row_mask="mask")
    check(result["layers"] == {"fc1": 96, "fc2": 96},
          "the row mask drops padding rows: %s" % result)
    with modelio.SafetensorsFile(masked) as f:
        fc1 = {t.name: np.frombuffer(t.data, np.float32).reshape(t.shape)
               for t in f.tensors()}["fc1"]
    kept = np.concatenate([x[:BATCH - 2] for x in calib]).astype(np.float64)
    want = kept.T @ kept / len(kept)
    err = np.abs(fc1 - want).max() / np.abs(want).max()
    check(err < 1e-5, "masked fc1 Hessian (rel err %.1e)" % err)

    # The command line: stacked inputs cut into the model's batches.
    np.save(os.path.join(work, "x.npy"), np.concatenate(calib))
    np.save(os.path.join(work, "mask.npy"), np.tile(mask, 16))
    cli = [sys.executable, "-c",
           "import sys; from lowbit.calibration import main; "
           "main(sys.argv[1:])", source]
    run = subprocess.run(cli + [
        "-o", os.path.join(work, "cli.safetensors"),
        "--input", "x=" + os.path.join(work, "x.npy"),
        "--input", "mask=" + os.path.join(work, "mask.npy"),
        "--row-mask", "mask"], capture_output=True, text=True)
    check(run.returncode == 0 and "2 layers from 16 batches" in run.stdout,
          "lowbit-calibrate runs: %s" % (run.stdout + run.stderr).strip())
    with modelio.SafetensorsFile(os.path.join(work, "cli.safetensors")) as f:
        cli_fc1 = {t.name: np.frombuffer(t.data, np.float32).reshape(t.shape)
                   for t in f.tensors()}["fc1"]
    check(np.array_equal(cli_fc1, fc1), "the command writes the same file")
    np.save(os.path.join(work, "short.npy"), np.concatenate(calib)[:12])
    for extra, text in (
            (["--input", "x=" + os.path.join(work, "short.npy"),
              "--input", "mask=" + os.path.join(work, "mask.npy")],
             "x has 12 rows, not a multiple of the model's batch 8"),
            (["--input", "y=" + os.path.join(work, "x.npy")],
             "y is not an argument of forward (x, mask)"),
            (["--input", "x=" + os.path.join(work, "x.npy")],
             "missing mask"),
            (["--input", "x=" + os.path.join(work, "nothing.npy")],
             "cannot read")):
        run = subprocess.run(cli + ["-o", os.path.join(work, "bad.st")] + extra,
                             capture_output=True, text=True)
        check(run.returncode != 0 and text in run.stderr,
              "lowbit-calibrate rejects bad input: %s"
              % run.stderr.strip().splitlines()[-1])

    # GPTQ against round-to-nearest on held-out inputs.
    test_x = inputs(BATCH * 8)
    want = forward(test_x.astype(np.float64))
    for preset in ("int4-g32", "nf4"):
        errors = {}
        for method, extra in (("rtn", {}), ("gptq", {"hessians": hessians})):
            library = os.path.join(work, "mlp-%s-%s.so" % (preset, method))
            lowbit.compile(source, library, preset=preset, **extra)
            with lowbit.load(library) as model:
                got = np.concatenate([
                    model.forward(test_x[i:i + BATCH], mask)[0]
                    for i in range(0, len(test_x), BATCH)])
            errors[method] = float(np.sum((got - want) ** 2) /
                                   np.sum(want ** 2))
        check(errors["gptq"] < 0.6 * errors["rtn"],
              "%s: GPTQ output error %.2e vs round-to-nearest %.2e" % (
                  preset, errors["gptq"], errors["rtn"]))

    # Shared inputs and row gathering in the accumulator, against numpy
    # in float64: "q" and "k" read the same input in every batch, "v" in
    # all but the third; more rows than one flush in all.
    from lowbit.calibration import _Accumulator
    acc = _Accumulator()
    expected = {name: 0.0 for name in "qkv"}
    for b in range(12):
        x = rng.standard_normal((500, 24)).astype(np.float32)
        other = rng.standard_normal((500, 24)).astype(np.float32)
        rows = rng.random(500) < 0.8
        for name, value in (("q", x), ("k", x), ("v", other if b == 2 else x)):
            acc.add(name, value, rows)
            kept = value[rows].astype(np.float64)
            expected[name] = expected[name] + kept.T @ kept
        acc.next_batch()
    got = acc.tensors()
    for name in "qkv":
        want = expected[name] / acc.rows[name]
        err = np.abs(got[name] - want).max() / np.abs(want).max()
        check(err < 1e-5, "accumulated %s = mean xᵀx over %d rows (rel err "
              "%.1e)" % (name, acc.rows[name], err))
    check(not np.array_equal(got["v"], got["q"]),
          "a layer that read another input once has its own sum")

    # Bad calibration input.
    raises(lambda: lowbit.calibrate(source, masked, [(calib[0], mask)],
                                    row_mask="attention"),
           "row_mask 'attention' is not an argument of forward",
           "unknown row mask")
    raises(lambda: lowbit.calibrate(source, masked, []),
           "no calibration batches", "no batches")
    raises(lambda: lowbit.calibrate(source, masked, [(calib[0], mask)],
                                    row_mask=lambda args: np.zeros(8)),
           "no calibration rows reached fc1", "all rows masked")
    raises(lambda: lowbit.calibrate(source, masked, [{"x": calib[0]}]),
           "missing mask", "missing argument")
    raises(lambda: lowbit.compile(source, os.path.join(work, "x.so"),
                                  hessians=hessians),
           "--hessians needs --preset or --quantize", "hessians alone")

    if failures:
        print("%d check(s) failed" % len(failures))
        sys.exit(1)


main()
