"""Calibration for GPTQ: the Hessians of a model's linear layers.

    lowbit.calibrate("model.mlir", "hessians.safetensors",
                     batches=[(ids, mask), ...], row_mask="attention_mask")
    lowbit.compile("model.mlir", "model.so", preset="int4-g128",
                   hessians="hessians.safetensors")

GPTQ rounds a layer's weights knowing how its inputs x correlate: it needs
H = sum of x xᵀ over calibration inputs, per layer. `calibrate` compiles the
float model with every named linear layer's input as an extra, labelled
result (lowbit-compile --expose-matmul-inputs), runs it on the calibration
batches, and accumulates H in float64 (each batch's xᵀx is one float32
BLAS product, added to a float64 sum). The file holds one f32 [K, K] tensor
per layer, H divided by the number of rows, named like the layer, which is
what `lowbit-quantize-weights hessians=` looks up.

Asymmetric calibration (as GPTAQ) goes one step further: quantizing the
first layers changes what the later ones see. With `asymmetric=` (the
options the model will be compiled with), layers are calibrated stage by
stage (transformer block by block) on the model whose earlier stages are
already quantized; the file then holds each layer's H̃ over the inputs x̃ it
sees there, and Σ x̃ xᵀ with the float model's inputs x as "<name>#cross",
from which GPTQ quantizes the layer against the float model's outputs
rather than its own inputs:

    lowbit.calibrate("model.mlir", "asym.safetensors", batches,
                     row_mask="attention_mask",
                     asymmetric={"preset": "nf4-dq-bf16"})
    lowbit.compile("model.mlir", "model.so", preset="nf4-dq-bf16",
                   hessians="asym.safetensors")
"""

import argparse
import os
import re
import sys
import tempfile
import time

import numpy as np

from . import compiler, modelio, runtime


def _entry(artifact, name):
    if name is not None:
        if name not in artifact.entries:
            raise ValueError("the model has no entry point %r (%s)" % (
                name, ", ".join(artifact.entries)))
        return artifact[name]
    entries = list(artifact.entries)
    if len(entries) != 1:
        raise ValueError("the model has %d entry points (%s); name one with "
                         "entry=" % (len(entries), ", ".join(entries)))
    return artifact[entries[0]]


def _arguments(entry, batch):
    """A batch as the entry's positional arguments."""
    if isinstance(batch, dict):
        names = [a["name"] for a in entry.args]
        unknown = sorted(set(batch) - set(names))
        missing = [n for n in names if n not in batch]
        if unknown or missing:
            raise ValueError("calibration batch: %s; %s takes %s" % (
                "; ".join(filter(None, [
                    unknown and "unknown arguments " + ", ".join(unknown),
                    missing and "missing " + ", ".join(missing)])),
                entry.name, ", ".join(names)))
        return [batch[n] for n in names]
    if isinstance(batch, np.ndarray):
        return [batch]
    return list(batch)


def _rows(entry, args, row_mask):
    """Which rows of the exposed inputs count, as a flat bool array, or
    None for all of them."""
    if row_mask is None:
        return None
    if callable(row_mask):
        mask = row_mask(args)
    else:
        names = [a["name"] for a in entry.args]
        if row_mask not in names:
            raise ValueError("row_mask %r is not an argument of %s (%s)" % (
                row_mask, entry.name, ", ".join(names)))
        mask = args[names.index(row_mask)]
    return np.asarray(mask).reshape(-1) != 0


