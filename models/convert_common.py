"""What every checkpoint converter shares: the error type, PyTorch → Flax layouts, and filling a
parameter template from named arrays with the first mismatch named.

Layouts: a PyTorch convolution weight is ``[C_out, C_in, kh, kw]`` (OIHW), Flax's ``[kh, kw,
C_in, C_out]`` (HWIO); a 1-D convolution ``[C_out, C_in, 1]`` that we compute as a per-pixel
linear map becomes ``[C_in, C_out]``; ``nn.Linear`` stores ``[out, in]``, ``nn.Dense``
``[in, out]``; GroupNorm's ``weight`` is Flax's ``scale``; ``nn.Embedding.weight`` is
``nn.Embed.embedding`` as is. score_sde's ``NIN.W`` is ``[C_in, C_out]`` in both frameworks.
"""
from __future__ import annotations

from typing import Any, Callable, Mapping, Optional

import numpy as np


class CheckpointFormatError(ValueError):
    """A checkpoint file cannot be loaded for this config (wrong format, truncated, unsafe
    pickle, or a parameter whose name or shape does not match the network the config builds)."""


# Our leaf name -> the PyTorch name of the same tensor.
TORCH_LEAF_NAMES = {"kernel": "weight", "scale": "weight", "embedding": "weight"}


def torch_to_flax(leaf: str, value: np.ndarray, target_ndim: int) -> np.ndarray:
    """One PyTorch tensor in the layout of our parameter ``leaf`` of rank ``target_ndim``."""
    if leaf in ("kernel", "weight") and value.ndim == 4:
        return value.transpose(2, 3, 1, 0)                  # OIHW -> HWIO
    if leaf == "kernel" and value.ndim == 3 and target_ndim == 2:
        if value.shape[-1] != 1:
            raise CheckpointFormatError(f"1-D convolution of width {value.shape[-1]}, expected 1")
        return value[:, :, 0].T                              # Conv1d k=1 -> Dense
    if leaf == "kernel" and value.ndim == 2:
        return value.T                                       # Linear -> Dense
    return value


def leaves(tree: Mapping, prefix: tuple = ()):
    """``(path, leaf)`` for every leaf of a nested mapping, in the mapping's own order."""
    for k, v in tree.items():
        if isinstance(v, Mapping):
            yield from leaves(v, prefix + (k,))
        else:
            yield prefix + (k,), v


def set_path(tree: dict, path: tuple, value) -> None:
    for k in path[:-1]:
        tree = tree.setdefault(k, {})
    tree[path[-1]] = value


def shape_mismatch(where: str, ours: tuple, theirs: tuple, hint: str) -> CheckpointFormatError:
    return CheckpointFormatError(
        f"{where}: the checkpoint has shape {tuple(theirs)}, the network this config builds "
        f"expects {tuple(ours)}; check model.{hint}")


def fill_module(template: Mapping, source: Mapping[str, np.ndarray], where: str,
                hint: Callable[[tuple, tuple, tuple], str], prefix: tuple = (),
                ignore: Callable[[str], bool] = lambda key: False) -> dict:
    """Our module's parameters from ``source`` (PyTorch keys relative to the module).

    ``template`` holds our shapes (``ShapeDtypeStruct`` leaves); each leaf path ``(a, b, leaf)``
    is looked up as ``"a.b.<torch name of leaf>"``. Every template leaf must be found with the
    right shape and every source key used (``ignore`` lets a caller skip keys the peer's own
    forward never reads); otherwise the error names the parameter and the config key to check.
    """
    out: dict = {}
    used = set()
    for path, spec in leaves(template):
        key = ".".join(path[:-1] + (TORCH_LEAF_NAMES.get(path[-1], path[-1]),))
        full = "/".join(prefix + path)
        if key not in source:
            raise CheckpointFormatError(
                f"{where}: no tensor {key!r} for parameter {full} (the checkpoint has "
                f"{sorted(source)[:6]}); check model.{hint(prefix + path, spec.shape, ())}")
        value = torch_to_flax(path[-1], np.asarray(source[key]), len(spec.shape))
        if tuple(value.shape) != tuple(spec.shape):
            raise shape_mismatch(f"{where}: parameter {full} (from {key!r})", spec.shape,
                                 value.shape, hint(prefix + path, spec.shape, value.shape))
        set_path(out, path, value.astype(np.float32, copy=False))
        used.add(key)
    extra = [k for k in source if k not in used and not ignore(k)]
    if extra:
        raise CheckpointFormatError(
            f"{where}: tensors {extra[:4]} have no parameter in the network this config builds; "
            f"check model.{hint(prefix, (), ())}")
    return out


def check_tree(template: Mapping, tree: Mapping, where: str,
               hint: Callable[[tuple, tuple, tuple], str]) -> dict:
    """``tree`` (same names as ``template``) checked leaf by leaf, as float32 numpy arrays."""
    ours = dict(leaves(template))
    theirs = dict(leaves(tree))
    for path, spec in ours.items():
        if path not in theirs:
            raise CheckpointFormatError(
                f"{where}: no parameter {'/'.join(path)} in the checkpoint; check "
                f"model.{hint(path, spec.shape, ())}")
        if tuple(np.shape(theirs[path])) != tuple(spec.shape):
            raise shape_mismatch(f"{where}: parameter {'/'.join(path)}", spec.shape,
                                 np.shape(theirs[path]), hint(path, spec.shape, np.shape(theirs[path])))
    extra = [p for p in theirs if p not in ours]
    if extra:
        raise CheckpointFormatError(
            f"{where}: parameters {['/'.join(p) for p in extra[:4]]} of the checkpoint are not in "
            f"the network this config builds; check model.{hint(extra[0], (), ())}")
    out: dict = {}
    for path in ours:
        set_path(out, path, np.asarray(theirs[path]).astype(np.float32, copy=False))
    return out


def first_differing_axis(ours: tuple, theirs: tuple) -> Optional[int]:
    if len(ours) != len(theirs):
        return None
    for i, (a, b) in enumerate(zip(ours, theirs)):
        if a != b:
            return i
    return None


def to_plain(tree: Any) -> Any:
    """Nested mappings as plain dicts (Flax FrozenDict / OrderedDict included)."""
    if isinstance(tree, Mapping):
        return {k: to_plain(v) for k, v in tree.items()}
    return tree
