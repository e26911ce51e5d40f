"""Writes the object (PTX text or cubin) of a gpu.binary in MLIR text read
from stdin to the file named by argv[1]: the first one, or the one named
by argv[2] (its symbol without the @).

MLIR prints the object as a string attribute with `\\XX` hex escapes for
non-printable bytes and `\\\\` for a backslash.
"""

import re
import sys


def main():
    text = sys.stdin.read()
    marker = f"gpu.binary @{sys.argv[2]} " if len(sys.argv) > 2 else "gpu.binary"
    line = next((l for l in text.splitlines() if marker in l), None)
    if line is None:
        sys.exit(f"no {marker.strip()} in the input")
    strings = re.findall(r'"((?:[^"\\]|\\.)*)"', line)
    if not strings:
        sys.exit("the gpu.binary has no object")
    body = max(strings, key=len)
    out, i = bytearray(), 0
    while i < len(body):
        if body[i] == "\\":
            if body[i + 1] == "\\":
                out.append(0x5C)
                i += 2
            else:
                out.append(int(body[i + 1:i + 3], 16))
                i += 3
        else:
            out += body[i].encode("latin-1")
            i += 1
    with open(sys.argv[1], "wb") as f:
        f.write(out)


if __name__ == "__main__":
    main()
