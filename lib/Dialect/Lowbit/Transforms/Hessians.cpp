//===- Hessians.cpp - Calibration Hessians for GPTQ -----------------------===//

#include "Hessians.h"

#include <cstring>

using namespace mlir;
using namespace mlir::lowbit;
namespace io = ::lowbit::modelio;

FailureOr<HessianFile>
HessianFile::open(const std::string &path,
                  function_ref<InFlightDiagnostic()> error) {
  io::Result<io::SafetensorsFile> opened = io::SafetensorsFile::open(path);
  if (!opened)
    return error() << "cannot read the Hessians: " << opened.message();
  HessianFile hessians;
  hessians.file =
      std::make_shared<io::SafetensorsFile>(std::move(opened.value()));
  return hessians;
}

FailureOr<std::optional<std::vector<float>>>
HessianFile::lookup(Operation *op, StringRef name, int64_t k) {
  const io::TensorView *tensor = file->find(name.str());
  if (!tensor)
    return std::optional<std::vector<float>>();
  used.insert(name);
  bool f32 = tensor->dtype == io::SafetensorsDType::F32;
  bool f64 = tensor->dtype == io::SafetensorsDType::F64;
  if ((!f32 && !f64) || tensor->shape.size() != 2 ||
      tensor->shape[0] != uint64_t(k) || tensor->shape[1] != uint64_t(k)) {
    InFlightDiagnostic diag = op->emitError()
                              << "Hessian '" << name << "' in " << path()
                              << " is " << io::dtypeName(tensor->dtype) << " [";
    for (auto [i, d] : llvm::enumerate(tensor->shape))
      diag << (i ? ", " : "") << d;
    return diag << "], expected F32 or F64 [" << k << ", " << k
                << "] for a weight with K = " << k;
  }
  // Tensor data need not be aligned in the file: copy, never cast.
  std::vector<float> h(size_t(k * k));
  const uint8_t *data = tensor->bytes.data;
  if (f32) {
    std::memcpy(h.data(), data, h.size() * sizeof(float));
  } else {
    for (size_t i = 0; i < h.size(); ++i) {
      double v;
      std::memcpy(&v, data + 8 * i, 8);
      h[i] = float(v);
    }
  }
  return std::optional<std::vector<float>>(std::move(h));
}

std::vector<std::string> HessianFile::unusedNames() const {
  std::vector<std::string> names;
  for (const io::TensorView &t : file->tensors())
    if (!used.contains(t.name))
      names.push_back(t.name);
  return names;
}
