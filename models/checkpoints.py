"""Load the released checkpoints of the field into ``variables`` for our networks.

``load_checkpoint(path, model_config, weights="ema")`` reads, by content (not by file name):

| file | written by | weights |
|---|---|---|
| ``*.pth``: ``torch.save({'model', 'ema', 'optimizer', 'step'})`` | score_sde_pytorch, score-MRI | ``ema``: ``ema.shadow_params``; ``raw``: ``model`` |
| ``checkpoint_<N>`` (or a folder of them: the largest N): msgpack of score_sde's ``State`` | score_sde (Flax) | ``ema``: ``params_ema``; ``raw``: ``optimizer.target`` |
| ``*.pt``: ``torch.save(model.state_dict())`` of ``UNetModel`` | guided-diffusion, DDS, DPS | the one set the file holds (its name says whether it is EMA) |

and returns ``{"params": ...}`` for ``models.get_model(model_config).apply(variables, x,
labels, train=False)``. PyTorch files are read without PyTorch and without running pickled code
(models/torch_io.py). Every failure is a ``CheckpointFormatError`` (a ValueError) that names the
file: another format, a truncated file, a pickle asking for a global outside the allow-list, or
a state that does not fit the config (naming the first parameter whose shape differs and the
config key that probably causes it). Nothing is written anywhere.

``model_config`` is the ``model`` section with ``image_size`` and ``num_channels`` (and
``centered``) in it, as ``run/builders.py`` builds it, or a whole config, whose ``data.*`` keys
are then copied in the same way.
"""
from __future__ import annotations

import os
import re
from typing import Any, Mapping, Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np

from models import convert_adm, convert_score_sde
from models.convert_common import CheckpointFormatError, to_plain
from models.registry import get_model
from models.torch_io import TorchFileError, read_torch_file

SCORE_SDE_NAMES = ("ncsnpp", "ddpmpp", "ddpm")
_CKPT = re.compile(r"^checkpoint_(\d+)$")


def model_section(config: Mapping) -> dict:
    """The ``model`` section as a plain dict, with ``data.image_size / num_channels / centered``
    copied in when given a whole config (as run/builders.py does)."""
    if "model" in config and "data" in config:
        section, data = _as_dict(config["model"]), config["data"]
        for key, default in (("image_size", None), ("num_channels", 1), ("centered", False)):
            if key in data:
                section[key] = data[key]
            elif default is not None:
                section.setdefault(key, default)
        return section
    return _as_dict(config)


def _as_dict(m) -> dict:
    return m.to_dict() if hasattr(m, "to_dict") else dict(m)


def resolve_path(path: str | os.PathLike) -> str:
    """A file, or a folder of score_sde ``checkpoint_<N>`` files (the largest N)."""
    path = os.fspath(path)
    if os.path.isdir(path):
        found = sorted((int(m.group(1)), n) for n in os.listdir(path) if (m := _CKPT.match(n)))
        if not found:
            raise CheckpointFormatError(f"{path}: a folder without score_sde checkpoint_<N> files")
        return os.path.join(path, found[-1][1])
    if not os.path.exists(path):
        raise FileNotFoundError(path)
    return path


def read_peer_file(path: str, tensors: bool = True) -> tuple[str, Any]:
    """``(kind, content)``: kind "torch" (any torch.save object) or "flax" (score_sde State).

    ``tensors=False`` skips a torch file's tensor data (see ``read_torch_file``)."""
    with open(path, "rb") as f:
        head = f.read(2)
    if head[:2] == b"PK" or (len(head) == 2 and head[0] == 0x80 and 2 <= head[1] <= 5):
        try:
            return "torch", read_torch_file(path, tensors=tensors)
        except TorchFileError as e:
            raise CheckpointFormatError(str(e)) from e
    from flax.serialization import msgpack_restore
    with open(path, "rb") as f:
        raw = f.read()
    try:
        state = msgpack_restore(raw)
    except Exception as e:  # msgpack raises several types for bad bytes; none runs code
        raise CheckpointFormatError(
            f"{path}: neither a torch.save file nor a score_sde (Flax msgpack) checkpoint, or it "
            f"is truncated ({type(e).__name__}: {e})") from None
    if not isinstance(state, Mapping):
        raise CheckpointFormatError(f"{path}: msgpack content is {type(state).__name__}, not a state")
    return "flax", to_plain(state)


