//===- LowerCpu.cpp - Fused dequant-matmul vector kernels for CPUs --------===//
//
// lowbit.qmatmul becomes loops whose body reads a chunk of packed weight
// bytes as a vector, unpacks and decodes it to f32 in registers, and feeds
// it straight into vector FMAs: the dequantized weight is never stored.
//
// Loop nest (GEMV-oriented; see docs/CodegenCPU.md):
//   for m0 in [0, M) step T          T rows of x share each decoded chunk
//     for n in [0, N)                one output column per iteration
//       for blk in [0, K / B)        one scale (and zero point) per block
//         for c in [0, B / V)        V-lane chunks; a static tail chunk
//           w = decode(bytes)        vector<V x f32>, bit-exact
//           acc[i] = fma(x[m0 + i, chunk], w, acc[i])   for i < T
//       y[m0 + i, n] = reduce(acc[i]) + bias[n] + s * lora[m0 + i, n]
//
//===----------------------------------------------------------------------===//

#include "CpuHadamard.h"
#include "CpuKernelSupport.h"
#include "Int8DotKernel.h"
#include "PackedAccess.h"
#include "VectorDecode.h"

#include "lowbit/Dialect/Lowbit/IR/LowbitOps.h"
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h"
#include "lowbit/Numerics/Codebooks.h"

#include "mlir/Dialect/LLVMIR/LLVMDialect.h"
#include "mlir/Dialect/Linalg/IR/Linalg.h"
#include "mlir/Dialect/SCF/IR/SCF.h"
#include "mlir/Dialect/Vector/IR/VectorOps.h"
#include "llvm/ADT/StringSwitch.h"

#include <algorithm>
#include <cstring>

namespace mlir::lowbit {
#define GEN_PASS_DEF_LOWBITLOWERCPU
#include "lowbit/Dialect/Lowbit/Transforms/Passes.h.inc"
} // namespace mlir::lowbit

using namespace mlir;
using namespace mlir::lowbit;
namespace nx = ::lowbit::numerics;

namespace {

/// Which instructions the kernels may name directly.
enum class Isa { Generic, Avx2, Avx512 };

/// FMA chains per output element worth keeping in flight (the FMA latency
/// over the decode's throughput), and the most chunks of a block emitted as
/// straight-line code.
constexpr int64_t kChains = 4;
constexpr int64_t kMaxStraightChunks = 8;
/// Chunks whose codes are unpacked and decoded together (64 codes at 16
/// lanes: one 32-byte load for 4-bit codes).
constexpr int64_t kDecodeGroup = 4;

struct KernelConfig {
  int64_t vectorWidth;
  int64_t batchTile;
  int64_t nTile;
  Isa isa;
  /// Static batches of at least this many rows take the GEMM strategy
  /// (0: never).
  int64_t gemmMinBatch;
  /// K from which the GEMV kernels decode two rows of W per pass over x
  /// (0: never).
  int64_t pairMinK;
  /// GEMV kernels multiply int8-quantized activations with the codes as
  /// bytes (vpdpbusd) where Int8DotKernel covers the weight.
  bool int8Dot;
  /// The target has AVX-512 VBMI: the int8 kernels also cover 3-bit codes.
  bool vbmi;
};

/// Most columns of K decoded into one tile of the GEMM strategy: 32 rows
/// of W x 256 f32 values is 32 KiB, an L1's worth.
constexpr int64_t kGemmMaxTileK = 256;

/// The GEMM strategy's tiling: `nt` rows of W per scf.forall iteration,
/// K in steps of `kb` columns decoded into a tile, decoded in pieces of
/// `piece` columns that share one scale.
struct GemmPlan {
  int64_t nt, kb, piece;
};

/// Decodes chunks of one packed weight into f32 vectors, bit-exactly as
/// nx::dequantize: codes are unpacked from a vector of bytes, turned into
/// their code values t[q] in registers, then scaled per block.
class VectorDecoder {
public:
  VectorDecoder(QTensorType type, Value bytes, Isa isa, ModuleOp module)
      : module(module), bytes(bytes), scheme(type.getScheme().toNumerics()),
        table(nx::codeValues(scheme)), bits(nx::codeBits(scheme.format)),
        isa(isa) {}

  unsigned getBits() const { return bits; }

  /// t[q] for the `count` codes starting at byte `byteOffset` (an index;
  /// the first code starts on a byte boundary).
  Value decodeCodes(ImplicitLocOpBuilder &b, Value byteOffset,
                    int64_t count) const {
    Value codes = unpack(b, byteOffset, count);
    switch (scheme.format) {
    case nx::Format::I8:
    case nx::Format::I4:
    case nx::Format::I3:
    case nx::Format::I2:
      return signedValues(b, codes, count);
    case nx::Format::U8:
    case nx::Format::U4:
    case nx::Format::U3:
    case nx::Format::U2:
      return arith::UIToFPOp::create(
          b, VectorType::get({count}, b.getF32Type()), codes);
    case nx::Format::NF4:
    case nx::Format::FP4:
    case nx::Format::LUT:
      if (isa != Isa::Generic)
        return permuteLookup(b, codes, count, Value());
      return selectTree(b, codes, count);
    case nx::Format::FP8:
      return fp8Values(b, codes, count);
    }
    llvm_unreachable("unknown format");
  }

  /// Whether decoding goes through a per-block table of the scaled values
  /// of all codes (16 entries at most) and a register permute: one
  /// vpermps per chunk instead of conversion, scaling and zero point.
  bool usesScaledTable() const { return isa != Isa::Generic && bits < 8; }

  /// applyScale on the code values of every code: entry q is bit-exactly
  /// the dequantized value of code q in this block (the same f32
  /// operations); entries past 2^bits are never indexed.
  Value scaledTable(ImplicitLocOpBuilder &b, Value scale, Value zero) const {
    SmallVector<float> values(16, 0.0f);
    std::copy(table.begin(), table.end(), values.begin());
    Value constant = arith::ConstantOp::create(
        b, DenseElementsAttr::get(VectorType::get({16}, b.getF32Type()),
                                  ArrayRef<float>(values)));
    return applyScale(b, constant, scale, zero);
  }

  /// Dequantized values of `count` codes at `byteOffset`, looked up in a
  /// scaledTable.
  Value lookupScaled(ImplicitLocOpBuilder &b, Value byteOffset, int64_t count,
                     Value scaled) const {
    return permuteLookup(b, unpack(b, byteOffset, count), count, scaled);
  }

  /// Whether 4-bit codes can index the table straight from their bytes:
  /// each 16-byte group (32 codes) gives the values of its even codes (low
  /// nibbles) and of its odd codes (high nibbles) as two vectors, which
  /// the caller multiplies with x deinterleaved the same way. Needs whole
  /// 32-code groups per block and 16 lanes.
  bool splitsNibbles(int64_t width, int64_t blockSize) const {
    return isa == Isa::Avx512 && bits == 4 && width == 16 &&
           blockSize % 32 == 0;
  }

