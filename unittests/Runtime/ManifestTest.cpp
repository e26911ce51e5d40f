//===- ManifestTest.cpp - Artifact manifest validation --------------------===//

#include "lowbit/Runtime/Manifest.h"

#include "TestUtil.h"

#include <cstring>

using namespace lowbit::runtime;
using lowbit::runtime::test::failsWith;

namespace {

const char kValid[] =
    R"({"format":"lowbit-artifact","version":1,"prefix":"lowbit_",)"
    R"("target":"cpu","entries":[)"
    R"({"name":"forward","symbol":"lowbit_forward",)"
    R"("packed_symbol":"lowbit_forward_packed",)"
    R"("args":[{"name":"input_ids","dtype":"i64","shape":[1,16]},)"
    R"({"name":"scale","dtype":"bf16","shape":[]}],)"
    R"("results":[{"name":"result0","dtype":"f32","shape":[1,384]},)"
    R"({"name":"result1","dtype":"f16","shape":[0,7]}]}],)"
    R"("weights":[{"name":"w0","bytes":589824,"align":64,)"
    R"("type":"tensor<384x384xf32>"},)"
    R"({"name":"w.1","bytes":3,"align":1}]})";

/// kValid with the first occurrence of `from` replaced by `to`.
std::string with(const std::string &from, const std::string &to) {
  std::string s = kValid;
  size_t at = s.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos)
    s.replace(at, from.size(), to);
  return s;
}

Result<Manifest> parse(const std::string &text) {
  return parseManifest(text, "m.so");
}

TEST(Manifest, Valid) {
  Result<Manifest> m = parse(kValid);
  ASSERT_TRUE(m.isOk()) << m.message();
  EXPECT_EQ(m->version, 1);
  EXPECT_EQ(m->prefix, "lowbit_");
  EXPECT_EQ(m->target, "cpu");
  ASSERT_EQ(m->entries.size(), 1u);
  const EntrySpec &e = m->entries[0];
  EXPECT_EQ(e.name, "forward");
  EXPECT_EQ(e.symbol, "lowbit_forward");
  EXPECT_EQ(e.packedSymbol, "lowbit_forward_packed");
  ASSERT_EQ(e.args.size(), 2u);
  EXPECT_EQ(e.args[0].dtype, DType::I64);
  EXPECT_EQ(e.args[0].shape, (std::vector<int64_t>{1, 16}));
  EXPECT_EQ(e.args[0].numElements, 16);
  EXPECT_EQ(e.args[0].numBytes, 128);
  EXPECT_EQ(e.args[1].dtype, DType::BF16);
  EXPECT_TRUE(e.args[1].shape.empty());
  EXPECT_EQ(e.args[1].numElements, 1);
  EXPECT_EQ(e.args[1].numBytes, 2);
  ASSERT_EQ(e.results.size(), 2u);
  EXPECT_EQ(e.results[0].numBytes, 384 * 4);
  EXPECT_EQ(e.results[1].numElements, 0);
  EXPECT_EQ(formatTensorType(e.results[1]), "f16[0, 7]");
  ASSERT_EQ(m->weights.size(), 2u);
  EXPECT_EQ(m->weights[0].bytes, 589824);
  EXPECT_EQ(m->weights[0].paddedBytes, 589824);
  EXPECT_EQ(m->weights[0].align, 64);
  EXPECT_EQ(m->weights[0].type, "tensor<384x384xf32>");
  EXPECT_EQ(m->weights[1].type, "");
  EXPECT_EQ(m->weights[1].name, "w.1");
  EXPECT_EQ(m->weights[1].paddedBytes, 64);
}

