#!/usr/bin/env python3
"""lowbit's GPU qmatmul kernels against torch's fp16 matmul (cuBLAS).

For each weight format x shape (N x K) x batch, lowbit.qmatmul with f16
activations is compiled by `lowbit-compile --target=cuda` into an artifact
of its own; on the GPU each artifact is called through the lowbit runtime
(`lowbit.load`) and timed on the device (kernels only, from the lowbit CUDA
runtime's kernel timing), interleaved with `x @ w.T` of torch on an fp16
weight of the same shape (CUDA events around the matmul only). The L2
cache is flushed before every timed call of either side, so both read
their weights from device memory. It prints best and median times, the
speed-up over fp16, and the effective weight bandwidth (packed weight bytes
/ kernel time) against a read bandwidth measured in the same run, with the
targets next to them (printed, never asserted).

Two steps, together or separately:

    python bench/gpu_qmatmul.py build --build build   # needs a lowbit build
    python bench/gpu_qmatmul.py run                    # needs a GPU + torch
    python bench/gpu_qmatmul.py --build build          # both

`build` writes the artifacts, a copy of the lowbit runtimes and cases.json
to --out (default <build>/bench/gpu_qmatmul). `run` needs only that
directory, numpy, torch and this repository's python/lowbit; weights files
that were not carried along are synthesized from the artifacts' manifests.
Without a CUDA device, `run` says so and exits 0.
"""

import argparse
import concurrent.futures
import ctypes
import json
import os
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import time
import zlib

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Weight formats: the numerics core's scheme (lowbit.numerics.Scheme
# fields) and the same scheme in MLIR.
FORMATS = {
    "int4-g128": dict(scheme=dict(format="i4", block_size=128,
                                  scale_type="f16"),
                      mlir="#lowbit.scheme<i4, block = 128, scale = f16>"),
    "nf4-g64-dq": dict(scheme=dict(format="nf4", block_size=64,
                                   scale_type="f16", double_quant="dyn8",
                                   double_quant_block_size=256),
                       mlir="#lowbit.scheme<nf4, block = 64, scale = f16, "
                            "dq = <dyn8, block = 256>>"),
}
# Llama-3-8B attention/MLP shapes and Llama-3-70B's gate/up projection.
SHAPES = [(4096, 4096), (14336, 4096), (4096, 14336), (28672, 8192)]
BATCHES = [1, 16, 2048]
# The fused LoRA branch is measured for this format at this batch.
LORA_RANK, LORA_SCALE, LORA_FORMAT, LORA_BATCH = 16, 2.0, "int4-g128", 1
# The batch-1 targets hold on the two largest weight sizes of the issue's
# shapes (14336x4096 and 4096x14336 have the same size).
LARGE = 14336 * 4096
LORA_TARGET = 0.10
# A result further than this from the reference (relative L2 error) is
# reported as wrong: f16 output rounding gives ~5e-4.
MAX_ERROR = 1e-2

NP_FLOAT = {"f16": np.float16, "f32": np.float32, "f64": np.float64}


def fail(message):
    print(f"gpu_qmatmul: error: {message}", file=sys.stderr)
    sys.exit(1)


def round_up(x, multiple):
    return (x + multiple - 1) // multiple * multiple


# ---------------------------------------------------------------------------
# Packed weights: made and read by lowbit's numerics core (the library
# lowbit.numerics loads, liblowbit_numerics_c.so, which needs no LLVM)
# ---------------------------------------------------------------------------

_numerics = None


def use_libraries(lib_dir):
    """This repository's python/lowbit, with lowbit's libraries taken from
    `lib_dir`."""
    os.environ["LOWBIT_LIBRARY_DIR"] = os.path.abspath(lib_dir)
    if os.path.join(ROOT, "python") not in sys.path:
        sys.path.insert(0, os.path.join(ROOT, "python"))


def load_numerics(lib_dir):
    """lowbit.numerics, its library taken from `lib_dir`."""
    global _numerics
    if _numerics is None:
        use_libraries(lib_dir)
        import lowbit.numerics
        _numerics = lowbit.numerics
    return _numerics


def scheme_of(fmt):
    return _numerics.Scheme(**FORMATS[fmt]["scheme"])


def packed_bytes(fmt, n, k):
    """The size of the canonical packed [n, k] weight (docs/Formats.md)."""
    return _numerics.layout(scheme_of(fmt), n, k)["total_bytes"]