  /// Values of the 32 codes in the 16 bytes at `byteOffset`: (even codes,
  /// odd codes), each vector<16xf32>. vpermps reads only the low 4 bits of
  /// an index, so the low nibble needs no mask and the high one a shift.
  std::pair<Value, Value> lookupNibbles(ImplicitLocOpBuilder &b,
                                        Value byteOffset, Value scaled) const {
    Type i32 = b.getI32Type();
    Value pad = arith::ConstantIntOp::create(b, 0, 8);
    Value raw = vector::TransferReadOp::create(
        b, VectorType::get({16}, b.getI8Type()), bytes, ValueRange{byteOffset},
        pad, ArrayRef<bool>{true});
    auto idxType = VectorType::get({16}, i32);
    Value idx = arith::ExtUIOp::create(b, idxType, raw);
    Value high = arith::ShRUIOp::create(b, idx, splatInt(b, i32, 16, 4));
    auto f32x16 = VectorType::get({16}, b.getF32Type());
    StringRef permute = "llvm.x86.avx512.permvar.sf.512";
    Value even = callIntrinsic(b, module, permute, f32x16, {scaled, idx});
    Value odd = callIntrinsic(b, module, permute, f32x16, {scaled, high});
    return {even, odd};
  }

  /// The block's scale and zero point applied to code values, in the same
  /// f32 operations as nx::dequantize (never fused).
  Value applyScale(ImplicitLocOpBuilder &b, Value values, Value scale,
                   Value zero) const {
    return applyBlockScale(b, scheme, values, scale, zero);
  }

private:
  /// vector<count x i8> of codes (the low `bits` bits of each lane).
  Value unpack(ImplicitLocOpBuilder &b, Value byteOffset, int64_t count) const {
    Type i8 = b.getI8Type();
    int64_t numBytes = (count * bits + 7) / 8;
    Value pad = arith::ConstantIntOp::create(b, 0, 8);
    Value raw = vector::TransferReadOp::create(
        b, VectorType::get({numBytes}, i8), bytes, ValueRange{byteOffset}, pad,
        ArrayRef<bool>{true});
    if (bits == 8)
      return raw;
    if (bits == 4 && count % 2 == 0) {
      // Element 2i is the low nibble of byte i, 2i+1 the high nibble.
      Value lo = arith::AndIOp::create(b, raw, splatInt(b, i8, numBytes, 15));
      Value hi = arith::ShRUIOp::create(b, raw, splatInt(b, i8, numBytes, 4));
      SmallVector<int64_t> interleave;
      for (int64_t i = 0; i < numBytes; ++i) {
        interleave.push_back(i);
        interleave.push_back(numBytes + i);
      }
      return vector::ShuffleOp::create(b, lo, hi, interleave);
    }
    // General form: spread each code's byte to its lane, shift by the
    // lane's bit offset, mask. A 3-bit code may straddle two bytes, so
    // 3-bit lanes are 16 bits wide and take the next byte as the high half.
    bool straddles = bits == 3;
    Type laneType = straddles ? Type(b.getI16Type()) : i8;
    auto laneVec = VectorType::get({count}, laneType);
    SmallVector<int64_t> loIndex, hiIndex, shifts;
    for (int64_t i = 0; i < count; ++i) {
      int64_t bit = i * bits;
      loIndex.push_back(bit / 8);
      // Clamped: a code in the last byte never straddles.
      hiIndex.push_back(std::min(bit / 8 + 1, numBytes - 1));
      shifts.push_back(bit % 8);
    }
    Value word = vector::ShuffleOp::create(b, raw, raw, loIndex);
    if (straddles) {
      word = arith::ExtUIOp::create(b, laneVec, word);
      Value hi = arith::ExtUIOp::create(
          b, laneVec, vector::ShuffleOp::create(b, raw, raw, hiIndex));
      hi = arith::ShLIOp::create(b, hi, splatInt(b, laneType, count, 8));
      word = arith::OrIOp::create(b, word, hi);
    }
    SmallVector<APInt> shiftValues;
    for (int64_t s : shifts)
      shiftValues.emplace_back(laneType.getIntOrFloatBitWidth(), s);
    Value shift = arith::ConstantOp::create(
        b, DenseElementsAttr::get(laneVec, shiftValues));
    Value codes =
        arith::AndIOp::create(b, arith::ShRUIOp::create(b, word, shift),
                              splatInt(b, laneType, count, (1 << bits) - 1));
    if (straddles)
      codes = arith::TruncIOp::create(b, VectorType::get({count}, i8), codes);
    return codes;
  }

  /// Two's complement value of the low `bits` bits, as (q ^ h) - h with
  /// h = 2^(bits-1): two byte-wide ops (x86 has no byte shifts).
  Value signedValues(ImplicitLocOpBuilder &b, Value codes,
                     int64_t count) const {
    Type i8 = b.getI8Type();
    if (bits != 8) {
      Value half = splatInt(b, i8, count, int64_t(1) << (bits - 1));
      codes =
          arith::SubIOp::create(b, arith::XOrIOp::create(b, codes, half), half);
    }
    return arith::SIToFPOp::create(b, VectorType::get({count}, b.getF32Type()),
                                   codes);
  }

  /// 16-entry codebook lookup in registers: a binary tree of selects on the
  /// code's bits, leaves the table's constants (no memory access).
  Value selectTree(ImplicitLocOpBuilder &b, Value codes, int64_t count) const {
    return selectTreeLookup(b, codes, table);
  }

