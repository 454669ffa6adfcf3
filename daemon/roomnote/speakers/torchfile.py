"""Read the tensors of a legacy PyTorch checkpoint without PyTorch.

The voice encoder's weights ship as ``pretrained.pt`` in the resemblyzer wheel, written by
``torch.save`` in its pre-1.6 (non-zip) format: three small pickles (magic number, protocol,
system info), the pickled object whose tensors point at storages by key, the list of storage
keys, then each storage's raw bytes after an 8-byte element count.

The unpickler, used for every pickle of the file, accepts only the handful of globals such a
file needs (an OrderedDict, the tensor rebuild function, storage types), so no code from the
file can run; the file's SHA-256 is checked against the manifest before this reads it anyway (P6).
"""
from __future__ import annotations

import collections
import io
import pickle
import struct

import numpy as np

from ..errors import ModelError

MAGIC = 0x1950A86A20F9469CFC6C
_STORAGE_DTYPES = {"FloatStorage": np.dtype("<f4"), "DoubleStorage": np.dtype("<f8"),
                   "LongStorage": np.dtype("<i8"), "IntStorage": np.dtype("<i4")}


class _TensorRef:
    def __init__(self, key: str, offset: int, size: tuple, stride: tuple):
        self.key, self.offset, self.size, self.stride = key, offset, tuple(size), tuple(stride)


def _rebuild_tensor(storage, offset, size, stride, *_):
    return _TensorRef(storage, offset, size, stride)


class _Unpickler(pickle.Unpickler):
    def __init__(self, f, storages: dict):
        super().__init__(f)
        self.storages = storages  # key -> numpy dtype, filled as tensors are met

    def find_class(self, module: str, name: str):
        if (module, name) == ("collections", "OrderedDict"):
            return collections.OrderedDict
        if module == "torch._utils" and name in ("_rebuild_tensor_v2", "_rebuild_tensor"):
            return _rebuild_tensor
        if module == "torch" and name in _STORAGE_DTYPES:
            return name
        raise pickle.UnpicklingError(f"unexpected global {module}.{name}")

    def persistent_load(self, pid):
        # ('storage', storage type, key, location, element count, view metadata)
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage" and pid[1] in _STORAGE_DTYPES):
            raise pickle.UnpicklingError("unexpected persistent id")
        self.storages[pid[2]] = _STORAGE_DTYPES[pid[1]]
        return pid[2]


def load_state_dict(data: bytes, entry: str = "model_state", path: str = "pretrained.pt") -> dict[str, np.ndarray]:
    """The float32 arrays of ``checkpoint[entry]``, by parameter name; data: the file's bytes."""
    try:
        with io.BytesIO(data) as f:
            dtypes: dict = {}

            def load():  # every pickle of the file, not only the tensors', goes through _Unpickler
                return _Unpickler(f, dtypes).load()

            if load() != MAGIC:
                raise ModelError(f"{path}: not a PyTorch legacy checkpoint; reinstall the model")
            load()  # protocol version
            load()  # system info (little endian, type sizes)
            obj = load()
            keys = load()
            raw = {}
            for key in keys:
                (count,) = struct.unpack("<q", f.read(8))
                dt = dtypes[key]
                raw[key] = np.frombuffer(f.read(count * dt.itemsize), dt)
    except (pickle.UnpicklingError, EOFError, KeyError, struct.error) as e:
        raise ModelError(f"{path}: cannot read the checkpoint ({e}); reinstall the model") from None
    out = {}
    for name, ref in obj[entry].items():
        storage = raw[ref.key]
        arr = np.lib.stride_tricks.as_strided(storage[ref.offset:], ref.size,
                                              tuple(s * storage.itemsize for s in ref.stride))
        out[name] = np.ascontiguousarray(arr, dtype=np.float32)
    return out
