# RUN: %python %s %t
"""GGUF files of general.architecture llama (written from a tiny Hugging
Face checkpoint the way llama.cpp's converter writes them, with the rows of
attn_q/attn_k permuted for interleaved rotary pairs) import to the same
Llama graph: F32 and F16 tensors give the reference logits; quantized GGUF
types and other architectures are clear errors.
"""

import os
import re
import shutil
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "Inputs"),
                os.path.join(HERE, "..", "..", "Models")]
import make_models  # noqa: E402
import reference as ref  # noqa: E402
from import_run import execute, import_model, run, tool, rel  # noqa: E402

TOL = 1e-4


def make_gguf(hf, out, *flags):
    run([sys.executable, os.path.join(HERE, "Inputs", "make_gguf.py"), hf, out,
         *flags])
    return out


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    llama = make_models.make_llama(os.path.join(out, "llama"), seed=21)
    f32 = make_gguf(llama, os.path.join(out, "f32.gguf"))
    f16 = make_gguf(llama, os.path.join(out, "f16.gguf"), "--dtype", "f16")
    q8 = make_gguf(llama, os.path.join(out, "q8.gguf"), "--dtype", "q8_0")
    gpt2 = make_gguf(llama, os.path.join(out, "gpt2.gguf"), "--arch", "gpt2")

    cfg = ref.load_config(llama)
    w = ref.load_safetensors(llama)
    # The f16 file rounds every matrix (embedding included) to f16.
    w16 = {k: (v.astype(np.float16) if v.ndim == 2 else v) for k, v in w.items()}
    vocab = cfg["vocab_size"]
    B, S = 2, 6
    tokens = np.random.default_rng(22).integers(0, vocab, (B, S))
    failures = 0

    # Structure: llama.cpp tensor names in the GGUF file, interleaved pairs.
    text = import_model(f32, f"--seq-len={S}")
    checks = {
        "weights reference the GGUF file":
            re.search(r'lowbit.weight external "blk.0.attn_q.weight" in "/[^"]*'
                      r'/f32.gguf" : tensor<256x256xf32>', text),
        "lm_head is the output tensor": 'lowbit.name = "output"' in text,
        "rotary pairs are interleaved":
            "output_shape [1, 6, 8, 16, 2]" in text,
    }
    for name, ok in checks.items():
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}")

    for name, path, weights, pipeline in [
            ("F32 GGUF", f32, w, "--lowbit-reference-pipeline"),
            ("F16 GGUF", f16, w16, "--lowbit-cpu-pipeline")]:
        module = import_model(path, f"--seq-len={S}", f"--batch={B}",
                              "--inline-weights")
        got = execute(module, [tokens], (B, S, vocab), pipeline)
        err = rel(got, ref.llama_forward(weights, cfg, tokens))
        ok = err <= TOL
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: relative error {err:.2e}")

    for name, path, message in [
            ("Q8_0 is not supported yet", q8,
             "tensor 'token_embd.weight' has GGML type Q8_0: not supported "
             "yet: Q8_0"),
            ("other architectures", gpt2,
             "general.architecture 'gpt2' is not supported (supported: "
             "llama)")]:
        result = subprocess.run([tool(), path, "--seq-len=4", "-o", "-"],
                                capture_output=True, text=True)
        ok = (result.returncode == 1 and not result.stdout and
              message in result.stderr and path in result.stderr)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name}: {result.stderr.strip()}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