  /// 16-entry codebook lookup with the table in one register and the
  /// codes as permute indices: vpermps on 16 lanes (AVX-512), or two
  /// 8-entry vpermps and a select on bit 3 (AVX2). Lanes beyond a multiple
  /// of the piece width are padded with code 0 and dropped.
  Value permuteLookup(ImplicitLocOpBuilder &b, Value codes, int64_t count,
                      Value scaledTable) const {
    Type f32 = b.getF32Type(), i32 = b.getI32Type();
    int64_t piece = isa == Isa::Avx512 ? 16 : 8;
    int64_t padded = (count + piece - 1) / piece * piece;
    Value wide = widenWithZeros(b, codes, padded);
    Value idx = arith::ExtUIOp::create(b, VectorType::get({padded}, i32), wide);
    auto pieceF32 = VectorType::get({piece}, f32);
    // The 16 entries (a constant, or a per-block vector<16xf32>), as a
    // piece-wide vector from `first`.
    auto tableVec = [&](int64_t first) -> Value {
      if (!scaledTable)
        return arith::ConstantOp::create(
            b, DenseElementsAttr::get(
                   pieceF32, ArrayRef<float>(table).slice(first, piece)));
      if (piece == 16)
        return scaledTable;
      SmallVector<int64_t> lanes;
      for (int64_t i = 0; i < piece; ++i)
        lanes.push_back(first + i);
      return vector::ShuffleOp::create(b, scaledTable, scaledTable, lanes);
    };
    int64_t entries = int64_t(1) << bits;
    auto call = [&](StringRef name, Value tbl, Value index) -> Value {
      return callIntrinsic(b, module, name, pieceF32, {tbl, index});
    };
    SmallVector<Value> parts;
    for (int64_t p = 0; p < padded; p += piece) {
      SmallVector<int64_t> lanes;
      for (int64_t i = 0; i < piece; ++i)
        lanes.push_back(p + i);
      Value index = padded == piece
                        ? idx
                        : Value(vector::ShuffleOp::create(b, idx, idx, lanes));
      if (isa == Isa::Avx512) {
        parts.push_back(
            call("llvm.x86.avx512.permvar.sf.512", tableVec(0), index));
        continue;
      }
      Value lo = call("llvm.x86.avx2.permps", tableVec(0), index);
      if (entries <= piece) {
        parts.push_back(lo);
        continue;
      }
      Value hi = call("llvm.x86.avx2.permps", tableVec(8), index);
      Value upper = arith::CmpIOp::create(
          b, arith::CmpIPredicate::ne,
          arith::AndIOp::create(b, index, splatInt(b, i32, piece, 8)),
          splatInt(b, i32, piece, 0));
      parts.push_back(arith::SelectOp::create(b, upper, hi, lo));
    }
    // Concatenate the pieces and keep the first `count` lanes.
    while (parts.size() > 1) {
      SmallVector<Value> next;
      for (size_t i = 0; i + 1 < parts.size(); i += 2) {
        int64_t w = cast<VectorType>(parts[i].getType()).getNumElements() +
                    cast<VectorType>(parts[i + 1].getType()).getNumElements();
        SmallVector<int64_t> lanes;
        for (int64_t l = 0; l < w; ++l)
          lanes.push_back(l);
        next.push_back(
            vector::ShuffleOp::create(b, parts[i], parts[i + 1], lanes));
      }
      if (parts.size() % 2)
        next.push_back(parts.back());
      parts = std::move(next);
    }
    Value result = parts.front();
    if (padded == count)
      return result;
    SmallVector<int64_t> keep;
    for (int64_t i = 0; i < count; ++i)
      keep.push_back(i);
    return vector::ShuffleOp::create(b, result, result, keep);
  }

  /// E4M3 "fn" by assembling the f32 bits: normal codes move exponent and
  /// mantissa into place, subnormals are m * 2^-9 (exact), the sign is OR-ed
  /// in, and the two NaN codes take the table's NaN values.
  Value fp8Values(ImplicitLocOpBuilder &b, Value codes, int64_t count) const {
    return fp8CodeValues(b, codes, table);
  }

  mutable ModuleOp module;
  Value bytes;
  nx::Scheme scheme;
  std::vector<float> table;
  unsigned bits;
  Isa isa;
};

/// Σ_k lhs[lhsRow, k] · rhs[rhsRow, k] over k < length, in f32 vectors of
/// `width` lanes (a static tail chunk for the rest), then reduced.
Value emitVectorDot(ImplicitLocOpBuilder &b, Value lhs, Value lhsRow, Value rhs,
                    Value rhsRow, int64_t length, int64_t width) {
  width = std::min(width, length);
  int64_t chunks = length / width, tail = length % width;
  Value acc = splatF32(b, width, 0.0f);
  auto body = [&](ImplicitLocOpBuilder &ib, Value col, int64_t count,
                  Value acc) -> Value {
    Value l = readRowChunk(ib, lhs, lhsRow, col, count);
    Value r = readRowChunk(ib, rhs, rhsRow, col, count);
    return vector::FMAOp::create(ib, widenWithZeros(ib, l, width),
                                 widenWithZeros(ib, r, width), acc);
  };
  auto loop = scf::ForOp::create(
      b, cIdx(b, 0), cIdx(b, chunks * width), cIdx(b, width), ValueRange{acc},
      [&](OpBuilder &nb, Location loc, Value col, ValueRange args) {
        ImplicitLocOpBuilder ib(loc, nb);
        scf::YieldOp::create(ib, body(ib, col, width, args[0]));
      });
  acc = loop.getResult(0);
  if (tail)
    acc = body(b, cIdx(b, chunks * width), tail, acc);
  return vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc);
}

/// The fused kernel for one lowbit.qmatmul.
struct CpuQMatmulLowering : OpConversionPattern<QMatmulOp> {
  CpuQMatmulLowering(const TypeConverter &converter, MLIRContext *ctx,
                     KernelConfig config)
      : OpConversionPattern(converter, ctx, /*benefit=*/2), config(config) {}