class _Accumulator:
    """Sums xᵀx per label and, when inputs come paired (asymmetric
    calibration: x from the quantized model, y from the float model), xᵀy.
    Rows are gathered over batches and multiplied in float32 (one BLAS
    product per 4096 rows, twice as fast as float64 and exact enough for
    that many), and the products are added to float64 totals. Layers that
    read the same input in a batch (Q, K and V) share one product."""

    FLUSH_ROWS = 4096

    def __init__(self, paired=False):
        self.paired = paired
        self.sums = {}
        self.cross = {}
        self.rows = {}
        self._batch = []     # [((x, y), [labels])] of the batch being added
        self._pending = {}   # (labels) -> [(x, y) row blocks not multiplied]

    @staticmethod
    def _select(label, x, rows):
        x = np.asarray(x, dtype=np.float32)
        if rows is not None:
            if rows.shape[0] != x.shape[0]:
                raise ValueError(
                    "row mask has %d elements but the input of %s has %d "
                    "rows" % (rows.shape[0], label, x.shape[0]))
            x = x[rows]
        if not np.all(np.isfinite(x)):
            raise ValueError("the input of %s is not finite" % label)
        return x

    def add(self, label, x, rows, paired=None):
        x = self._select(label, x, rows)
        y = None
        if self.paired:
            y = self._select(label, paired, rows)
            if y.shape != x.shape:
                raise ValueError("the input of %s has shape %s in the "
                                 "quantized model but %s in the float model"
                                 % (label, x.shape, y.shape))
        if label not in self.sums:
            self.sums[label] = np.zeros((x.shape[1], x.shape[1]))
            if self.paired:
                self.cross[label] = np.zeros((x.shape[1], x.shape[1]))
            self.rows[label] = 0
        self.rows[label] += x.shape[0]
        for (seen, seen_y), labels in self._batch:
            if (seen.shape == x.shape and np.array_equal(seen, x) and
                    (y is None or np.array_equal(seen_y, y))):
                labels.append(label)
                return
        self._batch.append(((x, y), [label]))

    def next_batch(self):
        """Queues the rows of the batch just added."""
        for pair, labels in self._batch:
            key = tuple(labels)
            blocks = self._pending.setdefault(key, [])
            blocks.append(pair)
            if sum(len(b[0]) for b in blocks) >= self.FLUSH_ROWS:
                self._flush(key)
        self._batch = []

    def _flush(self, key):
        blocks = self._pending.pop(key)
        x = np.concatenate([b[0] for b in blocks])
        product = x.T @ x
        cross = (x.T @ np.concatenate([b[1] for b in blocks])
                 if self.paired else None)
        for label in key:
            self.sums[label] += product
            if cross is not None:
                self.cross[label] += cross

    def tensors(self):
        self.next_batch()
        for key in list(self._pending):
            self._flush(key)
        out = {}
        for label, h in self.sums.items():
            if self.rows[label] == 0:
                raise ValueError("no calibration rows reached %s (is the row "
                                 "mask all zero?)" % label)
            out[label] = (h / self.rows[label]).astype(np.float32)
            if self.paired:
                out[label + CROSS_SUFFIX] = (
                    self.cross[label] / self.rows[label]).astype(np.float32)
        return out


# Where asymmetric calibration stores a layer's Σ x̃ xᵀ, beside its Hessian
# (lowbit-quantize-weights reads it under the same name).
CROSS_SUFFIX = "#cross"


def _labelled(fn, source):
    labelled = [(i, r["label"]) for i, r in enumerate(fn.results)
                if r.get("label")]
    if not labelled:
        raise ValueError("%s has no named linear layers to calibrate "
                         "(lowbit.name on weight matmuls)" % source)
    return labelled


def _run(fn, labelled, batches, row_mask, paired_fn=None):
    """Runs every batch through `fn` (and `paired_fn`, the float model,
    for asymmetric calibration) and returns the filled accumulator and the
    number of batches."""
    sums = _Accumulator(paired=paired_fn is not None)
    count = 0
    for batch in batches:
        args = _arguments(fn, batch)
        outputs = fn(*args)
        reference = paired_fn(*args) if paired_fn is not None else None
        rows = _rows(fn, args, row_mask)
        for index, label in labelled:
            sums.add(label, outputs[index], rows,
                     None if reference is None else reference[index])
        sums.next_batch()
        count += 1
    if count == 0:
        raise ValueError("no calibration batches")
    return sums, count


