#!/usr/bin/env python3
"""Writes the fuzzers' seed corpus, fuzz/corpus/<target>/{valid,bad}-*.

Small files (< 4 KiB) of each reader's format: valid ones covering the
features, broken ones each breaking one rule. The unit tests replay them
(valid-* must be accepted, bad-* rejected). Needs only the standard
library. Run it again after changing it and commit the output.
"""

import json
import os
import shutil
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))


# --- safetensors -------------------------------------------------------------

def st_file(header, data=b"", pad=True, length=None):
    text = header if isinstance(header, bytes) else json.dumps(
        header, separators=(",", ":")).encode()
    if pad:
        text += b" " * (-len(text) % 8)
    n = len(text) if length is None else length
    return struct.pack("<Q", n) + text + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def safetensors():
    f32 = struct.pack("<6f", 1, -2, 3.5, 0, 1e-3, 7)
    yield "valid-small", st_file(
        {"__metadata__": {"format": "pt"},
         "w": tensor("F32", [2, 3], 0, 24), "b": tensor("I8", [4], 24, 28)},
        f32 + bytes([1, 255, 3, 128]))
    yield "valid-empty", st_file({})
    yield "valid-mixed", st_file(
        {"s": tensor("BF16", [], 0, 2), "z": tensor("F16", [0, 4], 2, 2),
         "f4": tensor("F4", [4], 2, 4), "e": tensor("F8_E4M3", [2], 4, 6)},
        bytes(range(6)), pad=False)
    yield "bad-truncated-header", b"\x10\x00\x00"
    yield "bad-header-past-eof", st_file({}, length=4000)
    yield "bad-overlap", st_file(
        {"a": tensor("U8", [4], 0, 4), "b": tensor("U8", [2], 2, 4)}, b"abcd")
    yield "bad-offsets-reversed", st_file(
        {"a": tensor("U8", [0], 4, 0)}, b"abcd")
    yield "bad-past-file", st_file({"a": tensor("U8", [8], 0, 8)}, b"abcd")
    yield "bad-size-mismatch", st_file({"a": tensor("F32", [2], 0, 4)},
                                       b"abcd")
    yield "bad-shape-overflow", st_file(
        {"a": tensor("U8", [2**32, 2**32], 0, 0)})
    yield "bad-gap", st_file({"a": tensor("U8", [2], 2, 4)}, b"abcd")
    yield "bad-dtype", st_file({"a": tensor("Q4_0", [4], 0, 4)}, b"abcd")
    yield "bad-json", st_file(b'{"a":{"dtype":"U8",}}')
    yield "bad-utf8", st_file(b'{"a\xc0\xaf":1}')
    yield "bad-escape", st_file(b'{"\\ud800x":1}')
    yield "bad-duplicate", st_file(
        b'{"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]},'
        b'"a":{"dtype":"U8","shape":[0],"data_offsets":[0,0]}}')
    yield "bad-deep", st_file(b'{"__metadata__":' + b"[" * 100 + b"}")


# --- sharded index -----------------------------------------------------------

def shard_index():
    def j(obj):
        return json.dumps(obj, indent=2).encode()
    yield "valid-basic", j({"weight_map": {
        "model.embed.weight": "model-00001-of-00002.safetensors",
        "model.layers.0.q.weight": "model-00002-of-00002.safetensors"}})
    yield "valid-metadata", j({"metadata": {"total_size": 123456},
                               "weight_map": {"a": "x.safetensors"}})
    yield "bad-not-object", b"[1, 2]"
    yield "bad-traversal", j({"weight_map": {"a": "../../etc/passwd"}})
    yield "bad-duplicate", b'{"weight_map": {"a": "x", "a": "y"}}'
    yield "bad-value-type", j({"weight_map": {"a": 3}})
    yield "bad-missing-map", j({"metadata": {}})
    yield "bad-total-size", j({"metadata": {"total_size": -5},
                               "weight_map": {}})


# --- GGUF --------------------------------------------------------------------

U8, I8, U16, I16, U32, I32, F32, BOOL, STR, ARR, U64, I64, F64 = range(13)


