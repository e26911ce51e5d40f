//===- Bert.cpp - BERT encoders (Hugging Face BertModel) ------------------===//
//
// input_ids, attention_mask [B, S] i64 -> last hidden state [B, S, H], or a
// pooled (mean / CLS), optionally L2-normalized, [B, H] as
// sentence-transformers computes it.
//
//===----------------------------------------------------------------------===//

#include "Models.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"

#include "llvm/ADT/SmallString.h"
#include "llvm/Support/Path.h"

namespace lowbit::import {

using namespace mlir;

namespace {

struct BertSpec {
  int64_t hidden, layers, heads, intermediate, vocab, positions, typeVocab;
  double eps;
};

/// What the sentence-transformers files say about pooling.
struct SentenceTransformers {
  bool present = false;
  Pooling pooling = Pooling::None;
  bool normalize = false;
  std::string poolingFile;
};

} // namespace

static Result<BertSpec> bertSpec(const ConfigFields &c) {
  BertSpec s;
  auto get = [&](const char *key, int64_t &out) -> Status {
    Result<int64_t> v = c.positiveInt(key);
    if (!v)
      return v.status();
    out = *v;
    return Status::ok();
  };
  for (auto [key, out] : {std::pair{"hidden_size", &s.hidden},
                          {"num_hidden_layers", &s.layers},
                          {"num_attention_heads", &s.heads},
                          {"intermediate_size", &s.intermediate},
                          {"vocab_size", &s.vocab},
                          {"max_position_embeddings", &s.positions}})
    if (Status st = get(key, *out); !st)
      return st;
  Result<int64_t> types = c.positiveInt("type_vocab_size", 2);
  if (!types)
    return types.status();
  s.typeVocab = *types;
  Result<double> eps = c.positiveNumber("layer_norm_eps", 1e-12);
  if (!eps)
    return eps.status();
  s.eps = *eps;
  Result<std::string> act = c.string("hidden_act", "gelu");
  if (!act)
    return act.status();
  if (*act != "gelu")
    return c.error("'hidden_act' is \"" + *act +
                   "\"; lowbit-import supports \"gelu\" (exact GELU) for "
                   "BERT");
  Result<std::string> pos = c.string("position_embedding_type", "absolute");
  if (!pos)
    return pos.status();
  if (*pos != "absolute")
    return c.error("'position_embedding_type' is \"" + *pos +
                   "\"; lowbit-import supports \"absolute\"");
  if (s.hidden % s.heads)
    return c.error("'hidden_size' " + std::to_string(s.hidden) +
                   " is not a multiple of 'num_attention_heads' " +
                   std::to_string(s.heads));
  return s;
}

static Result<SentenceTransformers>
readSentenceTransformers(const std::string &dir) {
  SentenceTransformers st;
  llvm::SmallString<256> modulesPath(dir);
  llvm::sys::path::append(modulesPath, "modules.json");
  std::string modulesFile(modulesPath);
  if (!fileExists(modulesFile))
    return st;
  st.present = true;
  Result<std::string> text = readTextFile(modulesFile);
  if (!text)
    return text.status();
  Result<modelio::JsonValue> json = modelio::parseJson(*text);
  if (!json)
    return Status::error(modulesFile + ": " + json.message());
  if (!json->isArray())
    return Status::error(modulesFile + ": the top level is " +
                         modelio::jsonKindName(json->kind) +
                         ", expected a list of modules");
  std::string poolingDir;
  for (size_t i = 0; i < json->items.size(); ++i) {
    const modelio::JsonValue &m = json->items[i];
    const modelio::JsonValue *type = m.isObject() ? m.get("type") : nullptr;
    if (!type || !type->isString())
      return Status::error(modulesFile + ": module " + std::to_string(i) +
                           " has no string field 'type'");
    StringRef t(type->text);
    if (t.ends_with(".Pooling")) {
      const modelio::JsonValue *path = m.get("path");
      if (!path || !path->isString())
        return Status::error(modulesFile + ": the Pooling module has no "
                                           "string field 'path'");
      poolingDir = path->text;
    } else if (t.ends_with(".Normalize")) {
      st.normalize = true;
    } else if (!t.ends_with(".Transformer")) {
      return Status::error(modulesFile + ": module type '" + type->text +
                           "' is not supported (Transformer, Pooling and "
                           "Normalize are)");
    }
  }
  if (poolingDir.empty())
    return st; // No pooling module: token embeddings.
  llvm::SmallString<256> cfgPath(dir);
  llvm::sys::path::append(cfgPath, poolingDir, "config.json");
  st.poolingFile = std::string(cfgPath);
  Result<ConfigFields> cfg = ConfigFields::read(st.poolingFile);
  if (!cfg)
    return cfg.status();
  std::vector<std::string> modes;
  for (const char *mode :
       {"pooling_mode_cls_token", "pooling_mode_mean_tokens",
        "pooling_mode_max_tokens", "pooling_mode_mean_sqrt_len_tokens",
        "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    Result<bool> on = cfg->boolean(mode, false);
    if (!on)
      return on.status();
    if (*on)
      modes.push_back(mode);
  }
  if (modes.size() != 1)
    return cfg->error(modes.empty()
                          ? std::string("no pooling mode is set")
                          : "several pooling modes are set ('" + modes[0] +
                                "', '" + modes[1] +
                                "'); choose one with --pooling=mean|cls|none");
  if (modes[0] == "pooling_mode_mean_tokens")
    st.pooling = Pooling::Mean;
  else if (modes[0] == "pooling_mode_cls_token")
    st.pooling = Pooling::Cls;
  else
    return cfg->error("'" + modes[0] +
                      "' is not supported; use --pooling=mean|cls|none");
  return st;
}

static const char *poolingName(Pooling p) {
  switch (p) {
  case Pooling::Mean:
    return "mean";
  case Pooling::Cls:
    return "cls";
  case Pooling::None:
    return "none";
  case Pooling::Auto:
    break;
  }
  return "auto";
}

Status buildBert(ModuleOp module, const ConfigFields &config,
                 const std::string &modelDir, ModelBuilder &mb,
                 const ImportOptions &options, ImportSummary &summary) {
  Result<BertSpec> specOr = bertSpec(config);
  if (!specOr)
    return specOr.status();
  const BertSpec &s = *specOr;
  int64_t B = options.batch, S = options.seqLen, H = s.hidden, D = H / s.heads;
  if (S > s.positions)
    return config.error("--seq-len=" + std::to_string(S) +
                        " exceeds 'max_position_embeddings' " +
                        std::to_string(s.positions));

  // Output: options first, then the sentence-transformers files.
  Result<SentenceTransformers> stOr = readSentenceTransformers(modelDir);
  if (!stOr)
    return stOr.status();
  Pooling pooling =
      options.pooling != Pooling::Auto ? options.pooling : stOr->pooling;
  bool normalize;
  if (options.normalize == Normalize::Auto)
    normalize = pooling != Pooling::None && stOr->normalize;
  else
    normalize = options.normalize == Normalize::On;
  if (normalize && pooling == Pooling::None)
    return Status::error("--normalize=on needs a pooled output: the "
                         "pooling is 'none' (use --pooling=mean or cls)");

  // Checkpoints of BertModel have no prefix; task models add "bert.".
  std::string p;
  if (mb.has("bert.embeddings.word_embeddings.weight"))
    p = "bert.";
  else if (!mb.has("embeddings.word_embeddings.weight"))
    return Status::error(mb.source().describe() +
                         ": tensor 'embeddings.word_embeddings.weight' (or "
                         "'bert.embeddings.word_embeddings.weight') is "
                         "missing; is this a BERT checkpoint?");

  OpBuilder &b = mb.graph().builder();
  Graph &g = mb.graph();
  auto i64 = RankedTensorType::get({B, S}, b.getI64Type());
  Type result =
      pooling == Pooling::None ? g.tensorType({B, S, H}) : g.tensorType({B, H});
  func::FuncOp func = createForward(b, module, {i64, i64},
                                    {"input_ids", "attention_mask"}, result);
  Value ids = func.getArgument(0), mask = func.getArgument(1);

  std::string e = p + "embeddings.";
  std::string fromConfig = "from " + config.path();
  std::string hs = "[hidden_size] " + fromConfig;
  Value word = mb.weight(e + "word_embeddings.weight", {s.vocab, H},
                         "vocab_size x hidden_size " + fromConfig);
  Value pos = mb.weight(e + "position_embeddings.weight", {s.positions, H},
                        "max_position_embeddings x hidden_size " + fromConfig);
  Value type = mb.weight(e + "token_type_embeddings.weight", {s.typeVocab, H},
                         "type_vocab_size x hidden_size " + fromConfig);
  Value lnG = mb.weight(e + "LayerNorm.weight", {H}, hs);
  Value lnB = mb.weight(e + "LayerNorm.bias", {H}, hs);
  if (mb.failed())
    return mb.status();
  // Positions 0..S-1, token type 0.
  Value posRows = g.slice(pos, {0, 0}, {S, H}, {S, H});
  Value typeRow = g.slice(type, {0, 0}, {1, H}, {H});
  Value x = g.gather(ids, word, {posRows, typeRow},
                     {g.map(3, {1, 2}), g.map(3, {2})});
  x = g.collapse(x, {{0, 1}, {2}});
  x = g.layerNorm(x, lnG, lnB, s.eps);
  Value bias = g.maskBias(mask);

  Graph::AttentionShape shape{B, S, s.heads, s.heads, D};
  for (int64_t i = 0; i < s.layers; ++i) {
    std::string l = p + "encoder.layer." + std::to_string(i) + ".";
    if (options.progress)
      options.progress("layer " + std::to_string(i + 1) + "/" +
                       std::to_string(s.layers) + " (" +
                       l.substr(0, l.size() - 1) + ")");
    std::string a = l + "attention.";
    Value q = mb.linear(x, a + "self.query", H, H);
    Value k = mb.linear(x, a + "self.key", H, H);
    Value v = mb.linear(x, a + "self.value", H, H);
    Value ctx = g.attention(q, k, v, shape, bias, /*causal=*/false);
    Value attnOut = mb.linear(ctx, a + "output.dense", H, H);
    Value g1 = mb.weight(a + "output.LayerNorm.weight", {H}, hs);
    Value b1 = mb.weight(a + "output.LayerNorm.bias", {H}, hs);
    x = g.layerNorm(g.add(attnOut, x), g1, b1, s.eps);
    Value h = g.gelu(mb.linear(x, l + "intermediate.dense", s.intermediate, H));
    Value out = mb.linear(h, l + "output.dense", H, s.intermediate);
    Value g2 = mb.weight(l + "output.LayerNorm.weight", {H}, hs);
    Value b2 = mb.weight(l + "output.LayerNorm.bias", {H}, hs);
    x = g.layerNorm(g.add(out, x), g2, b2, s.eps);
    if (mb.failed())
      return mb.status();
  }

  Value x3 = g.expand(x, {B, S, H}, {{0, 1}, {2}});
  Value out = x3;
  if (pooling == Pooling::Mean)
    out = g.meanPool(x3, mask);
  else if (pooling == Pooling::Cls)
    out = g.slice(x3, {0, 0, 0}, {B, 1, H}, {B, H});
  if (normalize)
    out = g.l2Normalize(out);
  func::ReturnOp::create(b, g.location(), out);

  summary.architecture = "bert";
  summary.description =
      std::to_string(s.layers) + " layers, hidden " + std::to_string(H) + ", " +
      std::to_string(s.heads) + " heads, batch " + std::to_string(B) +
      ", seq " + std::to_string(S) + ", pooling " + poolingName(pooling) +
      (pooling == Pooling::None ? std::string()
       : normalize              ? ", normalized"
                                : ", not normalized") +
      (options.pooling == Pooling::Auto && stOr->present
           ? " (from sentence-transformers modules.json)"
           : "");
  return Status::ok();
}

} // namespace lowbit::import
