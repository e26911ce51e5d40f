"""Variants of the tiny test models (test/Models/make_models.py) for the
lowbit-import tests.

  variants.py prefixed SRC DST     BERT tensors renamed "bert.*" plus a
                                   classifier head, no sentence-transformers
                                   files (BertForSequenceClassification)
  variants.py dtype SRC DST f16|bf16   every tensor converted
  variants.py tied DST [--seed N]  Llama with tie_word_embeddings (no lm_head)
  variants.py targets SRC DST T    a copy of adapter SRC whose target_modules
                                   is the string T (a regex, or "all-linear")
"""

import argparse
import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "Models"))
import make_models  # noqa: E402
import reference  # noqa: E402


def prefixed(src, dst):
    os.makedirs(dst, exist_ok=True)
    shutil.copy(os.path.join(src, "config.json"), dst)
    w = reference.load_safetensors(src)
    out = {"bert." + k: v for k, v in w.items()}
    hid = w["embeddings.word_embeddings.weight"].shape[1]
    out["classifier.weight"] = np.zeros((2, hid), np.float32)
    out["classifier.bias"] = np.zeros((2,), np.float32)
    save_file(out, os.path.join(dst, "model.safetensors"))


def dtype(src, dst, name):
    import ml_dtypes
    t = {"f16": np.float16, "bf16": ml_dtypes.bfloat16}[name]
    os.makedirs(dst, exist_ok=True)
    for f in os.listdir(src):
        if f.endswith(".json"):
            shutil.copy(os.path.join(src, f), dst)
    w = reference.load_safetensors(src)
    save_file({k: v.astype(t) for k, v in w.items()},
              os.path.join(dst, "model.safetensors"))


def targets(src, dst, value):
    shutil.copytree(src, dst)
    path = os.path.join(dst, "adapter_config.json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["target_modules"] = value
    with open(path, "w") as f:
        json.dump(cfg, f)


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="kind", required=True)
    a = sub.add_parser("prefixed")
    a.add_argument("src")
    a.add_argument("dst")
    a = sub.add_parser("dtype")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("dtype", choices=["f16", "bf16"])
    a = sub.add_parser("targets")
    a.add_argument("src")
    a.add_argument("dst")
    a.add_argument("value")
    a = sub.add_parser("tied")
    a.add_argument("dst")
    a.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    if args.kind == "prefixed":
        prefixed(args.src, args.dst)
    elif args.kind == "dtype":
        dtype(args.src, args.dst, args.dtype)
    elif args.kind == "targets":
        targets(args.src, args.dst, args.value)
    else:
        make_models.make_llama(args.dst, args.seed,
                               config_overrides={"tie_word_embeddings": True})


if __name__ == "__main__":
    main()