def _write(output, tensors, count, asymmetric):
    metadata = {"format": "lowbit-hessians", "batches": str(count)}
    if asymmetric:
        metadata["asymmetric"] = "true"
    modelio.write_safetensors(output, tensors, metadata=metadata)


def _read(path, labels):
    """The Hessians of `labels` from a file calibrate wrote."""
    with modelio.SafetensorsFile(path) as f:
        found = {t.name: t for t in f.tensors()}
        missing = [label for label in labels if label not in found]
        if missing:
            raise ValueError("%s has no Hessian for %s" % (
                path, ", ".join(missing[:3]) +
                (", ..." if len(missing) > 3 else "")))
        out = {}
        for label in labels:
            t = found[label]
            if t.dtype != "F32" or len(t.shape) != 2 or t.shape[0] != t.shape[1]:
                raise ValueError("%s: %s is %s %s, not a square F32 matrix"
                                 % (path, label, t.dtype, list(t.shape)))
            out[label] = np.frombuffer(t.data, np.float32).reshape(
                t.shape).copy()
        return out


def default_stage(label):
    """The stage of a layer in asymmetric calibration: the first number in
    its name (the transformer block: "encoder.layer.3.attention.self.query"
    -> 3, "model.layers.12.mlp.up_proj" -> 12, "fc2" -> 2); layers without
    one come last."""
    match = re.search(r"\d+", label)
    return (0, int(match.group())) if match else (1, 0)


def _stages(labelled, stage):
    """The labelled layers grouped by stage, in stage order."""
    groups = {}
    for index, label in labelled:
        groups.setdefault(stage(label), []).append((index, label))
    return [groups[key] for key in sorted(groups)]


_COMPILE_OPTIONS = ("preset", "quantize", "pipeline_options")


def calibrate(source, output, batches, entry=None, row_mask=None,
              threads=0, work=None, log=None, asymmetric=None,
              float_hessians=None, stage=None):
    """Writes the Hessians of the named linear layers of the float model in
    `source` (an MLIR file, e.g. from lowbit.import_model) to `output`.

    batches: an iterable of calibration inputs, each a tuple of numpy
    arrays in the entry's argument order or a dict by argument name; or a
    callable(entry) returning one (entry.args has the arguments' names and
    shapes).
    entry: the function to run (default: the only one). row_mask: which
    rows of a layer's input count: None (all), the name of an argument
    whose nonzero elements mark them (e.g. "attention_mask", so that
    padding does not calibrate), or a callable(args) -> bool array.
    threads: OpenMP threads for the models (0: all cores). work: a
    directory to keep the calibration builds in (default: a temporary one).

    asymmetric: None, or how the model will be quantized, as a dict of
    lowbit.compile arguments (preset, quantize, pipeline_options); compile
    it with the same ones. The layers are then calibrated stage by stage
    (stage(label) -> a sortable key, default_stage by default: one stage
    per transformer block). The first stage sees the float model's inputs.
    For each later one, a build quantizes the stages before it from what
    was calibrated so far and keeps the rest in float; each layer of the
    stage gets H̃ = Σ x̃ x̃ᵀ over the inputs x̃ it sees there and, as
    "<name>#cross", Σ x̃ xᵀ with the float model's inputs x. GPTQ then
    quantizes it against the float model's outputs, correcting what the
    quantized stages before it changed (gptq-target-blend). Costs one
    build and one run of both models per stage. float_hessians: the float
    model's Hessians from an earlier calibrate (else computed first).
    Returns {"batches": n, "layers": {name: rows}}."""
    say = log or (lambda message: None)
    if asymmetric is not None:
        unknown = sorted(set(asymmetric) - set(_COMPILE_OPTIONS))
        if unknown:
            raise ValueError("asymmetric takes %s, not %s" % (
                ", ".join(_COMPILE_OPTIONS), ", ".join(unknown)))
        if not any(asymmetric.get(k) for k in _COMPILE_OPTIONS[:2]):
            raise ValueError("asymmetric needs a preset or quantize options")
        if not callable(batches) and iter(batches) is batches:
            batches = list(batches)  # read once per stage
    elif float_hessians is not None or stage is not None:
        raise ValueError("float_hessians and stage are only used with "
                         "asymmetric")
    with tempfile.TemporaryDirectory() as scratch:
        directory = work or scratch
        os.makedirs(directory, exist_ok=True)
        library = os.path.join(directory, "calibration.so")
        started = time.perf_counter()
        compiler.compile(source, library, threads=threads,
                         extra_args=["--expose-matmul-inputs"])
        say("built the calibration model in %.1f s"
            % (time.perf_counter() - started))
        with runtime.load(library) as artifact:
            fn = _entry(artifact, entry)
            labelled = _labelled(fn, source)

            def batches_for(f):
                return batches(f) if callable(batches) else batches

            if asymmetric is None or float_hessians is None:
                started = time.perf_counter()
                sums, count = _run(fn, labelled, batches_for(fn), row_mask)
                say("ran %d calibration batches through %d layers in %.1f s"
                    % (count, len(sums.sums), time.perf_counter() - started))
                if asymmetric is None:
                    _write(output, sums.tensors(), count, False)
                    return {"batches": count, "layers": dict(sums.rows)}
                float_tensors, rows = sums.tensors(), dict(sums.rows)
            else:
                float_tensors = _read(float_hessians,
                                      [label for _, label in labelled])
                rows, count = {}, 0
            tensors, rows, count = _asymmetric_stages(
                source, fn, labelled, batches_for, row_mask, asymmetric,
                float_tensors, rows, count, stage or default_stage,
                directory, threads, entry, say)
    _write(output, tensors, count, True)
    return {"batches": count, "layers": rows}


