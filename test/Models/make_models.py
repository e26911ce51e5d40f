#!/usr/bin/env python3
"""Writes tiny random Hugging Face checkpoints for tests, deterministic for a
seed.

  make_models.py bert DIR [--seed N] [--sharded]
  make_models.py llama DIR [--seed N] [--sharded]
  make_models.py lora DIR --base BASE_DIR [--targets q_proj,v_proj]
                 [--r 4] [--alpha 8] [--seed N]

As a module: make_bert(dir, seed, sharded), make_llama(dir, seed, sharded),
make_lora(dir, base_dir, targets, r, alpha, seed); each returns the
directory. All tensors are float32.
"""

import argparse
import json
import os

import numpy as np
from safetensors.numpy import save_file

BERT_CONFIG = {
    "architectures": ["BertModel"],
    "model_type": "bert",
    "hidden_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 128,
    "hidden_act": "gelu",
    "vocab_size": 100,
    "max_position_embeddings": 64,
    "type_vocab_size": 2,
    "layer_norm_eps": 1e-12,
    "pad_token_id": 0,
    "position_embedding_type": "absolute",
    "hidden_dropout_prob": 0.1,
    "attention_probs_dropout_prob": 0.1,
    "initializer_range": 0.02,
    "torch_dtype": "float32",
}

LLAMA_CONFIG = {
    "architectures": ["LlamaForCausalLM"],
    "model_type": "llama",
    "hidden_size": 256,
    "intermediate_size": 512,
    "num_hidden_layers": 2,
    "num_attention_heads": 8,
    "num_key_value_heads": 2,
    "vocab_size": 320,
    "hidden_act": "silu",
    "rms_norm_eps": 1e-5,
    "rope_theta": 10000.0,
    "rope_scaling": None,
    "max_position_embeddings": 128,
    "tie_word_embeddings": False,
    "attention_bias": False,
    "mlp_bias": False,
    "bos_token_id": 1,
    "eos_token_id": 2,
    "torch_dtype": "float32",
}


def _write_json(path, obj):
    with open(path, "w") as f:
        json.dump(obj, f, indent=2)
        f.write("\n")


