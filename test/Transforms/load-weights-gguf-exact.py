# RUN: rm -rf %t && mkdir -p %t
# RUN: %python %s %t
"""lowbit-load-weights converts GGUF blocks without loss: for Q8_0, Q4_0,
Q4_1 and Q4_K tensors of several rows (a zero row, a row with one large
value and random rows), the packed bytes the pass writes into the inline
weight dequantize, under the op's scheme, to exactly the bits that the gguf
package's own decoder (gguf.quants.dequantize, independent of lowbit)
gives for the file's blocks. The bytes also equal the numerics core's
gguf_to_canonical.
"""

import os
import re
import subprocess
import sys

import gguf
import numpy as np

import lowbit.numerics as nx

Q = gguf.GGMLQuantizationType
# name -> (GGML type, numerics name, [rows, K], the scheme lowbit maps it to)
TENSORS = {
    "q8": (Q.Q8_0, "q8_0", (4, 96),
           "#lowbit.scheme<i8, block = 32, scale = f16>"),
    "q4_0": (Q.Q4_0, "q4_0", (5, 64),
             "#lowbit.scheme<i4, block = 32, scale = f16>"),
    "q4_1": (Q.Q4_1, "q4_1", (3, 128),
             "#lowbit.scheme<u4, block = 32, scale = f16, zero_point = min>"),
    "q4_k": (Q.Q4_K, "q4_k", (3, 512),
             "#lowbit.scheme<u4, block = 32, scale = f32, zero_point = min>"),
}


def weights(rng, shape):
    x = rng.standard_normal(shape).astype(np.float32)
    x[0] = 0.0                  # d = 0 blocks
    x[1, 5] = 40.0              # one outlier sets a block's scale
    return x


def main():
    work = sys.argv[1]
    path = os.path.join(work, "w.gguf")
    rng = np.random.default_rng(11)
    writer = gguf.GGUFWriter(path, "llama")
    raw = {}
    for name, (qtype, nxname, shape, _) in TENSORS.items():
        x = weights(rng, shape)
        if qtype == Q.Q4_K:  # the gguf package has no Q4_K quantizer
            blocks = nx.gguf_quantize(x, nxname)
        else:
            blocks = gguf.quants.quantize(x, qtype)
        raw[name] = blocks
        writer.add_tensor(name, blocks, raw_shape=blocks.shape,
                          raw_dtype=qtype)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()

    lines = []
    for name, (_, _, (rows, k), scheme) in TENSORS.items():
        t = f"!lowbit.qtensor<{rows}x{k}xf32, {scheme}>"
        lines += [f"func.func @{name}() -> {t} {{",
                  f'  %w = lowbit.weight external "{name}" in "{path}" : {t}',
                  f"  return %w : {t}", "}"]
    result = subprocess.run([os.environ["LOWBIT_OPT"], "-",
                             "--lowbit-load-weights"],
                            input="\n".join(lines), capture_output=True,
                            text=True)
    if result.returncode != 0:
        sys.exit(f"lowbit-opt failed:\n{result.stderr}")
    text = result.stdout
    blobs = dict(re.findall(r'^\s*([\w.]+): "0x([0-9A-Fa-f]+)"', text,
                            re.MULTILINE))

    failures = 0
    for name, (qtype, nxname, shape, scheme) in TENSORS.items():
        m = re.search(r"func.func @" + name + r"\(\)[^{]*\{\s*%\S+ = "
                      r"lowbit.weight inline dense_resource<([\w.]+)> : "
                      r"tensor<(\d+)xi8> -> !lowbit.qtensor<", text)
        if not m or m.group(1) not in blobs:
            print(f"FAIL {name}: no inline weight in the output")
            failures += 1
            continue
        # A resource blob starts with its alignment (4 bytes).
        packed = np.frombuffer(bytes.fromhex(blobs[m.group(1)]),
                               np.uint8)[4:]
        ours = nx.dequantize(packed, nx.gguf_scheme(nxname), shape)
        theirs = np.asarray(gguf.quants.dequantize(raw[name], qtype),
                            np.float32).reshape(shape)
        same_bits = np.array_equal(ours.view(np.uint32),
                                   theirs.view(np.uint32))
        same_bytes = np.array_equal(
            packed, nx.gguf_to_canonical(raw[name], nxname, shape))
        ok = (int(m.group(2)) == packed.size and same_bits and same_bytes)
        failures += not ok
        print(f"{'ok  ' if ok else 'FAIL'} {name} {shape}: {packed.size} "
              f"bytes, bit-exact {same_bits}, canonical bytes {same_bytes}")
    return failures


if __name__ == "__main__":
    sys.exit(1 if main() else 0)
