//===- ConfigFields.h - Typed fields of a JSON config file ------*- C++ -*-===//
//
// Reads fields of a config.json-like object with messages that name the file
// and the field: "<file>: missing field 'hidden_size'", "<file>: 'rope_theta'
// is a string, expected a number".
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_IMPORT_CONFIGFIELDS_H
#define LOWBIT_LIB_IMPORT_CONFIGFIELDS_H

#include "lowbit/ModelIO/Json.h"

#include <cstdint>
#include <string>

namespace lowbit::import {

using numerics::Result;
using numerics::Status;

class ConfigFields {
public:
  /// Reads and parses `path`; its root must be an object.
  static Result<ConfigFields> read(const std::string &path);
  static Result<ConfigFields> parse(std::string_view text,
                                    const std::string &path);

  const std::string &path() const { return file; }
  const modelio::JsonValue &root() const { return json; }
  bool has(const char *key) const;

  /// A positive integer (a JSON integer, not 2.0).
  Result<int64_t> positiveInt(const char *key) const;
  Result<int64_t> positiveInt(const char *key, int64_t fallback) const;
  /// A finite number; `fallback` when the field is missing or null.
  Result<double> number(const char *key, double fallback) const;
  Result<double> positiveNumber(const char *key, double fallback) const;
  Result<bool> boolean(const char *key, bool fallback) const;
  Result<std::string> string(const char *key) const;
  Result<std::string> string(const char *key,
                             const std::string &fallback) const;

  /// "<file>: <message>".
  Status error(const std::string &message) const {
    return Status::error(file + ": " + message);
  }

private:
  const modelio::JsonValue *field(const char *key) const;
  Status illTyped(const char *key, const modelio::JsonValue &v,
                  const char *expected) const;

  std::string file;
  modelio::JsonValue json;
};

} // namespace lowbit::import

#endif // LOWBIT_LIB_IMPORT_CONFIGFIELDS_H
