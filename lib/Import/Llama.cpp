//===- Llama.cpp - Llama decoders (LlamaForCausalLM, GGUF llama) ----------===//
//
// tokens [B, S] i64 -> logits [B, S, vocab]: RMSNorm, rotary embeddings,
// grouped-query causal attention, SwiGLU MLP, final norm, lm_head (or the
// tied embedding). No KV cache: one full forward pass.
//
//===----------------------------------------------------------------------===//

#include "Models.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include <cmath>

namespace lowbit::import {

using namespace mlir;

Result<LlamaSpec> llamaSpecFromConfig(const ConfigFields &c) {
  LlamaSpec s;
  s.configFile = c.path();
  auto get = [&](const char *key, int64_t &out) -> Status {
    Result<int64_t> v = c.positiveInt(key);
    if (!v)
      return v.status();
    out = *v;
    return Status::ok();
  };
  for (auto [key, out] : {std::pair{"hidden_size", &s.hidden},
                          {"intermediate_size", &s.intermediate},
                          {"num_hidden_layers", &s.layers},
                          {"num_attention_heads", &s.heads},
                          {"vocab_size", &s.vocab}})
    if (Status st = get(key, *out); !st)
      return st;
  Result<int64_t> kv = c.positiveInt("num_key_value_heads", s.heads);
  if (!kv)
    return kv.status();
  s.kvHeads = *kv;
  if (s.heads % s.kvHeads)
    return c.error("'num_attention_heads' " + std::to_string(s.heads) +
                   " is not a multiple of 'num_key_value_heads' " +
                   std::to_string(s.kvHeads));
  if (!c.has("head_dim") && s.hidden % s.heads)
    return c.error("'hidden_size' " + std::to_string(s.hidden) +
                   " is not a multiple of 'num_attention_heads' " +
                   std::to_string(s.heads) + " and 'head_dim' is not given");
  Result<int64_t> headDim = c.positiveInt("head_dim", s.hidden / s.heads);
  if (!headDim)
    return headDim.status();
  s.headDim = *headDim;
  if (s.headDim % 2)
    return c.error("'head_dim' " + std::to_string(s.headDim) +
                   " is odd; rotary embeddings need an even head size");
  Result<double> eps = c.positiveNumber("rms_norm_eps", 1e-6);
  if (!eps)
    return eps.status();
  s.eps = *eps;
  Result<double> theta = c.positiveNumber("rope_theta", 10000.0);
  if (!theta)
    return theta.status();
  s.theta = *theta;
  Result<bool> tied = c.boolean("tie_word_embeddings", false);
  if (!tied)
    return tied.status();
  s.tied = *tied;
  Result<std::string> act = c.string("hidden_act", "silu");
  if (!act)
    return act.status();
  if (*act != "silu")
    return c.error("'hidden_act' is \"" + *act +
                   "\"; lowbit-import supports \"silu\" for Llama");
  if (c.has("rope_scaling"))
    return c.error("'rope_scaling' is set; scaled rotary embeddings are not "
                   "supported yet");
  Result<double> partial = c.number("partial_rotary_factor", 1.0);
  if (!partial)
    return partial.status();
  if (*partial != 1.0)
    return c.error("'partial_rotary_factor' is not 1; partial rotary "
                   "embeddings are not supported");

  s.embed = "model.embed_tokens.weight";
  s.finalNorm = "model.norm.weight";
  s.lmHead = "lm_head";
  s.layerPrefix = [](int64_t i) {
    return "model.layers." + std::to_string(i) + ".";
  };
  s.inputNorm = "input_layernorm.weight";
  s.postNorm = "post_attention_layernorm.weight";
  s.q = "self_attn.q_proj";
  s.k = "self_attn.k_proj";
  s.v = "self_attn.v_proj";
  s.o = "self_attn.o_proj";
  s.gate = "mlp.gate_proj";
  s.up = "mlp.up_proj";
  s.down = "mlp.down_proj";
  return s;
}

Status buildLlama(ModuleOp module, const LlamaSpec &s, ModelBuilder &mb,
                  const ImportOptions &options, ImportSummary &summary) {
  int64_t B = options.batch, S = options.seqLen, H = s.hidden, D = s.headDim,
          N = s.heads, Nkv = s.kvHeads, V = s.vocab, I = s.intermediate;
  OpBuilder &b = mb.graph().builder();
  Graph &g = mb.graph();
  auto i64 = RankedTensorType::get({B, S}, b.getI64Type());
  func::FuncOp func =
      createForward(b, module, {i64}, {"tokens"}, g.tensorType({B, S, V}));
  Value tokens = func.getArgument(0);
  std::string from = "from " + s.configFile;
  std::string hs = "[hidden size] " + from;

  // When the embedding is tied, lm_head reads it; a checkpoint may then
  // omit lm_head.weight.
  bool tied = s.tied || !mb.has(s.lmHead + ".weight");
  Value embed = mb.weight(s.embed, {V, H}, "vocab x hidden " + from);
  if (mb.failed())
    return mb.status();
  Value x = g.collapse(g.gather(tokens, embed, {}, {}), {{0, 1}, {2}});

  // The projections fix D; check it before sizing the rotary tables.
  mb.weight(s.layerPrefix(0) + s.q + ".weight", {N * D, H},
            "[heads × head size, hidden] " + from);
  if (mb.failed())
    return mb.status();

  // cos/sin of position·θ^(-2j/D), j < D/2, computed in double.
  std::vector<float> cosTable, sinTable;
  for (int64_t pos = 0; pos < S; ++pos)
    for (int64_t j = 0; j < D / 2; ++j) {
      double invFreq = 1.0 / std::pow(s.theta, double(2 * j) / double(D));
      double angle = double(pos) * invFreq;
      cosTable.push_back(float(std::cos(angle)));
      sinTable.push_back(float(std::sin(angle)));
    }
  Value cos = g.constant({S, D / 2}, cosTable);
  Value sin = g.constant({S, D / 2}, sinTable);

  Graph::AttentionShape shape{B, S, N, Nkv, D};
  for (int64_t i = 0; i < s.layers; ++i) {
    std::string l = s.layerPrefix(i);
    if (options.progress)
      options.progress("layer " + std::to_string(i + 1) + "/" +
                       std::to_string(s.layers) + " (" +
                       l.substr(0, l.size() - 1) + ")");
    Value h = g.rmsNorm(x, mb.weight(l + s.inputNorm, {H}, hs), s.eps);
    Value q = mb.linear(h, l + s.q, N * D, H);
    Value k = mb.linear(h, l + s.k, Nkv * D, H);
    Value v = mb.linear(h, l + s.v, Nkv * D, H);
    Value ctx =
        g.attention(q, k, v, shape, Value(), /*causal=*/true, cos, sin, s.rope);
    x = g.add(x, mb.linear(ctx, l + s.o, H, N * D));
    h = g.rmsNorm(x, mb.weight(l + s.postNorm, {H}, hs), s.eps);
    Value gate = mb.linear(h, l + s.gate, I, H);
    Value up = mb.linear(h, l + s.up, I, H);
    Value m = g.siluMul(gate, up);
    x = g.add(x, mb.linear(m, l + s.down, H, I));
    if (mb.failed())
      return mb.status();
  }
  x = g.rmsNorm(x, mb.weight(s.finalNorm, {H}, hs), s.eps);
  Value logits = mb.linear(x, s.lmHead, V, H, tied ? s.embed : "");
  if (mb.failed())
    return mb.status();
  func::ReturnOp::create(b, g.location(),
                         g.expand(logits, {B, S, V}, {{0, 1}, {2}}));

  summary.architecture = "llama";
  summary.description =
      std::to_string(s.layers) + " layers, hidden " + std::to_string(H) + ", " +
      std::to_string(N) + " heads (" + std::to_string(Nkv) +
      " key/value), head size " + std::to_string(D) + ", vocab " +
      std::to_string(V) + ", batch " + std::to_string(B) + ", seq " +
      std::to_string(S) + (tied ? ", tied lm_head" : "");
  return Status::ok();
}

} // namespace lowbit::import
