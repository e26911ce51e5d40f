//===- Manifest.cpp - Parse and validate an artifact's manifest -----------===//

#include "lowbit/Runtime/Manifest.h"

#include "lowbit/ModelIO/Json.h"

#include <initializer_list>
#include <set>

namespace lowbit::runtime {

using modelio::JsonValue;

namespace {
constexpr int64_t kMaxWeightAlign = 4096;

/// Walks a manifest; every message names the path of the value at fault.
class Checker {
public:
  explicit Checker(const std::string &source) : source(source) {}

  Status fail(const std::string &path, const std::string &what) const {
    std::string msg = source + ": manifest: ";
    if (!path.empty())
      msg += path + ": ";
    return Status::error(msg + what);
  }

  /// Checks that `v` is an object with the fields in `fields`, and no
  /// others but those in `optional`.
  Status object(const JsonValue &v, const std::string &path,
                std::initializer_list<const char *> fields,
                std::initializer_list<const char *> optional = {}) const {
    if (!v.isObject())
      return fail(path, std::string("expected an object, got ") +
                            modelio::jsonKindName(v.kind));
    for (const auto &[key, value] : v.members) {
      bool known = false;
      for (const char *f : fields)
        known |= key == f;
      for (const char *f : optional)
        known |= key == f;
      if (!known)
        return fail(path, "unknown field '" + key + "'");
    }
    for (const char *f : fields)
      if (!v.get(f))
        return fail(path, std::string("missing field '") + f + "'");
    return Status::ok();
  }

  Result<std::string> string(const JsonValue &v,
                             const std::string &path) const {
    if (!v.isString())
      return fail(path, std::string("expected a string, got ") +
                            modelio::jsonKindName(v.kind));
    return v.text;
  }

  /// A string that is a C identifier.
  Result<std::string> identifier(const JsonValue &v,
                                 const std::string &path) const {
    Result<std::string> s = string(v, path);
    if (s && !isCIdentifier(*s))
      return fail(path, "'" + *s + "' is not a C identifier");
    return s;
  }

  /// An integer in [lo, hi].
  Result<int64_t> integer(const JsonValue &v, const std::string &path,
                          int64_t lo, int64_t hi) const {
    if (!v.isNumber() || !v.isInteger || !v.fitsInt64 || v.intValue < lo ||
        v.intValue > hi) {
      std::string got = v.isNumber() ? v.text : modelio::jsonKindName(v.kind);
      return fail(path, "expected an integer in [" + std::to_string(lo) + ", " +
                            std::to_string(hi) + "], got " + got);
    }
    return v.intValue;
  }

  Status array(const JsonValue &v, const std::string &path) const {
    if (!v.isArray())
      return fail(path, std::string("expected an array, got ") +
                            modelio::jsonKindName(v.kind));
    return Status::ok();
  }

