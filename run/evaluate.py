"""``--mode eval``: held-out loss and sample quality, written to the workdir."""
from __future__ import annotations

import json
import os

import jax
import numpy as np

import datasets
import samplers
from run import builders, mesh as mesh_lib, plots, quality
from run.logging_utils import MetricsWriter
from run.sample import draw, load_trainer_state


def heldout_batches(tr, n_batches: int, batch_size: int, rows=None):
    """Held-out data: a test split where one exists, else fresh draws from a key training never
    uses. ``rows``: only those rows of each batch (this process's share, ``process_rows``)."""
    try:
        test = datasets.get_dataset(tr.config.data, "test")
    except (ValueError, KeyError):
        test = tr.dataset
    key = jax.random.PRNGKey(2**31 - 7)
    return [np.asarray(test.batch(jax.random.fold_in(key, i), batch_size, rows=rows)) for i in range(n_batches)]


def bits_per_dim(tr, params, config) -> dict:
    """Bits/dim of held-out images through the probability-flow ODE (Hutchinson, Rademacher).

    The held-out batches carry the dataset's own options (uniform dequantisation when the config
    asks for it); the offset accounts for 256 levels and the [0, 1] -> model-space scale.
    """
    bs = int(config.eval.batch_size)
    score_fn = tr.builder(params)
    data_scale = 2.0 if bool(config.data.get("centered", False)) else 1.0
    bpds, nfe = [], 0
    ll = jax.jit(lambda x, k: samplers.log_likelihood(k, tr.sde, score_fn, x, estimator="rademacher"))
    for i, b in enumerate(heldout_batches(tr, int(config.eval.get("bpd_num_batches", 1)), bs)):
        logp, n = ll(b, jax.random.PRNGKey(100 + i))
        bpds.append(np.asarray(samplers.bits_per_dim(logp, b.shape, data_scale=data_scale)))
        nfe = int(n)
    return {"bits_per_dim": float(np.mean(np.concatenate(bpds))), "bpd_nfe": nfe}


def evaluate(config, workdir: str) -> dict:
    tr, state = load_trainer_state(config, workdir)
    step = int(jax.device_get(state.step))
    loss_fn = builders.build_loss(config, tr.sde, tr.builder, train=False)
    # The held-out batch is sharded over the mesh like a training batch.
    eval_loss = jax.jit(loss_fn, in_shardings=(tr.replicated, mesh_lib.batch_sharding(tr.mesh), tr.replicated))
    bs = int(config.eval.batch_size)
    mesh_lib.check_batch(bs, tr.mesh, "eval.batch_size")
    key = jax.random.PRNGKey(12345)
    mine = mesh_lib.process_rows(tr.mesh, bs)
    losses_ = [float(eval_loss(state.ema_params, mesh_lib.global_batch(b, tr.mesh), jax.random.fold_in(key, i)))
               for i, b in enumerate(heldout_batches(tr, 4, bs, rows=mine))]
    result = {"step": step, "heldout_loss": float(np.mean(losses_))}
    if len(tr.shape) == 1:
        n = int(config.eval.num_samples)
        sbs = max(min(n, bs) // tr.mesh.devices.size, 1) * tr.mesh.devices.size
        x, nfe = draw(tr, state.ema_params, n, sbs, jax.random.PRNGKey(777))
        ref = np.concatenate(heldout_batches(tr, 1, n))
        result.update(sliced_wasserstein=quality.sliced_wasserstein(x, ref), mmd=quality.mmd_rbf(x[:2000], ref[:2000]),
                      nfe=nfe)
    if len(tr.shape) == 3 and bool(config.eval.get("enable_bpd", True)):
        result.update(bits_per_dim(tr, state.ema_params, config))
    if len(tr.shape) == 3:
        x, nfe = draw(tr, state.ema_params, min(64, int(config.eval.num_samples)),
                      max(min(64, int(config.eval.num_samples)) // tr.mesh.devices.size, 1) * tr.mesh.devices.size,
                      jax.random.PRNGKey(778))
        if jax.process_index() == 0:
            plots.image_grid(np.asarray(datasets.inverse_scaler(config.data)(x)),
                             os.path.join(tr.workdir, f"eval_samples_{step}.png"))
        result["sample_nfe"] = nfe
    if jax.process_index() == 0:
        path = os.path.join(tr.workdir, f"eval_{step}.json")
        with open(path, "w") as f:
            json.dump(result, f, indent=2)
        writer = MetricsWriter(tr.workdir)
        writer.write(step, "eval", **{k: v for k, v in result.items() if k != "step"})
        writer.close()
        print(json.dumps(result, indent=2))
        print(f"wrote {path}")
    return result
