"""Read files written by ``torch.save`` without PyTorch, and without running pickled code.

``read_torch_file(path)`` returns the saved object with every tensor as a ``numpy.ndarray``
(C-contiguous, native byte order; bfloat16 as ``ml_dtypes.bfloat16``) and ``nn.Parameter`` as
its data. Containers stay what they were (dict, ``collections.OrderedDict``, list, tuple) and
plain values (int, float, str, bool, None) pass through. It reads:

- the zip format of ``torch.save`` since PyTorch 1.6: ``<name>/data.pkl`` (the pickle), one
  entry ``<name>/data/<key>`` per storage (raw bytes), ``<name>/byteorder`` ("little" when
  absent) and ``<name>/version``;
- the legacy format of older PyTorch (``_use_new_zipfile_serialization=False``): magic
  number, protocol, system info, the pickle, the list of storage keys, then each storage as an
  int64 element count followed by its bytes (little-endian, as its ``sys_info`` says).

A checkpoint is untrusted input: pickle can call any importable function. The unpickler here
resolves only the globals that rebuild tensors, parameters, storages, dtypes and ordered dicts
(and numpy scalars, which some trainers store as the step), each to a function of this module
that builds numpy data; any other global raises ``UnsafePickleError`` naming it, before
anything is called. Tensor views are bounds-checked against their storage.

One module (a little over 300 lines) because the two formats share the restricted unpickler,
the storage bookkeeping and the bounds checks; split, each half would import the other's
internals.
"""
from __future__ import annotations

import collections
import io
import os
import pickle
import struct
import zipfile
from typing import Any, Callable, NamedTuple

import ml_dtypes
import numpy as np


class TorchFileError(ValueError):
    """A file is not a readable ``torch.save`` file (truncated, corrupt or another format)."""


class UnsafePickleError(TorchFileError):
    """The pickle asks for a global outside the allow-list (it could run arbitrary code)."""


_STORAGE_DTYPES = {
    "FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
    "BFloat16Storage": ml_dtypes.bfloat16, "LongStorage": np.int64, "IntStorage": np.int32,
    "ShortStorage": np.int16, "CharStorage": np.int8, "ByteStorage": np.uint8,
    "BoolStorage": np.bool_, "ComplexFloatStorage": np.complex64,
    "ComplexDoubleStorage": np.complex128, "UntypedStorage": np.uint8,
}
_TORCH_DTYPES = {
    "float32": np.float32, "float": np.float32, "float64": np.float64, "double": np.float64,
    "float16": np.float16, "half": np.float16, "bfloat16": ml_dtypes.bfloat16,
    "int64": np.int64, "long": np.int64, "int32": np.int32, "int": np.int32, "int16": np.int16,
    "int8": np.int8, "uint8": np.uint8, "bool": np.bool_, "complex64": np.complex64,
    "complex128": np.complex128,
}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _StorageType:
    """What ``torch.FloatStorage`` & co. unpickle to: the element dtype of a storage."""

    def __init__(self, name: str):
        self.name, self.dtype = name, np.dtype(_STORAGE_DTYPES[name])


class _Dtype:
    """What ``torch.float32`` & co. unpickle to."""

    def __init__(self, name: str):
        self.dtype = np.dtype(_TORCH_DTYPES[name])


def _as_tensor(storage: np.ndarray, offset: int, size, stride, dtype=None) -> np.ndarray:
    if dtype is not None and dtype != storage.dtype:
        storage = storage.view(np.uint8).view(dtype)
    size, stride = tuple(int(s) for s in size), tuple(int(s) for s in stride)
    if len(size) != len(stride) or min(size + stride + (offset,), default=0) < 0:
        raise TorchFileError(f"bad tensor view: size {size}, stride {stride}, offset {offset}")
    n = int(np.prod(size)) if size else 1
    if n == 0:
        return np.zeros(size, storage.dtype)
    last = offset + sum((s - 1) * st for s, st in zip(size, stride))
    if last >= storage.size:   # as_strided would read past the buffer: the file lies
        raise TorchFileError(f"tensor view reaches element {last} of a storage of {storage.size}")
    item = storage.dtype.itemsize
    view = np.lib.stride_tricks.as_strided(storage[offset:], size, [st * item for st in stride])
    return np.array(view, order="C")   # a copy: the storage buffer is not kept alive (and 0-d stays 0-d)


