"""Writes the GGUF files that load-weights-gguf.mlir reads.

  write_load_weights_gguf.py OUT.gguf TRUNCATED.gguf

OUT.gguf holds (row-major shapes; GGUF lists them reversed):
  f32   F32 [2, 4], values 0..7
  f16   F16 [2], [1.5, -2]
  q8    Q8_0 [2, 32]
  q4_0  Q4_0 [2, 64]
  q4_1  Q4_1 [2, 32]
  q5_0  Q5_0 [2, 32], a GGML type lowbit does not import
  q4_k  Q4_K [1, 256]
TRUNCATED.gguf is OUT.gguf cut in the middle of the data of q4_k, the last
tensor.
"""
import sys

import gguf
import numpy as np

import lowbit.numerics as nx

Q = gguf.GGMLQuantizationType


def main():
    out, truncated = sys.argv[1], sys.argv[2]
    rng = np.random.default_rng(5)
    w = gguf.GGUFWriter(out, "llama")

    def quantized(name, shape, qtype):
        x = rng.standard_normal(shape).astype(np.float32)
        if qtype == Q.Q4_K:  # the gguf package has no Q4_K quantizer
            blocks = nx.gguf_quantize(x, "q4_k")
        else:
            blocks = gguf.quants.quantize(x, qtype)
        w.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=qtype)

    w.add_tensor("f32", np.arange(8, dtype=np.float32).reshape(2, 4))
    w.add_tensor("f16", np.array([1.5, -2.0], dtype=np.float16))
    quantized("q8", (2, 32), Q.Q8_0)
    quantized("q4_0", (2, 64), Q.Q4_0)
    quantized("q4_1", (2, 32), Q.Q4_1)
    # Q5_0 blocks are 22 bytes: any bytes will do, they are never decoded.
    w.add_tensor("q5_0", np.zeros((2, 22), np.uint8), raw_shape=(2, 22),
                 raw_dtype=Q.Q5_0)
    quantized("q4_k", (1, 256), Q.Q4_K)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()

    last = gguf.GGUFReader(out).tensors[-1]
    with open(out, "rb") as f:
        data = f.read()
    with open(truncated, "wb") as f:
        f.write(data[:last.data_offset + last.n_bytes // 2])


if __name__ == "__main__":
    main()
