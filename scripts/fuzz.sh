#!/usr/bin/env bash
# Builds the file-reader fuzzers (ModelIO and the runtime) with clang (build-fuzz/, LOWBIT_BUILD_FUZZERS=ON)
# and runs each one for SECONDS (default 60) from the seed corpus in
# fuzz/corpus/<target>/. New inputs collect in build-fuzz/fuzz-work/<target>
# (not in the committed corpus); a crash leaves its input in
# build-fuzz/fuzz-artifacts/ and makes the script fail.
#
#   scripts/fuzz.sh [SECONDS]
#   CXX=clang++-22 CC=clang-22 JOBS=2 BUILD_DIR=... scripts/fuzz.sh 600
set -euo pipefail

seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${BUILD_DIR:-$root/build-fuzz}
python=python3
[ -x "$root/.venv/bin/python" ] && python=$root/.venv/bin/python

cmake -G Ninja -S "$root" -B "$build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_C_COMPILER="${CC:-clang-22}" -DCMAKE_CXX_COMPILER="${CXX:-clang++-22}" \
  -DLOWBIT_BUILD_FUZZERS=ON -DLOWBIT_BUILD_BENCHMARKS=OFF \
  -DPython3_EXECUTABLE="$python" >/dev/null
ninja -C "$build" -j"${JOBS:-2}" lowbit-fuzzers

status=0
mkdir -p "$build/fuzz-artifacts"
for target in safetensors shard_index gguf adapter_config npy manifest \
    weights_file; do
  work=$build/fuzz-work/$target
  mkdir -p "$work"
  echo "== lowbit-fuzz-$target: $seconds s"
  if ! "$build/bin/lowbit-fuzz-$target" -max_total_time="$seconds" \
      -max_len=65536 -timeout=10 -print_final_stats=1 \
      -artifact_prefix="$build/fuzz-artifacts/$target-" \
      "$work" "$root/fuzz/corpus/$target" 2>&1 | tail -n 12; then
    status=1
  fi
done
exit $status
