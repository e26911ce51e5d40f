#!/usr/bin/env python3
"""lowbit demo: compile the sentence-embedding model all-MiniLM-L6-v2 ahead
of time with NF4 weights and double-quantized scales (the bitsandbytes
QLoRA format), embed a few sentences, and compare with the float model.

Steps: lowbit-import turns the Hugging Face checkpoint into MLIR (weights
stay in the checkpoint file); lowbit-compile quantizes the linear layers,
lowers them to fused dequantize-matmul vector kernels and writes a shared
library plus a weights file; the lowbit runtime maps the weights and runs
the library from Python. The float baselines are an f32 build of the same
model and a float32 numpy implementation (OpenBLAS matmuls).
"""

import json

import argparse
import os
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(os.path.dirname(HERE), "python"), HERE]

SENTENCES = [
    "A man is playing a guitar on the stage.",
    "Someone performs music with a guitar in front of an audience.",
    "The stock market fell sharply this morning.",
    "Share prices dropped steeply at the opening bell.",
    "My cat sleeps on the warm windowsill all afternoon.",
    "Quantized weights make large language models cheaper to run.",
]


def best_ms(call, reps=5):
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return min(times) * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", required=True,
                        help="the lowbit build directory")
    parser.add_argument("--work", help="where to write the artifacts "
                        "(default: a temporary directory)")
    args = parser.parse_args()
    os.environ.setdefault("LOWBIT_TOOLS_DIR", os.path.join(args.build, "bin"))
    os.environ.setdefault("LOWBIT_LIBRARY_DIR",
                          os.path.join(args.build, "lib"))
    import lowbit
    import minilm

    work = args.work or tempfile.mkdtemp(prefix="lowbit-demo-")
    built = minilm.build(work, ["nf4-dq", "f32"], seq_len=32,
                         batch=len(SENTENCES))
    nf4 = lowbit.load(built["nf4-dq"][0])
    f32 = lowbit.load(built["f32"][0])
    ids, mask = minilm.tokenize(SENTENCES, 32)
    (emb,) = nf4.forward(ids, mask)
    (ref,) = f32.forward(ids, mask)

    print("\nsentences:")
    for i, s in enumerate(SENTENCES):
        print("  [%d] %s" % (i, s))
    print("\ncosine similarities, NF4 + double quant:")
    sim = emb @ emb.T
    print("     " + "".join("%7s" % ("[%d]" % j) for j in range(len(SENTENCES))))
    for i, row in enumerate(sim):
        print("  [%d]" % i + "".join("%7.3f" % v for v in row))
    agreement = np.sum(emb * ref, axis=1) / (
        np.linalg.norm(emb, axis=1) * np.linalg.norm(ref, axis=1))
    print("\nNF4 vs f32 embeddings: cosine mean %.5f, min %.5f"
          % (agreement.mean(), agreement.min()))

    weights = minilm.load_float_weights()
    with open(os.path.join(minilm.model_dir(), "config.json")) as f:
        config = json.load(f)
    numpy_emb = minilm.numpy_f32_forward(weights, config, ids, mask)
    print("NF4 vs numpy float32:   cosine mean %.5f"
          % np.mean(np.sum(emb * numpy_emb, axis=1)))

    # Interleaved repetitions, best of each: the machine may be noisy.
    calls = {"lowbit nf4-dq": lambda: nf4.forward(ids, mask),
             "lowbit f32": lambda: f32.forward(ids, mask),
             "numpy f32": lambda: minilm.numpy_f32_forward(weights, config,
                                                           ids, mask)}
    times = {name: [] for name in calls}
    for _ in range(5):
        for name, call in calls.items():
            times[name].append(best_ms(call, reps=1))
    sizes = {"lowbit nf4-dq": minilm.weights_bytes(built["nf4-dq"][0]),
             "lowbit f32": minilm.weights_bytes(built["f32"][0]),
             "numpy f32": sum(w.nbytes for w in weights.values())}
    print("\n%-14s %12s %18s" % ("", "weights", "ms per batch of %d"
                                 % len(SENTENCES)))
    for name in calls:
        print("%-14s %9.1f MB %18.1f" % (name, sizes[name] / 1e6,
                                         min(times[name])))
    best = {name: min(t) for name, t in times.items()}
    print("NF4: %.2fx smaller weights than f32; %.2fx the speed of numpy "
          "f32, %.2fx the speed of lowbit's f32 build"
          % (sizes["lowbit f32"] / sizes["lowbit nf4-dq"],
             best["numpy f32"] / best["lowbit nf4-dq"],
             best["lowbit f32"] / best["lowbit nf4-dq"]))
    print("artifacts in " + work)


if __name__ == "__main__":
    main()