def gstr(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def kv(key, vtype, payload):
    return gstr(key) + struct.pack("<I", vtype) + payload


def tinfo(name, dims, ggml_type, offset):
    return (gstr(name) + struct.pack("<I", len(dims)) +
            struct.pack("<%dQ" % len(dims), *dims) +
            struct.pack("<IQ", ggml_type, offset))


def gguf(kvs, tensors, data, version=3, align=32, magic=b"GGUF",
         kv_count=None, tensor_count=None):
    out = magic + struct.pack(
        "<IQQ", version, len(tensors) if tensor_count is None else tensor_count,
        len(kvs) if kv_count is None else kv_count)
    out += b"".join(kvs) + b"".join(tensors)
    out += b"\0" * (-len(out) % align)
    return out + data


def gguf_files():
    all_kvs = [
        kv("general.architecture", STR, gstr("llama")),
        kv("u8", U8, b"\x07"), kv("i8", I8, b"\xf9"),
        kv("u16", U16, struct.pack("<H", 65535)),
        kv("i16", I16, struct.pack("<h", -3)),
        kv("u32", U32, struct.pack("<I", 7)),
        kv("i32", I32, struct.pack("<i", -7)),
        kv("f32", F32, struct.pack("<f", 0.5)), kv("b", BOOL, b"\x01"),
        kv("u64", U64, struct.pack("<Q", 2**64 - 1)),
        kv("i64", I64, struct.pack("<q", -2**63)),
        kv("f64", F64, struct.pack("<d", -1.25)),
        kv("tokens", ARR, struct.pack("<IQ", STR, 2) + gstr("a") + gstr("bc")),
        kv("nested", ARR, struct.pack("<IQ", ARR, 1) +
           struct.pack("<IQ", U8, 3) + b"\x01\x02\x03"),
    ]
    f32 = struct.pack("<4f", 1, 2, 3, 4)
    q8 = b"\x00\x3c" + bytes(range(32))          # Q8_0 block, d = 1.0
    q4 = b"\x00\x38" + bytes(range(16))          # Q4_0 block, d = 0.5
    yield "valid-basic", gguf(
        all_kvs,
        [tinfo("t.f32", [4], 0, 0), tinfo("t.q8", [32], 8, 32),
         tinfo("t.q4", [32], 2, 96)],
        f32 + b"\0" * 16 + q8 + b"\0" * 30 + q4)
    yield "valid-unsupported-type", gguf(
        [kv("general.alignment", U32, struct.pack("<I", 16))],
        [tinfo("blk.0.attn_q.weight", [256, 1], 13, 0)], b"\0" * 176,
        align=16)
    yield "valid-empty", gguf([], [], b"")
    yield "bad-magic", gguf([], [], b"", magic=b"GGML")
    yield "bad-version", gguf([], [], b"", version=2)
    yield "bad-kv-count", gguf([], [], b"\0" * 64, kv_count=2**62)
    yield "bad-string-length", gguf(
        [gstr("k") + struct.pack("<IQ", STR, 10**6) + b"abc"], [], b"")
    yield "bad-array-length", gguf(
        [kv("a", ARR, struct.pack("<IQ", U64, 2**60))], [], b"\0" * 64)
    yield "bad-overlap", gguf(
        [], [tinfo("a", [16], 0, 0), tinfo("b", [8], 0, 32)], b"\0" * 64)
    yield "bad-unaligned", gguf([], [tinfo("a", [4], 0, 8)], b"\0" * 64)
    yield "bad-alignment", gguf(
        [kv("general.alignment", U32, struct.pack("<I", 24))], [], b"")
    yield "bad-block-multiple", gguf([], [tinfo("a", [20], 8, 0)],
                                     b"\0" * 64)
    yield "bad-past-eof", gguf([], [tinfo("a", [64], 0, 0)], b"\0" * 32)


# --- adapter_config.json -----------------------------------------------------

def adapter_config():
    def j(obj):
        return json.dumps(obj, indent=2).encode()
    base = {"peft_type": "LORA", "r": 8, "lora_alpha": 16,
            "lora_dropout": 0.05, "target_modules": ["q_proj", "v_proj"],
            "fan_in_fan_out": False, "bias": "none", "use_rslora": False,
            "base_model_name_or_path": "tiny-llama", "task_type": "CAUSAL_LM"}
    yield "valid-list", j(base)
    yield "valid-regex-rslora", j(dict(base, target_modules=r".*\.(q|v)_proj",
                                       use_rslora=True, lora_alpha=4.5))
    yield "bad-missing-r", j({k: v for k, v in base.items() if k != "r"})
    yield "bad-r-type", j(dict(base, r="8"))
    yield "bad-targets", j(dict(base, target_modules=[1, 2]))
    yield "bad-dora", j(dict(base, use_dora=True))
    yield "bad-json", b'{"r": 8, "lora_alpha": 16,'


# --- .npy (lowbit-run inputs) ------------------------------------------------

def npy_file(header, data=b"", version=(1, 0), magic=b"\x93NUMPY"):
    text = header.encode() if isinstance(header, str) else header
    size_bytes = 2 if version[0] == 1 else 4
    total = len(magic) + 2 + size_bytes + len(text) + 1
    text += b" " * (-total % 64) + b"\n"
    size = struct.pack("<H" if size_bytes == 2 else "<I", len(text))
    return magic + bytes(version) + size + text + data


def npy():
    f4 = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }"
    yield "valid-f32", npy_file(f4, struct.pack("<6f", 1, 2, 3, 4, 5, 6))
    yield "valid-i64-v2", npy_file(
        "{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
        struct.pack("<3q", -1, 0, 7), version=(2, 0))
    yield "valid-scalar", npy_file(
        "{'descr': '|i1', 'fortran_order': False, 'shape': (), }", b"\x05")
    yield "bad-magic", npy_file(f4, b"\0" * 24, magic=b"\x93NUMPX")
    yield "bad-truncated", npy_file(f4, b"\0" * 20)
    yield "bad-fortran", npy_file(
        "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
        b"\0" * 24)
    yield "bad-big-endian", npy_file(
        "{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
        b"\0" * 24)
    yield "bad-object", npy_file(
        "{'descr': '|O', 'fortran_order': False, 'shape': (1,), }", b"\0" * 8)
    yield "bad-shape-overflow", npy_file(
        "{'descr': '<f4', 'fortran_order': False, "
        "'shape': (4294967296, 4294967296), }")
    yield "bad-negative-dim", npy_file(
        "{'descr': '<f4', 'fortran_order': False, 'shape': (-1,), }")
    yield "bad-header-length", b"\x93NUMPY\x01\x00\xff\xff{"


