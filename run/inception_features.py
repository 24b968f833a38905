"""FID / KID / Inception Score of image samples with the FID Inception, from a weights file the
user supplies (``eval.inception_weights=PATH``); nothing is downloaded at run time.

    variables = load_inception(path)                  # pytorch-fid's .pth, or an .npz state dict
    pool, logits = inception_features(variables, images)       # images [N, H, W, C] in [0, 1]
    ref = fid.reference_stats("stats/digits_test.npz", lambda: inception_features(variables, data)[0])
    metrics = image_quality(variables, samples, ref)  # fid, kid, kid_std, inception_score, ..._std
"""
from __future__ import annotations

import os
import pickle
import struct
import zipfile
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from models.inception import FID_WEIGHTS_URL, FIDInceptionV3, inception_variables_from_state_dict
from run import fid

# One compiled network for every call (a fresh jax.jit per call would compile again).
_apply = jax.jit(FIDInceptionV3().apply)


def load_inception(path: Optional[str]) -> dict:
    """Flax variables of the FID Inception from ``path`` (.pth / .pt / .npz), or an error that
    says where to get the file."""
    if not path or not os.path.exists(path):
        raise FileNotFoundError(
            f"Inception weights not found at {path!r}. FID, KID and Inception Score use pytorch-fid's "
            f"FID Inception (pt_inception-2015-12-05); download it once from {FID_WEIGHTS_URL} "
            "and pass eval.inception_weights=/path/to/pt_inception-2015-12-05-6726825d.pth")
    if path.endswith(".npz"):
        with np.load(path) as f:
            state = {k: f[k] for k in f.files}
    else:
        state = _read_torch_state_dict(path)
    try:
        return inception_variables_from_state_dict(state)
    except ValueError as e:
        raise ValueError(f"{path}: {e}") from None


def inception_features(variables: dict, images: np.ndarray, batch_size: int = 50) -> tuple[np.ndarray, np.ndarray]:
    """(pool ``[N, 2048]``, logits ``[N, 1008]``) of ``images: [N, H, W, C]`` in [0, 1].

    One channel is repeated to three (what pytorch-fid's PIL ``convert("RGB")`` does). Batches
    are padded to one fixed size, so the network compiles once.
    """
    images = np.asarray(images, np.float32)
    if images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(f"images must be [N, H, W, 1 or 3] in [0, 1]; got {images.shape}")
    if images.shape[-1] == 1:
        images = np.repeat(images, 3, axis=-1)
    bs = max(1, min(int(batch_size), len(images)))
    pools, logits = [], []
    for start in range(0, len(images), bs):
        chunk = images[start:start + bs]
        padded = np.concatenate([chunk, np.zeros((bs - len(chunk),) + chunk.shape[1:], np.float32)])
        p, l = _apply(variables, jnp.asarray(padded))
        pools.append(np.asarray(p)[:len(chunk)])
        logits.append(np.asarray(l)[:len(chunk)])
    return np.concatenate(pools).astype(np.float64), np.concatenate(logits).astype(np.float64)


def image_quality(variables: dict, samples: np.ndarray, reference: dict, batch_size: int = 50,
                  fid_method: str = "sqrtm") -> dict:
    """FID against ``reference`` (a ``fid.reference_stats`` dict), KID when it holds features,
    and the Inception Score of ``samples: [N, H, W, C]`` in [0, 1]. ``fid_method``: see
    ``fid.frechet_distance`` ("eigh" is the fast equivalent of pytorch-fid's "sqrtm")."""
    pool, logits = inception_features(variables, samples, batch_size)
    mu, sigma = fid.feature_stats(pool)
    out = {"fid": fid.frechet_distance(mu, sigma, reference["mu"], reference["sigma"], method=fid_method)}
    if "features" in reference:
        out["kid"], out["kid_std"] = fid.kid(pool, reference["features"])
    splits = 10 if len(logits) >= 10 else 1
    out["inception_score"], out["inception_score_std"] = fid.inception_score(logits, splits)
    return out


# --------------------------------------------------------------------------- reading .pth
# A minimal reader of torch.save files, for the FID weights only. TO BE REPLACED by
# models.torch_io.read_torch_file (branch issue10) once that lands: it handles the same two
# formats and more. Only plain tensors in (nested) dicts are understood; anything else in the
# pickle is refused rather than executed.

_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32, "ShortStorage": np.int16,
           "CharStorage": np.int8, "ByteStorage": np.uint8, "BoolStorage": np.bool_}
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C


class _Tensor:
    """A tensor waiting for its storage bytes: (storage key, dtype, offset, size, stride)."""

    def __init__(self, storage, offset, size, stride):
        self.key, self.dtype = storage
        self.offset, self.size, self.stride = int(offset), tuple(size), tuple(stride)

    def materialise(self, raw: dict) -> np.ndarray:
        flat = np.frombuffer(raw[self.key], dtype=np.dtype(self.dtype).newbyteorder("<"))
        item = flat.itemsize
        view = np.lib.stride_tricks.as_strided(flat[self.offset:], self.size, [s * item for s in self.stride])
        return np.array(view, dtype=self.dtype)


class _Unpickler(pickle.Unpickler):
    def find_class(self, module, name):
        if (module, name) in (("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor")):
            return lambda storage, offset, size, stride, *rest: _Tensor(storage, offset, size, stride)
        if module == "torch._utils" and name == "_rebuild_parameter":
            return lambda data, *rest: data
        if module == "collections" and name == "OrderedDict":
            return dict
        if module == "torch" and name in _DTYPES:
            return _DTYPES[name]
        raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a weights file")

    def persistent_load(self, pid):
        # ('storage', storage_type, key, location, numel[, view_metadata])
        if pid[0] != "storage":
            raise pickle.UnpicklingError(f"unknown persistent id {pid[0]!r}")
        return str(pid[2]), pid[1]


def _walk(obj, raw: dict):
    if isinstance(obj, _Tensor):
        return obj.materialise(raw)
    if isinstance(obj, dict):
        return {k: _walk(v, raw) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return type(obj)(_walk(v, raw) for v in obj)
    return obj


def _flatten(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj} if isinstance(obj, np.ndarray) else {}


def _read_torch_state_dict(path: str) -> dict:
    """Flat ``{name: np.ndarray}`` from a torch.save file (zip format of torch >= 1.6, or the
    legacy pickle stream); a ``{"state_dict": …}`` wrapper is unwrapped."""
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as z:
            pkl = next(n for n in z.namelist() if n.endswith("/data.pkl") or n == "data.pkl")
            root = pkl[: -len("data.pkl")]
            obj = _Unpickler(z.open(pkl)).load()
            keys = {t.key for t in _tensors(obj)}
            raw = {k: z.read(f"{root}data/{k}") for k in keys}
    else:
        with open(path, "rb") as f:
            # Every pickle in the stream goes through the restricted unpickler, headers included.
            if _Unpickler(f).load() != _LEGACY_MAGIC:
                raise ValueError(f"{path} is neither a zip nor a legacy torch.save file")
            _Unpickler(f).load()                         # protocol version
            _Unpickler(f).load()                         # system info
            obj = _Unpickler(f).load()
            raw = {}
            for key in _Unpickler(f).load():             # storages follow in this order
                dtype = next(t.dtype for t in _tensors(obj) if t.key == str(key))
                (numel,) = struct.unpack("<q", f.read(8))
                raw[str(key)] = f.read(numel * np.dtype(dtype).itemsize)
    obj = _walk(obj, raw)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    return _flatten(obj)


def _tensors(obj):
    if isinstance(obj, _Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)
