"""Static SASS cost of the weight-decode loop of a lowbit GPU kernel.

Reads `cuobjdump -sass` output (argv[1]), finds the innermost loop (a
backward branch) that contains a 128-bit global load of packed weights
(LDG.E.128), and prints its instruction count per weight element:
instructions / (128-bit weight loads in the loop * codes per load).
Activations are loaded 128 bits at a time too: with --x-bytes B (bytes of
x read per weight code, all rows of x together), each weight load comes
with codes * B / 16 loads of x, which are not counted as weight loads.

  sass_loop.py SASS CODES_PER_LOAD NAME [--x-bytes B] [--max COUNT]

With --max, fails if the count exceeds COUNT (the recorded value + 20%).
"""

import argparse
import re
import sys


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("sass")
    parser.add_argument("codes", type=int)
    parser.add_argument("name")
    parser.add_argument("--x-bytes", type=float, default=0.0)
    parser.add_argument("--max", type=float)
    args = parser.parse_args()
    insts = []
    for line in open(args.sass):
        m = re.match(r"\s*/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", line)
        if m:
            insts.append((int(m.group(1), 16), m.group(2)))
    address = {a: i for i, (a, _) in enumerate(insts)}
    loops = []
    for i, (a, text) in enumerate(insts):
        b = re.search(r"\bBRA\b.*?0x([0-9a-f]+)", text)
        if b and int(b.group(1), 16) <= a and int(b.group(1), 16) in address:
            start = address[int(b.group(1), 16)]
            body = [t for _, t in insts[start:i + 1]]
            loads = sum(1 for t in body if re.search(r"\bLDG\.E\.128\b", t))
            if loads:
                loops.append((len(body), loads, body))
    if not loops:
        sys.exit(f"{args.name}: no loop with a 128-bit weight load found")
    size, loads, _ = min(loops, key=lambda l: l[0])
    per_weight_load = 1 + args.codes * args.x_bytes / 16
    weight_loads = loads / per_weight_load
    if weight_loads != int(weight_loads) or weight_loads < 1:
        sys.exit(f"{args.name}: {loads} 128-bit loads in the loop do not "
                 f"split into weight loads and {per_weight_load - 1:g} x "
                 f"loads each")
    weight_loads = int(weight_loads)
    per_element = size / (weight_loads * args.codes)
    print(f"{args.name}: {size} SASS instructions, {weight_loads} x "
          f"LDG.E.128 of weights, {loads - weight_loads} of x, "
          f"{per_element:.2f} per weight element")
    if args.max is not None and per_element > args.max:
        sys.exit(f"{args.name}: {per_element:.2f} instructions per element "
                 f"exceeds {args.max} (recorded value + 20%)")


if __name__ == "__main__":
    main()