# --- artifact manifests ------------------------------------------------------

def manifest():
    def j(obj):
        return json.dumps(obj).encode()
    entry = {"name": "forward", "symbol": "lowbit_forward",
             "packed_symbol": "lowbit_forward_packed",
             "args": [{"name": "x", "dtype": "f32", "shape": [2, 128]},
                      {"name": "ids", "dtype": "i64", "shape": []}],
             "results": [{"name": "result0", "dtype": "bf16",
                          "shape": [2, 64]}]}
    base = {"format": "lowbit-artifact", "version": 1, "prefix": "lowbit_",
            "target": "cpu", "entries": [entry],
            "weights": [{"name": "w0", "bytes": 8448, "align": 64,
                         "type": "tensor<8448xi8>"}]}
    yield "valid-basic", j(base)
    yield "valid-no-weights", j(dict(base, weights=[]))
    yield "bad-version", j(dict(base, version=2))
    yield "bad-unknown-field", j(dict(base, extra=1))
    yield "bad-negative-dim", j(dict(base, entries=[dict(entry, args=[
        {"name": "x", "dtype": "f32", "shape": [-1]}])]))
    yield "bad-dtype", j(dict(base, entries=[dict(entry, args=[
        {"name": "x", "dtype": "f128", "shape": [1]}])]))
    yield "bad-symbol", j(dict(base, entries=[dict(entry,
                                                   symbol="lowbit forward")]))
    yield "bad-align", j(dict(base, weights=[
        {"name": "w0", "bytes": 8, "align": 48}]))
    yield "bad-duplicate-weight", j(dict(base, weights=[
        {"name": "w0", "bytes": 8, "align": 64}] * 2))
    yield "bad-overflow", j(dict(base, entries=[dict(entry, args=[
        {"name": "x", "dtype": "f64",
         "shape": [2 ** 40, 2 ** 40]}])]))


# --- weights files (checked against the fuzzer's fixed manifest) -------------

def weights_file():
    def wf(tensors, data, meta=None, align=64):
        header = {"__metadata__": meta or {"format": "lowbit-weights"}}
        header.update(tensors)
        text = json.dumps(header, separators=(",", ":")).encode()
        text += b" " * (-(8 + len(text)) % align)
        return struct.pack("<Q", len(text)) + text + data
    good = {"w0": tensor("U8", [64], 0, 64), "w1": tensor("U8", [64], 64, 128)}
    data = bytes(range(64)) + b"\x01\x02\x03\x04\x05" + b"\0" * 59
    yield "valid-basic", wf(good, data)
    yield "valid-aligned-8", wf(good, data, align=8)
    yield "bad-format", wf(good, data, meta={"format": "pt"})
    yield "bad-padding", wf(good, data[:-1] + b"\x01")
    yield "bad-missing", wf({"w0": good["w0"]}, data[:64])
    yield "bad-dtype", wf({"w0": tensor("I8", [64], 0, 64),
                           "w1": good["w1"]}, data)
    yield "bad-size", wf({"w0": tensor("U8", [32], 0, 32),
                          "w1": tensor("U8", [64], 32, 96)}, data[:96])
    yield "bad-extra", wf(dict(good, x=tensor("U8", [0], 128, 128)), data)


TARGETS = {"safetensors": safetensors, "shard_index": shard_index,
           "gguf": gguf_files, "adapter_config": adapter_config, "npy": npy,
           "manifest": manifest, "weights_file": weights_file}


def main():
    root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    for target, make in TARGETS.items():
        d = os.path.join(root, target)
        shutil.rmtree(d, ignore_errors=True)
        os.makedirs(d)
        for name, data in make():
            assert len(data) < 4096, (target, name)
            with open(os.path.join(d, name), "wb") as f:
                f.write(data)


if __name__ == "__main__":
    main()
