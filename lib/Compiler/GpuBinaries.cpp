//===- GpuBinaries.cpp - kernels embedded in a cuda artifact --------------===//
//
// The GPU dialect's LLVM IR translation embeds each gpu.binary as a
// constant `<module>_binary`. A fatbin there is moved to the .nv_fatbin
// section, where nvcc puts device code and CUDA's tools look for it
// (`cuobjdump -lelf model.so` lists the cubins, `-sass` disassembles them).
// The code refers to the constant by address, so nothing else changes.
//
//===----------------------------------------------------------------------===//

#include "lowbit/Compiler/Compiler.h"

#include "llvm/IR/Constants.h"
#include "llvm/IR/GlobalVariable.h"
#include "llvm/IR/Module.h"

namespace lowbit {
namespace compiler {

/// The magic number that starts a fatbin (fatBinaryHeader.magic).
static constexpr uint32_t kFatbinMagic = 0xBA55ED50;

static bool isFatbin(const llvm::GlobalVariable &global) {
  auto *data = llvm::dyn_cast_or_null<llvm::ConstantDataSequential>(
      global.hasInitializer() ? global.getInitializer() : nullptr);
  if (!data || data->getElementByteSize() != 1)
    return false;
  llvm::StringRef bytes = data->getRawDataValues();
  if (bytes.size() < 16)
    return false;
  uint32_t magic = uint8_t(bytes[0]) | uint32_t(uint8_t(bytes[1])) << 8 |
                   uint32_t(uint8_t(bytes[2])) << 16 |
                   uint32_t(uint8_t(bytes[3])) << 24;
  return magic == kFatbinMagic;
}

unsigned placeGpuBinaries(llvm::Module &module) {
  unsigned placed = 0;
  for (llvm::GlobalVariable &global : module.globals()) {
    if (!global.isConstant() || !global.getName().ends_with("_binary") ||
        !isFatbin(global))
      continue;
    global.setSection(".nv_fatbin");
    global.setAlignment(llvm::Align(8));
    ++placed;
  }
  return placed;
}

} // namespace compiler
} // namespace lowbit
