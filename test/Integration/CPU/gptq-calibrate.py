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
- asymmetric calibration (asymmetric=, the options of the final build)
  runs stage by stage (fc1, then fc2): fc1 keeps the float Hessian, fc2
  gets its Hessian over the inputs it sees with fc1 quantized and their
  cross-covariance with the float model's (numpy from lowbit.numerics'
  GPTQ of fc1); with one stage (stage=) both keep the float Hessians; the build from it uses
  them and stays as accurate as plain GPTQ; lowbit-calibrate --quantize
  --float-hessians writes the same file;
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


def read(path):
    """The f32 tensors of a safetensors file by name, and its metadata."""
    with modelio.SafetensorsFile(path) as f:
        return ({t.name: np.frombuffer(t.data, np.float32).reshape(t.shape)
                 for t in f.tensors()}, f.metadata())


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
    got, metadata = read(hessians)
    check(metadata.get("format") == "lowbit-hessians",
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
    fc1 = read(masked)[0]["fc1"]
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
    cli_fc1 = read(os.path.join(work, "cli.safetensors"))[0]["fc1"]
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
    want = want_y = forward(test_x.astype(np.float64))
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

    # Asymmetric calibration against the symmetric int4 g32 build, on many
    # more rows than K (its least-squares target overfits on few); the
    # batches come from a generator (read twice).
    quantize = "format=int4 block-size=32"
    calib = [inputs(BATCH) for _ in range(256)]
    kept = np.concatenate([x[:BATCH - 2] for x in calib]).astype(np.float64)
    masked = os.path.join(work, "masked-large.safetensors")
    lowbit.calibrate(source, masked, [(x, mask) for x in calib],
                     row_mask="mask")
    fc1 = read(masked)[0]["fc1"]
    asym = os.path.join(work, "asymmetric.safetensors")
    result = lowbit.calibrate(
        source, asym, ((x, mask) for x in calib), row_mask="mask",
        asymmetric={"quantize": quantize})
    check(result["layers"] == {"fc1": 1536, "fc2": 1536},
          "asymmetric calibration counts the same rows: %s" % result)
    got, metadata = read(asym)
    check(metadata.get("asymmetric") == "true",
          "the file says it is asymmetric")
    check(sorted(got) == ["fc1", "fc1#cross", "fc2", "fc2#cross"],
          "one Hessian and one cross-covariance per layer: %s" % sorted(got))
    for name in ("fc1", "fc1#cross"):
        err = np.abs(got[name] - fc1).max() / np.abs(fc1).max()
        check(err < 1e-5, "the first layer sees the float inputs: %s (rel "
              "err %.1e)" % (name, err))
    scheme = lowbit.numerics.Scheme("i4", 32, "f16")
    w1q = lowbit.numerics.dequantize(
        lowbit.numerics.quantize_gptq(w1, scheme, fc1), scheme, w1.shape)
    h_float = np.maximum(kept @ w1.T.astype(np.float64), 0.0)
    h_quant = np.maximum(kept @ w1q.T.astype(np.float64), 0.0)
    for name, want in (("fc2", h_quant.T @ h_quant / len(kept)),
                       ("fc2#cross", h_quant.T @ h_float / len(kept))):
        err = np.abs(got[name] - want).max() / np.abs(want).max()
        check(err < 1e-4, "%s from the quantized model's fc2 inputs (rel "
              "err %.1e)" % (name, err))
    # One stage for both layers (stage=): both see the float model's inputs.
    single = os.path.join(work, "single-stage.safetensors")
    lowbit.calibrate(source, single, [(x, mask) for x in calib],
                     row_mask="mask", asymmetric={"quantize": quantize},
                     float_hessians=masked, stage=lambda label: 0)
    one = read(single)[0]
    float_fc2 = read(masked)[0]["fc2"]
    check(np.array_equal(one["fc2"], float_fc2) and
          np.array_equal(one["fc2#cross"], float_fc2),
          "a single stage keeps the float Hessians (cross = H)")

    # Compiled from it, fc2 is quantized from its target: other codes than
    # with gptq-target-blend=0, and an output as close to the float
    # model's as plain GPTQ's. (In a two-layer MLP what fc1's rounding
    # does to fc2's inputs is mostly noise no weight can undo; the gain is
    # in deep models: docs/Models.md, MiniLM.)
    errors, outputs = {}, {}
    for method, file, options in (
            ("gptq", masked, None), ("asymmetric", asym, None),
            ("blend0", asym, "gptq-target-blend=0")):
        library = os.path.join(work, "mlp-%s.so" % method)
        lowbit.compile(source, library, hessians=file,
                       quantize=quantize + (" " + options if options else ""))
        with lowbit.load(library) as model:
            outputs[method] = np.concatenate([
                model.forward(test_x[i:i + BATCH], mask)[0]
                for i in range(0, len(test_x), BATCH)])
        errors[method] = float(np.sum((outputs[method] - want_y) ** 2) /
                               np.sum(want_y ** 2))
    check(not np.array_equal(outputs["asymmetric"], outputs["blend0"]),
          "the cross-covariances change the build (gptq-target-blend)")
    check(errors["asymmetric"] < 1.3 * errors["gptq"] and
          errors["blend0"] < 1.3 * errors["gptq"],
          "asymmetric GPTQ output error %.2e (blend 0: %.2e) vs GPTQ %.2e"
          % (errors["asymmetric"], errors["blend0"], errors["gptq"]))
    np.save(os.path.join(work, "x-large.npy"), np.concatenate(calib))
    np.save(os.path.join(work, "mask-large.npy"), np.tile(mask, len(calib)))
    run = subprocess.run(cli + [
        "-o", os.path.join(work, "cli-asym.safetensors"),
        "--input", "x=" + os.path.join(work, "x-large.npy"),
        "--input", "mask=" + os.path.join(work, "mask-large.npy"),
        "--row-mask", "mask", "--quantize", quantize,
        "--float-hessians", masked], capture_output=True, text=True)
    check(run.returncode == 0 and "asymmetric Hessians of 2 layers" in
          run.stdout, "lowbit-calibrate --quantize runs: %s"
          % (run.stdout + run.stderr).strip().splitlines()[-1])
    cli_got = read(os.path.join(work, "cli-asym.safetensors"))[0]
    check(sorted(cli_got) == sorted(got) and
          all(np.array_equal(cli_got[n], got[n]) for n in got),
          "the command with --float-hessians writes the same file")
    run = subprocess.run(cli + [
        "-o", os.path.join(work, "bad.st"), "--input",
        "x=" + os.path.join(work, "x.npy"), "--float-hessians", masked],
        capture_output=True, text=True)
    check(run.returncode != 0 and "need --preset or --quantize" in run.stderr,
          "lowbit-calibrate: --float-hessians alone is an error")
    raises(lambda: lowbit.calibrate(source, asym, [(calib[0], mask)],
                                    asymmetric={"preset": "int4-g32",
                                                "hessians": masked}),
           "asymmetric takes preset, quantize, pipeline_options, not "
           "hessians", "unknown asymmetric option")
    raises(lambda: lowbit.calibrate(source, asym, [(calib[0], mask)],
                                    asymmetric={}),
           "asymmetric needs a preset or quantize options",
           "empty asymmetric options")
    raises(lambda: lowbit.calibrate(source, asym, [(calib[0], mask)],
                                    float_hessians=masked),
           "float_hessians and stage are only used with asymmetric",
           "float_hessians without asymmetric")

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
