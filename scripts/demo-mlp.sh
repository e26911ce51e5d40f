#!/usr/bin/env bash
# Sets up, builds lowbit-opt, and runs the MLP demo: a small MLP with a
# LoRA adapter quantized to several formats, executed, and compared with the
# float model.
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$root/scripts/build.sh" lowbit-opt lowbit-compile
llvm_lib=$(llvm-config-22 --libdir 2>/dev/null || echo /usr/lib/llvm-22/lib)
llvm_bin=$(llvm-config-22 --bindir 2>/dev/null || echo /usr/lib/llvm-22/bin)
"$python" "$root/examples/run_demo.py" --build "$build" \
  --runner "$llvm_bin/mlir-runner" \
  --runner-libs "$llvm_lib/libmlir_c_runner_utils.so,$llvm_lib/libmlir_runner_utils.so"
