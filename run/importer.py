"""``--mode import``: a peer checkpoint (score_sde, score_sde_pytorch, score-MRI, guided-diffusion)
as this project's workdir, after which every mode works on it (train fine-tunes it).

    python main.py --config configs/mri/score_mri_knee320.py --workdir runs/knee --mode import \\
        --config.import_path=checkpoint_95.pth

The file is read and checked against the config's network first (``models.load_checkpoint``:
a mismatch names the parameter and the config key); only then is the workdir created and one
Orbax checkpoint written, at the peer's training step (0 when the file has none), holding its
raw weights as ``params``, its EMA weights as ``ema_params`` (the same tensors when the file
has one set, as guided-diffusion's) and a fresh optimizer state.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp

import losses
import models
from run import builders
from run.builders import ConfigError
from run.checkpoint import Checkpointer
from run.context import RunContext, start_run


def _weights(path: str, config, which: str):
    try:
        return models.load_checkpoint(path, config, weights=which)
    except models.CheckpointFormatError as e:
        if which == "raw" or "weights='raw'" not in str(e):
            raise
        return None   # no EMA in the file: the raw weights serve as both


def import_checkpoint(config, workdir: str) -> int:
    """Write ``config.import_path`` into ``workdir`` as an Orbax checkpoint; returns its step."""
    start_run(config)
    path = str(config.get("import_path", "") or "")
    if not path:
        raise ConfigError("--mode import reads config.import_path: add --config.import_path=<peer checkpoint>")
    if not os.path.exists(path):
        raise ConfigError(f"config.import_path={path!r} does not exist")
    raw = _weights(path, config, "raw")
    ema = _weights(path, config, "ema") or raw
    step = models.checkpoint_step(path) or 0
    ctx = RunContext(config)
    workdir = builders.prepare_workdir(workdir)
    ckpt = Checkpointer(workdir, int(config.training.get("keep_checkpoints", 3)))
    try:
        if ckpt.latest_step() is not None:
            raise FileExistsError(f"{ckpt.directory} already holds checkpoints (latest step {ckpt.latest_step()}); "
                                  "import into a new --workdir")
        optimizer = builders.build_optimizer(config)
        place = lambda tree: jax.device_put(tree, ctx.replicated)   # noqa: E731
        state = losses.TrainState(jnp.asarray(step, jnp.int32), place(raw),
                                  jax.jit(optimizer.init, out_shardings=ctx.replicated)(place(raw)), place(ema))
        ckpt.save(step, state)
    finally:
        ckpt.close()
    if jax.process_index() == 0:
        print(f"imported {path} (step {step}) into {ckpt.directory}")
    return step
