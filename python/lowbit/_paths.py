"""Where the package finds lowbit's shared libraries and tools.

An installed package carries them in lowbit/_lib and lowbit/_bin; a build
tree is found through LOWBIT_LIBRARY_DIR (libraries) and LOWBIT_TOOLS_DIR
(tools), which take precedence; tools are also looked up on PATH.
"""

import os
import shutil

_HERE = os.path.dirname(os.path.abspath(__file__))


def library(name):
    """The path of the shared library `name` (e.g. "liblowbit_runtime.so")."""
    candidates = []
    env = os.environ.get("LOWBIT_LIBRARY_DIR")
    if env:
        candidates.append(os.path.join(env, name))
    candidates += [os.path.join(_HERE, "_lib", name), os.path.join(_HERE, name)]
    for path in candidates:
        if os.path.exists(path):
            return path
    raise OSError("cannot find %s (looked in: %s); set LOWBIT_LIBRARY_DIR"
                  % (name, ", ".join(candidates)))


def tool(name):
    """The path of the command-line tool `name` (e.g. "lowbit-compile")."""
    candidates = []
    env = os.environ.get("LOWBIT_TOOLS_DIR")
    if env:
        candidates.append(os.path.join(env, name))
    candidates.append(os.path.join(_HERE, "_bin", name))
    for path in candidates:
        if os.access(path, os.X_OK):
            return path
    found = shutil.which(name)
    if found:
        return found
    raise OSError("cannot find the tool %s (looked in: %s and PATH); set "
                  "LOWBIT_TOOLS_DIR" % (name, ", ".join(candidates)))