TEST(Manifest, DTypes) {
  const std::pair<const char *, int64_t> types[] = {
      {"f32", 4}, {"f64", 8}, {"f16", 2}, {"bf16", 2},
      {"i8", 1},  {"i32", 4}, {"i64", 8}};
  for (auto [name, size] : types) {
    Result<Manifest> m = parse(
        with("\"dtype\":\"i64\"", std::string("\"dtype\":\"") + name + "\""));
    ASSERT_TRUE(m.isOk()) << m.message();
    EXPECT_EQ(m->entries[0].args[0].numBytes, 16 * size) << name;
    EXPECT_STREQ(dtypeInfo(m->entries[0].args[0].dtype).name, name);
  }
  EXPECT_STREQ(dtypeInfo(DType::BF16).npyDescr, "<u2");
  EXPECT_STREQ(dtypeInfo(DType::I8).npyDescr, "|i1");
}

TEST(Manifest, NoWeightsNoArgs) {
  std::string text =
      with(R"("weights":[{"name":"w0","bytes":589824,"align":64,)"
           R"("type":"tensor<384x384xf32>"},)"
           R"({"name":"w.1","bytes":3,"align":1}]})",
           R"("weights":[]})");
  text.replace(
      text.find(R"("args":[{"name":"input_ids","dtype":"i64","shape":[1,16]},)"
                R"({"name":"scale","dtype":"bf16","shape":[]}])"),
      strlen(R"("args":[{"name":"input_ids","dtype":"i64","shape":[1,16]},)"
             R"({"name":"scale","dtype":"bf16","shape":[]}])"),
      R"("args":[])");
  Result<Manifest> m = parse(text);
  ASSERT_TRUE(m.isOk()) << m.message();
  EXPECT_TRUE(m->weights.empty());
  EXPECT_TRUE(m->entries[0].args.empty());
}

TEST(Manifest, EmptyPrefix) {
  Result<Manifest> m = parse(with(R"("prefix":"lowbit_")", R"("prefix":"")"));
  ASSERT_TRUE(m.isOk()) << m.message();
  EXPECT_EQ(m->prefix, "");
}

TEST(Manifest, CudaTarget) {
  Result<Manifest> m = parse(with(R"("target":"cpu")", R"("target":"cuda")"));
  ASSERT_TRUE(m.isOk()) << m.message();
  EXPECT_EQ(m->target, "cuda");
}

TEST(Manifest, RejectsBadJson) {
  EXPECT_TRUE(failsWith(parse(""), {"m.so: manifest: JSON error at byte 0"}));
  EXPECT_TRUE(failsWith(parse(std::string(kValid) + ","), {"JSON error"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"version\":1", "\"version\":1,\"version\":1")),
                {"duplicate"}));
  EXPECT_TRUE(failsWith(parse("[]"),
                        {"m.so: manifest: expected an object, got an array"}));
}

TEST(Manifest, RejectsTopLevelFields) {
  EXPECT_TRUE(failsWith(parse(with("\"version\":1,", "")),
                        {"missing field 'version'"}));
  EXPECT_TRUE(failsWith(parse(with("\"version\":1,", "\"version\":1,\"x\":0,")),
                        {"unknown field 'x'"}));
  EXPECT_TRUE(failsWith(
      parse(with("\"lowbit-artifact\"", "\"lowbit-weights\"")),
      {"format: expected \"lowbit-artifact\", got \"lowbit-weights\""}));
  EXPECT_TRUE(failsWith(parse(with("\"version\":1", "\"version\":2")),
                        {"version: version 2 is not supported"}));
  EXPECT_TRUE(failsWith(parse(with("\"version\":1", "\"version\":1.0")),
                        {"version: expected an integer", "got 1.0"}));
  EXPECT_TRUE(failsWith(parse(with("\"version\":1", "\"version\":\"1\"")),
                        {"version: expected an integer", "got a string"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"target\":\"cpu\"", "\"target\":\"rocm\"")),
                {"target: target 'rocm' is not supported"}));

  EXPECT_TRUE(
      failsWith(parse(with("\"prefix\":\"lowbit_\"", "\"prefix\":\"a-b\"")),
                {"prefix: 'a-b' is not a C identifier"}));
  EXPECT_TRUE(failsWith(parse(with("\"prefix\":\"lowbit_\"", "\"prefix\":7")),
                        {"prefix: expected a string, got a number"}));
}