def synthesize_packed(fmt, n, k, rng):
    """A packed weight: random normal values (std 0.02, like LLM weights)
    quantized by the numerics core."""
    values = rng.standard_normal((n, k), dtype=np.float32)
    values *= np.float32(0.02)
    return _numerics.quantize(values, scheme_of(fmt),
                              threads=os.cpu_count() or 1)


def dequantize(fmt, n, k, buf):
    """The f32 values of a packed [n, k] weight."""
    return _numerics.dequantize(buf, scheme_of(fmt), (n, k),
                                threads=os.cpu_count() or 1)


# ---------------------------------------------------------------------------
# safetensors files
# ---------------------------------------------------------------------------

def write_safetensors(path, tensors, metadata=None, alignment=64):
    """tensors: [(name, dtype, shape, uint8 array, padded bytes)], written
    in this order, each followed by zeros up to its padded size; the data
    section starts at a multiple of `alignment` and every tensor's
    padded size is a multiple of it, so every tensor is aligned."""
    header, offset = {}, 0
    if metadata:
        header["__metadata__"] = metadata
    for name, dtype, shape, _, padded in tensors:
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + padded]}
        offset += padded
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((alignment - (8 + len(text)) % alignment) % alignment)
    with open(path, "wb") as f:
        f.write(len(text).to_bytes(8, "little"))
        f.write(text)
        for _, _, _, data, padded in tensors:
            f.write(memoryview(np.ascontiguousarray(data)).cast("B"))
            f.write(bytes(padded - data.nbytes))


def read_safetensors(path):
    """{name: uint8 array (memory-mapped)} of a safetensors file."""
    with open(path, "rb") as f:
        size = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(size))
    data = np.memmap(path, np.uint8, "r", offset=8 + size)
    return {name: data[t["data_offsets"][0]:t["data_offsets"][1]]
            for name, t in header.items() if name != "__metadata__"}


# ---------------------------------------------------------------------------
# Cases
# ---------------------------------------------------------------------------

def parse_list(text, item, what):
    try:
        return [item(v) for v in text.split(",") if v]
    except ValueError:
        fail(f"bad {what}: {text}")


def parse_shape(text):
    n, k = text.lower().split("x")
    return int(n), int(k)


def case_name(fmt, n, k, batch, lora):
    return f"{fmt}_{n}x{k}_b{batch}" + (f"_lora{lora}" if lora else "")


def make_cases(formats, shapes, batches, lora_rank):
    cases = []
    for n, k in shapes:
        for batch in batches:
            for fmt in formats:
                if k % FORMATS[fmt]["scheme"]["block_size"]:
                    fail(f"K = {k} is not a multiple of {fmt}'s block")
                ranks = [0]
                if lora_rank and fmt == LORA_FORMAT and batch == LORA_BATCH:
                    ranks.append(lora_rank)
                for rank in ranks:
                    cases.append(dict(
                        name=case_name(fmt, n, k, batch, rank), format=fmt,
                        scheme=FORMATS[fmt]["mlir"], n=n, k=k, batch=batch,
                        lora_rank=rank,
                        lora_scale=LORA_SCALE if rank else None,
                        packed_weight_bytes=packed_bytes(fmt, n, k)))
    return cases


def module_text(case, weights_file, lora_file):
    """One public function: y = lowbit.qmatmul(x, W) (+ the LoRA branch),
    W (and A, B) read from the given files at compile time."""
    n, k, b, r = case["n"], case["k"], case["batch"], case["lora_rank"]
    q = f"!lowbit.qtensor<{n}x{k}xf16, {case['scheme']}>"
    xt, yt = f"tensor<{b}x{k}xf16>", f"tensor<{b}x{n}xf16>"
    types, lora = [xt, q], ""
    lines = [f"func.func @qmatmul(%x: {xt}) -> {yt} {{",
             f'  %w = lowbit.weight external "w" in "{weights_file}" : {q}']
    if r:
        at, bt = f"tensor<{r}x{k}xf16>", f"tensor<{n}x{r}xf16>"
        lines += [f'  %a = lowbit.weight external "lora_a" in "{lora_file}"'
                  f" : {at}",
                  f'  %b = lowbit.weight external "lora_b" in "{lora_file}"'
                  f" : {bt}"]
        types += [at, bt]
        lora = f" lora(%a, %b) scale {case['lora_scale']}"
    lines += [f"  %y = lowbit.qmatmul %x, %w{lora} : ({', '.join(types)})"
              f" -> {yt}",
              f"  return %y : {yt}", "}", ""]
    return "\n".join(lines)


def seeded(*key):
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


