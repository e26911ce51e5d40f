# RUN: %python %s
# lowbit.numerics.quantize_gptq from Python: with uncorrelated inputs and no
# clip search it is round-to-nearest byte for byte; on correlated inputs the
# layer's output error (numpy, on held-out inputs of the same distribution)
# is much lower than round-to-nearest's; refinement passes (refine=)
# lower GPTQ's calibration objective further and keep the block parameters;
# asymmetric_target solves its damped least-squares problem (checked
# against numpy) and GPTQ on it, with the perturbed inputs' Hessian, fits
# the float layer's outputs better on held-out perturbed inputs; bad input
# is a ValueError.

import numpy as np

from lowbit import numerics as n

from checks import check, finish

rng = np.random.default_rng(5)
rows, k = 64, 256
w = rng.standard_normal((rows, k)).astype(np.float32)
mixing = rng.standard_normal((8, k))


def inputs(count):
    return rng.standard_normal((count, 8)) @ mixing + \
        0.3 * rng.standard_normal((count, k))


x = inputs(4096)
h = (x.T @ x / len(x)).astype(np.float32)
held_out = inputs(1024)

for scheme in (n.Scheme("u4", 128, "f16", "int"), n.Scheme("i4", 32, "f16"),
               n.Scheme("nf4", 64, "f16", "none", "dyn8", 256)):
    name = "%s g%d" % (scheme.format, scheme.block_size)
    rtn = n.quantize(w, scheme)
    diag = np.diag(np.diag(h)).astype(np.float32)
    plain = n.quantize_gptq(w, scheme, diag, clip=False)
    if scheme.double_quant == "none":
        check(np.array_equal(plain, rtn),
              "%s: diagonal Hessian, no clip = round-to-nearest" % name)
    errors = {}
    for method, packed in (("rtn", rtn),
                           ("gptq", n.quantize_gptq(w, scheme, h))):
        approx = n.dequantize(packed, scheme, w.shape)
        y, yq = held_out @ w.T, held_out @ approx.T
        errors[method] = np.sum((y - yq) ** 2) / np.sum(y ** 2)
    check(errors["gptq"] < 0.5 * errors["rtn"],
          "%s: GPTQ output error %.2e vs round-to-nearest %.2e"
          % (name, errors["gptq"], errors["rtn"]))

    def objective(packed):
        d = (w - n.dequantize(packed, scheme, w.shape)).astype(np.float64)
        return np.einsum("ij,jk,ik->", d, h.astype(np.float64), d)

    gptq = n.quantize_gptq(w, scheme, h, damping=0.0)
    refined = n.quantize_gptq(w, scheme, h, damping=0.0, refine=3)
    lay = n.layout(scheme, rows, k)
    params = np.ones(lay["total_bytes"], bool)
    params[lay["codes_offset"]:lay["codes_offset"] + lay["codes_size"]] = False
    check(np.array_equal(gptq[params], refined[params]),
          "%s: refinement keeps the block parameters" % name)
    check(objective(refined) < 0.98 * objective(gptq),
          "%s: refinement lowers the calibration error %.4e -> %.4e"
          % (name, objective(gptq), objective(refined)))

# Asymmetric calibration: the layer will see x~ = 0.9 x + noise.
def perturbed(clean):
    return 0.9 * clean + 0.25 * rng.standard_normal(clean.shape)


xt = perturbed(x)
h_t = (xt.T @ xt / len(x)).astype(np.float32)
cross = (xt.T @ x / len(x)).astype(np.float32)
ridge = 0.01 * np.mean(np.diag(h_t))
expected = np.linalg.solve(h_t.astype(np.float64) + ridge * np.eye(k),
                           cross.astype(np.float64) @ w.T + ridge * w.T).T
full = n.asymmetric_target(w, h_t, cross, blend=1.0)
check(np.allclose(full, expected, atol=1e-4 * np.abs(expected).max()),
      "asymmetric_target is (W C^T + l W)(H~ + l)^-1: max diff %.2e"
      % np.abs(full - expected).max())
same = n.asymmetric_target(w, h_t, h_t, blend=1.0)
check(np.allclose(same, w, atol=1e-4),
      "unperturbed inputs (cross = H~) keep W despite damping")
half = n.asymmetric_target(w, h_t, cross, blend=0.5)
check(np.allclose(half, 0.5 * (w + full), atol=1e-5),
      "blend 0.5 is halfway between W and the least-squares target")
check(np.array_equal(n.asymmetric_target(w, h_t, cross, blend=0.0), w),
      "blend 0 keeps W")
test_x = inputs(1024)
test_xt = perturbed(test_x)
scheme = n.Scheme("u4", 128, "f16", "int")


def fits(weight):
    q = n.dequantize(n.quantize_gptq(weight, scheme, h_t), scheme, w.shape)
    return (np.linalg.norm(test_x @ w.T - test_xt @ q.T)
            / np.linalg.norm(test_x @ w.T))


plain, asym = fits(w), fits(half)
check(asym < 0.9 * plain,
      "GPTQ on the asymmetric target fits the float outputs on held-out "
      "perturbed inputs: %.4f against %.4f" % (asym, plain))
for args, text in (((w, h_t, cross[:8, :8]), "cross has shape"),
                   ((w, h_t, cross, 1.5), "blend must be in [0, 1]")):
    try:
        n.asymmetric_target(*args)
        check(False, "bad asymmetric_target input accepted")
    except ValueError as e:
        check(text in str(e), "bad asymmetric_target input: %s" % e)

scheme = n.Scheme("i4", 32, "f16")
for bad, text in ((h[:8, :8], "hessian has shape"),
                  (np.where(np.eye(k) > 0, np.nan, h), "Hessian element")):
    try:
        n.quantize_gptq(w, scheme, bad)
        check(False, "bad Hessian accepted")
    except ValueError as e:
        check(text in str(e), "bad Hessian: %s" % e)

finish()