  LogicalResult
  matchAndRewrite(QMatmulOp op, OpAdaptor adaptor,
                  ConversionPatternRewriter &rewriter) const override {
    ImplicitLocOpBuilder b(op.getLoc(), rewriter);
    QTensorType weightType = op.getWeight().getType();
    int64_t n = weightType.getShape()[0];
    RankedTensorType resultType = op.getType();
    Type resultElement = resultType.getElementType();

    Value x = collapseToMatrix(b, b.getLoc(), op.getInput()); // [M, K]
    auto xType = cast<RankedTensorType>(x.getType());
    Value m = tensor::DimOp::create(b, x, 0);
    int64_t tile = 1;
    if (!xType.isDynamicDim(0))
      for (int64_t t = std::min(config.batchTile, xType.getDimSize(0)); t > 0;
           --t)
        if (xType.getDimSize(0) % t == 0) {
          tile = t;
          break;
        }

    Value xa;
    if (op.hasLora())
      xa = emitLoraDown(b, x, m, op.getLoraA());

    PackedScalarReader reader(b, b.getLoc(), weightType, adaptor.getWeight(),
                              /*wordReads=*/true);
    VectorDecoder decoder(weightType, adaptor.getWeight(), config.isa,
                          op->getParentOfType<ModuleOp>());
    const nx::PackedLayout &layout = reader.getLayout();
    // The int8 kernels serve every batch of the weights they cover: at
    // batch 16-128 their vpdpbusd, with one decode per batch tile, beats
    // the GEMM strategy's f32 FMAs on decoded tiles by 1.6-3x.
    std::optional<Int8DotPlan> int8Plan;
    if (config.int8Dot)
      int8Plan = planInt8Dot(reader.getScheme(), layout, config.vbmi);
    std::optional<GemmPlan> gemmPlan;
    if (!int8Plan)
      gemmPlan = planGemm(xType, n, layout);
    if (gemmPlan) {
      Value y = emitGemm(b, op, x, xa, *gemmPlan, reader, decoder);
      rewriter.replaceOp(
          op, restoreBatchDims(b, b.getLoc(), y, op.getInput(), resultType, n));
      return success();
    }
    std::optional<QuantizedActivations> xInt8;
    Value xSplit;
    if (int8Plan)
      xInt8 = emitQuantizedActivations(b, x, m, *int8Plan);
    else if (decoder.splitsNibbles(config.vectorWidth,
                                   layout.k / layout.blocksPerRow))
      xSplit = emitDeinterleavedX(b, x, m, layout.k);
    Type f32 = b.getF32Type();
    Value init = tensor::EmptyOp::create(
        b,
        ArrayRef<OpFoldResult>{tensor::getMixedSize(b, b.getLoc(), x, 0),
                               b.getIndexAttr(n)},
        resultElement);
    // Tiles of output columns are independent: an scf.forall that the
    // pipeline runs on threads (or turns back into a loop).
    int64_t nTile = std::min(config.nTile, n);
    // Two rows of W per pass over x for long K, when every tile has an
    // even count: each chunk of x is then loaded once for both. Rows of x
    // that do not fit L1 stream from L2 for every row of W (K = 14336:
    // 20% faster); with short K the second row's decode only adds register
    // pressure (K = 4096: 1.7x slower), so it stays one row. The int8
    // kernels' x (one byte per element) stays in L1 longer, and pairing
    // measured slower there (4096 x 14336: 1.4 vs 1.0 ms).
    int64_t columns = config.pairMinK > 0 && layout.k >= config.pairMinK &&
                              tile <= 2 && n % 2 == 0 && nTile % 2 == 0 &&
                              !xInt8
                          ? 2
                          : 1;
    int64_t numTiles = (n + nTile - 1) / nTile;
    auto [forall, terminator] = createTileForall(b, numTiles, init);
    {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPoint(terminator);
      Value n0 = mulIdx(b, forall.getInductionVars()[0], nTile);
      Value count = arith::MinSIOp::create(
          b, cIdx(b, nTile), arith::SubIOp::create(b, cIdx(b, n), n0));
      SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
      SmallVector<OpFoldResult> sizes = {
          tensor::getMixedSize(b, b.getLoc(), x, 0), count};
      SmallVector<OpFoldResult> strides = {b.getIndexAttr(1),
                                           b.getIndexAttr(1)};
      Value slice = tensor::ExtractSliceOp::create(
          b, forall.getRegionIterArgs()[0], offsets, sizes, strides);
      auto rows = scf::ForOp::create(
          b, cIdx(b, 0), m, cIdx(b, tile), ValueRange{slice},
          [&](OpBuilder &nb, Location loc, Value m0, ValueRange rowArgs) {
            ImplicitLocOpBuilder ib(loc, nb);
            auto cols = scf::ForOp::create(
                ib, cIdx(ib, 0), count, cIdx(ib, columns), rowArgs,
                [&](OpBuilder &cb, Location cloc, Value j0, ValueRange args) {
                  ImplicitLocOpBuilder jb(cloc, cb);
                  SmallVector<Value> cols;
                  for (int64_t c = 0; c < columns; ++c)
                    cols.push_back(addIdx(jb, n0, addIdx(jb, j0, cIdx(jb, c))));
                  SmallVector<Value> dots =
                      xInt8
                          ? emitInt8DotRows(jb, op->getParentOfType<ModuleOp>(),
                                            reader, adaptor.getWeight(),
                                            *int8Plan, *xInt8, m0, tile, cols)
                          : emitRowDots(jb, reader, decoder, x, xSplit, m0,
                                        tile, cols);
                  Value y = args[0];
                  for (int64_t c = 0; c < columns; ++c)
                    for (int64_t i = 0; i < tile; ++i) {
                      Value col = cols[c];
                      Value j = addIdx(jb, j0, cIdx(jb, c));
                      Value row = addIdx(jb, m0, cIdx(jb, i));
                      Value total = dots[c * tile + i];
                      if (Value bias = op.getBias())
                        total = arith::AddFOp::create(
                            jb, total,
                            toF32(jb, tensor::ExtractOp::create(
                                          jb, bias, ValueRange{col})));
                      if (xa) {
                        int64_t r = op.getLoraA().getType().getShape()[0];
                        Value lora = emitVectorDot(jb, xa, row, op.getLoraB(),
                                                   col, r, config.vectorWidth);
                        Value s = arith::ConstantFloatOp::create(
                            jb, cast<FloatType>(f32),
                            APFloat(op.getLoraScaleValue()));
                        total = arith::AddFOp::create(
                            jb, total, arith::MulFOp::create(jb, s, lora));
                      }
                      if (resultElement != f32)
                        total =
                            arith::TruncFOp::create(jb, resultElement, total);
                      y = tensor::InsertOp::create(jb, total, y,
                                                   ValueRange{row, j});
                    }
                  scf::YieldOp::create(jb, y);
                });
            scf::YieldOp::create(ib, cols.getResult(0));
          });
      b.setInsertionPointToEnd(terminator.getBody());
      tensor::ParallelInsertSliceOp::create(b, rows.getResult(0),
                                            forall.getRegionIterArgs()[0],
                                            offsets, sizes, strides);
    }
    b.setInsertionPointAfter(forall);
    rewriter.replaceOp(op, restoreBatchDims(b, b.getLoc(), forall.getResult(0),
                                            op.getInput(), resultType, n));
    return success();
  }

private:
  /// An scf.forall over `numTiles` tiles of output columns writing into
  /// `init`, with its (possibly new) in_parallel terminator.
  static std::pair<scf::ForallOp, scf::InParallelOp>
  createTileForall(ImplicitLocOpBuilder &b, int64_t numTiles, Value init) {
    auto forall = scf::ForallOp::create(
        b, ArrayRef<OpFoldResult>{b.getIndexAttr(numTiles)}, ValueRange{init},
        std::nullopt);
    Block *body = forall.getBody();
    if (body->empty() || !isa<scf::InParallelOp>(body->back())) {
      OpBuilder::InsertionGuard guard(b);
      b.setInsertionPointToEnd(body);
      scf::InParallelOp::create(b);
    }
    return {forall, cast<scf::InParallelOp>(body->getTerminator())};
  }

  /// What decoding a block needs: its scale, its zero point (if the scheme
  /// has one) and, for table decoding, its table of scaled code values.
  struct BlockParams {
    Value scale, zero, table;
  };
  static BlockParams loadBlockParams(ImplicitLocOpBuilder &b,
                                     PackedScalarReader &reader,
                                     const VectorDecoder &decoder,
                                     Value block) {
    BlockParams params;
    params.scale = reader.loadBlockScale(b, block);
    nx::ZeroPoint zeroPoint = reader.getScheme().zeroPoint;
    if (zeroPoint == nx::ZeroPoint::Int)
      params.zero = reader.loadIntZeroPoint(b, block);
    else if (zeroPoint == nx::ZeroPoint::Min)
      params.zero = reader.loadMinZeroPoint(b, block);
    if (decoder.usesScaledTable())
      params.table = decoder.scaledTable(b, params.scale, params.zero);
    return params;
  }