TEST(Manifest, RejectsEntries) {
  EXPECT_TRUE(
      failsWith(parse(R"({"format":"lowbit-artifact","version":1,"prefix":"p",)"
                      R"("target":"cpu","entries":[],"weights":[]})"),
                {"entries: the artifact has no entry points"}));
  EXPECT_TRUE(failsWith(parse(with("\"entries\":[", "\"entries\":{\"a\":[")),
                        {"JSON error"}));
  EXPECT_TRUE(failsWith(parse(with("\"entries\":[{", "\"entries\":[7,{")),
                        {"entries[0]: expected an object, got a number"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"name\":\"forward\"", "\"name\":\"for ward\"")),
                {"entries[0].name: 'for ward' is not a C identifier"}));
  EXPECT_TRUE(failsWith(parse(with("\"symbol\":\"lowbit_forward\"",
                                   "\"symbol\":\"lowbit_forward_packed\"")),
                        {"entries[0]: 'symbol' and 'packed_symbol' are both"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"symbol\":\"lowbit_forward\"",
                           "\"symbol\":\"lowbit_manifest\"")),
                {"entries[0].symbol: symbol 'lowbit_manifest' is used twice"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"packed_symbol\":\"lowbit_forward_packed\",", "")),
                {"entries[0]: missing field 'packed_symbol'"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"packed_symbol\":\"lowbit_forward_packed\"",
                           "\"packed_symbol\":\"1x\"")),
                {"entries[0].packed_symbol: '1x' is not a C identifier"}));
  EXPECT_TRUE(failsWith(parse(with("\"args\":[", "\"args\":{\"a\":1},\"x\":[")),
                        {"entries[0]: unknown field 'x'"}));
  EXPECT_TRUE(failsWith(parse(with("\"args\":[{\"name\":\"input_ids\"",
                                   "\"args\":{\"name\":\"input_ids\"")),
                        {"JSON error"}));
  // The same entry twice.
  std::string entry = R"({"name":"forward","symbol":"lowbit_forward",)"
                      R"("packed_symbol":"lowbit_forward_packed",)"
                      R"("args":[],"results":[]})";
  EXPECT_TRUE(failsWith(
      parse(R"({"format":"lowbit-artifact","version":1,"prefix":"lowbit_",)"
            R"("target":"cpu","entries":[)" +
            entry + "," + entry + R"(],"weights":[]})"),
      {"entries[1].name: duplicate entry 'forward'"}));
}

// A tensor may say what it holds (lowbit-compile --expose-matmul-inputs
// labels the inputs it returns); the label must be a string.
TEST(Manifest, TensorLabels) {
  Result<Manifest> m = parse(
      with(R"("shape":[1,384]})", R"("shape":[1,384],"label":"layer.0.fc"})"));
  ASSERT_TRUE(m.isOk()) << m.message();
  EXPECT_EQ(m->entries[0].results[0].label, "layer.0.fc");
  EXPECT_EQ(m->entries[0].results[1].label, "");
  EXPECT_TRUE(failsWith(
      parse(with(R"("shape":[1,384]})", R"("shape":[1,384],"label":3})")),
      {"entries[0].results[0].label: expected a string"}));
}

