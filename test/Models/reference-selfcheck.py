# RUN: %python %s
# Checks the numpy model reference (reference.py) and the tiny-model
# generators (make_models.py) against properties that a wrong implementation
# breaks: MiniLM embeddings rank paraphrases above unrelated sentences and
# ignore padding; the Llama forward is causal and its grouped-query path
# equals multi-head attention with repeated key/value heads; merged LoRA
# equals the unmerged product; rotary embeddings compose and depend only on
# relative positions.

import json
import os
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import make_models  # noqa: E402
import reference as ref  # noqa: E402
from sentences import PARAPHRASE_PAIRS, SENTENCES  # noqa: E402

from checks import check, finish  # noqa: E402

rng = np.random.default_rng(0)


def maxdiff(a, b):
    return float(np.max(np.abs(np.asarray(a, np.float64) - np.asarray(b, np.float64))))


# --------------------------------------------------------------------------
# (a) all-MiniLM-L6-v2.

mdir = ref.minilm_dir()
mcfg = ref.load_config(mdir)
mw = ref.load_safetensors(mdir)
check(mw["embeddings.word_embeddings.weight"].shape == (30522, 384),
      "MiniLM word embeddings are 30522x384")

chosen = [4, 19, 43, 50]  # snow, running, dog, astronauts
idx = [i for k in chosen for i in PARAPHRASE_PAIRS[k]]
texts = [SENTENCES[i] for i in idx]
ids, mask = ref.tokenize(texts, 32, mdir)
check(ids.dtype == np.int64 and mask.dtype == np.int64 and ids.shape == (8, 32),
      "tokenize returns int64 [8, 32]")
lengths = mask.sum(axis=1)
check(all(ids[b, 0] == 101 and ids[b, lengths[b] - 1] == 102 and
          not ids[b, lengths[b]:].any() and mask[b, :lengths[b]].all()
          for b in range(len(texts))),
      "tokens are [CLS] ... [SEP] then pad id 0 with mask 0")
long_ids, long_mask = ref.tokenize(" ".join(SENTENCES[:6]), 16, mdir)
check(long_ids.shape == (1, 16) and long_mask.all() and long_ids[0, -1] == 102,
      "truncation to seq_len keeps the final [SEP]")