  /// The GEMM strategy applies to static batches of at least gemmMinBatch
  /// rows whose blocks split into whole vectors, and to N with a divisor
  /// that makes a useful column tile (else the GEMV strategy runs).
  std::optional<GemmPlan> planGemm(RankedTensorType xType, int64_t n,
                                   const nx::PackedLayout &layout) const {
    if (config.gemmMinBatch <= 0 || xType.isDynamicDim(0) ||
        xType.getDimSize(0) < config.gemmMinBatch)
      return std::nullopt;
    int64_t width = config.vectorWidth;
    int64_t blockSize = layout.k / layout.blocksPerRow;
    if (blockSize % width != 0)
      return std::nullopt;
    auto largestDivisor = [](int64_t value, int64_t cap, int64_t step) {
      for (int64_t d = cap - cap % step; d >= step; d -= step)
        if (value % d == 0)
          return d;
      return int64_t(0);
    };
    GemmPlan plan;
    plan.piece = blockSize <= kGemmMaxTileK
                     ? blockSize
                     : largestDivisor(blockSize, kGemmMaxTileK, width);
    if (plan.piece == 0)
      return std::nullopt;
    int64_t pieces = layout.k / plan.piece;
    plan.kb = plan.piece *
              std::max<int64_t>(
                  1, largestDivisor(
                         pieces,
                         std::max<int64_t>(1, kGemmMaxTileK / plan.piece), 1));
    plan.nt = n <= config.nTile ? n : largestDivisor(n, config.nTile, 8);
    if (plan.nt == 0)
      return std::nullopt;
    return plan;
  }

  /// A linalg.generic over `init`'s shape with `maps` (inputs, then init)
  /// whose body `body` computes the new output element.
  static Value
  emitGeneric(ImplicitLocOpBuilder &b, ValueRange inputs, Value init,
              ArrayRef<AffineMap> maps, ArrayRef<utils::IteratorType> iterators,
              function_ref<Value(OpBuilder &, Location, ValueRange)> body) {
    return linalg::GenericOp::create(
               b, TypeRange{init.getType()}, inputs, ValueRange{init}, maps,
               iterators,
               [&](OpBuilder &nb, Location loc, ValueRange args) {
                 linalg::YieldOp::create(nb, loc, body(nb, loc, args));
               })
        .getResult(0);
  }

  /// acc[m, n] += Σ_k a[m, k] · b[n, k] (all f32, static shapes): the form
  /// lowbit-vectorize-linalg turns into register-blocked vector code.
  static Value emitContractTransposedB(ImplicitLocOpBuilder &b, Value lhs,
                                       Value rhs, Value acc) {
    MLIRContext *ctx = b.getContext();
    AffineExpr dm, dn, dk;
    bindDims(ctx, dm, dn, dk);
    SmallVector<AffineMap> maps = {AffineMap::get(3, 0, {dm, dk}, ctx),
                                   AffineMap::get(3, 0, {dn, dk}, ctx),
                                   AffineMap::get(3, 0, {dm, dn}, ctx)};
    return emitGeneric(
        b, ValueRange{lhs, rhs}, acc, maps,
        {utils::IteratorType::parallel, utils::IteratorType::parallel,
         utils::IteratorType::reduction},
        [](OpBuilder &nb, Location loc, ValueRange args) -> Value {
          Value product = arith::MulFOp::create(nb, loc, args[0], args[1]);
          return arith::AddFOp::create(nb, loc, args[2], product);
        });
  }

  /// Rows n0 .. n0 + nt of W, columns k0 .. k0 + kb, decoded bit-exactly
  /// into an f32 [nt, kb] tensor.
  Value emitDecodedTile(ImplicitLocOpBuilder &b, PackedScalarReader &reader,
                        const VectorDecoder &decoder, const GemmPlan &plan,
                        Value n0, Value k0) const {
    const nx::PackedLayout &layout = reader.getLayout();
    int64_t bits = decoder.getBits();
    int64_t blockSize = layout.k / layout.blocksPerRow;
    int64_t width = config.vectorWidth;
    int64_t chunks = plan.piece / width;
    Value tile = tensor::EmptyOp::create(b, ArrayRef<int64_t>{plan.nt, plan.kb},
                                         b.getF32Type());
    auto rows = scf::ForOp::create(
        b, cIdx(b, 0), cIdx(b, plan.nt), cIdx(b, 1), ValueRange{tile},
        [&](OpBuilder &nb, Location loc, Value j, ValueRange rowArgs) {
          ImplicitLocOpBuilder ib(loc, nb);
          Value row = addIdx(ib, n0, j);
          Value rowBytes = addIdx(ib, cIdx(ib, layout.codes.offset),
                                  mulIdx(ib, row, int64_t(layout.rowBytes)));
          auto pieces = scf::ForOp::create(
              ib, cIdx(ib, 0), cIdx(ib, plan.kb), cIdx(ib, plan.piece), rowArgs,
              [&](OpBuilder &pb, Location ploc, Value p, ValueRange args) {
                ImplicitLocOpBuilder jb(ploc, pb);
                Value col = addIdx(jb, k0, p);
                Value block = addIdx(
                    jb, mulIdx(jb, row, layout.blocksPerRow),
                    arith::DivUIOp::create(jb, col, cIdx(jb, blockSize)));
                BlockParams params =
                    loadBlockParams(jb, reader, decoder, block);
                Value scale = params.scale, zero = params.zero,
                      table = params.table;
                // Codes of a row are contiguous and every piece starts on
                // a byte (col is a multiple of the vector width).
                Value byteBase =
                    addIdx(jb, rowBytes,
                           arith::DivUIOp::create(jb, mulIdx(jb, col, bits),
                                                  cIdx(jb, 8)));
                Value written = args[0];
                for (int64_t g = 0; g < chunks; g += kDecodeGroup) {
                  int64_t count = std::min(kDecodeGroup, chunks - g) * width;
                  Value byteOffset =
                      addIdx(jb, byteBase, cIdx(jb, g * width * bits / 8));
                  Value values =
                      table
                          ? decoder.lookupScaled(jb, byteOffset, count, table)
                          : decoder.applyScale(
                                jb, decoder.decodeCodes(jb, byteOffset, count),
                                scale, zero);
                  Value at = addIdx(jb, p, cIdx(jb, g * width));
                  written = vector::TransferWriteOp::create(
                                jb, values, written, ValueRange{j, at},
                                ArrayRef<bool>{true})
                                .getResult();
                }
                scf::YieldOp::create(jb, written);
              });
          scf::YieldOp::create(ib, pieces.getResult(0));
        });
    return rows.getResult(0);
  }

