# -*- Python -*-
# lit configuration for the lowbit test suite.

import os
import shutil
import subprocess

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "LOWBIT"
# lit's internal shell: the same behaviour on every machine.
config.test_format = lit.formats.ShTest(execute_external=False)
config.suffixes = [".mlir", ".py", ".c", ".test"]
config.excludes = ["lit.cfg.py", "lit.site.cfg.py", "Inputs", "Utils",
                   "CMakeLists.txt"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.lowbit_obj_root, "test")

config.substitutions.append(("%PATH%", config.environment["PATH"]))
config.substitutions.append(("%python", config.python_executable))
config.substitutions.append(("%lowbit_src", config.lowbit_src_root))
config.substitutions.append(("%lowbit_obj", config.lowbit_obj_root))
config.substitutions.append(("%lowbit_lib_dir", config.lowbit_lib_dir))
config.substitutions.append(
    ("%sum_counter", config.python_executable + " " +
     os.path.join(config.lowbit_src_root, "test", "Utils", "sum_counter.py")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

# Python tests import the in-tree package and find the libraries it loads
# in the build tree.
config.environment["PYTHONPATH"] = os.pathsep.join(
    [os.path.join(config.lowbit_src_root, "python"),
     os.path.join(config.lowbit_src_root, "test", "Utils"),
     os.path.join(config.lowbit_src_root, "examples"),
     config.environment.get("PYTHONPATH", "")])
config.environment["LOWBIT_LIBRARY_DIR"] = config.lowbit_lib_dir
# A sanitizer build's shared libraries need the sanitizer runtimes loaded
# first when an uninstrumented Python loads them through ctypes.
if config.sanitizer_runtimes:
    config.environment["LD_PRELOAD"] = config.sanitizer_runtimes
    config.environment["ASAN_OPTIONS"] = "detect_leaks=0"

# Integration tests drive lowbit-opt and mlir-runner from Python.
config.environment["LOWBIT_OPT"] = os.path.join(config.lowbit_tools_dir,
                                                "lowbit-opt")
config.environment["LOWBIT_MLIR_RUNNER"] = os.path.join(config.llvm_tools_dir,
                                                        "mlir-runner")
config.environment["LOWBIT_RUNNER_LIBS"] = ",".join(
    os.path.join(config.llvm_lib_dir, lib)
    for lib in ("libmlir_c_runner_utils.so", "libmlir_runner_utils.so"))

# mlir-runner executes the LLVM dialect with the runner-utils libraries.
runner_libs = ",".join(
    os.path.join(config.llvm_lib_dir, lib)
    for lib in ("libmlir_c_runner_utils.so", "libmlir_runner_utils.so"))
config.substitutions.append(
    ("%mlir_runner",
     f"mlir-runner -e main -entry-point-result=void -shared-libs={runner_libs}"))
config.substitutions.append(("%lowbit_examples",
                             os.path.join(config.lowbit_src_root, "examples")))

tool_dirs = [config.lowbit_tools_dir, config.llvm_tools_dir]
llvm_config.add_tool_substitutions(["lowbit-opt", "lowbit-compile"], tool_dirs)
llvm_config.with_environment("PATH", config.lowbit_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)

# Hardware features gate tests that need them; without the hardware lit
# reports those tests as UNSUPPORTED.
def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()

flags = _cpu_flags()
if {"avx2", "fma"} <= flags:
    config.available_features.add("cpu-avx2")
if {"avx512f", "avx512bw", "avx512vl"} <= flags:
    config.available_features.add("cpu-avx512")
if "avx512_vnni" in flags:
    config.available_features.add("cpu-avx512-vnni")
if "avx512_bf16" in flags:
    config.available_features.add("cpu-avx512-bf16")

def _has_cuda_device():
    smi = shutil.which("nvidia-smi")
    if not smi:
        return False
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True,
                             timeout=20)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return out.returncode == 0 and "GPU" in out.stdout

if shutil.which("cc"): config.available_features.add("cc")
if _has_cuda_device():
    config.available_features.add("cuda")
if shutil.which("ptxas") or os.path.exists("/usr/local/cuda/bin/ptxas"):
    config.available_features.add("ptxas")
# --target=cuda's default binary is a fatbin, made by the toolkit's fatbinary.
if shutil.which("fatbinary") or os.path.exists("/usr/local/cuda/bin/fatbinary"):
    config.available_features.add("fatbinary")
# A fake libcuda.so.1 (unittests/Runtime/Cuda/FakeCuda.c) for running
# --target=cuda artifacts' host code without a GPU (LOWBIT_CUDA_DRIVER).
config.substitutions.append(
    ("%lowbit_fake_cuda", os.path.join(config.lowbit_obj_root, "unittests",
                                       "Runtime", "Cuda",
                                       "lowbit-fake-cuda.so")))

# libFuzzer targets exist only in a clang build with LOWBIT_BUILD_FUZZERS=ON
# (scripts/fuzz.sh); elsewhere the fuzz smoke test is UNSUPPORTED.
if config.lowbit_build_fuzzers.upper() in ("ON", "1", "TRUE", "YES") and all(
        os.path.exists(os.path.join(config.lowbit_tools_dir,
                                    "lowbit-fuzz-" + t))
        for t in ("safetensors", "shard_index", "gguf", "adapter_config")):
    config.available_features.add("fuzzers")

# GPU code generation: %ptxas, and %cuobjdump (which needs nvdisasm) from
# PATH, the CUDA toolkit or the nvidia-cuda-* wheels of lit's Python.
import glob
_cuda_dirs = [os.path.dirname(p) for p in
              (shutil.which("ptxas"), "/usr/local/cuda/bin/ptxas") if p and os.path.exists(p)]
_cuda_dirs += glob.glob(os.path.join(os.path.dirname(os.path.dirname(
    config.python_executable)), "lib", "python3*", "site-packages", "nvidia",
    "cu*", "bin"))
def _cuda_tool(name):
    found = shutil.which(name)
    if found:
        return found
    return next((os.path.join(d, name) for d in _cuda_dirs
                 if os.path.exists(os.path.join(d, name))), None)
if _cuda_tool("ptxas"):
    config.substitutions.append(("%ptxas", _cuda_tool("ptxas")))
if _cuda_tool("cuobjdump") and _cuda_tool("nvdisasm"):
    config.available_features.add("cuobjdump")
    config.substitutions.append(("%cuobjdump", _cuda_tool("cuobjdump")))
    llvm_config.with_environment(
        "PATH", os.path.dirname(_cuda_tool("nvdisasm")), append_path=True)
