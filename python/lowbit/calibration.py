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
"""

import argparse
import os
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
    """Sums xᵀx per label. Rows are gathered over batches and multiplied
    in float32 (one BLAS product per 4096 rows, twice as fast as float64
    and exact enough for that many), and the products are added to float64
    totals. Layers that read the same input in a batch (Q, K and V) share
    one product."""

    FLUSH_ROWS = 4096

    def __init__(self):
        self.sums = {}
        self.rows = {}
        self._batch = []     # [(x, [labels])] of the batch being added
        self._pending = {}   # (labels) -> [row blocks not yet multiplied]

    def add(self, label, x, rows):
        x = np.asarray(x, dtype=np.float32)
        if rows is not None:
            if rows.shape[0] != x.shape[0]:
                raise ValueError(
                    "row mask has %d elements but the input of %s has %d "
                    "rows" % (rows.shape[0], label, x.shape[0]))
            x = x[rows]
        if not np.all(np.isfinite(x)):
            raise ValueError("the input of %s is not finite" % label)
        if label not in self.sums:
            self.sums[label] = np.zeros((x.shape[1], x.shape[1]))
            self.rows[label] = 0
        self.rows[label] += x.shape[0]
        for seen, labels in self._batch:
            if seen.shape == x.shape and np.array_equal(seen, x):
                labels.append(label)
                return
        self._batch.append((x, [label]))

    def next_batch(self):
        """Queues the rows of the batch just added."""
        for x, labels in self._batch:
            key = tuple(labels)
            blocks = self._pending.setdefault(key, [])
            blocks.append(x)
            if sum(len(b) for b in blocks) >= self.FLUSH_ROWS:
                self._flush(key)
        self._batch = []

    def _flush(self, key):
        x = np.concatenate(self._pending.pop(key))
        product = x.T @ x
        for label in key:
            self.sums[label] += product

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
        return out


def calibrate(source, output, batches, entry=None, row_mask=None,
              threads=0, work=None, log=None):
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
    threads: OpenMP threads for the float model (0: all cores). work: a
    directory to keep the calibration build in (default: a temporary one).
    Returns {"batches": n, "layers": {name: rows}}."""
    say = log or (lambda message: None)
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
            labelled = [(i, r["label"]) for i, r in enumerate(fn.results)
                        if r.get("label")]
            if not labelled:
                raise ValueError("%s has no named linear layers to calibrate "
                                 "(lowbit.name on weight matmuls)" % source)
            if callable(batches):
                batches = batches(fn)
            sums = _Accumulator()
            count = 0
            started = time.perf_counter()
            for batch in batches:
                args = _arguments(fn, batch)
                outputs = fn(*args)
                rows = _rows(fn, args, row_mask)
                for index, label in labelled:
                    sums.add(label, outputs[index], rows)
                sums.next_batch()
                count += 1
            if count == 0:
                raise ValueError("no calibration batches")
            say("ran %d calibration batches through %d layers in %.1f s"
                % (count, len(sums.sums), time.perf_counter() - started))
    modelio.write_safetensors(output, sums.tensors(), metadata={
        "format": "lowbit-hessians", "batches": str(count)})
    return {"batches": count, "layers": dict(sums.rows)}


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
                        help="threads for the float model (0: all cores)")
    args = parser.parse_args(argv)

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
                           log=lambda m: print(m, file=sys.stderr))
    except (compiler.CompileError, runtime.LowbitError, ValueError) as e:
        raise SystemExit("lowbit-calibrate: %s" % e)
    print("wrote Hessians of %d layers from %d batches to %s" % (
        len(result["layers"]), result["batches"], args.output))