  /// The GEMM strategy for large static batches: per tile of nt output
  /// columns (an scf.forall iteration) and per kb columns of K, the tile
  /// of W is decoded once into an f32 [nt, kb] tensor (L1-sized) and
  /// multiplied with all M rows of x by a contraction that
  /// lowbit-vectorize-linalg register-blocks; bias, LoRA's up-projection
  /// and the result type follow as elementwise ops on the [M, nt] tile.
  Value emitGemm(ImplicitLocOpBuilder &b, QMatmulOp op, Value x, Value xa,
                 const GemmPlan &plan, PackedScalarReader &reader,
                 const VectorDecoder &decoder) const {
    MLIRContext *ctx = b.getContext();
    Type f32 = b.getF32Type();
    auto xType = cast<RankedTensorType>(x.getType());
    int64_t m = xType.getDimSize(0), k = xType.getDimSize(1);
    int64_t n = op.getWeight().getType().getShape()[0];
    Type resultElement = op.getType().getElementType();
    AffineMap identity2 = AffineMap::getMultiDimIdentityMap(2, ctx);
    SmallVector<utils::IteratorType> parallel2(2,
                                               utils::IteratorType::parallel);
    auto empty = [&](int64_t rows, int64_t cols, Type element) -> Value {
      return tensor::EmptyOp::create(b, ArrayRef<int64_t>{rows, cols}, element);
    };

    // x in f32 once, not per tile.
    Value xf = x;
    if (xType.getElementType() != f32)
      xf = emitGeneric(
          b, ValueRange{x}, empty(m, k, f32), {identity2, identity2}, parallel2,
          [&](OpBuilder &nb, Location loc, ValueRange args) {
            return arith::ExtFOp::create(nb, loc, f32, args[0]).getResult();
          });

    auto [forall, terminator] =
        createTileForall(b, n / plan.nt, empty(m, n, resultElement));
    OpBuilder::InsertionGuard guard(b);
    b.setInsertionPoint(terminator);
    Value n0 = mulIdx(b, forall.getInductionVars()[0], plan.nt);

    // The result tile is the forall's slice of the output: with f32
    // results the accumulator lives there, else the final cast writes
    // there, so bufferization works in place (a copy into the strided view
    // would call an MLIR runtime helper, memrefCopy).
    SmallVector<OpFoldResult> offsets = {b.getIndexAttr(0), n0};
    SmallVector<OpFoldResult> sizes = {b.getIndexAttr(m),
                                       b.getIndexAttr(plan.nt)};
    SmallVector<OpFoldResult> strides = {b.getIndexAttr(1), b.getIndexAttr(1)};
    Value destination = tensor::ExtractSliceOp::create(
        b, forall.getRegionIterArgs()[0], offsets, sizes, strides);
    Value zero = arith::ConstantOp::create(b, b.getZeroAttr(f32));
    Value acc = linalg::FillOp::create(
                    b, zero,
                    resultElement == f32 ? destination : empty(m, plan.nt, f32))
                    .getResult(0);
    auto kLoop = scf::ForOp::create(
        b, cIdx(b, 0), cIdx(b, k), cIdx(b, plan.kb), ValueRange{acc},
        [&](OpBuilder &nb, Location loc, Value k0, ValueRange args) {
          ImplicitLocOpBuilder ib(loc, nb);
          Value tile = emitDecodedTile(ib, reader, decoder, plan, n0, k0);
          Value xs = tensor::ExtractSliceOp::create(
              ib, xf, ArrayRef<OpFoldResult>{ib.getIndexAttr(0), k0},
              ArrayRef<OpFoldResult>{ib.getIndexAttr(m),
                                     ib.getIndexAttr(plan.kb)},
              ArrayRef<OpFoldResult>{ib.getIndexAttr(1), ib.getIndexAttr(1)});
          scf::YieldOp::create(ib,
                               emitContractTransposedB(ib, xs, tile, args[0]));
        });
    Value y = kLoop.getResult(0);

    // The epilogue updates the tile in place, in the GEMV strategy's order:
    // + bias, + s·(xa·Bᵀ), then the cast to the result type.
    AffineMap columnMap = AffineMap::get(2, 0, {getAffineDimExpr(1, ctx)}, ctx);
    if (Value bias = op.getBias()) {
      Value slice = tensor::ExtractSliceOp::create(
          b, bias, ArrayRef<OpFoldResult>{n0},
          ArrayRef<OpFoldResult>{b.getIndexAttr(plan.nt)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1)});
      y = emitGeneric(
          b, ValueRange{slice}, y, {columnMap, identity2}, parallel2,
          [&](OpBuilder &nb, Location loc, ValueRange args) {
            Value v = args[0];
            if (v.getType() != f32)
              v = arith::ExtFOp::create(nb, loc, f32, v);
            return arith::AddFOp::create(nb, loc, args[1], v).getResult();
          });
    }
    if (xa) {
      Value loraB = op.getLoraB();
      int64_t r = cast<RankedTensorType>(loraB.getType()).getShape()[1];
      Value slice = tensor::ExtractSliceOp::create(
          b, loraB, ArrayRef<OpFoldResult>{n0, b.getIndexAttr(0)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(plan.nt), b.getIndexAttr(r)},
          ArrayRef<OpFoldResult>{b.getIndexAttr(1), b.getIndexAttr(1)});
      if (cast<RankedTensorType>(slice.getType()).getElementType() != f32)
        slice = emitGeneric(
            b, ValueRange{slice}, empty(plan.nt, r, f32),
            {identity2, identity2}, parallel2,
            [&](OpBuilder &nb, Location loc, ValueRange args) {
              return arith::ExtFOp::create(nb, loc, f32, args[0]).getResult();
            });
      Value up = emitContractTransposedB(
          b, xa, slice,
          linalg::FillOp::create(b, zero, empty(m, plan.nt, f32)).getResult(0));
      Value s = arith::ConstantFloatOp::create(b, cast<FloatType>(f32),
                                               APFloat(op.getLoraScaleValue()));
      y = emitGeneric(
          b, ValueRange{up}, y, {identity2, identity2}, parallel2,
          [&](OpBuilder &nb, Location loc, ValueRange args) {
            Value scaled = arith::MulFOp::create(nb, loc, s, args[0]);
            return arith::AddFOp::create(nb, loc, args[1], scaled).getResult();
          });
    }
    if (resultElement != f32)
      y = emitGeneric(
          b, ValueRange{y}, destination, {identity2, identity2}, parallel2,
          [&](OpBuilder &nb, Location loc, ValueRange args) {
            return arith::TruncFOp::create(nb, loc, resultElement, args[0])
                .getResult();
          });

