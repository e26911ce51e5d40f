//===- Gguf.cpp - Llama from a GGUF file ----------------------------------===//
//
// llama.cpp's GGUF layout of a Llama model: hyperparameters under "llama.*",
// tensors token_embd / blk.N.* / output_norm / output. Its converter permutes
// the rows of attn_q and attn_k so that rotary pairs are adjacent, so the
// graph uses interleaved pairs where Hugging Face's uses rotate_half.
//
//===----------------------------------------------------------------------===//

#include "Models.h"

namespace lowbit::import {

using modelio::GgufFile;
using modelio::GgufValue;
using modelio::GgufValueType;

static std::string quoted(std::string_view s) {
  return "'" + std::string(s) + "'";
}

static Result<int64_t> ggufInt(const GgufFile &f, const std::string &key,
                               std::optional<int64_t> fallback = {}) {
  const GgufValue *v = f.find(key);
  if (!v) {
    if (fallback)
      return *fallback;
    return Status::error(f.path() + ": missing metadata key " + quoted(key));
  }
  std::optional<uint64_t> u = v->asUInt();
  if (!u || *u == 0 || *u > uint64_t(INT32_MAX))
    return Status::error(f.path() + ": metadata key " + quoted(key) +
                         " is not a positive integer (it is a " +
                         std::string(modelio::ggufValueTypeName(v->type)) +
                         ")");
  return int64_t(*u);
}

static Result<double> ggufFloat(const GgufFile &f, const std::string &key,
                                double fallback) {
  const GgufValue *v = f.find(key);
  if (!v)
    return fallback;
  if (v->type == GgufValueType::Float32 || v->type == GgufValueType::Float64)
    return v->f;
  if (std::optional<uint64_t> u = v->asUInt())
    return double(*u);
  return Status::error(f.path() + ": metadata key " + quoted(key) + " is a " +
                       std::string(modelio::ggufValueTypeName(v->type)) +
                       ", expected a number");
}

Result<LlamaSpec> llamaSpecFromGguf(const GgufFile &f,
                                    const TensorSource &tensors) {
  const GgufValue *arch = f.find("general.architecture");
  if (!arch)
    return Status::error(f.path() +
                         ": missing metadata key 'general.architecture'");
  if (arch->type != GgufValueType::String)
    return Status::error(f.path() + ": 'general.architecture' is not a string");
  if (arch->str != "llama")
    return Status::error(f.path() + ": general.architecture '" +
                         std::string(arch->str) +
                         "' is not supported (supported: llama)");
  LlamaSpec s;
  s.configFile = f.path();
  s.rope = RopeLayout::Interleaved;
  auto get = [&](const std::string &key, int64_t &out,
                 std::optional<int64_t> fallback = {}) -> Status {
    Result<int64_t> v = ggufInt(f, key, fallback);
    if (!v)
      return v.status();
    out = *v;
    return Status::ok();
  };
  if (Status st = get("llama.embedding_length", s.hidden); !st)
    return st;
  if (Status st = get("llama.feed_forward_length", s.intermediate); !st)
    return st;
  if (Status st = get("llama.block_count", s.layers); !st)
    return st;
  if (Status st = get("llama.attention.head_count", s.heads); !st)
    return st;
  if (Status st = get("llama.attention.head_count_kv", s.kvHeads, s.heads); !st)
    return st;
  if (s.heads % s.kvHeads)
    return Status::error(
        f.path() + ": llama.attention.head_count " + std::to_string(s.heads) +
        " is not a multiple of llama.attention.head_count_kv " +
        std::to_string(s.kvHeads));
  if (s.hidden % s.heads)
    return Status::error(f.path() + ": llama.embedding_length " +
                         std::to_string(s.hidden) +
                         " is not a multiple of llama.attention.head_count " +
                         std::to_string(s.heads));
  s.headDim = s.hidden / s.heads;
  int64_t ropeDims = 0;
  if (Status st = get("llama.rope.dimension_count", ropeDims, s.headDim); !st)
    return st;
  if (ropeDims != s.headDim || s.headDim % 2)
    return Status::error(f.path() + ": llama.rope.dimension_count " +
                         std::to_string(ropeDims) + " is not the head size " +
                         std::to_string(s.headDim) +
                         "; partial rotary embeddings are not supported");
  if (const GgufValue *scaling = f.find("llama.rope.scaling.type"))
    if (scaling->type != GgufValueType::String || scaling->str != "none")
      return Status::error(f.path() +
                           ": llama.rope.scaling.type is set; scaled rotary "
                           "embeddings are not supported yet");
  Result<double> eps =
      ggufFloat(f, "llama.attention.layer_norm_rms_epsilon", 1e-5);
  if (!eps)
    return eps.status();
  s.eps = *eps;
  Result<double> theta = ggufFloat(f, "llama.rope.freq_base", 10000.0);
  if (!theta)
    return theta.status();
  s.theta = *theta;
  const SourceTensor *embed = tensors.find("token_embd.weight");
  if (!embed)
    return Status::error(f.path() + ": tensor 'token_embd.weight' is missing");
  if (embed->shape.size() != 2)
    return Status::error(f.path() + ": tensor 'token_embd.weight' has shape " +
                         shapeString(embed->shape) +
                         ", expected [vocab, hidden]");
  if (Status st = get("llama.vocab_size", s.vocab, embed->shape[0]); !st)
    return st;
  s.tied = !tensors.find("output.weight");

  s.embed = "token_embd.weight";
  s.finalNorm = "output_norm.weight";
  s.lmHead = "output";
  s.layerPrefix = [](int64_t i) { return "blk." + std::to_string(i) + "."; };
  s.inputNorm = "attn_norm.weight";
  s.postNorm = "ffn_norm.weight";
  s.q = "attn_q";
  s.k = "attn_k";
  s.v = "attn_v";
  s.o = "attn_output";
  s.gate = "ffn_gate";
  s.up = "ffn_up";
  s.down = "ffn_down";
  return s;
}

} // namespace lowbit::import
