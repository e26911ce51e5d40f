#!/usr/bin/env bash
# Sets up, builds the tools and the runtime, and runs the main demo: the
# sentence-embedding model all-MiniLM-L6-v2 imported from its Hugging Face
# checkpoint, compiled ahead of time with NF4 + double-quantized weights,
# and run from Python next to an f32 build (examples/minilm_demo.py).
# Extra arguments go to the demo (e.g. --work DIR to keep the artifacts).
set -euo pipefail
source "$(dirname "$0")/env.sh"
bash "$root/scripts/build.sh" lowbit-import lowbit-compile lowbit_runtime \
  lowbit_numerics_c
"$python" "$root/examples/minilm_demo.py" --build "$build" "$@"
