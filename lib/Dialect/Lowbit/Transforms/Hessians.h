//===- Hessians.h - Calibration Hessians for GPTQ ---------------*- C++ -*-===//
//
// A safetensors file of per-matmul Hessians H = Σ x xᵀ over calibration
// inputs, one f32 (or f64) [K, K] tensor per matmul, named by the matmul's
// `lowbit.name` (lowbit.calibrate writes them). The pass that quantizes
// weights looks a matmul's Hessian up here. Asymmetric calibration also
// stores, beside each Hessian H̃ = Σ x̃ x̃ᵀ over the quantized model's inputs
// x̃, the cross-covariance Σ x̃ xᵀ with the float model's inputs x, named
// "<name>#cross".
//
//===----------------------------------------------------------------------===//

#ifndef LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_HESSIANS_H
#define LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_HESSIANS_H

#include "lowbit/ModelIO/Safetensors.h"

#include "mlir/IR/Diagnostics.h"
#include "mlir/IR/Operation.h"
#include "llvm/ADT/StringSet.h"

#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace mlir::lowbit {

class HessianFile {
public:
  /// Opens and validates the file; the message names the path.
  static FailureOr<HessianFile> open(const std::string &path,
                                     function_ref<InFlightDiagnostic()> error);

  /// The Hessian for a matmul with reduction length `k` named `name`, as
  /// f32 [k x k]; nullopt when the file has none. Emits an error on `op`
  /// (and fails) when the tensor is not a float [k, k] matrix.
  FailureOr<std::optional<std::vector<float>>>
  lookup(Operation *op, StringRef name, int64_t k);

  /// Where asymmetric calibration stores the cross-covariance Σ x̃ xᵀ of
  /// the matmul named `name`: "<name>#cross".
  static std::string crossName(StringRef name) {
    return (name + "#cross").str();
  }

  /// Names never looked up, in file order.
  std::vector<std::string> unusedNames() const;

  const std::string &path() const { return file->path(); }

private:
  std::shared_ptr<::lowbit::modelio::SafetensorsFile> file;
  llvm::StringSet<> used;
};

} // namespace mlir::lowbit

#endif // LOWBIT_LIB_DIALECT_LOWBIT_TRANSFORMS_HESSIANS_H
