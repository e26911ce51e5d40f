"""Packs a built lowbit tree into the Python package.

`pip install python/` (after `bash scripts/build.sh`) copies the tools and
shared libraries of the build directory ($LOWBIT_BUILD_DIR, default
../build) into lowbit/_bin and lowbit/_lib. The tools link the LLVM/MLIR
shared libraries of the machine they were built on; the runtime and the
numerics library need nothing but the C/C++ libraries.
"""

import os
import shutil

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = os.path.dirname(os.path.abspath(__file__))
TOOLS = ["lowbit-compile", "lowbit-import", "lowbit-run", "lowbit-opt"]
LIBRARIES = ["liblowbit_runtime.so", "liblowbit_numerics_c.so",
             "liblowbit_cuda_runtime.so"]


class BuildWithNativeParts(build_py):
    def run(self):
        super().run()
        build = os.environ.get("LOWBIT_BUILD_DIR",
                               os.path.join(HERE, "..", "build"))
        missing = []
        for subdir, names, where in (("_bin", TOOLS, "bin"),
                                     ("_lib", LIBRARIES, "lib")):
            target = os.path.join(self.build_lib, "lowbit", subdir)
            os.makedirs(target, exist_ok=True)
            for name in names:
                source = os.path.join(build, where, name)
                if not os.path.exists(source):
                    missing.append(source)
                    continue
                shutil.copy2(source, os.path.join(target, name))
        if missing:
            raise SystemExit(
                "lowbit: build the project first (bash scripts/build.sh) or "
                "set LOWBIT_BUILD_DIR; missing: " + ", ".join(missing))


setup(cmdclass={"build_py": BuildWithNativeParts})
