"""Priors that ship: a trained run's EMA parameters on their own (no optimizer state), in one
msgpack file beside a JSON record of how they were made.

    <prior_dir>/ema_params.msgpack   flax.serialization msgpack of the EMA parameters
    <prior_dir>/prior.json           step, model / data / SDE settings, parameter count, sha256,
                                     and whatever the exporter adds (training command, scores)

``--mode export`` writes one from the workdir's latest checkpoint into ``config.prior_dir``;
sample / eval / recon read it when ``config.prior_dir`` is set and the workdir has no checkpoint
of its own (see :func:`run.context.load_ema`). A relative ``prior_dir`` that does not exist
from the current directory is looked up from the repository root, so the configs' paths work
from anywhere.
"""
from __future__ import annotations

import hashlib
import json
import os

import jax
import numpy as np
from flax import serialization

PARAMS_FILE, INFO_FILE = "ema_params.msgpack", "prior.json"
_REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def resolve_dir(prior_dir: str) -> str:
    """``prior_dir`` as given when it exists, else relative to the repository root."""
    if os.path.isabs(prior_dir) or os.path.exists(prior_dir):
        return os.path.abspath(prior_dir)
    return os.path.join(_REPO, prior_dir)


def has_prior(prior_dir: str) -> bool:
    return bool(prior_dir) and os.path.isfile(os.path.join(resolve_dir(prior_dir), PARAMS_FILE))


def _flat(tree, prefix=()) -> dict:
    if isinstance(tree, dict):
        out = {}
        for k, v in tree.items():
            out.update(_flat(v, prefix + (str(k),)))
        return out
    return {"/".join(prefix): tree}


def export_prior(config, params, step: int, prior_dir: str, info: dict | None = None) -> str:
    """Write ``params`` (the EMA parameters) and their record into ``prior_dir``; returns the
    params path. Refuses to replace an existing prior (delete it first, deliberately)."""
    out = resolve_dir(prior_dir)
    path = os.path.join(out, PARAMS_FILE)
    if os.path.exists(path):
        raise FileExistsError(f"{path} exists; a shipped prior is not replaced silently (remove it first)")
    os.makedirs(out, exist_ok=True)
    host = jax.tree.map(np.asarray, jax.device_get(params))
    blob = serialization.msgpack_serialize(serialization.to_state_dict(host))
    record = dict(step=int(step), param_count=int(sum(x.size for x in jax.tree.leaves(host))),
                  bytes=len(blob), sha256=hashlib.sha256(blob).hexdigest(),
                  sde=config.training.sde, continuous=bool(config.training.continuous),
                  model=config.model.to_dict(), data=config.data.to_dict(), **(info or {}))
    for name, data in ((PARAMS_FILE, blob), (INFO_FILE, json.dumps(record, indent=2, default=str).encode())):
        tmp = os.path.join(out, f".{name}.tmp-{os.getpid()}")
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, os.path.join(out, name))   # never a half-written file under the real name
    return path


def read_prior(prior_dir: str, abstract_params, sharding=None) -> tuple[object, int]:
    """``(params, step)`` from ``prior_dir``, checked against ``abstract_params`` (the network's
    parameter shapes for this config): a missing or differently shaped parameter is an error
    that names it."""
    out = resolve_dir(prior_dir)
    path = os.path.join(out, PARAMS_FILE)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"config.prior_dir={prior_dir!r}: no {PARAMS_FILE} in {out}")
    with open(path, "rb") as f:
        blob = f.read()
    try:
        state = serialization.msgpack_restore(blob)
    except Exception as e:   # msgpack raises several types for a damaged file
        raise ValueError(f"{path} is not a readable prior ({type(e).__name__}: {e})") from None
    want, got = _flat(serialization.to_state_dict(abstract_params)), _flat(state)
    for name, spec in want.items():
        if name not in got:
            raise ValueError(f"{path}: parameter {name!r} of this config's network is missing; was the prior "
                             f"trained with other model.* settings? (see {INFO_FILE})")
        if tuple(got[name].shape) != tuple(spec.shape):
            raise ValueError(f"{path}: parameter {name!r} has shape {tuple(got[name].shape)}, this config's "
                             f"network wants {tuple(spec.shape)} (model.* or data.image_size / num_channels differ)")
    extra = sorted(set(got) - set(want))
    if extra:
        raise ValueError(f"{path}: parameters {extra[:3]} are not in this config's network")
    params = serialization.from_state_dict(abstract_params, state)
    params = jax.tree.map(lambda x, s: jax.device_put(np.asarray(x, s.dtype), sharding), params, abstract_params)
    step = 0
    info = os.path.join(out, INFO_FILE)
    if os.path.isfile(info):
        with open(info) as f:
            step = int(json.load(f).get("step", 0))
    return params, step