def manifest_of(library):
    """The manifest an artifact embeds (lowbit_manifest); loading it needs
    no GPU (the kernels are loaded on the first call)."""
    lib = ctypes.CDLL(os.path.abspath(library))
    lib.lowbit_manifest.restype = ctypes.c_char_p
    return json.loads(lib.lowbit_manifest().decode())


# ---------------------------------------------------------------------------
# build
# ---------------------------------------------------------------------------

def build(args):
    compiler = os.path.join(args.build, "bin", "lowbit-compile")
    lib_dir = os.path.join(args.build, "lib")
    if not os.access(compiler, os.X_OK):
        fail(f"no lowbit-compile in {args.build}/bin (--build DIR: a lowbit "
             "build tree)")
    load_numerics(lib_dir)
    cases = make_cases(args.formats or list(FORMATS), args.shapes or SHAPES,
                       args.batches or BATCHES, args.lora_rank)
    src = os.path.join(args.out, "src")
    os.makedirs(src, exist_ok=True)
    # Weights synthesized for earlier artifacts would not match new ones.
    shutil.rmtree(os.path.join(args.out, "synthesized"), ignore_errors=True)
    t0 = time.time()

    # Inputs: one packed weight per format and shape, one pair of LoRA
    # factors per shape; the data does not change the kernels' work.
    inputs = set()
    for c in cases:
        fmt, n, k, r = c["format"], c["n"], c["k"], c["lora_rank"]
        c["_weights"] = f"{fmt}_{n}x{k}.safetensors"
        c["_lora"] = f"lora{r}_{n}x{k}.safetensors" if r else None
        if c["_weights"] not in inputs:
            buf = synthesize_packed(fmt, n, k, seeded(fmt, n, k))
            write_safetensors(os.path.join(src, c["_weights"]),
                              [("w", "U8", [buf.size], buf, buf.size)])
            inputs.add(c["_weights"])
        if r and c["_lora"] not in inputs:
            rng = seeded("lora", r, n, k)
            a = (rng.standard_normal((r, k)) * 0.01).astype(np.float16)
            b = (rng.standard_normal((n, r)) * 0.01).astype(np.float16)
            write_safetensors(os.path.join(src, c["_lora"]), [
                ("lora_a", "F16", [r, k], a, a.nbytes),
                ("lora_b", "F16", [n, r], b, b.nbytes)])
            inputs.add(c["_lora"])
        with open(os.path.join(src, c["name"] + ".mlir"), "w") as f:
            f.write(module_text(c, c["_weights"], c["_lora"]))
    print(f"gpu_qmatmul: wrote {len(cases)} modules and {len(inputs)} weight "
          f"inputs in {time.time() - t0:.1f} s; compiling with {args.jobs} "
          "jobs", flush=True)

    weights = "inline" if args.inline_weights else "external"

    def compile_case(c):
        library = os.path.join(args.out, c["name"] + ".so")
        stale = os.path.splitext(library)[0] + ".weights.safetensors"
        if os.path.exists(stale):  # from an earlier build
            os.remove(stale)
        cmd = [compiler, "--target=cuda", f"--gpu-chip={args.chip}",
               f"--weights={weights}",
               os.path.join(src, c["name"] + ".mlir"), "-o", library]
        start = time.time()
        result = subprocess.run(cmd, capture_output=True, text=True)
        return c, cmd, result, time.time() - start

    errors = 0
    with concurrent.futures.ThreadPoolExecutor(args.jobs) as pool:
        for c, cmd, result, seconds in pool.map(compile_case, cases):
            if result.returncode != 0:
                errors += 1
                print(f"gpu_qmatmul: {c['name']}: lowbit-compile failed:\n"
                      f"  {' '.join(map(shlex.quote, cmd))}\n"
                      f"{result.stderr.rstrip()}", file=sys.stderr)
            else:
                print(f"  {c['name']}: {seconds:.1f} s", flush=True)
    if errors:
        fail(f"{errors} of {len(cases)} cases did not compile")

    # The artifacts find the CUDA runtime next to themselves ($ORIGIN), and
    # `run` finds both runtimes there: the directory is self-contained.
    for name in ("liblowbit_cuda_runtime.so", "liblowbit_runtime.so",
                 "liblowbit_numerics_c.so"):
        shutil.copy2(os.path.join(lib_dir, name), args.out)

    for c in cases:
        library = os.path.join(args.out, c["name"] + ".so")
        weights_file = os.path.splitext(library)[0] + ".weights.safetensors"
        manifest = manifest_of(library)
        c["artifact"] = os.path.basename(library)
        c["manifest_weights"] = manifest["weights"]
        c["manifest_weight_bytes"] = sum(w["bytes"]
                                         for w in manifest["weights"])
        if args.drop_weights and os.path.exists(weights_file):
            os.remove(weights_file)
        c["weights_file"] = (os.path.basename(weights_file)
                             if os.path.exists(weights_file) else None)
        del c["_weights"], c["_lora"]
    if not args.keep_inputs:
        for name in inputs:
            os.remove(os.path.join(src, name))
    with open(os.path.join(args.out, "cases.json"), "w") as f:
        json.dump({"format": "lowbit-gpu-qmatmul-cases", "chip": args.chip,
                   "weights": weights, "cases": cases}, f, indent=1)
        f.write("\n")
    size = sum(os.path.getsize(os.path.join(args.out, e))
               for e in os.listdir(args.out)
               if os.path.isfile(os.path.join(args.out, e)))
    print(f"gpu_qmatmul: built {len(cases)} cases ({weights} weights) in "
          f"{args.out} in {time.time() - t0:.1f} s ({size / 2**20:.1f} MiB)",
          flush=True)


