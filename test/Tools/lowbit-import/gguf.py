# REQUIRES: cc
# RUN: %python %s %t
"""GGUF files of general.architecture llama (written from a tiny Hugging
Face checkpoint the way llama.cpp's converter writes them, with the rows of
attn_q/attn_k permuted for interleaved rotary pairs) import to the same
Llama graph:

- F32 and F16 tensors give the reference logits (inline weights through
  mlir-runner, and external weights compiled by lowbit-compile);
- Q8_0, Q4_0, Q4_1 and Q4_K matrices import losslessly as qtensor weights:
  every projection and the output layer is a lowbit.qmatmul on the GGUF
  tensor, the token embedding a lowbit.dequantize of it. Compiled with
  lowbit-compile (lowbit-load-weights converts the blocks) and run through
  lowbit.load, the logits equal the reference forward pass on the weights
  that the gguf package's own dequantize decodes from the file, to f32
  accumulation (so the check does not rely on lowbit's numerics). A tied
  Q8_0 model multiplies by the embedding's qtensor; --preset=int8 leaves
  the GGUF weights alone; --inline-weights converts the blocks at import
  time;
- GGML types lowbit does not convert and other architectures are clear
  errors.
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
# This file is gguf.py: its directory must not shadow the gguf package.
sys.path = [p for p in sys.path if os.path.abspath(p or ".") != HERE]
sys.path[:0] = [os.path.join(HERE, "Inputs"),
                os.path.join(HERE, "..", "..", "Models")]
import gguf  # noqa: E402
import lowbit  # noqa: E402
import make_models  # noqa: E402
import reference as ref  # noqa: E402
from import_run import execute, import_model, run, tool, rel  # noqa: E402

TOL = 1e-4
# The compiled quantized models against the float64 reference on the same
# weights: only f32 rounding separates them.
QTOL = 1e-5
SCHEMES = {
    "Q8_0": "#lowbit.scheme<i8, block = 32, scale = f16>",
    "Q4_0": "#lowbit.scheme<i4, block = 32, scale = f16>",
    "Q4_1": "#lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>",
    "Q4_K": "#lowbit.scheme<u4, block = 32, scale = f32, zero_point = min>",
}
B, S = 2, 6
failures = 0


def check(ok, what):
    global failures
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} {what}")


def make_gguf(hf, out, *flags):
    run([sys.executable, os.path.join(HERE, "Inputs", "make_gguf.py"), hf, out,
         *flags])
    return out


def unpermute(w, heads):
    """The inverse of make_gguf.permute (llama.cpp's converter)."""
    return (w.reshape(heads, w.shape[0] // heads // 2, 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def gguf_weights(path, cfg):
    """The file's tensors as the gguf package decodes them (quantized ones
    through gguf.quants.dequantize), under their Hugging Face names and
    layout."""
    heads = cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"]
    names = {"token_embd.weight": "model.embed_tokens.weight",
             "output_norm.weight": "model.norm.weight",
             "output.weight": "lm_head.weight"}
    for i in range(cfg["num_hidden_layers"]):
        l, b = f"model.layers.{i}.", f"blk.{i}."
        for g, h in [("attn_norm", "input_layernorm"),
                     ("attn_q", "self_attn.q_proj"),
                     ("attn_k", "self_attn.k_proj"),
                     ("attn_v", "self_attn.v_proj"),
                     ("attn_output", "self_attn.o_proj"),
                     ("ffn_norm", "post_attention_layernorm"),
                     ("ffn_gate", "mlp.gate_proj"), ("ffn_up", "mlp.up_proj"),
                     ("ffn_down", "mlp.down_proj")]:
            names[b + g + ".weight"] = l + h + ".weight"
    out = {}
    for t in gguf.GGUFReader(path).tensors:
        w = gguf.quants.dequantize(np.array(t.data), t.tensor_type)
        w = np.asarray(w, np.float32).reshape(
            [int(d) for d in reversed(t.shape)])
        if t.name.endswith("attn_q.weight"):
            w = unpermute(w, heads)
        elif t.name.endswith("attn_k.weight"):
            w = unpermute(w, kv)
        out[names[t.name]] = w
    return out


def compiled_logits(work, name, gguf_path, tokens, preset=None):
    """lowbit-import (external weights), lowbit-compile, lowbit.load."""
    source = os.path.join(work, name + ".mlir")
    with open(source, "w") as f:
        f.write(import_model(gguf_path, f"--seq-len={S}", f"--batch={B}"))
    library = lowbit.compile(source, os.path.join(work, name + ".so"),
                             preset=preset)
    with lowbit.load(library) as model:
        (logits,) = model.forward(tokens)
    return logits


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    llama = make_models.make_llama(os.path.join(out, "llama"), seed=21)
    tied = make_models.make_llama(os.path.join(out, "tied"), seed=23,
                                  config_overrides={
                                      "tie_word_embeddings": True})
    f32 = make_gguf(llama, os.path.join(out, "f32.gguf"))
    f16 = make_gguf(llama, os.path.join(out, "f16.gguf"), "--dtype", "f16")
    quantized = {qtype: make_gguf(llama, os.path.join(out, f"{qtype}.gguf"),
                                  "--dtype", qtype.lower())
                 for qtype in SCHEMES}
    q8_tied = make_gguf(tied, os.path.join(out, "q8-tied.gguf"), "--dtype",
                        "q8_0")
    q5 = make_gguf(llama, os.path.join(out, "q5.gguf"), "--dtype", "q5_0")
    gpt2 = make_gguf(llama, os.path.join(out, "gpt2.gguf"), "--arch", "gpt2")

    cfg = ref.load_config(llama)
    vocab = cfg["vocab_size"]
    tokens = np.random.default_rng(22).integers(0, vocab, (B, S))

    # Structure: llama.cpp tensor names in the GGUF file, interleaved pairs.
    text = import_model(f32, f"--seq-len={S}")
    check(re.search(r'lowbit.weight external "blk.0.attn_q.weight" in "/[^"]*'
                    r'/f32.gguf" : tensor<256x256xf32>', text),
          "weights reference the GGUF file")
    check('lowbit.name = "output"' in text, "lm_head is the output tensor")
    check("output_shape [1, 6, 8, 16, 2]" in text,
          "rotary pairs are interleaved")

    # Quantized files: qtensor weights, qmatmuls, a dequantized embedding.
    linear = 7 * cfg["num_hidden_layers"] + 1
    for qtype, path in quantized.items():
        text = import_model(path, f"--seq-len={S}")
        scheme = SCHEMES[qtype]
        ok = (re.search(r'lowbit.weight external "blk.1.ffn_down.weight" in '
                        r'"/[^"]*/' + qtype + r'.gguf" : !lowbit.qtensor<'
                        r'256x512xf32, ' + re.escape(scheme) + ">", text) and
              text.count("lowbit.qmatmul") == linear and
              "linalg.matmul" not in text and
              re.search(r'lowbit.qmatmul [^\n]*\{lowbit.name = '
                        r'"blk.0.attn_q"\}', text) and
              re.search(r'lowbit.dequantize %\S+ : !lowbit.qtensor<320x256x'
                        r'f32, ' + re.escape(scheme) + r'> -> '
                        r'tensor<320x256xf32>', text))
        check(ok, f"{qtype}: {linear} lowbit.qmatmul on {scheme} weights, "
              "the embedding dequantized")
    text = import_model(q8_tied, f"--seq-len={S}")
    check(text.count('lowbit.weight external "token_embd.weight"') == 1 and
          re.search(r'lowbit.qmatmul [^\n]*\{lowbit.name = "output"\}', text),
          "tied Q8_0: the output layer multiplies by the embedding's qtensor")
    summary = run([tool(), quantized["Q4_K"], f"--seq-len={S}", "-o",
                   os.path.join(out, "summary.mlir")]).stderr
    check(re.search(r"Q4_K: \d+ bytes", summary) and
          "F32: " in summary, "summary counts Q4_K and F32 bytes")

    # Float files: inline weights through mlir-runner, external compiled.
    w = ref.load_safetensors(llama)
    # The f16 file rounds every matrix (embedding included) to f16.
    w16 = {k: (v.astype(np.float16) if v.ndim == 2 else v)
           for k, v in w.items()}
    for name, path, weights, pipeline in [
            ("F32 GGUF", f32, w, "--lowbit-reference-pipeline"),
            ("F16 GGUF", f16, w16, "--lowbit-cpu-pipeline")]:
        module = import_model(path, f"--seq-len={S}", f"--batch={B}",
                              "--inline-weights")
        got = execute(module, [tokens], (B, S, vocab), pipeline)
        err = rel(got, ref.llama_forward(weights, cfg, tokens))
        check(err <= TOL, f"{name}: relative error {err:.2e}")
    got = compiled_logits(out, "f16", f16, tokens)
    err = rel(got, ref.llama_forward(w16, cfg, tokens))
    check(err <= TOL, f"F16 GGUF compiled with external weights: relative "
          f"error {err:.2e}")

    # Quantized files compiled and run against the gguf package's decoding.
    for qtype, path in list(quantized.items()) + [("tied Q8_0", q8_tied)]:
        cfg_q = ref.load_config(tied if path == q8_tied else llama)
        expected = ref.llama_forward(gguf_weights(path, cfg_q), cfg_q, tokens)
        got = compiled_logits(out, os.path.basename(path)[:-5], path, tokens)
        err = rel(got, expected)
        check(err <= QTOL, f"{qtype} compiled: relative error {err:.2e} to "
              "the reference on gguf-decoded weights")
    # A preset quantizes float linear layers only: these stay as they are.
    got = compiled_logits(out, "q4_k-int8", quantized["Q4_K"], tokens,
                          preset="int8")
    err = rel(got, ref.llama_forward(gguf_weights(quantized["Q4_K"], cfg),
                                     cfg, tokens))
    check(err <= QTOL, f"Q4_K compiled with --preset=int8 keeps the GGUF "
          f"weights: relative error {err:.2e}")
    module = import_model(quantized["Q4_1"], f"--seq-len={S}", f"--batch={B}",
                          "--inline-weights")
    got = execute(module, [tokens], (B, S, vocab), "--lowbit-cpu-pipeline")
    err = rel(got, ref.llama_forward(gguf_weights(quantized["Q4_1"], cfg), cfg,
                                     tokens))
    check("lowbit.weight inline" in module and err <= QTOL,
          f"Q4_1 with --inline-weights: relative error {err:.2e}")

    for name, path, message in [
            ("Q5_0 is not supported yet", q5,
             "tensor 'token_embd.weight' has GGML type Q5_0: not supported "
             "yet: Q5_0 (lowbit-import reads F32, F16, Q8_0, Q4_0, Q4_1 and "
             "Q4_K GGUF tensors)"),
            ("other architectures", gpt2,
             "general.architecture 'gpt2' is not supported (supported: "
             "llama)")]:
        result = subprocess.run([tool(), path, "--seq-len=4", "-o", "-"],
                                capture_output=True, text=True)
        check(result.returncode == 1 and not result.stdout and
              message in result.stderr and path in result.stderr,
              f"{name}: {result.stderr.strip()}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