  Result<TensorSpec> tensor(const JsonValue &v, const std::string &path) const;
  Result<EntrySpec> entry(const JsonValue &v, const std::string &path) const;
  Result<WeightSpec> weight(const JsonValue &v, const std::string &path) const;

private:
  const std::string &source;
};

Result<TensorSpec> Checker::tensor(const JsonValue &v,
                                   const std::string &path) const {
  if (Status s = object(v, path, {"name", "dtype", "shape"}, {"label"}); !s)
    return s;
  TensorSpec spec;
  Result<std::string> name = identifier(*v.get("name"), path + ".name");
  if (!name)
    return name.status();
  spec.name = *name;
  if (const JsonValue *label = v.get("label")) {
    Result<std::string> text = string(*label, path + ".label");
    if (!text)
      return text.status();
    spec.label = *text;
  }
  Result<std::string> dtype = string(*v.get("dtype"), path + ".dtype");
  if (!dtype)
    return dtype.status();
  const DTypeInfo *info = findDType(*dtype);
  if (!info)
    return fail(path + ".dtype",
                "unknown dtype '" + *dtype +
                    "' (expected f32, f64, f16, bf16, i8, i32 or i64)");
  spec.dtype = info->dtype;
  const JsonValue &shape = *v.get("shape");
  if (Status s = array(shape, path + ".shape"); !s)
    return s;
  for (size_t i = 0; i < shape.items.size(); ++i) {
    Result<int64_t> dim =
        integer(shape.items[i], path + ".shape[" + std::to_string(i) + "]", 0,
                INT64_MAX);
    if (!dim)
      return dim.status();
    spec.shape.push_back(*dim);
  }
  // Any zero dimension makes the count 0, whatever the others are.
  int64_t count = 1;
  bool overflow = false;
  for (int64_t d : spec.shape)
    if (d == 0)
      count = 0;
  for (int64_t d : spec.shape) {
    if (count == 0)
      break;
    if (count > INT64_MAX / d) {
      overflow = true;
      break;
    }
    count *= d;
  }
  if (overflow || count > INT64_MAX / info->size)
    return fail(path + ".shape", "the byte size of " + formatTensorType(spec) +
                                     " overflows 64 bits");
  spec.numElements = count;
  spec.numBytes = count * info->size;
  return spec;
}

Result<EntrySpec> Checker::entry(const JsonValue &v,
                                 const std::string &path) const {
  if (Status s = object(v, path,
                        {"name", "symbol", "packed_symbol", "args", "results"});
      !s)
    return s;
  EntrySpec e;
  Result<std::string> name = identifier(*v.get("name"), path + ".name");
  if (!name)
    return name.status();
  e.name = *name;
  Result<std::string> symbol = identifier(*v.get("symbol"), path + ".symbol");
  if (!symbol)
    return symbol.status();
  e.symbol = *symbol;
  Result<std::string> packed =
      identifier(*v.get("packed_symbol"), path + ".packed_symbol");
  if (!packed)
    return packed.status();
  e.packedSymbol = *packed;
  if (e.symbol == e.packedSymbol)
    return fail(path,
                "'symbol' and 'packed_symbol' are both '" + e.symbol + "'");

  std::set<std::string> names;
  for (const char *list : {"args", "results"}) {
    const JsonValue &items = *v.get(list);
    std::string listPath = path + "." + list;
    if (Status s = array(items, listPath); !s)
      return s;
    for (size_t i = 0; i < items.items.size(); ++i) {
      std::string itemPath = listPath + "[" + std::to_string(i) + "]";
      Result<TensorSpec> t = tensor(items.items[i], itemPath);
      if (!t)
        return t.status();
      if (!names.insert(t->name).second)
        return fail(itemPath + ".name", "duplicate name '" + t->name +
                                            "' in entry '" + e.name + "'");
      (list[0] == 'a' ? e.args : e.results).push_back(std::move(*t));
    }
  }
  return e;
}

Result<WeightSpec> Checker::weight(const JsonValue &v,
                                   const std::string &path) const {
  if (Status s =
          object(v, path, {"name", "bytes", "align"}, {"type", "device"});
      !s)
    return s;
  WeightSpec w;
  Result<std::string> name = string(*v.get("name"), path + ".name");
  if (!name)
    return name.status();
  if (name->empty() || *name == "__metadata__")
    return fail(path + ".name", "'" + *name + "' is not a tensor name");
  w.name = *name;
  Result<int64_t> bytes =
      integer(*v.get("bytes"), path + ".bytes", 0, INT64_MAX - 63);
  if (!bytes)
    return bytes.status();
  w.bytes = *bytes;
  w.paddedBytes = (w.bytes + 63) / 64 * 64;
  Result<int64_t> align =
      integer(*v.get("align"), path + ".align", 1, kMaxWeightAlign);
  if (!align)
    return align.status();
  if ((*align & (*align - 1)) != 0)
    return fail(path + ".align",
                "expected a power of two, got " + std::to_string(*align));
  w.align = *align;
  if (const JsonValue *type = v.get("type")) {
    Result<std::string> text = string(*type, path + ".type");
    if (!text)
      return text.status();
    w.type = *text;
  }
  if (const JsonValue *device = v.get("device")) {
    Result<std::string> symbol = string(*device, path + ".device");
    if (!symbol)
      return symbol.status();
    w.device = *symbol;
  }
  return w;
}
} // namespace

bool isCIdentifier(std::string_view s) {
  if (s.empty() || (s[0] >= '0' && s[0] <= '9'))
    return false;
  for (char c : s)
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
          (c >= '0' && c <= '9') || c == '_'))
      return false;
  return true;
}

