"""``--mode sample``: samples from the latest checkpoint's EMA parameters, sharded over the mesh."""
from __future__ import annotations

import logging
import os

import jax
import numpy as np
from jax.experimental import multihost_utils

import datasets
import samplers
from run import builders, mesh as mesh_lib, plots
from run.context import RunContext, load_ema, start_run


def make_sampler(ctx: RunContext, batch_size: int):
    """``fn(params, rng) -> (x [batch_size, ...], nfe)``, output sharded on data. Compiled on its
    first call and kept by the caller (nothing is cached here)."""
    opts = builders.sampler_options(ctx.config)
    method = ctx.config.sampling.method
    shape = (batch_size,) + ctx.shape
    mesh_lib.check_batch(batch_size, ctx.mesh, "sampling batch size")

    def fn(params, rng):
        return samplers.sample(rng, ctx.sde, ctx.builder(params), shape, method=method, **opts)
    return jax.jit(fn, out_shardings=(mesh_lib.batch_sharding(ctx.mesh), ctx.replicated))


def draw(ctx: RunContext, params, n: int, batch_size: int, rng, sampler=None) -> tuple[np.ndarray, int]:
    """``n`` samples in batches of ``batch_size`` (``sampler``: a ``make_sampler(ctx, batch_size)``
    to reuse; built here otherwise), gathered to every process as one NumPy array."""
    fn = make_sampler(ctx, batch_size) if sampler is None else sampler
    out, nfe = [], 0
    for i in range(-(-n // batch_size)):
        x, k = fn(params, jax.random.fold_in(rng, i))
        if not x.is_fully_addressable:  # multi-process: each process holds only its rows
            x = multihost_utils.process_allgather(x, tiled=True)
        out.append(np.asarray(jax.device_get(x)))
        nfe = int(k)
    return np.concatenate(out)[:n], nfe


def device_batch(ctx: RunContext, n: int, cap: int) -> int:
    """A batch of at most ``min(n, cap)`` rows that splits over the mesh (at least one per device)."""
    d = ctx.mesh.devices.size
    return max(min(n, cap) // d, 1) * d


def sample(config, workdir: str) -> str:
    """Write ``samples/samples_<step>.npz`` and a PNG; returns the npz path."""
    start_run(config)
    workdir = builders.prepare_workdir(workdir)
    ctx, params, step = load_ema(config, workdir)
    n = int(config.sampling.num_samples)
    rng = jax.random.fold_in(jax.random.PRNGKey(int(config.seed)), 10_000_019)
    x, nfe = draw(ctx, params, n, device_batch(ctx, n, int(config.eval.batch_size)), rng)
    out_dir = os.path.join(workdir, "samples")
    if jax.process_index() != 0:
        return ""
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"samples_{step}.npz")
    np.savez(path, samples=x, nfe=nfe, step=step)
    png = os.path.join(out_dir, f"samples_{step}.png")
    if ctx.shape == (2,):
        data = np.asarray(datasets.get_dataset(config.data, "train").batch(jax.random.PRNGKey(1), n))
        plots.scatter_2d(x, data, png, title=f"samples, step {step}, {nfe} NFE")
    else:
        inv = datasets.inverse_scaler(config.data)
        plots.image_grid(np.asarray(inv(x[:64])), png)
    logging.info("wrote %s and %s (%d samples, %d score evaluations each)", path, png, n, nfe)
    print(f"wrote {path}\nwrote {png}")
    return path
