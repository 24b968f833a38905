"""score_sde (Flax) and score_sde_pytorch / score-MRI checkpoints -> our NCSN++ / DDPM++ / DDPM
parameters.

Our networks carry score_sde's Linen names, so:
- a score_sde Flax ``State`` (``params_ema``, ``optimizer.target``) *is* our parameter tree;
  it is only checked against the network the config builds;
- score_sde_pytorch keeps the top-level modules in one flat ``all_modules`` list, in the order
  the forward pass uses them, and names the parameters inside each block as score_sde's Linen
  code does (``all_modules.7.GroupNorm_1.weight`` ~ ``ResnetBlockBigGANpp_3/GroupNorm_1/scale``).
  Our top-level modules that have parameters, in the order our forward calls them, pair with
  the list's entries that have parameters (score_sde_pytorch also lists parameter-free ones,
  e.g. an average-pool ``Downsample``), and each pair is filled by name with the layout changes
  of models/convert_common.py.
EMA weights of score_sde_pytorch are ``ema.shadow_params``: a list in ``model.parameters()``
order holding only trainable tensors, i.e. the state dict without its buffers (``sigmas``) and
without the fixed Fourier frequencies ``W`` (``requires_grad=False``), which keep their raw value.
"""
from __future__ import annotations

import re
from typing import Mapping

import numpy as np

from models.convert_common import (CheckpointFormatError, check_tree, fill_module,
                                   first_differing_axis)

_STRUCTURE_KEYS = ("num_res_blocks / ch_mult / attn_resolutions / resblock_type / progressive / "
                   "progressive_input / conditional")
_MODULE_KEY = re.compile(r"^all_modules\.(\d+)\.(.+)$")
_BUFFERS = ("sigmas",)


def hint(path: tuple, ours: tuple, theirs: tuple) -> str:
    """The config key that most likely explains a mismatch at our parameter ``path``."""
    top = path[0] if path else ""
    if top.startswith("GaussianFourierProjection"):
        if ours and theirs:
            return "nf (the Fourier embedding has nf frequencies)"
        return "embedding_type (only 'fourier' has frequencies W)"
    if not path or not ours or not theirs:
        return _STRUCTURE_KEYS
    leaf = path[-1]
    axis = first_differing_axis(tuple(ours), tuple(theirs))
    if top == "Dense_0" and leaf == "kernel" and axis == 0:
        return "embedding_type (fourier embeds σ with 2·nf features, positional t with nf) / nf"
    if top == "Conv_0" and leaf == "kernel" and axis == 2:
        return "num_channels (data.num_channels: the input channels)"
    if len(path) == 2 and top.startswith("Conv_") and leaf in ("kernel", "bias") and axis == len(ours) - 1 \
            and ours[-1] <= 4:
        return "num_channels (data.num_channels: the output channels)"
    return "nf / ch_mult / progressive_combine"


def _strip_module(sd: Mapping[str, np.ndarray]) -> dict:
    """DataParallel saves keys as ``module.<key>``."""
    if sd and all(k.startswith("module.") for k in sd):
        return {k[len("module."):]: v for k, v in sd.items()}
    return dict(sd)


def _groups(sd: Mapping[str, np.ndarray], where: str) -> dict[int, dict]:
    groups: dict[int, dict] = {}
    for key, value in sd.items():
        m = _MODULE_KEY.match(key)
        if m:
            groups.setdefault(int(m.group(1)), {})[m.group(2)] = value
        elif key not in _BUFFERS:
            raise CheckpointFormatError(f"{where}: unexpected state-dict key {key!r} (expected "
                                        "'all_modules.<i>.…' of score_sde_pytorch's ncsnpp / ddpm)")
    return groups


def torch_state_to_params(sd: Mapping[str, np.ndarray], template: Mapping, order: list[str],
                          where: str, conditional: bool = True) -> dict:
    """score_sde_pytorch ``model.state_dict()`` -> our params (shapes of ``template``).

    ``order``: our top-level module names in the order the forward pass calls them.
    """
    groups = _groups(_strip_module(sd), where)
    ours = [name for name in order if name in template]
    theirs = sorted(groups)
    # Without noise conditioning score_sde_pytorch still builds each block's Dense_0 (its
    # forward never calls it); our blocks, like score_sde's Linen ones, have none.
    ignore = (lambda key: key.startswith("Dense_0.")) if not conditional else (lambda key: False)
    params = {}
    for name, idx in zip(ours, theirs):
        params[name] = fill_module(template[name], groups[idx],
                                   f"{where}: all_modules.{idx} -> {name}", hint, (name,), ignore)
    if len(ours) != len(theirs):
        raise CheckpointFormatError(
            f"{where}: the checkpoint has {len(theirs)} modules with parameters, the network this "
            f"config builds has {len(ours)}; check model.{_STRUCTURE_KEYS}")
    return params


def ema_state_dict(model_sd: Mapping[str, np.ndarray], ema: Mapping, where: str) -> dict:
    """The model state dict with its trainable tensors replaced by ``ema['shadow_params']``."""
    shadow = ema.get("shadow_params") if isinstance(ema, Mapping) else None
    if not isinstance(shadow, (list, tuple)):
        raise CheckpointFormatError(f"{where}: 'ema' has no 'shadow_params' list; load weights='raw'")
    sd = _strip_module(model_sd)
    trainable = [k for k in sd if k not in _BUFFERS and not _is_fourier_w(k, sd[k])]
    if len(trainable) != len(shadow):
        raise CheckpointFormatError(
            f"{where}: {len(shadow)} EMA tensors for {len(trainable)} trainable parameters")
    out = dict(sd)
    for key, value in zip(trainable, shadow):
        if tuple(np.shape(value)) != tuple(np.shape(sd[key])):
            raise CheckpointFormatError(f"{where}: EMA tensor for {key!r} has shape "
                                        f"{np.shape(value)}, the model's {np.shape(sd[key])}")
        out[key] = value
    return out


def _is_fourier_w(key: str, value) -> bool:
    """GaussianFourierProjection's frequencies: the only 1-D ``W`` (NIN's ``W`` is 2-D)."""
    return key.endswith(".W") and np.ndim(value) == 1


def flax_state_to_params(state: Mapping, template: Mapping, weights: str, where: str) -> dict:
    """score_sde's Flax ``State`` (msgpack-restored) -> our params, checked against ``template``."""
    if weights == "ema":
        if "params_ema" not in state:
            raise CheckpointFormatError(f"{where}: no 'params_ema' in this score_sde state")
        tree = state["params_ema"]
    else:
        target = state.get("optimizer", {})
        if not isinstance(target, Mapping) or "target" not in target:
            raise CheckpointFormatError(f"{where}: no 'optimizer.target' in this score_sde state")
        tree = target["target"]
    return check_tree(template, tree, where, hint)
