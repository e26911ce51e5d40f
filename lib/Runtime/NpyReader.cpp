//===- NpyReader.cpp - Strict .npy reader ---------------------------------===//

#include "lowbit/Runtime/Npy.h"

#include <cstring>
#include <optional>

namespace lowbit::runtime {

namespace {
constexpr char kMagic[] = "\x93NUMPY";
constexpr uint64_t kMagicBytes = 6;
/// numpy refuses headers over 10,000 bytes by default; allow more, bounded.
constexpr uint64_t kMaxHeaderBytes = 1 << 20;

/// The value of one header key.
struct HeaderValue {
  enum Kind { String, Bool, Tuple, Other } kind = Other;
  std::string text;
  bool boolean = false;
  std::vector<int64_t> items;
};

/// Parses the dict literal numpy writes: string keys, and string, bool and
/// tuple-of-integers values. Anything else is an error.
class HeaderParser {
public:
  HeaderParser(std::string_view text, const std::string &name)
      : text(text), name(name) {}

  Status parse(std::optional<HeaderValue> &descr,
               std::optional<HeaderValue> &fortran,
               std::optional<HeaderValue> &shape);

private:
  Status fail(const std::string &what) const {
    return Status::error(name + ": header byte " + std::to_string(pos) + ": " +
                         what);
  }
  void skipSpaces() {
    while (pos < text.size() && (text[pos] == ' ' || text[pos] == '\t'))
      ++pos;
  }
  bool eat(char c) {
    skipSpaces();
    if (pos < text.size() && text[pos] == c) {
      ++pos;
      return true;
    }
    return false;
  }
  bool startsWith(std::string_view word) const {
    return text.substr(pos, word.size()) == word;
  }
  Status string(std::string &out);
  Status integer(int64_t &out);
  Status value(HeaderValue &out);

  std::string_view text;
  const std::string &name;
  size_t pos = 0;
};

Status HeaderParser::string(std::string &out) {
  skipSpaces();
  if (pos >= text.size() || (text[pos] != '\'' && text[pos] != '"'))
    return fail("expected a string");
  char quote = text[pos++];
  size_t start = pos;
  while (pos < text.size() && text[pos] != quote) {
    if (text[pos] == '\\' || text[pos] == '\n')
      return fail("escapes and newlines in strings are not supported");
    ++pos;
  }
  if (pos >= text.size())
    return fail("unterminated string");
  out.assign(text.substr(start, pos - start));
  ++pos;
  return Status::ok();
}

Status HeaderParser::integer(int64_t &out) {
  skipSpaces();
  size_t start = pos;
  if (pos < text.size() && text[pos] == '-')
    return fail("negative dimension");
  uint64_t v = 0;
  while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
    uint64_t digit = uint64_t(text[pos] - '0');
    if (v > (uint64_t(INT64_MAX) - digit) / 10)
      return fail("dimension does not fit in 64 bits");
    v = v * 10 + digit;
    ++pos;
  }
  if (pos == start)
    return fail("expected a non-negative integer");
  if (text[start] == '0' && pos - start > 1)
    return fail("integer with a leading zero");
  out = int64_t(v);
  return Status::ok();
}

Status HeaderParser::value(HeaderValue &out) {
  skipSpaces();
  if (pos < text.size() && (text[pos] == '\'' || text[pos] == '"')) {
    out.kind = HeaderValue::String;
    return string(out.text);
  }
  if (startsWith("True") || startsWith("False")) {
    out.kind = HeaderValue::Bool;
    out.boolean = startsWith("True");
    pos += out.boolean ? 4 : 5;
    return Status::ok();
  }
  if (eat('(')) {
    out.kind = HeaderValue::Tuple;
    bool trailingComma = false;
    while (!eat(')')) {
      int64_t v;
      if (Status s = integer(v); !s)
        return s;
      out.items.push_back(v);
      trailingComma = eat(',');
      if (!trailingComma) {
        if (!eat(')'))
          return fail("expected ',' or ')' in the shape");
        break;
      }
    }
    // "(3)" is the integer 3 in Python, not a tuple.
    if (out.items.size() == 1 && !trailingComma)
      return fail("a one-element shape needs a trailing comma: (n,)");
    return Status::ok();
  }
  return fail("expected a string, True, False or a tuple of integers");
}

Status HeaderParser::parse(std::optional<HeaderValue> &descr,
                           std::optional<HeaderValue> &fortran,
                           std::optional<HeaderValue> &shape) {
  if (!eat('{'))
    return fail("expected '{'");
  while (!eat('}')) {
    std::string key;
    if (Status s = string(key); !s)
      return s;
    std::optional<HeaderValue> *slot = key == "descr"           ? &descr
                                       : key == "fortran_order" ? &fortran
                                       : key == "shape"         ? &shape
                                                                : nullptr;
    if (!slot)
      return fail("unknown key '" + key + "'");
    if (slot->has_value())
      return fail("duplicate key '" + key + "'");
    if (!eat(':'))
      return fail("expected ':' after '" + key + "'");
    HeaderValue v;
    if (Status s = value(v); !s)
      return s;
    *slot = std::move(v);
    if (!eat(',')) {
      if (!eat('}'))
        return fail("expected ',' or '}'");
      break;
    }
  }
  skipSpaces();
  if (pos + 1 != text.size() || text[pos] != '\n')
    return fail("expected spaces and a final newline after the dict");
  return Status::ok();
}

uint32_t readLE(const uint8_t *p, unsigned n) {
  uint32_t v = 0;
  for (unsigned i = 0; i < n; ++i)
    v |= uint32_t(p[i]) << (8 * i);
  return v;
}
} // namespace