emb = ref.bert_forward(mw, mcfg, ids, mask)
check(emb.dtype == np.float32 and emb.shape == (8, 384), "embeddings f32 [8, 384]")
check(maxdiff(np.linalg.norm(emb, axis=1), 1.0) < 1e-6, "embeddings have unit norm")
sim = emb.astype(np.float64) @ emb.T.astype(np.float64)
para = [sim[2 * p, 2 * p + 1] for p in range(len(chosen))]
unrelated = [sim[i, j] for i in range(8) for j in range(8) if i // 2 != j // 2]
print("paraphrase cosines %s, unrelated max %.3f" %
      (np.round(para, 3).tolist(), max(unrelated)))
check(min(para) > 0.5 and max(unrelated) < 0.35,
      "paraphrases have cosine > 0.5, unrelated pairs < 0.35")
check(np.allclose(ref.cosine(emb[0::2], emb[1::2]), para, atol=1e-6),
      "cosine() is the row-wise cosine")

# Published values: the first five components of the "hello world" embedding
# in qdrant/fastembed's tests/test_text_onnx_embeddings.py, mean pooling
# (current) and CLS pooling (older versions), both normalized.
hello_ids, hello_mask = ref.tokenize(["hello world"], 8, mdir)
hello_mean = ref.bert_forward(mw, mcfg, hello_ids, hello_mask)[0, :5]
hello_cls = ref.bert_forward(mw, mcfg, hello_ids, hello_mask, pooling="cls")[0, :5]
print("hello world: mean %s cls %s" % (hello_mean, hello_cls))
check(maxdiff(hello_mean, [-0.034478, 0.03102, 0.00673, 0.02611, -0.039362]) < 1e-5,
      "'hello world' (mean pooling) matches fastembed's published values")
check(maxdiff(hello_cls, [0.0259, 0.0058, 0.0114, 0.0380, -0.0233]) < 1e-4,
      "'hello world' (CLS pooling) matches fastembed's published values")

# Padding: the unpadded single sentence gives the same embedding.
b = int(np.argmin(lengths))
single_ids, single_mask = ref.tokenize(texts[b], int(lengths[b]), mdir)
check(single_mask.all() and (single_ids[0] == ids[b, :lengths[b]]).all(),
      "the sentence alone tokenizes without padding")
single = ref.bert_forward(mw, mcfg, single_ids, single_mask)
print("padded vs unpadded: %.2e" % maxdiff(single[0], emb[b]))
check(maxdiff(single[0], emb[b]) < 1e-5, "padded batch = unpadded sentence")
unmasked = ref.bert_forward(mw, mcfg, ids[b:b + 1], np.ones_like(mask[b:b + 1]))
check(maxdiff(unmasked[0], emb[b]) > 1e-3, "the attention mask matters")

# Pooling modes agree with each other.
hidden = ref.bert_forward(mw, mcfg, ids[:2], mask[:2], pooling="none")
check(hidden.shape == (2, 32, 384), "pooling='none' returns [B, S, H]")
mean = (hidden * mask[:2, :, None]).sum(1) / mask[:2].sum(1, keepdims=True)
raw = ref.bert_forward(mw, mcfg, ids[:2], mask[:2], normalize=False)
check(maxdiff(raw, mean) < 1e-5, "mean pooling = masked mean of hidden states")
check(maxdiff(raw / np.linalg.norm(raw, axis=1, keepdims=True), emb[:2]) < 1e-6,
      "normalize=True = L2-normalized mean")
cls = ref.bert_forward(mw, mcfg, ids[:2], mask[:2], pooling="cls", normalize=False)
check(maxdiff(cls, hidden[:, 0]) == 0.0, "cls pooling = hidden state of token 0")

# Exact GELU: x * Phi(x) with the standard normal CDF Phi.
check(maxdiff(ref._gelu(np.array([-1.0, 0.0, 1.0, 2.0])),
              [-0.15865525393145707, 0.0, 0.8413447460685429,
               2 * 0.9772498680518208]) < 1e-15,
      "GELU is the exact erf form")

# --------------------------------------------------------------------------
# Tiny models from make_models.

tmp = tempfile.TemporaryDirectory()


def path(name):
    return os.path.join(tmp.name, name)


make_models.main(["bert", path("bert"), "--seed", "3"])
make_models.make_bert(path("bert2"), seed=3, sharded=True)
bw = ref.load_safetensors(path("bert"))
bcfg = ref.load_config(path("bert"))
check(bcfg["hidden_size"] == 64 and bcfg["num_hidden_layers"] == 2,
      "tiny BERT config")
with open(path("bert/modules.json")) as f:
    check([m["path"] for m in json.load(f)] == ["", "1_Pooling", "2_Normalize"],
          "tiny BERT has sentence-transformers modules")
sharded = ref.load_safetensors(path("bert2"))
check(sorted(sharded) == sorted(bw) and
      all((sharded[n] == bw[n]).all() for n in bw),
      "sharded tiny BERT = unsharded for the same seed")
bids = rng.integers(1, 100, (3, 10))
bmask = np.ones_like(bids)
bmask[1, 6:] = 0
bids[1, 6:] = 0
bemb = ref.bert_forward(bw, bcfg, bids, bmask)
prefixed = {"bert." + n: t for n, t in bw.items()}
check(maxdiff(ref.bert_forward(prefixed, bcfg, bids, bmask), bemb) == 0.0,
      "a 'bert.' prefix gives the same result")
check(maxdiff(ref.bert_forward(bw, bcfg, bids[1:2, :6], bmask[1:2, :6]),
              bemb[1:2]) < 1e-5,
      "tiny BERT: padded = unpadded")

make_models.main(["llama", path("llama"), "--seed", "5"])
make_models.make_llama(path("llama2"), seed=5, sharded=True)
make_models.make_llama(path("llama3"), seed=6)
lw = ref.load_safetensors(path("llama"))
lcfg = ref.load_config(path("llama"))
with open(path("llama2/model.safetensors.index.json")) as f:
    index = json.load(f)
shards = sorted(set(index["weight_map"].values()))
check(shards == ["model-00001-of-00002.safetensors",
                 "model-00002-of-00002.safetensors"] and
      index["metadata"]["total_size"] == sum(t.nbytes for t in lw.values()),
      "sharded Llama: two shards, index total_size = bytes of all tensors")
l2 = ref.load_safetensors(path("llama2"))
check(sorted(l2) == sorted(lw) and all((l2[n] == lw[n]).all() for n in lw),
      "sharded Llama = unsharded for the same seed")
l3 = ref.load_safetensors(path("llama3"))
check(maxdiff(l3["model.layers.0.self_attn.q_proj.weight"],
              lw["model.layers.0.self_attn.q_proj.weight"]) > 0.01,
      "another seed gives other weights")
check(lw["model.layers.1.self_attn.k_proj.weight"].shape == (64, 256) and
      lw["lm_head.weight"].shape == (320, 256),
      "tiny Llama: k_proj 64x256 (2 kv heads of 32), lm_head 320x256")

# --------------------------------------------------------------------------
# (b) Llama: causality, GQA, one-token forward written out.

toks = rng.integers(0, 320, (2, 12))
logits = ref.llama_forward(lw, lcfg, toks)
check(logits.shape == (2, 12, 320) and logits.dtype == np.float32,
      "logits f32 [2, 12, 320]")
print("logit std %.3f" % float(logits.std()))
check(0.3 < float(logits.std()) < 30, "logits are O(1)")
changed = toks.copy()
changed[:, 7:] = (changed[:, 7:] + 1) % 320
logits2 = ref.llama_forward(lw, lcfg, changed)
check(maxdiff(logits2[:, :7], logits[:, :7]) < 1e-6 and
      maxdiff(logits2[:, 7:], logits[:, 7:]) > 1e-2,
      "causal: changing tokens 7.. changes only logits 7..")
check(maxdiff(ref.llama_forward(lw, lcfg, toks[:, :5]), logits[:, :5]) < 1e-5,
      "causal: a prefix gives the same logits")


def expand_kv(weights, config, order):
    """MHA weights equivalent to the GQA ones under key/value-head `order`
    ('repeat': head j reads kv head j // n_rep, as in HF; 'tile': j % kv)."""
    heads = config["num_attention_heads"]
    kv = config["num_key_value_heads"]
    out = dict(weights)
    for n in weights:
        if n.endswith(("k_proj.weight", "v_proj.weight")):
            w = weights[n].reshape(kv, -1, weights[n].shape[1])
            w = (np.repeat(w, heads // kv, axis=0) if order == "repeat"
                 else np.tile(w, (heads // kv, 1, 1)))
            out[n] = w.reshape(-1, w.shape[2])
    return out, dict(config, num_key_value_heads=heads)


mha_w, mha_cfg = expand_kv(lw, lcfg, "repeat")
check(maxdiff(ref.llama_forward(mha_w, mha_cfg, toks), logits) < 1e-5,
      "GQA = MHA with repeated key/value heads")
tile_w, tile_cfg = expand_kv(lw, lcfg, "tile")
check(maxdiff(ref.llama_forward(tile_w, tile_cfg, toks), logits) > 1e-2,
      "GQA != MHA with key/value heads in the wrong order")


def one_token_logits(w, cfg, token):
    """Llama logits for a one-token sequence, written out: position 0 has no
    rotation and attention over one key returns its value."""
    eps, heads, kv = (cfg["rms_norm_eps"], cfg["num_attention_heads"],
                      cfg["num_key_value_heads"])
    hd = cfg["hidden_size"] // heads

    def rms(x, g):
        return x / np.sqrt(np.mean(x * x) + eps) * g.astype(np.float64)

    def lin(name, x):
        return w[name + ".weight"].astype(np.float64) @ x

    x = w["model.embed_tokens.weight"][token].astype(np.float64)
    for i in range(cfg["num_hidden_layers"]):
        l = "model.layers.%d." % i
        v = lin(l + "self_attn.v_proj", rms(x, w[l + "input_layernorm.weight"]))
        ctx = np.concatenate([v[(j * kv // heads) * hd:(j * kv // heads + 1) * hd]
                              for j in range(heads)])
        x = x + lin(l + "self_attn.o_proj", ctx)
        h = rms(x, w[l + "post_attention_layernorm.weight"])
        g = lin(l + "mlp.gate_proj", h)
        x = x + lin(l + "mlp.down_proj",
                    g / (1 + np.exp(-g)) * lin(l + "mlp.up_proj", h))
    return lin("lm_head", rms(x, w["model.norm.weight"]))


check(maxdiff(ref.llama_forward(lw, lcfg, toks[:1, :1])[0, 0],
              one_token_logits(lw, lcfg, toks[0, 0])) < 1e-4,
      "one-token logits = the forward written out")

make_models.make_llama(path("tied"), seed=5,
                       config_overrides={"tie_word_embeddings": True})
tw = ref.load_safetensors(path("tied"))
check("lm_head.weight" not in tw and
      maxdiff(ref.llama_forward(tw, ref.load_config(path("tied")), toks[:, :4]),
              ref.llama_forward(dict(tw, **{"lm_head.weight":
                                            tw["model.embed_tokens.weight"]}),
                                dict(lcfg), toks[:, :4])) < 1e-6,
      "tied embeddings: no lm_head, the embedding is the head")

# --------------------------------------------------------------------------
# (c) LoRA.

make_models.main(["lora", path("lora"), "--base", path("llama"),
                  "--targets", "q_proj,v_proj", "--r", "4", "--alpha", "8"])
aw = ref.load_safetensors(path("lora"))
acfg = ref.load_config(path("lora/adapter_config.json"))
check(acfg["peft_type"] == "LORA" and acfg["r"] == 4 and acfg["lora_alpha"] == 8
      and acfg["target_modules"] == ["q_proj", "v_proj"],
      "adapter_config.json fields")
check(len(aw) == 8 and
      aw["base_model.model.model.layers.1.self_attn.v_proj.lora_A.weight"].shape
      == (4, 256) and
      aw["base_model.model.model.layers.1.self_attn.v_proj.lora_B.weight"].shape
      == (64, 4),
      "adapter: A [r, in] and B [out, r] for 2 layers x 2 targets")
merged = ref.apply_lora(lw, aw, acfg)
q = "model.layers.0.self_attn.q_proj"
A = aw["base_model.model.%s.lora_A.weight" % q].astype(np.float64)
B = aw["base_model.model.%s.lora_B.weight" % q].astype(np.float64)
W = lw[q + ".weight"].astype(np.float64)
x = rng.standard_normal((5, 256))
check(maxdiff(x @ merged[q + ".weight"].T.astype(np.float64),
              x @ W.T + 2.0 * (x @ A.T) @ B.T) < 1e-5,
      "x @ merged.T = x @ W.T + (alpha/r) (x @ A.T) @ B.T")
rel = np.linalg.norm(merged[q + ".weight"] - W) / np.linalg.norm(W)
print("LoRA relative weight change %.3f" % rel)
check(0.02 < rel < 0.5, "the adapter changes q_proj noticeably")
check(all(merged[n] is lw[n] for n in lw
          if not n.endswith(("q_proj.weight", "v_proj.weight"))),
      "apply_lora leaves other tensors alone")
lora_logits = ref.llama_forward(merged, lcfg, toks)
check(maxdiff(lora_logits, logits) > 1e-2, "the adapter changes the logits")
named = {n.replace(".weight", ".default.weight"): t for n, t in aw.items()}
check(maxdiff(ref.llama_forward(ref.apply_lora(lw, named, acfg), lcfg, toks),
              lora_logits) == 0.0,
      "'.default' adapter names merge the same")

make_models.make_lora(path("bert-lora"), path("bert"), ["query", "value"], r=2,
                      alpha=4, seed=1)
bmerged = ref.apply_lora(bw, ref.load_safetensors(path("bert-lora")),
                         ref.load_config(path("bert-lora/adapter_config.json")))
check(maxdiff(ref.bert_forward(bmerged, bcfg, bids, bmask), bemb) > 1e-3,
      "a BERT adapter on query/value changes the embeddings")

# --------------------------------------------------------------------------
# (d) Rotary embeddings.

v = rng.standard_normal((3, 7, 32))
pos = np.arange(7)
p, s = 5, 11
check(maxdiff(ref.apply_rope(ref.apply_rope(v, pos + p), np.full(7, s)),
              ref.apply_rope(v, pos + p + s)) < 1e-12,
      "rope: rotating by p then s = rotating by p + s")
check(maxdiff(np.linalg.norm(ref.apply_rope(v, pos, 500.0), axis=-1),
              np.linalg.norm(v, axis=-1)) < 1e-12 and
      maxdiff(ref.apply_rope(v, np.zeros(7)), v) == 0.0,
      "rope preserves norms and position 0 is the identity")
qv, kv = rng.standard_normal((2, 1, 32))
m, n = np.arange(7), np.arange(7)[::-1]
dots = [np.sum(ref.apply_rope(qv, m + d) * ref.apply_rope(kv, n + d), axis=-1)
        for d in (0, 3, 40)]
check(maxdiff(dots[0], dots[1]) < 1e-12 and maxdiff(dots[0], dots[2]) < 1e-12,
      "rope: q.k depends only on the relative position")
e0 = np.zeros((1, 4))
e0[0, 0] = 1.0
check(maxdiff(ref.apply_rope(e0, np.array([2.0])),
              [[np.cos(2.0), 0.0, np.sin(2.0), 0.0]]) < 1e-15,
      "rope pairs dimension i with i + D/2 (rotate_half)")

tmp.cleanup()
finish()