std::string formatTensorType(const TensorSpec &spec) {
  std::string out = dtypeInfo(spec.dtype).name;
  out += "[";
  for (size_t i = 0; i < spec.shape.size(); ++i)
    out += (i ? ", " : "") + std::to_string(spec.shape[i]);
  return out + "]";
}

Result<Manifest> parseManifest(std::string_view text,
                               const std::string &source) {
  Checker c(source);
  Result<JsonValue> parsed = modelio::parseJson(text);
  if (!parsed)
    return c.fail("", parsed.message());
  const JsonValue &root = *parsed;
  if (Status s = c.object(
          root, "",
          {"format", "version", "prefix", "target", "entries", "weights"});
      !s)
    return s;

  Manifest m;
  Result<std::string> format = c.string(*root.get("format"), "format");
  if (!format)
    return format.status();
  if (*format != "lowbit-artifact")
    return c.fail("format",
                  "expected \"lowbit-artifact\", got \"" + *format + "\"");
  Result<int64_t> version =
      c.integer(*root.get("version"), "version", INT64_MIN, INT64_MAX);
  if (!version)
    return version.status();
  m.version = *version;
  if (m.version != 1)
    return c.fail("version", "version " + std::to_string(m.version) +
                                 " is not supported (this runtime reads "
                                 "version 1)");
  Result<std::string> prefix = c.string(*root.get("prefix"), "prefix");
  if (!prefix)
    return prefix.status();
  if (!prefix->empty() && !isCIdentifier(*prefix))
    return c.fail("prefix", "'" + *prefix + "' is not a C identifier");
  m.prefix = *prefix;
  Result<std::string> target = c.string(*root.get("target"), "target");
  if (!target)
    return target.status();
  // cuda artifacts call the lowbit CUDA runtime themselves (linked in);
  // loading and calling them is the same.
  if (*target != "cpu" && *target != "cuda")
    return c.fail("target", "target '" + *target +
                                "' is not supported (this runtime runs cpu "
                                "and cuda)");
  m.target = *target;

  const JsonValue &entries = *root.get("entries");
  if (Status s = c.array(entries, "entries"); !s)
    return s;
  if (entries.items.empty())
    return c.fail("entries", "the artifact has no entry points");
  // Entry names, and every symbol the runtime looks up, must be unique.
  std::set<std::string> names;
  std::set<std::string> symbols = {m.prefix + "manifest",
                                   m.prefix + "last_error",
                                   m.prefix + "bind_weights"};
  for (size_t i = 0; i < entries.items.size(); ++i) {
    std::string path = "entries[" + std::to_string(i) + "]";
    Result<EntrySpec> e = c.entry(entries.items[i], path);
    if (!e)
      return e.status();
    if (!names.insert(e->name).second)
      return c.fail(path + ".name", "duplicate entry '" + e->name + "'");
    if (!symbols.insert(e->symbol).second)
      return c.fail(path + ".symbol",
                    "symbol '" + e->symbol + "' is used twice");
    if (!symbols.insert(e->packedSymbol).second)
      return c.fail(path + ".packed_symbol",
                    "symbol '" + e->packedSymbol + "' is used twice");
    m.entries.push_back(std::move(*e));
  }

  const JsonValue &weights = *root.get("weights");
  if (Status s = c.array(weights, "weights"); !s)
    return s;
  std::set<std::string> weightNames;
  for (size_t i = 0; i < weights.items.size(); ++i) {
    std::string path = "weights[" + std::to_string(i) + "]";
    Result<WeightSpec> w = c.weight(weights.items[i], path);
    if (!w)
      return w.status();
    if (!weightNames.insert(w->name).second)
      return c.fail(path + ".name", "duplicate weight '" + w->name + "'");
    m.weights.push_back(std::move(*w));
  }
  return m;
}

} // namespace lowbit::runtime