# ---------------------------------------------------------------------------
# run
# ---------------------------------------------------------------------------

class LowbitTimer:
    """Calls an entry point and returns (milliseconds, launches, results):
    the GPU time of its kernels (first start to last end, without the
    per-call host copies), or with `host` the wall time of the whole call."""

    def __init__(self, cuda, host):
        self.cuda, self.host = cuda, host
        if not host:
            # Per thread: this is the thread that calls the entry points.
            cuda.set_kernel_timing(True)

    def __call__(self, entry, x):
        if self.host:
            start = time.perf_counter()
            results = entry(x)
            return (time.perf_counter() - start) * 1e3, None, results
        results = entry(x)
        ms, launches = self.cuda.last_kernel_time()
        if launches < 1:
            raise RuntimeError("the call launched no kernel")
        return ms, launches, results


def element_type(type_text):
    m = re.search(r"x?(f16|bf16|f32|f64|u?i\d+)>$", type_text or "")
    return m.group(1) if m else None


def synthesize_weights(path, manifest, case):
    """A weights file for `manifest` as lowbit-compile writes it
    (docs/Runtime.md, "Weights file"): the case's packed weight with random
    codes and valid scales, other float weights (LoRA factors) 2^-7, other
    integer weights random bytes."""
    fmt, n, k = case["format"], case["n"], case["k"]
    rng = seeded("synthesized", case["name"])
    tensors = []
    for w in manifest["weights"]:
        nbytes, etype = w["bytes"], element_type(w.get("type"))
        if nbytes == case["packed_weight_bytes"] and etype in ("i8", "ui8"):
            # The same data for every copy of it (host and device).
            data = synthesize_packed(fmt, n, k,
                                     seeded("synthesized", fmt, n, k))
        elif etype in NP_FLOAT:
            dtype = np.dtype(NP_FLOAT[etype])
            data = np.full(nbytes // dtype.itemsize, 2.0 ** -7, dtype)
        elif etype == "bf16":
            data = np.full(nbytes // 2, 0x3C00, np.uint16)  # 2^-7
        else:
            data = rng.integers(0, 256, nbytes, dtype=np.uint8)
        if w["align"] > 64:
            fail(f"{path}: weight '{w['name']}' wants alignment {w['align']}; "
                 "only up to 64 can be synthesized")
        padded = round_up(nbytes, 64)
        tensors.append((w["name"], "U8", [padded], data, padded))
    metadata = {"format": "lowbit-weights",
                "artifact": case["artifact"], "synthesized": "gpu_qmatmul"}
    metadata.update({"lowbit.type." + w["name"]: w.get("type", "")
                     for w in manifest["weights"]})
    write_safetensors(path, tensors, metadata)


def weights_for(case, out, synth_dir, synthesized):
    """(weights file or None, how it was obtained, manifest) for a case's
    artifact."""
    library = os.path.join(out, case["artifact"])
    manifest = manifest_of(library)
    if not manifest["weights"]:
        return None, "inline", manifest
    built = os.path.splitext(library)[0] + ".weights.safetensors"
    if os.path.exists(built):
        return built, "built", manifest
    # Artifacts of the same format and shape (the batches) have the same
    # weights: one file serves them all.
    key = json.dumps([case["format"], case["n"], case["k"]] +
                     [[w["name"], w["bytes"], w.get("type")]
                      for w in manifest["weights"]])
    if key not in synthesized:
        os.makedirs(synth_dir, exist_ok=True)
        path = os.path.join(synth_dir, f"w{len(synthesized)}.safetensors")
        synthesize_weights(path, manifest, case)
        synthesized[key] = path
    return synthesized[key], "synthesized", manifest


def reference_weights(case, manifest, weights_path):
    """(W [n, k] f32, LoRA A, LoRA B or None) from the weights file, when
    its tensors can be told apart by size and type; else None."""
    if not weights_path:
        return None
    tensors = read_safetensors(weights_path)
    n, k, r = case["n"], case["k"], case["lora_rank"]
    w = a = b = None
    # The kernels read the weights bound to device globals ("device"), if
    # the manifest says which.
    for spec in sorted(manifest["weights"], key=lambda s: "device" not in s):
        data = tensors[spec["name"]][:spec["bytes"]]
        etype = element_type(spec.get("type"))
        if (w is None and spec["bytes"] == case["packed_weight_bytes"] and
                etype in ("i8", "ui8")):
            w = dequantize(case["format"], n, k, np.asarray(data))
        elif r and spec.get("type") == f"tensor<{r}x{k}xf16>":
            a = np.asarray(data).view(np.float16).reshape(r, k)
        elif r and spec.get("type") == f"tensor<{n}x{r}xf16>":
            b = np.asarray(data).view(np.float16).reshape(n, r)
    if w is None or (r and (a is None or b is None)):
        return None
    return w, a, b


def stats(times):
    return min(times), statistics.median(times)


def target_of(case):
    """[(label, predicate on the row)] of the issue's targets for a case."""
    fmt, b, size = case["format"], case["batch"], case["n"] * case["k"]
    if case["lora_rank"]:
        return []  # the LoRA overhead line holds its target
    if b == 1 and size >= LARGE:
        if fmt == "int4-g128":
            return [(">=3.5x", lambda r: r["speedup"] >= 3.5),
                    (">=85% BW", lambda r: r["read_bw_pct"] >= 85)]
        if fmt == "nf4-g64-dq":
            return [(">=3.3x", lambda r: r["speedup"] >= 3.3)]
    if b == 16:
        return [(">=3.0x", lambda r: r["speedup"] >= 3.0)]
    if b == 2048:
        return [(">=0.8x", lambda r: r["speedup"] >= 0.8)]
    return []


def run(args):
    out = args.out
    lib_dir = args.lib or (
        out if os.path.exists(os.path.join(out, "liblowbit_cuda_runtime.so"))
        else os.path.join(args.build, "lib"))
    if not os.path.exists(os.path.join(lib_dir, "liblowbit_cuda_runtime.so")):
        fail(f"no liblowbit_cuda_runtime.so in {lib_dir} (--lib DIR)")
    use_libraries(lib_dir)
    import lowbit.cuda as cuda
    if not cuda.available():
        print(f"gpu_qmatmul: no CUDA device ({cuda.last_error()}); nothing to "
              "measure", flush=True)
        return 0
    # Only now: a machine without a GPU needs neither torch nor CUDA.
    try:
        import torch
    except ImportError:
        fail("a CUDA device is present but torch is not installed (the fp16 "
             "reference and the timing need it)")
    if not torch.cuda.is_available():
        fail("the lowbit CUDA runtime sees a device but torch does not")
    load_numerics(lib_dir)
    import lowbit

    cases_path = os.path.join(out, "cases.json")
    if not os.path.exists(cases_path):
        fail(f"no {cases_path}: run the build step first (or --out DIR)")
    with open(cases_path) as f:
        cases = json.load(f)["cases"]
    cases = [c for c in cases
             if (not args.formats or c["format"] in args.formats)
             and (not args.shapes or (c["n"], c["k"]) in args.shapes)
             and (not args.batches or c["batch"] in args.batches)
             and (args.lora_rank or not c["lora_rank"])]
    if not cases:
        fail("no built case matches the selection")

    info = cuda.device_info()
    timer = LowbitTimer(cuda, args.host_timing)
    dev = torch.device("cuda")
    lines = []

    def say(text=""):
        print(text, flush=True)
        lines.append(text)

    say("gpu_qmatmul: " + " ".join(map(shlex.quote, sys.argv)))
    say(f"device: {torch.cuda.get_device_name(dev)} (lowbit: "
        f"{info['name']}, {info['chip']}, "
        f"{info['multiprocessors']} SMs, driver {info['driver_version']}, "
        f"{info['total_memory'] / 2**30:.1f} GiB); torch {torch.__version__}, "
        f"CUDA {torch.version.cuda}")

    # Read bandwidth: torch.sum over a 1 GiB f16 tensor (one read pass),
    # best of several, at the start and at the end of the run.
    def read_bandwidth(reps=10):
        buf = torch.ones(args.bw_mib * 2**20 // 2, dtype=torch.float16,
                         device=dev)
        best = float("inf")
        for _ in range(reps):
            start = torch.cuda.Event(enable_timing=True)
            end = torch.cuda.Event(enable_timing=True)
            start.record()
            torch.sum(buf, dtype=torch.float32)
            end.record()
            end.synchronize()
            best = min(best, start.elapsed_time(end))
        del buf
        return args.bw_mib * 2**20 / (best * 1e-3) / 1e9

    bw_start = read_bandwidth()
    flush_buf = torch.empty(args.flush_mib * 2**20, dtype=torch.uint8,
                            device=dev)

    def flush():
        # Writing a buffer several times the L2's size evicts the weights.
        flush_buf.zero_()
        torch.cuda.synchronize()

    synth_dir = os.path.join(out, "synthesized")
    synthesized, sources, rows, errors = {}, set(), [], 0
    rng = np.random.default_rng(2026)
    shapes = list(dict.fromkeys((c["n"], c["k"]) for c in cases))
    for n, k in shapes:
        w_ref = (torch.randn(n, k, device=dev) * 0.02).to(torch.float16)
        checked = {}  # dequantized weights of this shape, per weights file
        for batch in sorted({c["batch"] for c in cases
                             if (c["n"], c["k"]) == (n, k)}):
            group = [c for c in cases
                     if (c["n"], c["k"], c["batch"]) == (n, k, batch)]
            x_np = rng.standard_normal((batch, k)).astype(np.float16)
            x_t = torch.from_numpy(x_np).to(dev)
            models = []
            for c in group:
                path, source, manifest = weights_for(c, out, synth_dir,
                                                     synthesized)
                sources.add(source)
                try:
                    model = lowbit.load(os.path.join(out, c["artifact"]),
                                        weights=path)
                    entry = model["qmatmul"]
                    for _ in range(3):  # module load, memory pool
                        _, _, (y,) = timer(entry, x_np)
                except Exception as e:
                    errors += 1
                    say(f"{c['name']}: {e}")
                    continue
                key = (path, c["format"], c["lora_rank"])
                if key not in checked:
                    checked[key] = reference_weights(c, manifest, path)
                models.append((c, model, entry, check_error(
                    torch, dev, checked[key], x_t, y, c["lora_scale"])))
            for _ in range(3):
                torch.matmul(x_t, w_ref.t())
            torch.cuda.synchronize()

            def time_reference():
                start = torch.cuda.Event(enable_timing=True)
                end = torch.cuda.Event(enable_timing=True)
                start.record()
                torch.matmul(x_t, w_ref.t())
                end.record()
                end.synchronize()
                return start.elapsed_time(end), None

            def time_lowbit(entry):
                return lambda: timer(entry, x_np)[:2]

            runs = [("fp16", time_reference)] + [
                (c["name"], time_lowbit(entry)) for c, _, entry, _ in models]
            times = {name: [] for name, _ in runs}
            launches = {}
            for rep in range(args.reps):
                # Interleaved, the order rotating, a flush before each.
                turn = rep % len(runs)
                for name, fn in runs[turn:] + runs[:turn]:
                    flush()
                    ms, count = fn()
                    times[name].append(ms)
                    launches[name] = count
            ref_best, ref_median = stats(times["fp16"])
            for c, model, _, err in models:
                best, median = stats(times[c["name"]])
                gbps = c["packed_weight_bytes"] / (best * 1e-3) / 1e9
                rows.append(dict(
                    case=c["name"], format=c["format"], n=n, k=k,
                    batch=batch, lora_rank=c["lora_rank"],
                    lowbit_best_us=best * 1e3, lowbit_median_us=median * 1e3,
                    fp16_best_us=ref_best * 1e3,
                    fp16_median_us=ref_median * 1e3,
                    speedup=ref_best / best,
                    speedup_median=ref_median / median,
                    packed_weight_bytes=c["packed_weight_bytes"],
                    eff_gbps=gbps, launches=launches[c["name"]], error=err,
                    targets=[label for label, _ in target_of(c)]))
                model.close()
            print(f"  measured {n}x{k} batch {batch}", flush=True)
        w_ref = checked = None  # free the device memory for the next shape
    flush_buf = None
    bw_end = read_bandwidth()
    read_bw = max(bw_start, bw_end)

    # Table.
    say(f"read bandwidth: {read_bw:.0f} GB/s (torch.sum of a {args.bw_mib} "
        f"MiB f16 tensor, best of 10 at the start ({bw_start:.0f}) and the "
        f"end ({bw_end:.0f}) of the run)")
    timing = ("wall time of whole lowbit calls, host copies included "
              "(--host-timing)" if args.host_timing else
              "lowbit: GPU time of its kernels (first start to last end)")
    say(f"times: best (median) of {args.reps} interleaved repetitions, "
        f"{args.flush_mib} MiB written before each to flush the L2; {timing}; "
        "fp16: torch.matmul(x, w.t()) between CUDA events")
    say("weights: " + ", ".join(sorted(sources)) + " (data does not change "
        "the kernels' work); GB/s = packed weight bytes (codes + scales + "
        "double quantization) / best lowbit time; % read = of the read "
        "bandwidth; err = relative L2 error against x·Wᵀ in f32 on the "
        "dequantized weights")
    header = ("case", "lowbit us", "fp16 us", "vs fp16", "GB/s", "% read",
              "launches", "err", "target", "result")
    table = []
    met = missed = 0
    for row in rows:
        row["read_bw_pct"] = 100 * row["eff_gbps"] / read_bw
        case = next(c for c in cases if c["name"] == row["case"])
        checks = target_of(case)
        wrong = row["error"] is not None and not row["error"] <= MAX_ERROR
        errors += wrong
        result = ""
        if checks:
            failed = [label for label, ok in checks if not ok(row)]
            row["met"] = not failed
            met, missed = met + (not failed), missed + bool(failed)
            result = "met" if not failed else "missed " + " ".join(failed)
        table.append((
            row["case"],
            f"{row['lowbit_best_us']:.1f} ({row['lowbit_median_us']:.1f})",
            f"{row['fp16_best_us']:.1f} ({row['fp16_median_us']:.1f})",
            f"{row['speedup']:.2f}x ({row['speedup_median']:.2f}x)",
            f"{row['eff_gbps']:.0f}", f"{row['read_bw_pct']:.0f}%",
            "-" if row["launches"] is None else str(row["launches"]),
            "-" if row["error"] is None else
            f"{row['error']:.1e}" + (" WRONG" if wrong else ""),
            " ".join(row["targets"]) or "-", result or "-"))
    widths = [max(len(r[i]) for r in table + [header])
              for i in range(len(header))]
    for r in [header] + table:
        say("  ".join(v.ljust(w) for v, w in zip(r, widths)).rstrip())

    lora_rows = []
    for row in rows:
        if not row["lora_rank"]:
            continue
        base = next((r for r in rows if not r["lora_rank"] and
                     (r["format"], r["n"], r["k"], r["batch"]) ==
                     (row["format"], row["n"], row["k"], row["batch"])), None)
        if base is None:
            continue
        best = row["lowbit_best_us"] / base["lowbit_best_us"] - 1
        median = row["lowbit_median_us"] / base["lowbit_median_us"] - 1
        ok = best <= LORA_TARGET
        met, missed = met + ok, missed + (not ok)
        lora_rows.append(dict(case=row["case"], overhead=best,
                              overhead_median=median, met=ok))
        say(f"LoRA r={row['lora_rank']} overhead ({row['format']}, batch "
            f"{row['batch']}, {row['n']}x{row['k']}): {100 * best:+.1f}% best "
            f"({100 * median:+.1f}% median); target <= "
            f"{100 * LORA_TARGET:.0f}%: {'met' if ok else 'missed'}")
    say(f"targets: {met} met, {missed} missed (batch-1 targets on N·K >= "
        f"{LARGE}; never asserted)")
    if "synthesized" in sources:
        say(f"note: weights files were synthesized in {synth_dir}")
    if errors:
        say(f"gpu_qmatmul: {errors} cases failed or computed wrong results")

    if args.json:
        with open(args.json, "w") as f:
            json.dump({"command": sys.argv,
                       "device": torch.cuda.get_device_name(dev),
                       "lowbit_device": info["name"],
                       "compute_capability": [info["compute_major"],
                                              info["compute_minor"]],
                       "driver_version": info["driver_version"],
                       "torch": torch.__version__,
                       "read_bw_gbps": read_bw,
                       "read_bw_gbps_start_end": [bw_start, bw_end],
                       "reps": args.reps, "flush_mib": args.flush_mib,
                       "timing": "host" if args.host_timing else "kernel",
                       "weights": sorted(sources), "rows": rows,
                       "lora": lora_rows, "errors": errors,
                       "output": lines}, f, indent=1)
            f.write("\n")
    return 1 if errors else 0


def check_error(torch, dev, reference, x_t, y, lora_scale):
    """Relative L2 error of lowbit's y against x·Wᵀ (+ LoRA) computed in f32
    by torch from the weights file's values; None when they are unknown."""
    if reference is None:
        return None
    w, a, b = reference
    x = x_t.float()
    want = torch.matmul(x, torch.from_numpy(w).to(dev).t())
    if a is not None:
        xa = torch.matmul(x, torch.from_numpy(a).to(dev).float().t())
        want = want + lora_scale * torch.matmul(
            xa, torch.from_numpy(b).to(dev).float().t())
    want = want.cpu().numpy().astype(np.float64)
    got = y.astype(np.float64)
    with np.errstate(all="ignore"):  # inf/nan results are reported as such
        return float(np.linalg.norm(got - want) /
                     max(np.linalg.norm(want), 1e-30))


def main():
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="\n".join(__doc__.split("\n")[1:]))
    parser.add_argument("step", nargs="?", default="all",
                        choices=["all", "build", "run"],
                        help="build the artifacts, run them, or both "
                        "(default)")
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="the lowbit build tree (bin/lowbit-compile, "
                        "lib/); default: build")
    parser.add_argument("--out", help="the artifacts directory (default: "
                        "<build>/bench/gpu_qmatmul)")
    parser.add_argument("--formats", help="comma-separated, of " +
                        ", ".join(FORMATS) + " (default: all)")
    parser.add_argument("--shapes", help="comma-separated NxK (default: " +
                        ",".join(f"{n}x{k}" for n, k in SHAPES) + ")")
    parser.add_argument("--batches", help="comma-separated (default: " +
                        ",".join(map(str, BATCHES)) + ")")
    parser.add_argument("--lora-rank", type=int, default=LORA_RANK,
                        help=f"rank of the fused LoRA variant of "
                        f"{LORA_FORMAT} at batch {LORA_BATCH} (0: none; "
                        f"default {LORA_RANK})")
    build_opts = parser.add_argument_group("build")
    build_opts.add_argument("--chip", default="sm_90",
                            help="--gpu-chip of lowbit-compile")
    build_opts.add_argument("--jobs", type=int,
                            default=min(4, os.cpu_count() or 1),
                            help="lowbit-compile processes at once")
    build_opts.add_argument("--inline-weights", action="store_true",
                            help="weights in the code (device globals) "
                            "instead of weights files; small shapes only")
    build_opts.add_argument("--drop-weights", action="store_true",
                            help="delete the weights files after compiling "
                            "(run synthesizes them), to carry the artifacts "
                            "alone")
    build_opts.add_argument("--keep-inputs", action="store_true",
                            help="keep the compiler's input weights in "
                            "<out>/src")
    run_opts = parser.add_argument_group("run")
    run_opts.add_argument("--lib", help="where liblowbit_cuda_runtime.so and "
                          "liblowbit_runtime.so are (default: the artifacts "
                          "directory if it has them, else <build>/lib)")
    run_opts.add_argument("--reps", type=int, default=30,
                          help="timed repetitions of each side (default 30)")
    run_opts.add_argument("--flush-mib", type=int, default=256,
                          help="MiB written before each timed call to flush "
                          "the L2 (default 256)")
    run_opts.add_argument("--bw-mib", type=int, default=1024,
                          help="MiB read by the bandwidth probe (default "
                          "1024)")
    run_opts.add_argument("--host-timing", action="store_true",
                          help="time whole lowbit calls on the host (for a "
                          "runtime without kernel timing)")
    run_opts.add_argument("--json", help="also write the results to this "
                          "file")
    args = parser.parse_args()
    if args.formats:
        args.formats = parse_list(args.formats, str, "--formats")
        for f in args.formats:
            if f not in FORMATS:
                fail(f"unknown format {f} (known: {', '.join(FORMATS)})")
    if args.shapes:
        args.shapes = parse_list(args.shapes, parse_shape, "--shapes")
    if args.batches:
        args.batches = parse_list(args.batches, int, "--batches")
    if args.reps < 1 or args.jobs < 1:
        fail("--reps and --jobs must be at least 1")
    args.out = args.out or os.path.join(args.build, "bench", "gpu_qmatmul")
    if args.step in ("all", "build"):
        build(args)
    if args.step in ("all", "run"):
        return run(args)
    return 0


if __name__ == "__main__":
    sys.exit(main())
