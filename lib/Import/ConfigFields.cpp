//===- ConfigFields.cpp - Typed fields of a JSON config file --------------===//

#include "ConfigFields.h"
#include "TensorSource.h"

#include <cmath>

namespace lowbit::import {

using modelio::JsonValue;

Result<ConfigFields> ConfigFields::parse(std::string_view text,
                                         const std::string &path) {
  Result<JsonValue> json = modelio::parseJson(text);
  if (!json)
    return Status::error(path + ": " + json.message());
  if (!json->isObject())
    return Status::error(path + ": the top level is " +
                         modelio::jsonKindName(json->kind) +
                         ", expected an object");
  ConfigFields fields;
  fields.file = path;
  fields.json = std::move(*json);
  return fields;
}

Result<ConfigFields> ConfigFields::read(const std::string &path) {
  Result<std::string> text = readTextFile(path);
  if (!text)
    return text.status();
  return parse(*text, path);
}

const JsonValue *ConfigFields::field(const char *key) const {
  const JsonValue *v = json.get(key);
  return v && !v->isNull() ? v : nullptr;
}

bool ConfigFields::has(const char *key) const { return field(key); }

Status ConfigFields::illTyped(const char *key, const JsonValue &v,
                              const char *expected) const {
  std::string got = modelio::jsonKindName(v.kind);
  if (v.isNumber() || v.isString())
    got += " (" + (v.isString() ? "\"" + v.text + "\"" : v.text) + ")";
  return error("'" + std::string(key) + "' is " + got + ", expected " +
               expected);
}

Result<int64_t> ConfigFields::positiveInt(const char *key) const {
  const JsonValue *v = field(key);
  if (!v)
    return error("missing field '" + std::string(key) + "'");
  if (!v->isNumber() || !v->isInteger || !v->fitsInt64 || v->intValue <= 0)
    return illTyped(key, *v, "a positive integer");
  return v->intValue;
}

Result<int64_t> ConfigFields::positiveInt(const char *key,
                                          int64_t fallback) const {
  if (!field(key))
    return fallback;
  return positiveInt(key);
}

Result<double> ConfigFields::number(const char *key, double fallback) const {
  const JsonValue *v = field(key);
  if (!v)
    return fallback;
  if (!v->isNumber() || !std::isfinite(v->number))
    return illTyped(key, *v, "a number");
  return v->number;
}

Result<double> ConfigFields::positiveNumber(const char *key,
                                            double fallback) const {
  Result<double> n = number(key, fallback);
  if (n && !(*n > 0.0))
    return illTyped(key, *field(key), "a positive number");
  return n;
}

Result<bool> ConfigFields::boolean(const char *key, bool fallback) const {
  const JsonValue *v = field(key);
  if (!v)
    return fallback;
  if (!v->isBool())
    return illTyped(key, *v, "true or false");
  return v->boolean;
}

Result<std::string> ConfigFields::string(const char *key) const {
  const JsonValue *v = field(key);
  if (!v)
    return error("missing field '" + std::string(key) + "'");
  if (!v->isString())
    return illTyped(key, *v, "a string");
  return v->text;
}

Result<std::string> ConfigFields::string(const char *key,
                                         const std::string &fallback) const {
  if (!field(key))
    return fallback;
  return string(key);
}

} // namespace lowbit::import