def _asymmetric_stages(source, fn, labelled, batches_for, row_mask, options,
                       float_tensors, rows, count, stage, directory, threads,
                       entry, say):
    """Calibrates the stages in order (see calibrate). `rows` and `count`
    are the float run's (empty and 0 when its Hessians came from a file).
    Returns the tensors to write, the rows per layer (None where unknown)
    and the number of batches."""
    stages = _stages(labelled, stage)
    # The first stage's inputs are the float model's: H̃ = C = H.
    tensors = {}
    for _, label in stages[0]:
        tensors[label] = float_tensors[label]
        tensors[label + CROSS_SUFFIX] = float_tensors[label]
    counts = {label: rows.get(label) for _, label in labelled}
    for number, group in enumerate(stages[1:], start=1):
        later = [label for g in stages[number:] for _, label in g]
        hessians = os.path.join(directory, "stage-%d.safetensors" % number)
        modelio.write_safetensors(hessians, tensors, metadata={
            "format": "lowbit-hessians", "asymmetric": "true"})
        quantized = os.path.join(directory, "calibration-stage-%d.so"
                                 % number)
        started = time.perf_counter()
        compiler.compile(
            source, quantized, threads=threads, hessians=hessians,
            keep_float=["^(%s)$" % "|".join(re.escape(label)
                                             for label in later)],
            extra_args=["--expose-matmul-inputs"],
            **{k: v for k, v in options.items() if v})
        built = time.perf_counter() - started
        with runtime.load(quantized) as quantized_artifact:
            qfn = _entry(quantized_artifact, entry)
            if _labelled(qfn, source) != labelled:
                raise ValueError("the quantized build of %s exposes other "
                                 "layers than the float build" % source)
            started = time.perf_counter()
            sums, count = _run(qfn, group, batches_for(qfn), row_mask,
                               paired_fn=fn)
        say("stage %d of %d (%s): built in %.1f s, ran %d batches through "
            "the quantized and float models in %.1f s" % (
                number + 1, len(stages), group[0][1], built, count,
                time.perf_counter() - started))
        tensors.update(sums.tensors())
        counts.update(sums.rows)
    return tensors, counts, count


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="lowbit-calibrate",
        description="Run a float model on calibration inputs and write the "
        "Hessians of its linear layers for GPTQ (lowbit-compile --hessians).")
    parser.add_argument("model", help="the model's MLIR (lowbit-import)")
    parser.add_argument("-o", "--output", required=True,
                        help="the Hessians file to write (.safetensors)")
    parser.add_argument("--input", action="append", default=[],
                        metavar="NAME=FILE.npy",
                        help="an argument's calibration inputs, stacked "
                        "along the first dimension (a multiple of the "
                        "model's batch); one per argument")
    parser.add_argument("--row-mask", metavar="NAME",
                        help="an argument whose nonzero elements mark the "
                        "rows that count (e.g. attention_mask)")
    parser.add_argument("--entry", help="the function to run (default: the "
                        "only one)")
    parser.add_argument("--num-threads", type=int, default=0,
                        help="threads for the models (0: all cores)")
    group = parser.add_argument_group(
        "asymmetric calibration",
        "With --preset or --quantize, the layers are calibrated stage by "
        "stage (one per transformer block: the first number in a layer's "
        "name) on the model with the stages before quantized so, each "
        "with its cross-covariance with the float model's inputs, so that "
        "lowbit-compile with the same options quantizes each layer against "
        "the float model's outputs")
    group.add_argument("--preset", help="as lowbit-compile --preset")
    group.add_argument("--quantize", help="as lowbit-compile --quantize")
    group.add_argument("--pipeline-options",
                       help="as lowbit-compile --pipeline-options")
    group.add_argument("--float-hessians", metavar="FILE",
                       help="the float model's Hessians, from an earlier "
                       "run without these options (else computed first)")
    args = parser.parse_args(argv)
    asymmetric = None
    if args.preset or args.quantize:
        asymmetric = {"preset": args.preset, "quantize": args.quantize,
                      "pipeline_options": args.pipeline_options}
    elif args.pipeline_options or args.float_hessians:
        parser.error("--pipeline-options and --float-hessians need --preset "
                     "or --quantize")

    stacks = {}
    for item in args.input:
        name, sep, path = item.partition("=")
        if not sep or not name or not path:
            parser.error("--input takes NAME=FILE.npy, got %r" % item)
        try:
            stacks[name] = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as e:
            raise SystemExit("lowbit-calibrate: cannot read %s: %s" % (path, e))
    if not stacks:
        parser.error("give the calibration inputs with --input NAME=FILE.npy")

    def split(fn):
        """The stacked inputs cut into the entry's batches."""
        shapes = {a["name"]: a["shape"] for a in fn.args}
        batches = {}
        for name, array in stacks.items():
            if name not in shapes:
                raise ValueError("%s is not an argument of %s (%s)" % (
                    name, fn.name, ", ".join(shapes)))
            rows = shapes[name][0] if shapes[name] else 1
            if array.ndim == 0 or array.shape[0] % rows:
                raise ValueError("%s has %s rows, not a multiple of the "
                                 "model's batch %d" % (
                                     name, array.shape[0] if array.ndim else 0,
                                     rows))
            batches[name] = [array[i:i + rows]
                             for i in range(0, array.shape[0], rows)]
        counts = {len(b) for b in batches.values()}
        if len(counts) != 1:
            raise ValueError("the inputs hold different numbers of batches: "
                             + ", ".join("%s %d" % (n, len(b))
                                         for n, b in batches.items()))
        return [{n: b[i] for n, b in batches.items()}
                for i in range(counts.pop())]

    try:
        result = calibrate(args.model, args.output, split,
                           entry=args.entry, row_mask=args.row_mask,
                           threads=args.num_threads,
                           log=lambda m: print(m, file=sys.stderr),
                           asymmetric=asymmetric,
                           float_hessians=args.float_hessians)
    except (compiler.CompileError, runtime.LowbitError, ValueError) as e:
        raise SystemExit("lowbit-calibrate: %s" % e)
    print("wrote %sHessians of %d layers from %d batches to %s" % (
        "asymmetric " if asymmetric else "", len(result["layers"]),
        result["batches"], args.output))
