"""Writes a llama.cpp-style GGUF file from a tiny Hugging Face Llama
checkpoint (test/Models/make_models.py llama), the way llama.cpp's
convert_hf_to_gguf.py lays it out: llama.* metadata, token_embd / blk.N.* /
output_norm / output tensors, and the rows of attn_q and attn_k permuted so
that rotary pairs are adjacent.

  make_gguf.py HF_DIR OUT.gguf [--dtype f32|f16|q8_0|q4_0|q4_1|q4_k|q5_0]
               [--arch llama]

--dtype applies to the matrices (token_embd, the projections, output); the
norm vectors stay F32, as llama.cpp keeps them. Q8_0, Q4_0, Q4_1 and Q5_0
blocks come from the gguf package's quantizer (llama.cpp's reference
quantizer); the gguf package has none for Q4_K, so its blocks come from
lowbit's numerics core.
"""

import argparse
import json
import os
import sys

import numpy as np
import gguf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "..", "..", "Models"))
import reference as ref


BLOCK_TYPES = {
    "q8_0": gguf.GGMLQuantizationType.Q8_0,
    "q4_0": gguf.GGMLQuantizationType.Q4_0,
    "q4_1": gguf.GGMLQuantizationType.Q4_1,
    "q4_k": gguf.GGMLQuantizationType.Q4_K,
    "q5_0": gguf.GGMLQuantizationType.Q5_0,
}


def permute(w, heads):
    """convert_hf_to_gguf.py's LlamaModel.permute."""
    return (w.reshape(heads, 2, w.shape[0] // heads // 2, *w.shape[1:])
            .swapaxes(1, 2).reshape(w.shape))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("hf_dir")
    p.add_argument("out")
    p.add_argument("--dtype", default="f32",
                   choices=["f32", "f16"] + list(BLOCK_TYPES))
    p.add_argument("--arch", default="llama")
    args = p.parse_args()

    cfg = ref.load_config(args.hf_dir)
    w = ref.load_safetensors(args.hf_dir)
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    hidden = cfg["hidden_size"]

    out = gguf.GGUFWriter(args.out, args.arch)
    out.add_block_count(cfg["num_hidden_layers"])
    out.add_context_length(cfg["max_position_embeddings"])
    out.add_embedding_length(hidden)
    out.add_feed_forward_length(cfg["intermediate_size"])
    out.add_head_count(heads)
    out.add_head_count_kv(kv)
    out.add_layer_norm_rms_eps(cfg["rms_norm_eps"])
    out.add_rope_freq_base(cfg["rope_theta"])
    out.add_rope_dimension_count(hidden // heads)
    out.add_vocab_size(cfg["vocab_size"])

    def add(name, array, matrix=False):
        array = np.ascontiguousarray(array, dtype=np.float32)
        if matrix and args.dtype == "f16":
            array = array.astype(np.float16)
        if matrix and args.dtype in BLOCK_TYPES:
            qtype = BLOCK_TYPES[args.dtype]
            if qtype == gguf.GGMLQuantizationType.Q4_K:
                import lowbit.numerics as nx
                q = nx.gguf_quantize(array, "q4_k")
            else:
                q = gguf.quants.quantize(array, qtype)
            out.add_tensor(name, q, raw_shape=q.shape, raw_dtype=qtype)
            return
        out.add_tensor(name, array)

    add("token_embd.weight", w["model.embed_tokens.weight"], True)
    for i in range(cfg["num_hidden_layers"]):
        l, b = "model.layers.%d." % i, "blk.%d." % i
        add(b + "attn_norm.weight", w[l + "input_layernorm.weight"])
        add(b + "attn_q.weight", permute(w[l + "self_attn.q_proj.weight"], heads), True)
        add(b + "attn_k.weight", permute(w[l + "self_attn.k_proj.weight"], kv), True)
        add(b + "attn_v.weight", w[l + "self_attn.v_proj.weight"], True)
        add(b + "attn_output.weight", w[l + "self_attn.o_proj.weight"], True)
        add(b + "ffn_norm.weight", w[l + "post_attention_layernorm.weight"])
        add(b + "ffn_gate.weight", w[l + "mlp.gate_proj.weight"], True)
        add(b + "ffn_up.weight", w[l + "mlp.up_proj.weight"], True)
        add(b + "ffn_down.weight", w[l + "mlp.down_proj.weight"], True)
    add("output_norm.weight", w["model.norm.weight"])
    if "lm_head.weight" in w and not cfg.get("tie_word_embeddings"):
        add("output.weight", w["lm_head.weight"], True)

    out.write_header_to_file()
    out.write_kv_data_to_file()
    out.write_tensors_to_file()
    out.close()


if __name__ == "__main__":
    main()
