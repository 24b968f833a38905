"""``--mode sample``: samples from the latest checkpoint's EMA parameters, sharded over the mesh."""
from __future__ import annotations

import functools
import logging
import os

import jax
import numpy as np
from jax.experimental import multihost_utils

import datasets
import samplers
from run import builders, mesh as mesh_lib, plots
from run.checkpoint import Checkpointer
from run.train import Trainer


def load_trainer_state(config, workdir: str):
    tr = Trainer(config, workdir)
    ckpt = Checkpointer(tr.workdir, int(config.training.get("keep_checkpoints", 3)))
    if ckpt.latest_step() is None:
        raise FileNotFoundError(f"no checkpoint in {ckpt.directory}: run --mode train with this workdir first")
    state = ckpt.restore(tr.init_state())
    ckpt.close()
    return tr, state


@functools.lru_cache(maxsize=16)
def make_sampler(tr: Trainer, batch_size: int):
    """``fn(params, rng) -> (x [batch_size, ...], nfe)``, compiled once, output sharded on data."""
    opts = builders.sampler_options(tr.config)
    method = tr.config.sampling.method
    shape = (batch_size,) + tr.shape
    mesh_lib.check_batch(batch_size, tr.mesh, "sampling batch size")

    def fn(params, rng):
        return samplers.sample(rng, tr.sde, tr.builder(params), shape, method=method, **opts)
    return jax.jit(fn, out_shardings=(mesh_lib.batch_sharding(tr.mesh), tr.replicated))


def draw(tr: Trainer, params, n: int, batch_size: int, rng) -> tuple[np.ndarray, int]:
    fn = make_sampler(tr, batch_size)
    out, nfe = [], 0
    for i in range(-(-n // batch_size)):
        x, k = fn(params, jax.random.fold_in(rng, i))
        if not x.is_fully_addressable:  # multi-process: each process holds only its rows
            x = multihost_utils.process_allgather(x, tiled=True)
        out.append(np.asarray(jax.device_get(x)))
        nfe = int(k)
    return np.concatenate(out)[:n], nfe


def sample(config, workdir: str) -> str:
    """Write ``samples/samples_<step>.npz`` and a PNG; returns the npz path."""
    tr, state = load_trainer_state(config, workdir)
    step = int(jax.device_get(state.step))
    n = int(config.sampling.num_samples)
    bs = min(n, int(config.eval.batch_size))
    bs = max(bs // tr.mesh.devices.size, 1) * tr.mesh.devices.size
    rng = jax.random.fold_in(jax.random.PRNGKey(int(config.seed)), 10_000_019)
    x, nfe = draw(tr, state.ema_params, n, bs, rng)
    out_dir = os.path.join(tr.workdir, "samples")
    if jax.process_index() != 0:
        return ""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"samples_{step}.npz")
    np.savez(path, samples=x, nfe=nfe, step=step)
    png = os.path.join(out_dir, f"samples_{step}.png")
    if len(tr.shape) == 1 and tr.shape[0] == 2:
        data = np.asarray(tr.dataset.batch(jax.random.PRNGKey(1), n))
        plots.scatter_2d(x, data, png, title=f"samples, step {step}, {nfe} NFE")
    else:
        inv = datasets.inverse_scaler(config.data)
        plots.image_grid(np.asarray(inv(x[:64])), png)
    logging.info("wrote %s and %s (%d samples, %d score evaluations each)", path, png, n, nfe)
    print(f"wrote {path}\nwrote {png}")
    return path