def _save(out_dir, tensors, sharded):
    """Writes model.safetensors, or two shards plus the HF index file."""
    if not sharded:
        save_file(tensors, os.path.join(out_dir, "model.safetensors"),
                  metadata={"format": "pt"})
        return
    names = sorted(tensors)
    halves = [names[:len(names) // 2], names[len(names) // 2:]]
    weight_map = {}
    for i, part in enumerate(halves):
        shard = "model-%05d-of-%05d.safetensors" % (i + 1, len(halves))
        save_file({n: tensors[n] for n in part},
                  os.path.join(out_dir, shard), metadata={"format": "pt"})
        weight_map.update({n: shard for n in part})
    _write_json(os.path.join(out_dir, "model.safetensors.index.json"), {
        "metadata": {"total_size": int(sum(t.nbytes for t in tensors.values()))},
        "weight_map": dict(sorted(weight_map.items())),
    })


def _normal(rng, shape, std, mean=0.0):
    return (mean + std * rng.standard_normal(shape)).astype(np.float32)


def make_bert(out_dir, seed=0, sharded=False, config_overrides=None):
    """Tiny random BertModel with sentence-transformers files (mean pooling,
    then Normalize). Tensor names have no "bert." prefix, like
    all-MiniLM-L6-v2, and include the (unused) pooler."""
    config = dict(BERT_CONFIG, **(config_overrides or {}))
    rng = np.random.default_rng(seed)
    hid = config["hidden_size"]
    inter = config["intermediate_size"]
    t = {}

    def linear(name, out_features, in_features, std):
        t[name + ".weight"] = _normal(rng, (out_features, in_features), std)
        t[name + ".bias"] = _normal(rng, (out_features,), 0.02)

    def layer_norm(name):
        t[name + ".weight"] = _normal(rng, (hid,), 0.05, mean=1.0)
        t[name + ".bias"] = _normal(rng, (hid,), 0.02)

    t["embeddings.word_embeddings.weight"] = _normal(
        rng, (config["vocab_size"], hid), 0.1)
    t["embeddings.position_embeddings.weight"] = _normal(
        rng, (config["max_position_embeddings"], hid), 0.05)
    t["embeddings.token_type_embeddings.weight"] = _normal(
        rng, (config["type_vocab_size"], hid), 0.05)
    layer_norm("embeddings.LayerNorm")
    for i in range(config["num_hidden_layers"]):
        l = "encoder.layer.%d." % i
        for proj in ("query", "key", "value"):
            linear(l + "attention.self." + proj, hid, hid, 0.1)
        linear(l + "attention.output.dense", hid, hid, 0.1)
        layer_norm(l + "attention.output.LayerNorm")
        linear(l + "intermediate.dense", inter, hid, 0.1)
        linear(l + "output.dense", hid, inter, 0.07)
        layer_norm(l + "output.LayerNorm")
    linear("pooler.dense", hid, hid, 0.05)

    os.makedirs(os.path.join(out_dir, "1_Pooling"), exist_ok=True)
    _write_json(os.path.join(out_dir, "config.json"), config)
    _save(out_dir, t, sharded)
    _write_json(os.path.join(out_dir, "modules.json"), [
        {"idx": 0, "name": "0", "path": "",
         "type": "sentence_transformers.models.Transformer"},
        {"idx": 1, "name": "1", "path": "1_Pooling",
         "type": "sentence_transformers.models.Pooling"},
        {"idx": 2, "name": "2", "path": "2_Normalize",
         "type": "sentence_transformers.models.Normalize"},
    ])
    _write_json(os.path.join(out_dir, "1_Pooling", "config.json"), {
        "word_embedding_dimension": hid,
        "pooling_mode_cls_token": False,
        "pooling_mode_mean_tokens": True,
        "pooling_mode_max_tokens": False,
        "pooling_mode_mean_sqrt_len_tokens": False,
    })
    _write_json(os.path.join(out_dir, "sentence_bert_config.json"),
                {"max_seq_length": config["max_position_embeddings"],
                 "do_lower_case": False})
    return out_dir


def make_llama(out_dir, seed=0, sharded=False, config_overrides=None):
    """Tiny random LlamaForCausalLM (GQA: 8 query heads, 2 key/value heads).
    Linear weights are N(0, 1/fan_in) so activations and logits are O(1);
    RMSNorm weights are near 1. lm_head.weight is omitted when
    tie_word_embeddings is true."""
    config = dict(LLAMA_CONFIG, **(config_overrides or {}))
    rng = np.random.default_rng(seed)
    hid = config["hidden_size"]
    inter = config["intermediate_size"]
    head_dim = hid // config["num_attention_heads"]
    kv = config["num_key_value_heads"] * head_dim
    t = {}

    def linear(name, out_features, in_features):
        t[name + ".weight"] = _normal(rng, (out_features, in_features),
                                      in_features ** -0.5)

    def norm(name):
        t[name + ".weight"] = _normal(rng, (hid,), 0.05, mean=1.0)

    t["model.embed_tokens.weight"] = _normal(rng, (config["vocab_size"], hid), 1.0)
    for i in range(config["num_hidden_layers"]):
        l = "model.layers.%d." % i
        norm(l + "input_layernorm")
        linear(l + "self_attn.q_proj", hid, hid)
        linear(l + "self_attn.k_proj", kv, hid)
        linear(l + "self_attn.v_proj", kv, hid)
        linear(l + "self_attn.o_proj", hid, hid)
        norm(l + "post_attention_layernorm")
        linear(l + "mlp.gate_proj", inter, hid)
        linear(l + "mlp.up_proj", inter, hid)
        linear(l + "mlp.down_proj", hid, inter)
    norm("model.norm")
    if not config["tie_word_embeddings"]:
        linear("lm_head", config["vocab_size"], hid)

    os.makedirs(out_dir, exist_ok=True)
    _write_json(os.path.join(out_dir, "config.json"), config)
    _save(out_dir, t, sharded)
    return out_dir


def _base_weight_shapes(base_dir):
    """{name: shape} of the base checkpoint's tensors, read without loading
    the data."""
    from safetensors import safe_open

    index = os.path.join(base_dir, "model.safetensors.index.json")
    if os.path.exists(index):
        with open(index) as f:
            files = sorted(set(json.load(f)["weight_map"].values()))
    else:
        files = ["model.safetensors"]
    shapes = {}
    for name in files:
        with safe_open(os.path.join(base_dir, name), framework="np") as f:
            for key in f.keys():
                shapes[key] = tuple(f.get_slice(key).get_shape())
    return shapes


def make_lora(out_dir, base_dir, targets=("q_proj", "v_proj"), r=4, alpha=8,
              seed=0):
    """PEFT LoRA adapter for the checkpoint in `base_dir`: every 2-D
    "<module>.weight" whose last module name is in `targets` gets
    base_model.model.<module>.lora_A.weight [r, in] ~ N(0, 1/in) and
    lora_B.weight [out, r] ~ N(0, 0.05): nonzero, so with alpha/r = 2 the
    merged weight of the tiny Llama differs from W by about 20% in norm."""
    targets = [targets] if isinstance(targets, str) else list(targets)
    rng = np.random.default_rng(seed)
    shapes = _base_weight_shapes(base_dir)
    t = {}
    for name, shape in sorted(shapes.items()):
        module = name[:-len(".weight")]
        if (not name.endswith(".weight") or len(shape) != 2 or
                module.rsplit(".", 1)[-1] not in targets):
            continue
        out_features, in_features = shape
        t["base_model.model.%s.lora_A.weight" % module] = _normal(
            rng, (r, in_features), in_features ** -0.5)
        t["base_model.model.%s.lora_B.weight" % module] = _normal(
            rng, (out_features, r), 0.05)
    if not t:
        raise ValueError("no module of %s matches targets %s" % (base_dir, targets))
    with open(os.path.join(base_dir, "config.json")) as f:
        model_type = json.load(f).get("model_type")
    os.makedirs(out_dir, exist_ok=True)
    save_file(t, os.path.join(out_dir, "adapter_model.safetensors"),
              metadata={"format": "pt"})
    _write_json(os.path.join(out_dir, "adapter_config.json"), {
        "peft_type": "LORA",
        "task_type": "CAUSAL_LM" if model_type == "llama" else "FEATURE_EXTRACTION",
        "base_model_name_or_path": os.path.abspath(base_dir),
        "r": r,
        "lora_alpha": alpha,
        "target_modules": targets,
        "lora_dropout": 0.0,
        "bias": "none",
        "fan_in_fan_out": False,
        "use_rslora": False,
        "inference_mode": True,
    })
    return out_dir


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="kind", required=True)
    for kind in ("bert", "llama"):
        p = sub.add_parser(kind, help="tiny random %s checkpoint" % kind)
        p.add_argument("dir")
        p.add_argument("--seed", type=int, default=0)
        p.add_argument("--sharded", action="store_true",
                       help="two shards + model.safetensors.index.json")
    p = sub.add_parser("lora", help="PEFT LoRA adapter for a base checkpoint")
    p.add_argument("dir")
    p.add_argument("--base", required=True, help="base model directory")
    p.add_argument("--targets", default="q_proj,v_proj",
                   help="comma-separated module names")
    p.add_argument("--r", type=int, default=4)
    p.add_argument("--alpha", type=int, default=8)
    p.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    if args.kind == "bert":
        make_bert(args.dir, args.seed, args.sharded)
    elif args.kind == "llama":
        make_llama(args.dir, args.seed, args.sharded)
    else:
        make_lora(args.dir, args.base, args.targets.split(","), args.r,
                  args.alpha, args.seed)


if __name__ == "__main__":
    main()
