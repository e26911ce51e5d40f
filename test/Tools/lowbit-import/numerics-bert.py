# RUN: %python %s %t
"""Imported tiny BERT models compute what test/Models/reference.py computes
(float64 numpy), within 1e-4 of the largest output: mean pooling with a
padded attention mask + L2 normalization, CLS pooling, the last hidden
state, a LoRA adapter, through the reference and the CPU pipelines, with
inline weights and with external ones read by lowbit-load-weights. A
quantized (int8) import stays close to the float model.
"""

import json
import os
import shutil
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "Inputs"),
                os.path.join(HERE, "..", "..", "Models")]
import make_models  # noqa: E402
import reference as ref  # noqa: E402
from import_run import execute, import_model, opt, rel  # noqa: E402

TOL = 1e-4


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    bert = make_models.make_bert(os.path.join(out, "bert"), seed=5)
    lora = make_models.make_lora(os.path.join(out, "lora"), bert,
                                 ["query", "value"], r=4, alpha=8, seed=6)
    w = ref.load_safetensors(bert)
    cfg = ref.load_config(bert)
    merged = ref.apply_lora(w, ref.load_safetensors(lora),
                            ref.load_config(os.path.join(lora,
                                                         "adapter_config.json")))
    hidden = cfg["hidden_size"]

    # Two sequences of 12 tokens; the second has 5 padding tokens (id 0,
    # mask 0), which must not change its embedding.
    B, S = 2, 12
    rng = np.random.default_rng(7)
    ids = rng.integers(1, cfg["vocab_size"], (B, S))
    mask = np.ones((B, S), np.int64)
    ids[1, 7:] = 0
    mask[1, 7:] = 0

    cases = [
        # name, import flags, pipeline, external weights, weights, pooling,
        # normalize, output shape
        ("mean+normalize (auto), reference pipeline", [],
         "--lowbit-reference-pipeline", False, w, "mean", True, (B, hidden)),
        ("mean+normalize (auto), cpu pipeline, external weights", [],
         "--lowbit-cpu-pipeline", True, w, "mean", True, (B, hidden)),
        ("cls, not normalized", ["--pooling=cls", "--normalize=off"],
         "--lowbit-reference-pipeline", False, w, "cls", False, (B, hidden)),
        ("cls, normalized", ["--pooling=cls", "--normalize=on"],
         "--lowbit-cpu-pipeline", False, w, "cls", True, (B, hidden)),
        ("last hidden state", ["--pooling=none"],
         "--lowbit-cpu-pipeline", False, w, "none", False, (B, S, hidden)),
        ("LoRA on query and value", ["--adapter=" + lora],
         "--lowbit-cpu-pipeline", True, merged, "mean", True, (B, hidden)),
    ]
    failures = 0
    for name, flags, pipeline, external, weights, pooling, normalize, shape \
            in cases:
        module = import_model(bert, f"--seq-len={S}", f"--batch={B}", *flags,
                              *([] if external else ["--inline-weights"]))
        pre = ["--lowbit-load-weights"] if external else []
        got = execute(module, [ids, mask], shape, pipeline, pre=pre)
        want = ref.bert_forward(weights, cfg, ids, mask, pooling, normalize)
        err = rel(got, want)
        ok = err <= TOL
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: relative error {err:.2e}")

    # Padding tokens do not change the pooled output: the second sequence
    # alone, unpadded, gives the same embedding.
    module = import_model(bert, "--seq-len=7", "--inline-weights")
    alone = execute(module, [ids[1:, :7], mask[1:, :7]], (1, hidden))
    padded = ref.bert_forward(w, cfg, ids, mask)[1:]
    err = rel(alone, padded)
    failures += err > TOL
    print(f"{'ok  ' if err <= TOL else 'FAIL'} padding-invariant: {err:.2e}")

    # int8 weights: every linear layer quantized; cosine similarity of the
    # normalized embeddings stays near 1.
    module = import_model(bert, f"--seq-len={S}", f"--batch={B}",
                          "--inline-weights")
    quantized = opt(module, "--lowbit-quantize-pipeline=format=int8 per-channel")
    got = execute(quantized, [ids, mask], (B, hidden), "--lowbit-cpu-pipeline")
    cos = ref.cosine(got, ref.bert_forward(w, cfg, ids, mask))
    ok = bool(np.all(cos > 0.999))
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} int8: cosine similarity "
          f"{np.round(cos, 6).tolist()}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
