"""FID / KID / Inception Score of image samples with the FID Inception, from a weights file the
user supplies (``eval.inception_weights=PATH``); nothing is downloaded at run time.

    variables = load_inception(path)                  # pytorch-fid's .pth, or an .npz state dict
    pool, logits = inception_features(variables, images)       # images [N, H, W, C] in [0, 1]
    ref = fid.reference_stats("stats/digits_test.npz", lambda: inception_features(variables, data)[0])
    metrics = image_quality(variables, samples, ref)  # fid, kid, kid_std, inception_score, ..._std
"""
from __future__ import annotations

import os
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np

from models.inception import FID_WEIGHTS_URL, FIDInceptionV3, inception_variables_from_state_dict
from models.torch_io import read_torch_file
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
def _flatten(obj, prefix: str = "") -> dict:
    if isinstance(obj, dict):
        out = {}
        for k, v in obj.items():
            out.update(_flatten(v, f"{prefix}{k}."))
        return out
    return {prefix[:-1]: obj} if isinstance(obj, np.ndarray) else {}


def _read_torch_state_dict(path: str) -> dict:
    """Flat ``{name: np.ndarray}`` from a torch.save file, read by ``models.read_torch_file``
    (no PyTorch, nothing in the pickle executed); a ``{"state_dict": …}`` wrapper is unwrapped."""
    obj = read_torch_file(path)
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    return _flatten(obj)
