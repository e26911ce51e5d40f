"""Writes the broken model directories and files that bad-input.test feeds
to lowbit-import, next to valid tiny models (test/Models/make_models.py).

  make_bad.py OUT_DIR
"""

import json
import os
import shutil
import sys

import numpy as np
from safetensors.numpy import load_file, save_file

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "Models"))
import make_models


def write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f)


def edit_config(d, **changes):
    path = os.path.join(d, "config.json")
    with open(path) as f:
        cfg = json.load(f)
    for k, v in changes.items():
        if v is None and k.startswith("-"):
            cfg.pop(k[1:], None)
        else:
            cfg[k] = v
    write_json(path, cfg)


def copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def edit_tensors(d, fn, name="model.safetensors"):
    path = os.path.join(d, name)
    t = dict(load_file(path))
    fn(t)
    save_file(t, path)


def main():
    out = sys.argv[1]
    shutil.rmtree(out, ignore_errors=True)
    os.makedirs(out)
    j = lambda *p: os.path.join(out, *p)
    bert = make_models.make_bert(j("bert"))
    llama = make_models.make_llama(j("llama"))
    lora = make_models.make_lora(j("lora"), llama)

    # Model directories.
    os.makedirs(j("empty"))
    os.makedirs(j("no-config"))
    shutil.copy(os.path.join(bert, "model.safetensors"), j("no-config"))
    os.makedirs(j("bad-json"))
    with open(j("bad-json", "config.json"), "w") as f:
        f.write('{"model_type": "bert",')
    copy(bert, j("no-type"))
    edit_config(j("no-type"), **{"-model_type": None})
    copy(bert, j("gpt2"))
    edit_config(j("gpt2"), model_type="gpt2")
    copy(bert, j("no-hidden"))
    edit_config(j("no-hidden"), **{"-hidden_size": None})
    copy(bert, j("string-hidden"))
    edit_config(j("string-hidden"), hidden_size="64")
    copy(bert, j("act"))
    edit_config(j("act"), hidden_act="gelu_new")
    copy(bert, j("no-weights"))
    os.remove(j("no-weights", "model.safetensors"))
    copy(bert, j("missing-tensor"))
    edit_tensors(j("missing-tensor"),
                 lambda t: t.pop("encoder.layer.1.output.dense.weight"))
    copy(bert, j("shape"))
    edit_config(j("shape"), intermediate_size=96)
    copy(bert, j("int-tensor"))
    edit_tensors(j("int-tensor"), lambda t: t.update({
        "embeddings.LayerNorm.weight":
            t["embeddings.LayerNorm.weight"].astype(np.int32)}))
    copy(bert, j("max-pool"))
    write_json(j("max-pool", "1_Pooling", "config.json"),
               {"pooling_mode_max_tokens": True})
    copy(llama, j("rope-scaling"))
    edit_config(j("rope-scaling"), rope_scaling={"type": "linear", "factor": 2.0})
    copy(llama, j("kv-heads"))
    edit_config(j("kv-heads"), num_key_value_heads=3)
    make_models.make_llama(j("sharded"), sharded=True)
    os.remove(j("sharded", "model-00002-of-00002.safetensors"))

    # Adapters.
    copy(lora, j("lora-no-target"))
    write_json(j("lora-no-target", "adapter_config.json"), dict(
        json.load(open(os.path.join(lora, "adapter_config.json"))),
        target_modules=["q_proj", "v_proj", "query"]))
    copy(lora, j("lora-regex"))
    write_json(j("lora-regex", "adapter_config.json"), dict(
        json.load(open(os.path.join(lora, "adapter_config.json"))),
        target_modules=r".*\.attention\..*"))
    copy(lora, j("lora-extra"))
    edit_tensors(j("lora-extra"), lambda t: t.update({
        "base_model.model.model.layers.0.mlp.act_fn.lora_A.weight":
            np.zeros((4, 256), np.float32),
        "base_model.model.model.layers.0.mlp.act_fn.lora_B.weight":
            np.zeros((512, 4), np.float32)}), "adapter_model.safetensors")
    copy(lora, j("lora-rank"))
    write_json(j("lora-rank", "adapter_config.json"), dict(
        json.load(open(os.path.join(lora, "adapter_config.json"))), r=8))
    copy(lora, j("lora-half"))
    edit_tensors(j("lora-half"), lambda t: t.pop(
        "base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"),
        "adapter_model.safetensors")
    copy(lora, j("lora-no-config"))
    os.remove(j("lora-no-config", "adapter_config.json"))
    copy(lora, j("lora-dora"))
    write_json(j("lora-dora", "adapter_config.json"), dict(
        json.load(open(os.path.join(lora, "adapter_config.json"))),
        use_dora=True))

    # Files that are not GGUF.
    with open(j("not-a-model.bin"), "wb") as f:
        f.write(b"\x00" * 64)


if __name__ == "__main__":
    main()