def _family(kind: str, content: Any, path: str) -> str:
    if kind == "flax":
        if "params_ema" in content or "optimizer" in content:
            return "score_sde_flax"
    elif isinstance(content, Mapping):
        if "model" in content and isinstance(content["model"], Mapping):
            return "score_sde_pytorch"
        keys = [k[len("module."):] if isinstance(k, str) and k.startswith("module.") else k
                for k in content]
        if "time_embed.0.weight" in keys:
            return "guided_diffusion"
    top = sorted(map(str, content))[:8] if isinstance(content, Mapping) else type(content).__name__
    raise CheckpointFormatError(f"{path}: not a checkpoint of score_sde, score_sde_pytorch, "
                                f"score-MRI or guided-diffusion (top level: {top})")


def param_template(model: nn.Module) -> tuple[dict, list[str]]:
    """Our parameter shapes (no compute, no memory) and top-level modules in call order."""
    size, channels = getattr(model, "image_size", None), getattr(model, "num_channels", None)
    if size is None or channels is None:
        raise CheckpointFormatError("the model config needs image_size and num_channels (the "
                                    "data.* keys) to build the network a checkpoint is read into")
    x = jnp.zeros((1, size, size, channels), jnp.float32)
    labels = jnp.ones((1,), jnp.float32)
    kwargs = {"y": jnp.zeros((1,), jnp.int32)} if getattr(model, "num_classes", None) else {}
    order: list[str] = []

    def record(next_fun, args, kw, context):
        p = context.module.path
        if context.method_name == "__call__" and len(p) == 1 and p[0] not in order:
            order.append(p[0])
        return next_fun(*args, **kw)

    def init():
        with nn.intercept_methods(record):
            return model.init(jax.random.PRNGKey(0), x, labels, train=False, **kwargs)

    shapes = jax.eval_shape(init)
    return to_plain(shapes["params"]), order


def load_checkpoint(path: str | os.PathLike, model_config: Mapping,
                    weights: str = "ema") -> dict:
    """``{"params": ...}`` of a peer checkpoint for ``models.get_model(model_config)``."""
    if weights not in ("ema", "raw"):
        raise ValueError(f"weights must be 'ema' or 'raw'; got {weights!r}")
    section = model_section(model_config)
    name = section.get("name")
    model = get_model(section)
    path = resolve_path(path)
    kind, content = read_peer_file(path)
    family = _family(kind, content, path)
    want = "adm" if family == "guided_diffusion" else "ncsnpp / ddpmpp / ddpm"
    if (family == "guided_diffusion") != (name == "adm") or (name not in SCORE_SDE_NAMES + ("adm",)):
        raise CheckpointFormatError(f"{path}: a {family} checkpoint needs model.name {want}; the "
                                    f"config has model.name={name!r}")
    template, order = param_template(model)
    if family == "score_sde_flax":
        params = convert_score_sde.flax_state_to_params(content, template, weights, path)
    elif family == "guided_diffusion":
        params = convert_adm.torch_state_to_params(content, template, path)
    else:
        sd = content["model"]
        if weights == "ema":
            if "ema" not in content:
                raise CheckpointFormatError(f"{path}: no 'ema' entry; load it with weights='raw'")
            sd = convert_score_sde.ema_state_dict(sd, content["ema"], path)
        params = convert_score_sde.torch_state_to_params(
            sd, template, order, path, conditional=bool(getattr(model, "conditional", True)))
    return {"params": jax.tree.map(jnp.asarray, params)}


def checkpoint_step(path: str | os.PathLike) -> Optional[int]:
    """The training step stored in a peer checkpoint, or None (guided-diffusion state dicts
    hold none; their file names usually do)."""
    path = resolve_path(path)
    kind, content = read_peer_file(path, tensors=False)
    if isinstance(content, Mapping) and "step" in content and np.ndim(content["step"]) == 0:
        try:
            return int(np.asarray(content["step"]))
        except (TypeError, ValueError):
            return None
    return None
