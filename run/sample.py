"""``--mode sample``: samples from the latest checkpoint's EMA parameters, sharded over the mesh."""
from __future__ import annotations

import json
import logging
import os

import jax
import numpy as np
from jax.experimental import multihost_utils

import datasets
import samplers
from run import builders, files, mesh as mesh_lib, plots
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


def sample(config, workdir: str, overwrite: bool = False) -> str:
    """Write ``samples/samples_<step>.npz`` and a PNG; returns the npz path. An npz that exists
    is refused (``run.files.OutputExists``) before anything is computed, unless ``overwrite``."""
    start_run(config)
    workdir = builders.prepare_workdir(workdir)
    ctx, params, step = load_ema(config, workdir)
    out_dir = os.path.join(workdir, "samples")
    path, png = os.path.join(out_dir, f"samples_{step}.npz"), os.path.join(out_dir, f"samples_{step}.png")
    if jax.process_index() == 0:
        files.check_new(path, overwrite)
    n = int(config.sampling.num_samples)
    rng = jax.random.fold_in(jax.random.PRNGKey(int(config.seed)), 10_000_019)
    x, nfe = draw(ctx, params, n, device_batch(ctx, n, int(config.eval.batch_size)), rng)
    if jax.process_index() != 0:
        return ""
    # What made the file travels with it (the name says only the step).
    settings = json.dumps(dict(method=config.sampling.method, options={k: str(v) for k, v in
                                                                       builders.sampler_options(config).items()},
                               num_samples=n, seed=int(config.seed)))
    # The npz is the result and is written last: a PNG without its npz is what a killed run
    # left, and is replaced (the npz was checked absent above, or --overwrite was given).
    if ctx.shape == (2,):
        data = np.asarray(datasets.get_dataset(config.data, "train").batch(jax.random.PRNGKey(1), n))
        files.atomic_write(png, lambda p: plots.scatter_2d(x, data, p, title=f"samples, step {step}, {nfe} NFE"),
                           overwrite=True)
    else:
        inv = datasets.inverse_scaler(config.data)
        files.atomic_write(png, lambda p: plots.image_grid(np.asarray(inv(x[:64])), p), overwrite=True)
    files.atomic_savez(path, overwrite, samples=x, nfe=nfe, step=step, settings=settings)
    logging.info("wrote %s and %s (%d samples, %d score evaluations each)", path, png, n, nfe)
    print(f"wrote {path}\nwrote {png}")
    return path
