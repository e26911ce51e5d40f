# RUN: %python %s %t
"""Imported tiny Llama models compute the logits test/Models/reference.py
computes (float64 numpy), within 1e-4 of the largest logit: grouped-query
attention with rotary embeddings and the causal mask, single-file and
sharded checkpoints, tied embeddings, f16 and bf16 weights, a LoRA adapter
(inline and external weights), through the reference and CPU pipelines.
With the adapter quantized and fused (lowbit-quantize-pipeline), the
logits stay close to the float model's. An f16 checkpoint (alone and with an
f16 adapter) quantized to int8 per channel computes the reference's logits
on the weights quantized and dequantized in numpy.
"""

import os
import shutil
import sys

import ml_dtypes
import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "Inputs"),
                os.path.join(HERE, "..", "..", "Models")]
import make_models  # noqa: E402
import reference as ref  # noqa: E402
import variants  # noqa: E402
from import_run import execute, import_model, opt, rel  # noqa: E402

TOL = 1e-4


def int8_per_channel(w):
    """W quantized and dequantized as lowbit-quantize-weights' int8
    per-channel scheme with f16 scales does (docs/Formats.md section 4)."""
    w = np.asarray(w, np.float32)
    s = np.max(np.abs(w), axis=1, keepdims=True) / np.float32(127)
    s[s < np.float32(2.0 ** -126)] = 0
    s = s.astype(np.float16).astype(np.float32)
    safe = np.where(s > 0, s, np.float32(1))
    q = np.where(s > 0, np.clip(np.rint(w / safe), -127, 127), 0)
    return (q * s).astype(np.float32)


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    path = lambda name: os.path.join(out, name)  # noqa: E731
    llama = make_models.make_llama(path("llama"), seed=11)
    sharded = make_models.make_llama(path("sharded"), seed=11, sharded=True)
    tied = make_models.make_llama(path("tied"), seed=12, config_overrides={
        "tie_word_embeddings": True})
    lora = make_models.make_lora(path("lora"), llama,
                                 ["q_proj", "k_proj", "v_proj", "o_proj",
                                  "gate_proj", "up_proj", "down_proj"],
                                 r=4, alpha=8, seed=13)
    variants.dtype(llama, path("f16"), "f16")
    variants.dtype(llama, path("bf16"), "bf16")

    cfg = ref.load_config(llama)
    vocab = cfg["vocab_size"]
    w = ref.load_safetensors(llama)
    merged = ref.apply_lora(w, ref.load_safetensors(lora),
                            ref.load_config(os.path.join(lora,
                                                         "adapter_config.json")))

    B, S = 2, 7
    tokens = np.random.default_rng(14).integers(0, vocab, (B, S))
    cases = [
        # name, model dir, flags, pipeline, external, reference weights
        ("single file, reference pipeline", llama, [],
         "--lowbit-reference-pipeline", False, w),
        ("single file, cpu pipeline, external weights", llama, [],
         "--lowbit-cpu-pipeline", True, w),
        ("sharded, external weights", sharded, [],
         "--lowbit-cpu-pipeline", True, ref.load_safetensors(sharded)),
        ("tied embeddings", tied, [], "--lowbit-cpu-pipeline", False,
         ref.load_safetensors(tied)),
        ("f16 weights", path("f16"), [], "--lowbit-cpu-pipeline", True,
         ref.load_safetensors(path("f16"))),
        ("bf16 weights", path("bf16"), [], "--lowbit-cpu-pipeline", True,
         ref.load_safetensors(path("bf16"))),
        ("LoRA on every linear layer", llama, ["--adapter=" + lora],
         "--lowbit-reference-pipeline", False, merged),
        ("LoRA, external weights", llama, ["--adapter=" + lora],
         "--lowbit-cpu-pipeline", True, merged),
    ]
    failures = 0
    for name, model, flags, pipeline, external, weights in cases:
        module = import_model(model, f"--seq-len={S}", f"--batch={B}", *flags,
                              *([] if external else ["--inline-weights"]))
        pre = ["--lowbit-load-weights"] if external else []
        got = execute(module, [tokens], (B, S, vocab), pipeline, pre=pre)
        want = ref.llama_forward(weights, ref.load_config(model), tokens)
        err = rel(got, want)
        ok = err <= TOL
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: relative error {err:.2e}")

    # Causality: the logits of a prefix do not depend on later tokens.
    module = import_model(llama, "--seq-len=4", "--inline-weights")
    prefix = execute(module, [tokens[:1, :4]], (1, 4, vocab))
    full = ref.llama_forward(w, cfg, tokens[:1])[:, :4]
    err = rel(prefix, full)
    failures += err > TOL
    print(f"{'ok  ' if err <= TOL else 'FAIL'} causal prefix: {err:.2e}")

    # Quantized base, adapter fused into lowbit.qmatmul: int8 logits within
    # a few percent of the float model's.
    module = import_model(llama, f"--seq-len={S}", f"--batch={B}",
                          "--adapter=" + lora, "--inline-weights")
    quantized = opt(module, "--lowbit-quantize-pipeline=format=int8 per-channel")
    got = execute(quantized, [tokens], (B, S, vocab), "--lowbit-cpu-pipeline")
    err = rel(got, ref.llama_forward(merged, cfg, tokens))
    ok = quantized.count("lora(") == 14 and err < 0.05
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} int8 + fused LoRA: "
          f"{quantized.count('lora(')} adapters fused, relative error {err:.2e}")

    # An f16 checkpoint, and one with an f16 adapter: the weights reach the
    # matmuls through arith.extf and are quantized from their f16 values;
    # the adapter's factors stay f16 in the fused qmatmuls.
    lora16 = path("lora-f16")
    variants.dtype(lora, lora16, "f16")
    os.replace(os.path.join(lora16, "model.safetensors"),
               os.path.join(lora16, "adapter_model.safetensors"))
    w16 = ref.load_safetensors(path("f16"))
    dequantized = {k: int8_per_channel(v)
                   if k.endswith("_proj.weight") or k == "lm_head.weight"
                   else v for k, v in w16.items()}
    merged16 = ref.apply_lora(
        dequantized, ref.load_safetensors(lora16),
        ref.load_config(os.path.join(lora16, "adapter_config.json")))
    for name, flags, weights, adapters in [
            ("f16 weights, int8", [], dequantized, 0),
            ("f16 weights and adapter, int8, fused LoRA",
             ["--adapter=" + lora16], merged16, 14)]:
        module = import_model(path("f16"), f"--seq-len={S}", f"--batch={B}",
                              *flags)
        quantized = opt(module, "--lowbit-load-weights",
                        "--lowbit-quantize-pipeline=format=int8 per-channel")
        got = execute(quantized, [tokens], (B, S, vocab),
                      "--lowbit-cpu-pipeline")
        err = rel(got, ref.llama_forward(weights, cfg, tokens))
        qmatmuls = sum("lowbit.qmatmul" in line and
                       "xf16, #lowbit.scheme<i8, per_channel" in line
                       for line in quantized.splitlines())
        ok = (err <= TOL and qmatmuls == 15 and
              quantized.count("lora(") == adapters and
              "linalg.matmul" not in quantized)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {qmatmuls} f16 qmatmuls, "
              f"{quantized.count('lora(')} adapters fused, "
              f"relative error {err:.2e}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
