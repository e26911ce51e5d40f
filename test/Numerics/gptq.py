# RUN: %python %s
# lowbit.numerics.quantize_gptq from Python: with uncorrelated inputs and no
# clip search it is round-to-nearest byte for byte; on correlated inputs the
# layer's output error (numpy, on held-out inputs of the same distribution)
# is much lower than round-to-nearest's; refinement passes (refine=)
# lower GPTQ's calibration objective further and keep the block parameters;
# bad input is a ValueError.

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

scheme = n.Scheme("i4", 32, "f16")
for bad, text in ((h[:8, :8], "hessian has shape"),
                  (np.where(np.eye(k) > 0, np.nan, h), "Hessian element")):
    try:
        n.quantize_gptq(w, scheme, bad)
        check(False, "bad Hessian accepted")
    except ValueError as e:
        check(text in str(e), "bad Hessian: %s" % e)

finish()
