"""Run compiled lowbit artifacts from Python.

    model = lowbit.load("minilm.so")          # + minilm.weights.safetensors
    (embeddings,) = model.forward(input_ids, attention_mask)

This wraps the lowbit runtime's C API (liblowbit_runtime.so,
docs/Runtime.md): the runtime validates the artifact's manifest and its
weights file, maps and binds the weights; Python checks arrays against the
manifest and passes pointers.
"""

import ctypes
import json

import numpy as np

from . import _paths

_DTYPES = {"f32": np.float32, "f64": np.float64, "f16": np.float16,
           "bf16": np.uint16, "i8": np.int8, "i32": np.int32, "i64": np.int64}

_lib = None


def _runtime():
    global _lib
    if _lib is None:
        lib = ctypes.CDLL(_paths.library("liblowbit_runtime.so"))
        lib.lowbit_runtime_last_error.restype = ctypes.c_char_p
        lib.lowbit_artifact_open.argtypes = [
            ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p,
            ctypes.POINTER(ctypes.c_void_p)]
        lib.lowbit_artifact_close.argtypes = [ctypes.c_void_p]
        lib.lowbit_artifact_manifest.argtypes = [ctypes.c_void_p]
        lib.lowbit_artifact_manifest.restype = ctypes.c_char_p
        lib.lowbit_artifact_weights_path.argtypes = [ctypes.c_void_p]
        lib.lowbit_artifact_weights_path.restype = ctypes.c_char_p
        lib.lowbit_artifact_run.argtypes = [
            ctypes.c_void_p, ctypes.c_int64, ctypes.c_void_p, ctypes.c_void_p]
        lib.lowbit_set_num_threads.argtypes = [ctypes.c_int]
        _lib = lib
    return _lib


class LowbitError(RuntimeError):
    """A runtime or entry-point failure, with the runtime's message."""


def _check(rc):
    if rc != 0:
        raise LowbitError(_runtime().lowbit_runtime_last_error().decode())


def set_num_threads(n):
    """Threads for the compiled code's parallel loops (0: OpenMP's default)."""
    _check(_runtime().lowbit_set_num_threads(int(n)))


class Entry:
    """One entry point: call it with numpy arrays, get a tuple of arrays."""

    def __init__(self, artifact, index, spec):
        self._artifact = artifact
        self._index = index
        self.name = spec["name"]
        self.args = spec["args"]
        self.results = spec["results"]

    def __repr__(self):
        def sig(ts):
            return ", ".join("%s: %s%s" % (t["name"], t["dtype"], t["shape"])
                             for t in ts)
        return "<lowbit entry %s(%s) -> (%s)>" % (self.name, sig(self.args),
                                                   sig(self.results))

    def __call__(self, *arrays):
        if len(arrays) != len(self.args):
            raise TypeError("%s takes %d arguments (%s), got %d" % (
                self.name, len(self.args),
                ", ".join(a["name"] for a in self.args), len(arrays)))
        inputs = []
        for array, spec in zip(arrays, self.args):
            dtype = _DTYPES[spec["dtype"]]
            a = np.asarray(array)
            if tuple(a.shape) != tuple(spec["shape"]):
                raise ValueError("%s: %s has shape %s, expected %s" % (
                    self.name, spec["name"], a.shape, tuple(spec["shape"])))
            if a.dtype != dtype:
                if not np.can_cast(a.dtype, dtype, casting="same_kind"):
                    raise TypeError("%s: %s has dtype %s, expected %s" % (
                        self.name, spec["name"], a.dtype, spec["dtype"]))
                a = a.astype(dtype)
            inputs.append(np.ascontiguousarray(a))
        outputs = [np.empty(r["shape"], _DTYPES[r["dtype"]])
                   for r in self.results]
        args = (ctypes.c_void_p * max(len(inputs), 1))(
            *[a.ctypes.data for a in inputs])
        results = (ctypes.c_void_p * max(len(outputs), 1))(
            *[o.ctypes.data for o in outputs])
        self._artifact._require_open()
        _check(_runtime().lowbit_artifact_run(
            self._artifact._handle, self._index, args, results))
        return tuple(outputs)


class Artifact:
    """A compiled library and its weights, opened by the lowbit runtime.

    Entry points are attributes (`artifact.forward`) and items
    (`artifact["forward"]`). Close it (or use `with`) to unmap the weights.
    """

    def __init__(self, path, weights=None, prefix=None):
        handle = ctypes.c_void_p()
        _check(_runtime().lowbit_artifact_open(
            str(path).encode(),
            None if weights is None else str(weights).encode(),
            None if prefix is None else prefix.encode(),
            ctypes.byref(handle)))
        self._handle = handle
        self.path = str(path)
        self.manifest = json.loads(
            _runtime().lowbit_artifact_manifest(handle).decode())
        self.weights_path = (
            _runtime().lowbit_artifact_weights_path(handle).decode() or None)
        self.entries = {spec["name"]: Entry(self, i, spec)
                        for i, spec in enumerate(self.manifest["entries"])}

    def _require_open(self):
        if self._handle is None:
            raise LowbitError("%s is closed" % self.path)

    def __getattr__(self, name):
        entries = self.__dict__.get("entries", {})
        if name in entries:
            return entries[name]
        raise AttributeError(name)

    def __getitem__(self, name):
        return self.entries[name]

    @property
    def weight_bytes(self):
        """Bytes of weights in the weights file (unpadded)."""
        return sum(w["bytes"] for w in self.manifest["weights"])

    def close(self):
        if self._handle is not None:
            _runtime().lowbit_artifact_close(self._handle)
            self._handle = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


def load(path, weights=None, prefix=None):
    """Opens a compiled artifact (see Artifact)."""
    return Artifact(path, weights, prefix)
