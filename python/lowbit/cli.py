"""Console entry points: run the bundled (or LOWBIT_TOOLS_DIR) tools."""

import os
import sys

from . import _paths


def _exec(name):
    path = _paths.tool(name)
    os.execv(path, [path] + sys.argv[1:])


def lowbit_compile():
    _exec("lowbit-compile")


def lowbit_import():
    _exec("lowbit-import")


def lowbit_run():
    _exec("lowbit-run")


def lowbit_opt():
    _exec("lowbit-opt")