    b.setInsertionPointToEnd(terminator.getBody());
    tensor::ParallelInsertSliceOp::create(b, y, forall.getRegionIterArgs()[0],
                                          offsets, sizes, strides);
    return forall.getResult(0);
  }

  /// x as f32 with each group of 32 elements reordered to its 16 even
  /// elements, then its 16 odd ones (the order of lookupNibbles' values).
  /// Built once per call; K is a multiple of 32 here.
  Value emitDeinterleavedX(ImplicitLocOpBuilder &b, Value x, Value m,
                           int64_t k) const {
    Value init = tensor::EmptyOp::create(
        b,
        ArrayRef<OpFoldResult>{tensor::getMixedSize(b, b.getLoc(), x, 0),
                               b.getIndexAttr(k)},
        b.getF32Type());
    SmallVector<int64_t> order;
    for (int64_t i = 0; i < 32; i += 2)
      order.push_back(i);
    for (int64_t i = 1; i < 32; i += 2)
      order.push_back(i);
    auto rows = scf::ForOp::create(
        b, cIdx(b, 0), m, cIdx(b, 1), ValueRange{init},
        [&](OpBuilder &nb, Location loc, Value row, ValueRange rowArgs) {
          ImplicitLocOpBuilder ib(loc, nb);
          auto cols = scf::ForOp::create(
              ib, cIdx(ib, 0), cIdx(ib, k), cIdx(ib, 32), rowArgs,
              [&](OpBuilder &cb, Location cloc, Value col, ValueRange args) {
                ImplicitLocOpBuilder jb(cloc, cb);
                Value v = readRowChunk(jb, x, row, col, 32);
                Value split = vector::ShuffleOp::create(jb, v, v, order);
                Value written = vector::TransferWriteOp::create(
                                    jb, split, args[0], ValueRange{row, col},
                                    ArrayRef<bool>{true})
                                    .getResult();
                scf::YieldOp::create(jb, written);
              });
          scf::YieldOp::create(ib, cols.getResult(0));
        });
    return rows.getResult(0);
  }

  /// x·Aᵀ as an f32 [M, r] tensor (small: r is the LoRA rank).
  Value emitLoraDown(ImplicitLocOpBuilder &b, Value x, Value m, Value a) const {
    auto aType = cast<RankedTensorType>(a.getType());
    int64_t r = aType.getShape()[0], k = aType.getShape()[1];
    Value init = tensor::EmptyOp::create(
        b,
        ArrayRef<OpFoldResult>{tensor::getMixedSize(b, b.getLoc(), x, 0),
                               b.getIndexAttr(r)},
        b.getF32Type());
    auto rows = scf::ForOp::create(
        b, cIdx(b, 0), m, cIdx(b, 1), ValueRange{init},
        [&](OpBuilder &nb, Location loc, Value row, ValueRange rowArgs) {
          ImplicitLocOpBuilder ib(loc, nb);
          auto cols = scf::ForOp::create(
              ib, cIdx(ib, 0), cIdx(ib, r), cIdx(ib, 1), rowArgs,
              [&](OpBuilder &cb, Location cloc, Value j, ValueRange args) {
                ImplicitLocOpBuilder jb(cloc, cb);
                Value dot =
                    emitVectorDot(jb, x, row, a, j, k, config.vectorWidth);
                scf::YieldOp::create(
                    jb, tensor::InsertOp::create(jb, dot, args[0],
                                                 ValueRange{row, j})
                            .getResult());
              });
          scf::YieldOp::create(ib, cols.getResult(0));
        });
    return rows.getResult(0);
  }

  /// Σ_k x[m0 + i, k] · W[n, k] for i < tile and each row n of W in `ns`,
  /// at index c * tile + i for ns[c]: each chunk of a row of W is decoded
  /// once and used by all `tile` rows of x, and each chunk of x is loaded
  /// once for all rows of W.
  SmallVector<Value> emitRowDots(ImplicitLocOpBuilder &b,
                                 PackedScalarReader &reader,
                                 const VectorDecoder &decoder, Value x,
                                 Value xSplit, Value m0, int64_t tile,
                                 ArrayRef<Value> ns) const {
    const nx::PackedLayout &layout = reader.getLayout();
    int64_t bits = decoder.getBits();
    int64_t blocksPerRow = layout.blocksPerRow;
    int64_t blockSize = layout.k / blocksPerRow;
    int64_t width = config.vectorWidth;
    int64_t chunks = blockSize / width, tail = blockSize % width;
    int64_t columns = ns.size();

    SmallVector<Value> rows;
    for (int64_t i = 0; i < tile; ++i)
      rows.push_back(addIdx(b, m0, cIdx(b, i)));
    SmallVector<Value> rowBytes;
    for (Value n : ns)
      rowBytes.push_back(addIdx(b, cIdx(b, layout.codes.offset),
                                mulIdx(b, n, int64_t(layout.rowBytes))));

    // Independent FMA chains: `lanes` accumulators per row of x and of W
    // (chunk c of a block feeds accumulator c % lanes), so that a lone row
    // does not wait on the FMA latency. T x C rows already give T x C
    // chains.
    int64_t lanes =
        std::max<int64_t>(1, std::min<int64_t>({kChains / (tile * columns),
                                                std::max<int64_t>(chunks, 1)}));
    // Chunks of a block per loop iteration: all of them when few (straight-
    // line code), else `lanes` at a time (`chunks` is then a multiple).
    int64_t unroll = chunks <= kMaxStraightChunks ? chunks : lanes;
    while (chunks % unroll)
      --unroll;
    // Split nibbles work on pairs of chunks (chunks is even then).
    if (xSplit && unroll % 2)
      unroll = 2;
    auto slot = [&](int64_t column, int64_t row, int64_t chain) {
      return (column * tile + row) * lanes + chain;
    };

    SmallVector<Value> zeros(columns * tile * lanes, splatF32(b, width, 0.0f));
    auto blocks = scf::ForOp::create(
        b, cIdx(b, 0), cIdx(b, blocksPerRow), cIdx(b, 1), zeros,
        [&](OpBuilder &nb, Location loc, Value blk, ValueRange accArgs) {
          ImplicitLocOpBuilder ib(loc, nb);
          SmallVector<BlockParams> params;
          SmallVector<Value> byteBase;
          for (int64_t c = 0; c < columns; ++c) {
            Value block = addIdx(ib, mulIdx(ib, ns[c], blocksPerRow), blk);
            params.push_back(loadBlockParams(ib, reader, decoder, block));
            // Only blocks after the first need blockSize * bits % 8 == 0,
            // which the scheme verifier guarantees.
            byteBase.push_back(
                blocksPerRow == 1
                    ? rowBytes[c]
                    : addIdx(ib, rowBytes[c],
                             mulIdx(ib, blk, blockSize * bits / 8)));
          }
          Value colBase = mulIdx(ib, blk, blockSize);
          // `count` codes of column c at its byte offset, decoded.
          auto decode = [&](ImplicitLocOpBuilder &jb, int64_t c,
                            Value byteOffset, int64_t count) {
            const BlockParams &p = params[c];
            return p.table
                       ? decoder.lookupScaled(jb, byteOffset, count, p.table)
                       : decoder.applyScale(
                             jb, decoder.decodeCodes(jb, byteOffset, count),
                             p.scale, p.zero);
          };
          SmallVector<Value> accs(accArgs);
          // Chunks [first, first + unroll) at column/byte offsets `col0` and
          // `byte0 + byteBase[c]`, chunk first + u feeding chain u % lanes.
          // Codes of up to kDecodeGroup chunks are unpacked and decoded as
          // one vector (wide byte loads and unpacking), then split into
          // chunks for the FMAs; a chunk of x is read once for all columns.
          auto step = [&](ImplicitLocOpBuilder &jb, Value col0, Value byte0,
                          SmallVector<Value> state) {
            for (int64_t u = 0; xSplit && u < unroll; u += 2) {
              SmallVector<std::pair<Value, Value>> halves;
              for (int64_t c = 0; c < columns; ++c)
                halves.push_back(decoder.lookupNibbles(
                    jb,
                    addIdx(jb, addIdx(jb, byteBase[c], byte0),
                           cIdx(jb, u * width / 2)),
                    params[c].table));
              Value col = addIdx(jb, col0, cIdx(jb, u * width));
              Value colOdd = addIdx(jb, col, cIdx(jb, width));
              for (int64_t i = 0; i < tile; ++i) {
                Value xEven = readRowChunk(jb, xSplit, rows[i], col, width);
                Value xOdd = readRowChunk(jb, xSplit, rows[i], colOdd, width);
                for (int64_t c = 0; c < columns; ++c) {
                  Value &accEven = state[slot(c, i, u % lanes)];
                  accEven = vector::FMAOp::create(jb, xEven, halves[c].first,
                                                  accEven);
                  Value &accOdd = state[slot(c, i, (u + 1) % lanes)];
                  accOdd =
                      vector::FMAOp::create(jb, xOdd, halves[c].second, accOdd);
                }
              }
            }
            for (int64_t g = 0; !xSplit && g < unroll; g += kDecodeGroup) {
              int64_t group = std::min(kDecodeGroup, unroll - g);
              SmallVector<Value> decoded;
              for (int64_t c = 0; c < columns; ++c)
                decoded.push_back(
                    decode(jb, c,
                           addIdx(jb, addIdx(jb, byteBase[c], byte0),
                                  cIdx(jb, g * width * bits / 8)),
                           group * width));
              for (int64_t u = g; u < g + group; ++u) {
                SmallVector<Value> w;
                for (int64_t c = 0; c < columns; ++c)
                  w.push_back(group == 1
                                  ? decoded[c]
                                  : Value(vector::ExtractStridedSliceOp::create(
                                        jb, decoded[c],
                                        ArrayRef<int64_t>{(u - g) * width},
                                        ArrayRef<int64_t>{width},
                                        ArrayRef<int64_t>{1})));
                Value col = addIdx(jb, col0, cIdx(jb, u * width));
                for (int64_t i = 0; i < tile; ++i) {
                  Value xv = readRowChunk(jb, x, rows[i], col, width);
                  for (int64_t c = 0; c < columns; ++c) {
                    Value &acc = state[slot(c, i, u % lanes)];
                    acc = vector::FMAOp::create(jb, xv, w[c], acc);
                  }
                }
              }
            }
            return state;
          };
          if (chunks > 0 && chunks == unroll) {
            accs = step(ib, colBase, cIdx(ib, 0), accs);
          } else if (chunks > 0) {
            auto inner = scf::ForOp::create(
                ib, cIdx(ib, 0), cIdx(ib, chunks), cIdx(ib, unroll), accs,
                [&](OpBuilder &cb, Location cloc, Value c, ValueRange args) {
                  ImplicitLocOpBuilder jb(cloc, cb);
                  Value col = addIdx(jb, colBase, mulIdx(jb, c, width));
                  Value byteOffset = mulIdx(jb, c, width * bits / 8);
                  scf::YieldOp::create(
                      jb, step(jb, col, byteOffset, SmallVector<Value>(args)));
                });
            accs.assign(inner.getResults().begin(), inner.getResults().end());
          }
          if (tail) {
            // The block's last `tail` codes, widened with zeros.
            Value col = addIdx(ib, colBase, cIdx(ib, chunks * width));
            SmallVector<Value> w;
            for (int64_t c = 0; c < columns; ++c)
              w.push_back(widenWithZeros(
                  ib,
                  decode(ib, c,
                         addIdx(ib, byteBase[c],
                                cIdx(ib, chunks * width * bits / 8)),
                         tail),
                  width));
            for (int64_t i = 0; i < tile; ++i) {
              Value xv = widenWithZeros(
                  ib, readRowChunk(ib, x, rows[i], col, tail), width);
              for (int64_t c = 0; c < columns; ++c) {
                Value &acc = accs[slot(c, i, 0)];
                acc = vector::FMAOp::create(ib, xv, w[c], acc);
              }
            }
          }
          scf::YieldOp::create(ib, accs);
        });
    SmallVector<Value> dots;
    for (int64_t c = 0; c < columns; ++c)
      for (int64_t i = 0; i < tile; ++i) {
        Value acc = blocks.getResult(slot(c, i, 0));
        for (int64_t l = 1; l < lanes; ++l)
          acc = arith::AddFOp::create(b, acc, blocks.getResult(slot(c, i, l)));
        dots.push_back(
            vector::ReductionOp::create(b, vector::CombiningKind::ADD, acc));
      }
    return dots;
  }

  KernelConfig config;
};