class TensorSpec(NamedTuple):
    """What ``read_torch_file(path, tensors=False)`` returns for a tensor: no data is read."""

    shape: tuple
    dtype: np.dtype


class _LazyStorage:
    """A storage whose bytes are read later (legacy format: they follow the pickle) or never
    (``tensors=False``), so tensors wait for them."""

    def __init__(self, dtype: np.dtype):
        self.dtype, self.array = dtype, None


class _Pending:
    """A tensor of a ``_LazyStorage``, resolved once the storage bytes are read."""

    def __init__(self, storage: _LazyStorage, args: tuple):
        self.storage, self.args = storage, args


def _tensor(storage, offset, size, stride, dtype=None):
    if isinstance(storage, _LazyStorage):
        return _Pending(storage, (offset, size, stride, dtype))
    if not isinstance(storage, np.ndarray):
        raise TorchFileError(f"tensor rebuilt from {type(storage).__name__}, not a storage")
    return _as_tensor(storage, offset, size, stride, dtype)


def _rebuild_tensor_v2(storage, storage_offset, size, stride, requires_grad=False,
                       backward_hooks=None, metadata=None):
    return _tensor(storage, storage_offset, size, stride)


def _rebuild_tensor_v3(storage, storage_offset, size, stride, requires_grad, backward_hooks,
                       dtype, metadata=None):
    if not isinstance(dtype, _Dtype):
        raise TorchFileError(f"bad tensor dtype {dtype!r}")
    return _tensor(storage, storage_offset, size, stride, dtype.dtype)


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, state=None):
    return data


def _numpy_scalar(dtype, data=None):
    dtype = np.dtype(dtype)
    if dtype.hasobject or data is None:
        raise UnsafePickleError("numpy scalar of object dtype")
    return np.frombuffer(data, dtype, count=1)[0]


def _numpy_dtype(name, align=False, copy=False):
    dt = np.dtype(name)
    if dt.hasobject:
        raise UnsafePickleError("numpy object dtype")
    return dt


_ALLOWED: dict[tuple[str, str], Any] = {
    ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor_v2,
    ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor_v3,
    ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
    ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("numpy.core.multiarray", "scalar"): _numpy_scalar,
    ("numpy._core.multiarray", "scalar"): _numpy_scalar,
    ("numpy", "dtype"): _numpy_dtype,
    ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
    ("builtins", "complex"): complex,
}
_ALLOWED.update({("torch", n): _StorageType(n) for n in _STORAGE_DTYPES})
_ALLOWED.update({("torch", n): _Dtype(n) for n in _TORCH_DTYPES})


class _Unpickler(pickle.Unpickler):
    def __init__(self, fp, load_storage: Callable[[tuple], np.ndarray], origin: str):
        super().__init__(fp)
        self._load_storage, self._origin = load_storage, origin

    def find_class(self, module: str, name: str):
        try:
            return _ALLOWED[(module, name)]
        except KeyError:
            raise UnsafePickleError(
                f"{self._origin}: the pickle asks for the global {module}.{name}, which is not "
                "a tensor-rebuild function; refusing to load it (a checkpoint is untrusted input)"
            ) from None

    def persistent_load(self, pid):
        if not (isinstance(pid, tuple) and pid and pid[0] == "storage"):
            raise TorchFileError(f"{self._origin}: unknown persistent id {pid!r}")
        return self._load_storage(pid)


def _storage_type(pid) -> _StorageType:
    st = pid[1]
    if not isinstance(st, _StorageType):
        raise TorchFileError(f"bad storage type in persistent id {pid!r}")
    return st


def _read_zip(path: str, zf: zipfile.ZipFile, tensors: bool) -> Any:
    names = zf.namelist()
    pkl = [n for n in names if n.endswith("data.pkl")]
    if len(pkl) != 1:
        raise TorchFileError(f"{path}: a zip file, but not a torch.save archive (no data.pkl)")
    prefix = pkl[0][: -len("data.pkl")]
    order = "little"
    if prefix + "byteorder" in names:
        order = zf.read(prefix + "byteorder").decode().strip()
    cache: dict[str, np.ndarray] = {}

    def load(pid):
        st, key = _storage_type(pid), str(pid[2])
        if not tensors:
            return _LazyStorage(st.dtype)
        if key not in cache:
            try:
                raw = zf.read(f"{prefix}data/{key}")
            except KeyError:
                raise TorchFileError(f"{path}: storage {key!r} is missing from the archive") from None
            dt = st.dtype.newbyteorder("<" if order == "little" else ">")
            if len(raw) % dt.itemsize:
                raise TorchFileError(f"{path}: storage {key!r} has {len(raw)} bytes, not a "
                                     f"multiple of {dt.itemsize}")
            cache[key] = np.frombuffer(raw, dt).astype(st.dtype, copy=False)
        return cache[key]

    return _resolve(_Unpickler(io.BytesIO(zf.read(pkl[0])), load, path).load(), tensors)


