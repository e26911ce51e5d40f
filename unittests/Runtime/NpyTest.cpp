//===- NpyTest.cpp - .npy reader and writer -------------------------------===//

#include "lowbit/Runtime/Npy.h"

#include "TestUtil.h"

#include <algorithm>
#include <cstring>

using namespace lowbit::runtime;
using namespace lowbit::runtime::test;

namespace {

/// A file with the given version, header text (sent as is) and data size.
std::vector<uint8_t> rawNpy(const std::string &header, size_t dataBytes,
                            uint8_t major = 1, uint8_t minor = 0) {
  std::vector<uint8_t> out = {0x93, 'N', 'U', 'M', 'P', 'Y', major, minor};
  unsigned lengthBytes = major == 1 ? 2 : 4;
  for (unsigned i = 0; i < lengthBytes; ++i)
    out.push_back(uint8_t(header.size() >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.resize(out.size() + dataBytes, 0xab);
  return out;
}

std::string dict(const std::string &descr, const std::string &shape,
                 const std::string &fortran = "False") {
  return "{'descr': '" + descr + "', 'fortran_order': " + fortran +
         ", 'shape': " + shape + ", }\n";
}

Result<NpyHeader> parse(const std::vector<uint8_t> &bytes) {
  return parseNpy(bytes.data(), bytes.size(), "a.npy");
}

TEST(Npy, MatchesNumpySave) {
  // numpy.save(np.zeros((2, 3), np.float32)): 128-byte preamble.
  std::vector<float> zeros(6, 0.0f);
  Result<std::vector<uint8_t>> bytes =
      serializeNpy("<f4", {2, 3}, zeros.data(), 24);
  ASSERT_TRUE(bytes.isOk()) << bytes.message();
  std::string expected("\x93NUMPY\x01\x00\x76\x00", 10);
  expected += "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
  expected.append(118 - 1 - (expected.size() - 10), ' ');
  expected += "\n";
  ASSERT_EQ(bytes->size(), 128u + 24u);
  EXPECT_EQ(std::string(bytes->begin(), bytes->begin() + 128), expected);
}

TEST(Npy, RoundTrip) {
  struct Case {
    const char *descr;
    std::vector<int64_t> shape;
  };
  const Case cases[] = {
      {"<f4", {2, 3}},    {"<f8", {}},     {"<f2", {5}},
      {"<u2", {1, 1, 1}}, {"|i1", {7}},    {"<i4", {0}},
      {"<i8", {3, 0}},    {"|u1", {4}},    {"|b1", {2}},
      {"<u8", {1}},       {"<i2", {2, 2}}, {"<u4", {123456789012, 0}},
  };
  for (const Case &c : cases) {
    Result<int64_t> item = npyItemSize(c.descr);
    ASSERT_TRUE(item.isOk()) << item.message();
    int64_t count = 1;
    for (int64_t d : c.shape)
      count *= d;
    std::vector<uint8_t> data(size_t(count * *item));
    for (size_t i = 0; i < data.size(); ++i)
      data[i] = uint8_t(i * 7 + 1);
    Result<std::vector<uint8_t>> bytes =
        serializeNpy(c.descr, c.shape, data.data(), data.size());
    ASSERT_TRUE(bytes.isOk()) << bytes.message();
    Result<NpyHeader> h = parse(*bytes);
    ASSERT_TRUE(h.isOk()) << c.descr << ": " << h.message();
    EXPECT_EQ(h->majorVersion, 1);
    EXPECT_EQ(h->descr, c.descr);
    EXPECT_EQ(h->shape, c.shape);
    EXPECT_EQ(h->numElements, count);
    EXPECT_EQ(h->itemSize, *item);
    EXPECT_EQ(h->dataOffset % 64, 0u);
    ASSERT_EQ(h->dataBytes, data.size());
    EXPECT_TRUE(std::equal(data.begin(), data.end(),
                           bytes->begin() + int64_t(h->dataOffset)));
  }
}

TEST(Npy, Version2ForLongHeaders) {
  std::vector<int64_t> shape(30000, 1);
  float one = 1;
  Result<std::vector<uint8_t>> bytes = serializeNpy("<f4", shape, &one, 4);
  ASSERT_TRUE(bytes.isOk()) << bytes.message();
  EXPECT_EQ((*bytes)[6], 2);
  Result<NpyHeader> h = parse(*bytes);
  ASSERT_TRUE(h.isOk()) << h.message();
  EXPECT_EQ(h->majorVersion, 2);
  EXPECT_EQ(h->shape.size(), 30000u);
  EXPECT_EQ(h->dataOffset % 64, 0u);
}

TEST(Npy, ReadsVersion3AndOldPadding) {
  Result<NpyHeader> h = parse(rawNpy(dict("<i4", "(2,)"), 8, 3));
  ASSERT_TRUE(h.isOk()) << h.message();
  EXPECT_EQ(h->majorVersion, 3);
  EXPECT_EQ(h->shape, (std::vector<int64_t>{2}));
  // Double quotes, no trailing comma, no padding, any key order.
  h = parse(rawNpy("{\"shape\": (), \"fortran_order\": False, \"descr\": "
                   "\"<f8\"}\n",
                   8));
  ASSERT_TRUE(h.isOk()) << h.message();
  EXPECT_TRUE(h->shape.empty());
  EXPECT_EQ(h->dataBytes, 8u);
}

TEST(Npy, FileRoundTrip) {
  std::string dir = makeTempDir();
  int64_t values[3] = {1, -2, 3};
  ASSERT_TRUE(writeNpy(dir + "/a.npy", "<i8", {3}, values, 24).isOk());
  Result<NpyFile> f = NpyFile::open(dir + "/a.npy");
  ASSERT_TRUE(f.isOk()) << f.message();
  EXPECT_EQ(f->header().descr, "<i8");
  ASSERT_EQ(f->size(), 24u);
  EXPECT_EQ(std::memcmp(f->data(), values, 24), 0);
  EXPECT_TRUE(failsWith(NpyFile::open(dir + "/missing.npy"),
                        {"missing.npy: cannot open"}));
  EXPECT_TRUE(
      failsWith(writeNpy(dir + "/no/such/dir.npy", "<i8", {3}, values, 24),
                {"dir.npy: cannot write"}));
}

TEST(Npy, WriterRejects) {
  float x[2] = {0, 0};
  EXPECT_TRUE(failsWith(serializeNpy("<f4", {3}, x, 8),
                        {"shape (3,) of '<f4' needs 12 bytes, got 8"}));
  EXPECT_TRUE(failsWith(serializeNpy(">f4", {2}, x, 8), {"big-endian"}));
  EXPECT_TRUE(
      failsWith(serializeNpy("<f4", {-2}, x, 8), {"negative dimension"}));
  EXPECT_TRUE(
      failsWith(serializeNpy("<f4", {INT64_MAX, 4}, x, 8), {"overflows"}));
}

TEST(Npy, RejectsPreamble) {
  EXPECT_TRUE(failsWith(parse({}), {"a.npy: not a .npy file"}));
  EXPECT_TRUE(failsWith(parse({'P', 'K', 3, 4, 0, 0, 0, 0, 0, 0}),
                        {"not a .npy file"}));
  EXPECT_TRUE(failsWith(parse(rawNpy(dict("<f4", "()"), 4, 4)),
                        {"unsupported .npy version 4.0"}));
  EXPECT_TRUE(failsWith(parse(rawNpy(dict("<f4", "()"), 4, 1, 1)),
                        {"unsupported .npy version 1.1"}));
  std::vector<uint8_t> b = rawNpy(dict("<f4", "()"), 4, 2);
  b.resize(10);
  EXPECT_TRUE(failsWith(parse(b), {"truncated: the file ends inside the "
                                   "header length"}));
  b = rawNpy(dict("<f4", "()"), 0);
  b.resize(30);
  EXPECT_TRUE(failsWith(parse(b), {"header length", "runs past the end"}));
  std::vector<uint8_t> huge = {0x93, 'N', 'U', 'M', 'P', 'Y',
                               2,    0,   0,   0,   0,   0x10};
  EXPECT_TRUE(failsWith(parse(huge), {"exceeds the limit"}));
}

TEST(Npy, RejectsHeaders) {
  auto fails = [](const std::string &header, const char *part) {
    return failsWith(parse(rawNpy(header, 4)), {"a.npy: ", part});
  };
  EXPECT_TRUE(fails(dict("<f4", "()", "True"), "Fortran-order arrays are not "
                                               "supported"));
  EXPECT_TRUE(fails(dict("<f4", "()", "0"), "expected a string, True, False"));
  EXPECT_TRUE(fails(dict("<f4", "()", "'no'"), "'fortran_order' is not True "
                                               "or False"));
  EXPECT_TRUE(fails(dict(">f4", "()"), "dtype '>f4' is big-endian"));
  EXPECT_TRUE(fails(dict("|O", "()"), "dtype '|O' is an object dtype"));
  EXPECT_TRUE(fails(dict("O", "()"), "object dtype"));
  EXPECT_TRUE(fails(dict("<U1", "()"), "dtype '<U1' is not supported"));
  EXPECT_TRUE(fails(dict("<c8", "()"), "is not supported"));
  EXPECT_TRUE(fails(dict("<f16", "()"), "is not supported"));
  EXPECT_TRUE(fails(dict("=f4", "()"), "has no explicit byte order"));
  EXPECT_TRUE(fails(dict("<i1", "()"), "must use byte order '|'"));
  EXPECT_TRUE(fails(dict("|f4", "()"), "must use byte order '<'"));
  EXPECT_TRUE(fails("{'descr': [('a', '<f4')], 'fortran_order': False, "
                    "'shape': (), }\n",
                    "expected a string, True, False or a tuple"));
  EXPECT_TRUE(fails("{'descr': (), 'fortran_order': False, 'shape': (), }\n",
                    "'descr' is not a string"));
  EXPECT_TRUE(fails(dict("<f4", "[1]"), "expected a string, True, False"));
  EXPECT_TRUE(fails(dict("<f4", "'x'"), "'shape' is not a tuple"));
  EXPECT_TRUE(fails(dict("<f4", "(1)"), "a one-element shape needs a trailing "
                                        "comma"));
  EXPECT_TRUE(fails(dict("<f4", "(-1,)"), "negative dimension"));
  EXPECT_TRUE(fails(dict("<f4", "(01,)"), "leading zero"));
  EXPECT_TRUE(fails(dict("<f4", "(1,,)"), "expected a non-negative integer"));
  EXPECT_TRUE(fails(dict("<f4", "(1 2)"), "expected ',' or ')'"));
  EXPECT_TRUE(fails(dict("<f4", "(1L,)"), "expected ',' or ')'"));
  EXPECT_TRUE(
      fails(dict("<f4", "(99999999999999999999,)"), "does not fit in 64 bits"));
  EXPECT_TRUE(fails("{'descr': '<f4', 'shape': (), }\n",
                    "the header has no 'fortran_order'"));
  EXPECT_TRUE(fails("{'descr': '<f4', 'fortran_order': False, 'shape': (), "
                    "'x': 1}\n",
                    "unknown key 'x'"));
  EXPECT_TRUE(fails("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
                    "'shape': ()}\n",
                    "duplicate key 'descr'"));
  EXPECT_TRUE(fails("{'descr': '<f4', 'fortran_order': False, 'shape': ()}",
                    "final newline"));
  EXPECT_TRUE(fails("{'descr': '<f4', 'fortran_order': False, 'shape': ()}\n\n",
                    "final newline"));
  EXPECT_TRUE(fails("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x\n",
                    "final newline"));
  EXPECT_TRUE(fails("['descr']\n", "expected '{'"));
  EXPECT_TRUE(fails("{'descr' '<f4'}\n", "expected ':'"));
  EXPECT_TRUE(fails("{'descr': '<f4' 'x'}\n", "expected ',' or '}'"));
  EXPECT_TRUE(fails("{'descr': '<f\\x34'}\n", "escapes"));
  EXPECT_TRUE(fails("{'descr: 1}\n", "escapes and newlines"));
  EXPECT_TRUE(fails("{'d\xc3\xa9scr': '<f4'}\n", "not printable ASCII"));
}

TEST(Npy, RejectsDataSize) {
  EXPECT_TRUE(failsWith(parse(rawNpy(dict("<f4", "(2, 3)"), 23)),
                        {"truncated: the shape needs 24 bytes of data, the "
                         "file has 23"}));
  EXPECT_TRUE(failsWith(parse(rawNpy(dict("<f4", "(2, 3)"), 25)),
                        {"1 bytes after the data the shape describes (24 "
                         "bytes)"}));
  EXPECT_TRUE(failsWith(parse(rawNpy(dict("<f4", "(0,)"), 1)),
                        {"1 bytes after the data"}));
  EXPECT_TRUE(
      failsWith(parse(rawNpy(dict("<f4", "(4294967296, 4294967296)"), 0)),
                {"'shape': the element count overflows 64 bits"}));
  EXPECT_TRUE(failsWith(parse(rawNpy(dict("<f8", "(2305843009213693952,)"), 0)),
                        {"'shape': the data size overflows 64 bits"}));
  // A zero dimension makes the rest irrelevant.
  Result<NpyHeader> h =
      parse(rawNpy(dict("<f4", "(4294967296, 4294967296, 0)"), 0));
  ASSERT_TRUE(h.isOk()) << h.message();
  EXPECT_EQ(h->dataBytes, 0u);
}

} // namespace