struct LowerCpuPass : mlir::lowbit::impl::LowbitLowerCpuBase<LowerCpuPass> {
  using Base::Base;

  void runOnOperation() override {
    if (vectorWidth <= 0 || vectorWidth % 8 != 0) {
      getOperation().emitError()
          << "lowbit-lower-cpu: vector-width must be a positive multiple of "
             "8 (so that every chunk of codes starts on a byte), got "
          << int64_t(vectorWidth);
      return signalPassFailure();
    }
    if (batchTile <= 0) {
      getOperation().emitError()
          << "lowbit-lower-cpu: batch-tile must be positive, got "
          << int64_t(batchTile);
      return signalPassFailure();
    }
    if (pairMinK < 0) {
      getOperation().emitError()
          << "lowbit-lower-cpu: pair-min-k must not be negative, got "
          << int64_t(pairMinK);
      return signalPassFailure();
    }
    if (gemmMinBatch < 0) {
      getOperation().emitError()
          << "lowbit-lower-cpu: gemm-min-batch must not be negative, got "
          << int64_t(gemmMinBatch);
      return signalPassFailure();
    }
    if (nTile <= 0) {
      getOperation().emitError()
          << "lowbit-lower-cpu: n-tile must be positive, got "
          << int64_t(nTile);
      return signalPassFailure();
    }
    std::optional<Isa> kind = llvm::StringSwitch<std::optional<Isa>>(isa)
                                  .Case("generic", Isa::Generic)
                                  .Case("avx2", Isa::Avx2)
                                  .Case("avx512", Isa::Avx512)
                                  .Default(std::nullopt);
    if (!kind) {
      getOperation().emitError()
          << "lowbit-lower-cpu: isa must be generic, avx2 or avx512, got '"
          << isa << "'";
      return signalPassFailure();
    }
    if (dot != "f32" && dot != "i8") {
      getOperation().emitError()
          << "lowbit-lower-cpu: dot must be f32 or i8, got '" << dot << "'";
      return signalPassFailure();
    }
    if (dot == "i8" && *kind != Isa::Avx512) {
      getOperation().emitError()
          << "lowbit-lower-cpu: dot=i8 needs isa=avx512 (its kernels call "
             "AVX-512 VNNI vpdpbusd), got isa="
          << isa;
      return signalPassFailure();
    }
    if (failed(checkPackedBytesKnown(getOperation(), "lowbit-lower-cpu")))
      return signalPassFailure();
    PackedBytesTypeConverter converter;
    RewritePatternSet patterns(&getContext());
    // The kernel outranks the reference qmatmul lowering; weights and the
    // other lowbit ops use the reference patterns.
    populateReferenceLoweringPatterns(converter, patterns);
    populateCpuHadamardPatterns(converter, patterns, vectorWidth);
    patterns.add<CpuQMatmulLowering>(converter, &getContext(),
                                     KernelConfig{vectorWidth, batchTile, nTile,
                                                  *kind, gemmMinBatch, pairMinK,
                                                  dot == "i8", vbmi});
    if (failed(applyPackedBytesConversion(getOperation(), converter,
                                          std::move(patterns))))
      signalPassFailure();
  }
};

} // namespace