def _read_legacy(path: str, f, tensors: bool) -> Any:
    def header():
        return _Unpickler(f, _no_storage, path).load()

    def _no_storage(pid):
        raise TorchFileError(f"{path}: storage reference outside the legacy object pickle")

    try:
        magic = header()
    except TorchFileError:
        raise
    except (pickle.UnpicklingError, EOFError, ValueError, IndexError):
        magic = None
    if magic != _LEGACY_MAGIC:
        raise TorchFileError(f"{path}: not a torch.save file (neither its zip archive nor the "
                             "legacy format; files from PyTorch < 0.4 (tar) are not supported)")
    header()                                   # protocol version
    sys_info = header()
    order = "<" if (sys_info or {}).get("little_endian", True) else ">"
    storages: dict[str, _LazyStorage] = {}

    def lazy(pid):
        st, key = _storage_type(pid), str(pid[2])
        if len(pid) > 5 and pid[5] is not None:
            raise TorchFileError(f"{path}: legacy storage views are not supported")
        return storages.setdefault(key, _LazyStorage(st.dtype))

    obj = _Unpickler(f, lazy, path).load()
    for key in (header() if tensors else ()):
        n = struct.unpack("<q", _exact(f, 8, path))[0]
        st = storages[str(key)]
        dt = st.dtype.newbyteorder(order)
        st.array = np.frombuffer(_exact(f, n * dt.itemsize, path), dt).astype(st.dtype)
    return _resolve(obj, tensors)


def _exact(f, n: int, path: str) -> bytes:
    b = f.read(n)
    if n < 0 or len(b) != n:
        raise TorchFileError(f"{path}: truncated (wanted {n} bytes of storage, got {len(b)})")
    return b


def _resolve(obj, tensors: bool = True):
    """Swap each ``_Pending`` tensor for its array (or, without ``tensors``, its TensorSpec)."""
    if isinstance(obj, _Pending):
        if obj.storage.array is None:
            if not tensors:
                offset, size, stride, dtype = obj.args
                return TensorSpec(tuple(int(n) for n in size), dtype or obj.storage.dtype)
            raise TorchFileError("a tensor's storage is missing from the file")
        return _as_tensor(obj.storage.array, *obj.args)
    if isinstance(obj, dict):
        return type(obj)((k, _resolve(v, tensors)) for k, v in obj.items())
    if isinstance(obj, (list, tuple)):
        return type(obj)(_resolve(v, tensors) for v in obj)
    return obj


def read_torch_file(path: str | os.PathLike, tensors: bool = True) -> Any:
    """The object saved by ``torch.save`` at ``path``, with tensors as numpy arrays.

    ``tensors=False`` reads only the pickle: each tensor comes back as a ``TensorSpec(shape,
    dtype)`` and no storage is read (cheap inspection of a large checkpoint, e.g. its step).

    Raises ``TorchFileError`` (a ValueError) naming the file when it is truncated, corrupt or
    not a torch file, and ``UnsafePickleError`` (a TorchFileError) when its pickle needs a
    global that is not a tensor-rebuild function. Nothing in the file is executed.
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as f:
            if zipfile.is_zipfile(f):
                f.seek(0)
                with zipfile.ZipFile(f) as zf:
                    return _read_zip(path, zf, tensors)
            f.seek(0)
            if f.read(4) == b"PK\x03\x04":
                raise TorchFileError(f"{path}: a zip archive without its directory at the end "
                                     "(truncated download?)")
            f.seek(0)
            return _read_legacy(path, f, tensors)
    except TorchFileError:
        raise
    except (pickle.UnpicklingError, EOFError, zipfile.BadZipFile, struct.error, ValueError,
            KeyError, IndexError, TypeError, AttributeError, OverflowError, MemoryError) as e:
        raise TorchFileError(f"{path}: truncated or corrupt torch file "
                             f"({type(e).__name__}: {e})") from None
