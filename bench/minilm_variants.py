#!/usr/bin/env python3
"""all-MiniLM-L6-v2 compiled by lowbit in several variants (f32, int8,
int4 g32/g128, NF4 + double quantization), against an independent numpy
implementation of BERT (test/Models/reference.py).

GPTQ variants are calibrated on examples/calibration_sentences.py (disjoint
from the evaluation sentences); their compile time includes it. The
"-asym" variants calibrate again, block by block on their own partly
quantized builds (about 10 minutes each on 2 cores).

For each variant, over the sentences of test/Models/sentences.py: cosine
similarity of its sentence embeddings with the float64 numpy reference
(mean and minimum), the size of its weights file, and latency per batch,
with the numpy float32 forward and lowbit's f32 build as peers. Each
latency is the best of --reps calls, the variants' and the peers' calls
interleaved; the median shows the spread.

    .venv/bin/python bench/minilm_variants.py --build build
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "python"), os.path.join(ROOT, "examples"),
                os.path.join(ROOT, "test", "Models")]

TARGETS = {"int8": 0.995, "nf4-dq": 0.995, "int4-g128": 0.99,
           "nf4-dq-mixed": 0.995, "int4-g128-mixed": 0.99,
           "nf4-dq-gptq": 0.995, "int4-g128-gptq": 0.99,
           "nf4-dq-gptq-mixed": 0.995, "int4-g128-gptq-mixed": 0.99,
           "nf4-dq-gptq-rot": 0.995, "int4-g128-gptq-rot": 0.99,
           "nf4-dq-gptq-rot-cd": 0.995, "int4-g128-gptq-rot-cd": 0.99,
           "nf4-dq-gptq-rot-cd-asym": 0.995,
           "int4-g128-gptq-rot-cd-asym": 0.99}
# Int8 activations (dot=i8) are held to their weights' target.
TARGETS.update({name + "-a8": target for name, target in TARGETS.items()})


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="the lowbit build directory")
    parser.add_argument("--work", help="where to write the artifacts")
    parser.add_argument("--sentences", type=int, default=240)
    parser.add_argument("--seq-len", type=int, default=40)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=None,
                        help="OpenMP threads for the matmul kernels (0: all "
                        "cores; default: single-threaded)")
    parser.add_argument("--variants", default="f32,int8,int4-g32,int4-g128,"
                        "int4-g128-mixed,int4-g128-gptq,int4-g128-gptq-rot,"
                        "int4-g128-gptq-rot-cd,int4-g128-gptq-rot-cd-asym,"
                        "int4-g128-gptq-mixed,nf4-dq,nf4-dq-mixed,"
                        "nf4-dq-gptq,nf4-dq-gptq-rot,nf4-dq-gptq-rot-cd,"
                        "nf4-dq-gptq-rot-cd-asym,nf4-dq-gptq-mixed")
    args = parser.parse_args()
    os.environ.setdefault("LOWBIT_TOOLS_DIR", os.path.join(args.build, "bin"))
    os.environ.setdefault("LOWBIT_LIBRARY_DIR",
                          os.path.join(args.build, "lib"))

    import lowbit
    import minilm
    import reference
    from sentences import SENTENCES

    texts = SENTENCES[:args.sentences]
    work = args.work or tempfile.mkdtemp(prefix="lowbit-minilm-")
    names = args.variants.split(",")
    built = minilm.build(work, names, args.seq_len, args.batch,
                         threads=args.threads)

    directory = minilm.model_dir()
    weights = reference.load_safetensors(directory)
    config = reference.load_config(directory)
    ids, mask = minilm.tokenize(texts, args.seq_len)
    started = time.perf_counter()
    expected = reference.bert_forward(weights, config, ids, mask)
    print("numpy float64 reference: %d sentences in %.1f s"
          % (len(texts), time.perf_counter() - started))

    models = {n: lowbit.load(built[n][0]) for n in names}
    rows = []
    for name in names:
        got = minilm.embed(models[name], ids, mask)
        cos = reference.cosine(got, expected)
        rows.append([name, float(cos.mean()), float(cos.min()),
                     minilm.weights_bytes(built[name][0])])

    # Latency of one batch, interleaved across variants and the peer.
    w32 = {k: v.astype(np.float32) for k, v in weights.items()
           if v.dtype.kind == "f"}
    bi, bm = ids[:args.batch], mask[:args.batch]
    times = {n: [] for n in names + ["numpy-f32"]}
    # The order rotates: a call right after the f32 build measured ~20%
    # slower (its large buffers are freed and faulted in again), which
    # must not always hit the same variant.
    for rep in range(args.reps):
        for name in names[rep % len(names):] + names[:rep % len(names)]:
            t = time.perf_counter()
            models[name].forward(bi, bm)
            times[name].append(time.perf_counter() - t)
        t = time.perf_counter()
        minilm.numpy_f32_forward(w32, config, bi, bm)
        times["numpy-f32"].append(time.perf_counter() - t)

    best = {n: min(v) for n, v in times.items()}
    print("\nbatch %d x %d tokens, %d sentences, best of %d (median)"
          % (args.batch, args.seq_len, len(texts), args.reps))
    print("%-26s %9s %9s %8s %10s %16s %9s %9s" % (
        "variant", "cos mean", "cos min", "target", "weights", "ms/batch",
        "vs numpy", "vs f32"))
    print("%-26s %9s %9s %8s %10s %7.1f (%6.1f) %9s %9s" % (
        "numpy-f32", "-", "-", "-", "%.1f MB" % (sum(
            v.nbytes for v in w32.values()) / 1e6),
        best["numpy-f32"] * 1e3, np.median(times["numpy-f32"]) * 1e3,
        "1.00x", "-"))
    failed = []
    for name, mean, low, size in rows:
        target = TARGETS.get(name)
        ok = target is None or mean >= target
        if not ok:
            failed.append(name)
        print("%-26s %9.5f %9.5f %8s %10s %7.1f (%6.1f) %8.2fx %8s" % (
            name, mean, low, "-" if target is None else
            ("%.3f%s" % (target, "" if ok else "!")),
            "%.1f MB" % (size / 1e6), best[name] * 1e3,
            np.median(times[name]) * 1e3,
            best["numpy-f32"] / best[name],
            ("%.2fx" % (best["f32"] / best[name])) if "f32" in best else "-"))
    if failed:
        print("below the cosine target: " + ", ".join(failed))


if __name__ == "__main__":
    main()