TEST(Manifest, RejectsTensors) {
  EXPECT_TRUE(failsWith(parse(with("\"dtype\":\"i64\"", "\"dtype\":\"u8\"")),
                        {"entries[0].args[0].dtype: unknown dtype 'u8'"}));
  EXPECT_TRUE(failsWith(parse(with("\"dtype\":\"i64\"", "\"dtype\":\"I64\"")),
                        {"unknown dtype 'I64'"}));
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "[1,-16]")),
                        {"entries[0].args[0].shape[1]: expected an integer in "
                         "[0, 9223372036854775807], got -16"}));
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "[1,1.5]")),
                        {"args[0].shape[1]: expected an integer", "got 1.5"}));
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "[1,16e0]")),
                        {"args[0].shape[1]: expected an integer"}));
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "[1,18446744073709551616]")),
                        {"args[0].shape[1]: expected an integer"}));
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "16")),
                        {"args[0].shape: expected an array, got a number"}));
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "[4294967296,4294967296]")),
                        {"args[0].shape: the byte size of i64[4294967296, "
                         "4294967296] overflows 64 bits"}));
  // Fits in elements, not in bytes.
  EXPECT_TRUE(failsWith(parse(with("[1,16]", "[2305843009213693952]")),
                        {"overflows 64 bits"}));
  // A zero dimension makes any shape empty.
  Result<Manifest> m = parse(with("[1,16]", "[4294967296,4294967296,0]"));
  ASSERT_TRUE(m.isOk()) << m.message();
  EXPECT_EQ(m->entries[0].args[0].numBytes, 0);
  EXPECT_TRUE(
      failsWith(parse(with("\"name\":\"scale\"", "\"name\":\"input_ids\"")),
                {"entries[0].args[1].name: duplicate name 'input_ids' "
                 "in entry 'forward'"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"name\":\"result1\"", "\"name\":\"scale\"")),
                {"entries[0].results[1].name: duplicate name 'scale'"}));
  EXPECT_TRUE(failsWith(parse(with("\"name\":\"scale\"", "\"name\":\"\"")),
                        {"args[1].name: '' is not a C identifier"}));
  EXPECT_TRUE(failsWith(parse(with("\"name\":\"scale\",", "")),
                        {"args[1]: missing field 'name'"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"shape\":[]", "\"shape\":[],\"layout\":0")),
                {"args[1]: unknown field 'layout'"}));
  EXPECT_TRUE(failsWith(parse(with("\"shape\":[]", "\"shape\":null")),
                        {"args[1].shape: expected an array, got null"}));
}

TEST(Manifest, RejectsWeights) {
  EXPECT_TRUE(failsWith(parse(with("\"bytes\":589824", "\"bytes\":-1")),
                        {"weights[0].bytes: expected an integer in [0, "
                         "9223372036854775744], got -1"}));
  EXPECT_TRUE(failsWith(
      parse(with("\"bytes\":589824", "\"bytes\":9223372036854775745")),
      {"weights[0].bytes: expected an integer"}));
  EXPECT_TRUE(failsWith(parse(with("\"align\":64", "\"align\":48")),
                        {"weights[0].align: expected a power of two, got 48"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"align\":64", "\"align\":0")),
                {"weights[0].align: expected an integer in [1, 4096]"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"align\":64", "\"align\":8192")),
                {"weights[0].align: expected an integer in [1, 4096]"}));
  EXPECT_TRUE(failsWith(parse(with("\"name\":\"w.1\"", "\"name\":\"w0\"")),
                        {"weights[1].name: duplicate weight 'w0'"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"name\":\"w.1\"", "\"name\":\"__metadata__\"")),
                {"weights[1].name: '__metadata__' is not a tensor name"}));
  EXPECT_TRUE(failsWith(parse(with("\"name\":\"w.1\"", "\"name\":\"\"")),
                        {"weights[1].name: '' is not a tensor name"}));
  EXPECT_TRUE(failsWith(parse(with(",\"align\":1", "")),
                        {"weights[1]: missing field 'align'"}));
  EXPECT_TRUE(
      failsWith(parse(with("\"type\":\"tensor<384x384xf32>\"", "\"type\":1")),
                {"weights[0].type: expected a string, got a number"}));
  EXPECT_TRUE(failsWith(parse(with("\"align\":1", "\"align\":1,\"x\":1")),
                        {"weights[1]: unknown field 'x'"}));
  EXPECT_TRUE(failsWith(parse(with("\"weights\":[", "\"weights\":[[],")),
                        {"weights[0]: expected an object, got an array"}));
}

TEST(Manifest, Identifiers) {
  EXPECT_TRUE(isCIdentifier("a"));
  EXPECT_TRUE(isCIdentifier("_a1"));
  EXPECT_FALSE(isCIdentifier(""));
  EXPECT_FALSE(isCIdentifier("1a"));
  EXPECT_FALSE(isCIdentifier("a.b"));
  EXPECT_FALSE(isCIdentifier("\xc3\xa9"));
}

} // namespace