Result<int64_t> npyItemSize(const std::string &descr) {
  auto bad = [&](const std::string &why) {
    return Status::error("dtype '" + descr + "' " + why);
  };
  if (descr == "O" || (descr.size() >= 2 && descr[1] == 'O'))
    return bad("is an object dtype, which is not supported");
  if (descr.size() < 3)
    return bad("is not supported");
  char order = descr[0], kind = descr[1];
  if (order == '>')
    return bad("is big-endian, which is not supported");
  if (order != '<' && order != '|')
    return bad("has no explicit byte order ('<' or '|')");
  std::string digits = descr.substr(2);
  int64_t size = digits == "1"   ? 1
                 : digits == "2" ? 2
                 : digits == "4" ? 4
                 : digits == "8" ? 8
                                 : 0;
  bool ok = (kind == 'f' && size >= 2) || kind == 'i' || kind == 'u' ||
            (kind == 'b' && size == 1);
  if (!ok || size == 0)
    return bad("is not supported (booleans, integers and floats only)");
  if ((size == 1) != (order == '|'))
    return bad(size == 1 ? "must use byte order '|'"
                         : "must use byte order '<'");
  return size;
}

Result<NpyHeader> parseNpy(const uint8_t *bytes, uint64_t size,
                           const std::string &name) {
  auto fail = [&](const std::string &what) {
    return Status::error(name + ": " + what);
  };
  if (size < kMagicBytes + 2 || std::memcmp(bytes, kMagic, kMagicBytes) != 0)
    return fail("not a .npy file (no \\x93NUMPY magic)");
  NpyHeader h;
  h.majorVersion = bytes[6];
  if (h.majorVersion < 1 || h.majorVersion > 3 || bytes[7] != 0)
    return fail("unsupported .npy version " + std::to_string(bytes[6]) + "." +
                std::to_string(bytes[7]));
  unsigned lengthBytes = h.majorVersion == 1 ? 2 : 4;
  uint64_t preamble = kMagicBytes + 2 + lengthBytes;
  if (size < preamble)
    return fail("truncated: the file ends inside the header length");
  uint64_t headerBytes = readLE(bytes + kMagicBytes + 2, lengthBytes);
  if (headerBytes > kMaxHeaderBytes)
    return fail("header length " + std::to_string(headerBytes) +
                " exceeds the limit of " + std::to_string(kMaxHeaderBytes));
  if (headerBytes > size - preamble)
    return fail("header length " + std::to_string(headerBytes) +
                " runs past the end of the file (" + std::to_string(size) +
                " bytes)");
  std::string_view text(reinterpret_cast<const char *>(bytes + preamble),
                        headerBytes);
  for (char c : text)
    if ((unsigned char)c >= 0x80 || (c < 0x20 && c != '\n' && c != '\t'))
      return fail("the header has a byte that is not printable ASCII");

  std::optional<HeaderValue> descr, fortran, shape;
  if (Status s = HeaderParser(text, name).parse(descr, fortran, shape); !s)
    return s;
  if (!descr || !fortran || !shape)
    return fail(std::string("the header has no '") +
                (!descr     ? "descr"
                 : !fortran ? "fortran_order"
                            : "shape") +
                "'");
  if (descr->kind != HeaderValue::String)
    return fail("'descr' is not a string (structured dtypes are not "
                "supported)");
  if (fortran->kind != HeaderValue::Bool)
    return fail("'fortran_order' is not True or False");
  if (fortran->boolean)
    return fail("'fortran_order' is True: Fortran-order arrays are not "
                "supported (save a C-order copy)");
  if (shape->kind != HeaderValue::Tuple)
    return fail("'shape' is not a tuple");
  Result<int64_t> itemSize = npyItemSize(descr->text);
  if (!itemSize)
    return fail("'descr': " + itemSize.message());
  h.descr = descr->text;
  h.itemSize = *itemSize;
  h.shape = shape->items;

  uint64_t elements = 1;
  for (int64_t d : h.shape)
    if (d == 0)
      elements = 0;
  for (int64_t d : h.shape)
    if (elements != 0 &&
        (__builtin_mul_overflow(elements, uint64_t(d), &elements) ||
         elements > uint64_t(INT64_MAX)))
      return fail("'shape': the element count overflows 64 bits");
  uint64_t dataBytes;
  if (__builtin_mul_overflow(elements, uint64_t(h.itemSize), &dataBytes) ||
      dataBytes > uint64_t(INT64_MAX))
    return fail("'shape': the data size overflows 64 bits");
  h.numElements = int64_t(elements);
  h.dataOffset = preamble + headerBytes;
  h.dataBytes = dataBytes;
  uint64_t available = size - h.dataOffset;
  if (available < dataBytes)
    return fail("truncated: the shape needs " + std::to_string(dataBytes) +
                " bytes of data, the file has " + std::to_string(available));
  if (available > dataBytes)
    return fail(std::to_string(available - dataBytes) +
                " bytes after the data the shape describes (" +
                std::to_string(dataBytes) + " bytes)");
  return h;
}

Result<NpyFile> NpyFile::open(const std::string &path) {
  Result<modelio::FileBuffer> buffer = modelio::FileBuffer::open(path);
  if (!buffer)
    return buffer.status();
  Result<NpyHeader> header = parseNpy(buffer->data(), buffer->size(), path);
  if (!header)
    return header.status();
  NpyFile f;
  f.head = std::move(*header);
  f.buffer = std::make_unique<modelio::FileBuffer>(std::move(*buffer));
  return f;
}

} // namespace lowbit::runtime
