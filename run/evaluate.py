"""``--mode eval``: held-out loss and sample quality, written to the workdir."""
from __future__ import annotations

import json
import os

import jax
import numpy as np

import datasets
import samplers
from run import builders, eval_metrics, files, mesh as mesh_lib, plots, quality
from run.context import RunContext, load_ema, start_run
from run.logging_utils import MetricsWriter
from run.sample import device_batch, draw


def heldout_dataset(config):
    """The test split where one exists, else the training stream (drawn from keys that training
    never uses, see :func:`heldout_batches`)."""
    try:
        return datasets.get_dataset(config.data, "test")
    except (ValueError, KeyError):
        return datasets.get_dataset(config.data, "train")


def heldout_batches(test, n_batches: int, batch_size: int, rows=None):
    """``n_batches`` held-out batches of ``test`` (:func:`heldout_dataset`). ``rows``: only those
    rows of each batch (this process's share, ``process_rows``)."""
    key = jax.random.PRNGKey(2**31 - 7)
    return [np.asarray(test.batch(jax.random.fold_in(key, i), batch_size, rows=rows)) for i in range(n_batches)]


def bits_per_dim(ctx: RunContext, test, params, config) -> dict:
    """Bits/dim of held-out images through the probability-flow ODE (Hutchinson, Rademacher).

    The held-out batches carry the dataset's own options (uniform dequantisation when the config
    asks for it); the offset accounts for 256 levels and the [0, 1] -> model-space scale.
    """
    bs = int(config.eval.batch_size)
    score_fn = ctx.builder(params)
    data_scale = 2.0 if bool(config.data.get("centered", False)) else 1.0
    bpds, nfe = [], 0
    ll = jax.jit(lambda x, k: samplers.log_likelihood(k, ctx.sde, score_fn, x, estimator="rademacher"))
    for i, b in enumerate(heldout_batches(test, int(config.eval.get("bpd_num_batches", 1)), bs)):
        logp, n = ll(b, jax.random.PRNGKey(100 + i))
        bpds.append(np.asarray(samplers.bits_per_dim(logp, b.shape, data_scale=data_scale)))
        nfe = int(n)
    return {"bits_per_dim": float(np.mean(np.concatenate(bpds))), "bpd_nfe": nfe}


def evaluate(config, workdir: str, overwrite: bool = False) -> dict:
    """``eval_<step>.json`` (and ``eval_samples_<step>.png`` for images) in the workdir. A json
    that exists is refused before anything is computed, unless ``overwrite``; it is written
    last, so a PNG without it is a killed run's leftover and is replaced."""
    start_run(config)
    workdir = builders.prepare_workdir(workdir)
    ctx, params, step = load_ema(config, workdir)
    path, png = os.path.join(workdir, f"eval_{step}.json"), os.path.join(workdir, f"eval_samples_{step}.png")
    if jax.process_index() == 0:
        files.check_new(path, overwrite)
    test = heldout_dataset(config)
    loss_fn = builders.build_loss(config, ctx.sde, ctx.builder, train=False)
    # The held-out batch is sharded over the mesh like a training batch.
    eval_loss = jax.jit(loss_fn, in_shardings=(ctx.replicated, mesh_lib.batch_sharding(ctx.mesh), ctx.replicated))
    bs = int(config.eval.batch_size)
    mesh_lib.check_batch(bs, ctx.mesh, "eval.batch_size")
    key = jax.random.PRNGKey(12345)
    mine = mesh_lib.process_rows(ctx.mesh, bs)
    losses_ = [float(eval_loss(params, mesh_lib.global_batch(b, ctx.mesh), jax.random.fold_in(key, i)))
               for i, b in enumerate(heldout_batches(test, 4, bs, rows=mine))]
    result = {"step": step, "heldout_loss": float(np.mean(losses_))}
    if len(ctx.shape) == 1:
        n = int(config.eval.num_samples)
        x, nfe = draw(ctx, params, n, device_batch(ctx, n, bs), jax.random.PRNGKey(777))
        ref = np.concatenate(heldout_batches(test, 1, n))
        result.update(sliced_wasserstein=quality.sliced_wasserstein(x, ref), mmd=quality.mmd_rbf(x[:2000], ref[:2000]),
                      nfe=nfe)
    if len(ctx.shape) == 3:   # the DDPM bound, for discrete VP models (eval.enable_vlb)
        result.update(eval_metrics.vlb_metrics(config, ctx.sde, ctx.builder(params)))
    if len(ctx.shape) == 3 and bool(config.eval.get("enable_bpd", True)):
        result.update(bits_per_dim(ctx, test, params, config))
    if len(ctx.shape) == 3:
        n = min(64, int(config.eval.num_samples))
        x, nfe = draw(ctx, params, n, device_batch(ctx, n, n), jax.random.PRNGKey(778))
        if jax.process_index() == 0:
            grid = np.asarray(datasets.inverse_scaler(config.data)(x))
            files.atomic_write(png, lambda p: plots.image_grid(grid, p), overwrite=True)
            result.update(eval_metrics.quality_metrics(config, grid, workdir))
        result["sample_nfe"] = nfe
    if jax.process_index() == 0:
        files.atomic_json(path, result, overwrite)
        writer = MetricsWriter(workdir)
        writer.write(step, "eval", **{k: v for k, v in result.items() if k != "step"})
        writer.close()
        print(json.dumps(result, indent=2))
        print(f"wrote {path}")
    return result
