//===- SafetensorsWriter.cpp - safetensors writer -------------------------===//

#include "lowbit/ModelIO/Json.h"
#include "lowbit/ModelIO/Safetensors.h"

#include "Util.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

namespace lowbit::modelio {

using detail::quote;

Result<std::vector<uint8_t>>
serializeSafetensors(const std::vector<TensorToWrite> &tensors,
                     const std::map<std::string, std::string> &metadata,
                     uint64_t dataAlignment) {
  std::vector<const TensorToWrite *> sorted;
  for (const TensorToWrite &t : tensors)
    sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(),
            [](const TensorToWrite *a, const TensorToWrite *b) {
              return a->name < b->name;
            });

  std::string header = "{";
  if (!metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto &[k, v] : metadata) {
      if (!first)
        header += ',';
      first = false;
      appendJsonString(header, k);
      header += ':';
      appendJsonString(header, v);
    }
    header += '}';
  }
  uint64_t offset = 0;
  for (size_t i = 0; i < sorted.size(); ++i) {
    const TensorToWrite &t = *sorted[i];
    if (t.name == "__metadata__")
      return Status::error("tensor name '__metadata__' is reserved");
    if (i > 0 && sorted[i - 1]->name == t.name)
      return Status::error("two tensors named " + quote(t.name));
    Result<uint64_t> bytes = detail::safetensorsBytes(t.dtype, t.shape);
    if (!bytes)
      return Status::error("tensor " + quote(t.name) + ": " + bytes.message());
    if (*bytes != t.bytes.size)
      return Status::error("tensor " + quote(t.name) + ": shape " +
                           detail::shapeString(t.shape) + " of " +
                           std::string(dtypeName(t.dtype)) + " needs " +
                           std::to_string(*bytes) + " bytes, got " +
                           std::to_string(t.bytes.size));
    if (header.size() > 1)
      header += ',';
    appendJsonString(header, t.name);
    header += ":{\"dtype\":\"" + std::string(dtypeName(t.dtype)) +
              "\",\"shape\":" + detail::shapeString(t.shape) +
              ",\"data_offsets\":[" + std::to_string(offset) + "," +
              std::to_string(offset + *bytes) + "]}";
    offset += *bytes;
  }
  header += '}';
  // Names and metadata must be UTF-8 for readers to accept the header.
  if (Result<JsonValue> check = parseJson(header); !check)
    return Status::error("tensor names and metadata must be valid UTF-8: " +
                         check.message());
  // Spaces after the JSON are allowed; they align the data section.
  if (dataAlignment == 0 || dataAlignment % 8 != 0)
    return Status::error("the data alignment must be a positive multiple of 8");
  header.append((dataAlignment - (8 + header.size()) % dataAlignment) %
                    dataAlignment,
                ' ');

  std::vector<uint8_t> out(8 + header.size());
  for (int i = 0; i < 8; ++i)
    out[i] = uint8_t(uint64_t(header.size()) >> (8 * i));
  std::memcpy(out.data() + 8, header.data(), header.size());
  out.reserve(out.size() + offset);
  for (const TensorToWrite *t : sorted)
    if (t->bytes.size)
      out.insert(out.end(), t->bytes.data, t->bytes.data + t->bytes.size);
  return out;
}

Status writeSafetensors(const std::string &path,
                        const std::vector<TensorToWrite> &tensors,
                        const std::map<std::string, std::string> &metadata,
                        uint64_t dataAlignment) {
  Result<std::vector<uint8_t>> bytes =
      serializeSafetensors(tensors, metadata, dataAlignment);
  if (!bytes)
    return Status::error(path + ": " + bytes.message());
  std::FILE *f = std::fopen(path.c_str(), "wb");
  if (!f)
    return Status::error(path + ": cannot create: " + std::strerror(errno));
  size_t n = std::fwrite(bytes->data(), 1, bytes->size(), f);
  bool ok = n == bytes->size();
  ok = (std::fclose(f) == 0) && ok;
  if (!ok)
    return Status::error(path + ": write failed: " + std::strerror(errno));
  return Status::ok();
}

} // namespace lowbit::modelio
