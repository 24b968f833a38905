"""``--mode train``: the loop around :class:`run.trainer.Trainer` — one jitted call runs
``n_jitted_steps`` updates over the global mesh; logs, checkpoints, snapshots, NaN stop.

Randomness is a function of the step number only (``fold_in(key, step)``), so a run killed
and rerun from its latest checkpoint reaches the same parameters as an uninterrupted one.
"""
from __future__ import annotations

import logging
import os
import time

import jax
import jax.numpy as jnp
import numpy as np

import datasets
import losses
from run import mesh as mesh_lib, plots
from run.checkpoint import Checkpointer
from run.context import start_run
from run.logging_utils import MetricsWriter
from run.sample import device_batch, draw, make_sampler
from run.trainer import Trainer


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is left untouched."""


def tree_all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


def snapshot_samples(tr: Trainer, sampler, n: int, state, step: int) -> None:
    """A PNG of ``n`` samples from the EMA parameters (``sampler = make_sampler(tr, n)``, built
    once per run so a snapshot does not compile again)."""
    x, _ = draw(tr, state.ema_params, n, n, jax.random.fold_in(jax.random.PRNGKey(0), step), sampler)
    if jax.process_index() != 0:
        return
    out = os.path.join(tr.workdir, "samples")
    os.makedirs(out, exist_ok=True)
    if len(tr.shape) == 3:
        plots.image_grid(np.asarray(datasets.inverse_scaler(tr.config.data)(x)), os.path.join(out, f"train_snapshot_{step}.png"))
    elif tr.shape == (2,):
        plots.scatter_2d(x, np.asarray(tr.dataset.batch(jax.random.PRNGKey(1), n)),
                         os.path.join(out, f"train_snapshot_{step}.png"))


def train(config, workdir: str, progress: bool = True) -> losses.TrainState:
    """Train (or resume) in ``workdir``; returns the final state."""
    start_run(config)
    tr = Trainer(config, workdir)
    t = config.training
    mesh_lib.check_batch(int(t.batch_size), tr.mesh)
    ckpt = Checkpointer(tr.workdir, int(t.get("keep_checkpoints", 3)))
    writer = MetricsWriter(tr.workdir)
    state = tr.restore_or_init(ckpt)
    start = int(jax.device_get(state.step))
    n_iters, k = int(t.n_iters), int(t.get("n_jitted_steps", 1))
    log_freq, snap_freq = int(t.log_freq), int(t.snapshot_freq)
    if start > 0:
        logging.info("resuming from checkpoint at step %d in %s", start, ckpt.directory)
    bar = None
    if progress and jax.process_index() == 0:
        from tqdm import tqdm
        bar = tqdm(total=n_iters, initial=start, desc="train", unit="step", dynamic_ncols=True)
    snapshot = None
    if t.get("snapshot_sampling", False):
        n = int(t.get("snapshot_num_samples", 64))
        n = device_batch(tr, n, n)
        snapshot = (make_sampler(tr, n), n)
    pending, last_log_step, last_log_time = [], start, time.time()
    step = start
    try:
        while step < n_iters:
            # Stop each compiled chunk on log / snapshot boundaries so they land on exact steps.
            nxt = min(n_iters, step + k, (step // log_freq + 1) * log_freq, (step // snap_freq + 1) * snap_freq)
            state, metrics = tr.run_steps(state, step, nxt - step)
            pending.append(metrics)
            step = nxt
            at_log, at_snap = step % log_freq == 0 or step == n_iters, step % snap_freq == 0 or step == n_iters
            if at_log or at_snap:
                m = jax.device_get(pending)
                loss = np.concatenate([np.atleast_1d(x["loss"]) for x in m])
                gnorm = np.concatenate([np.atleast_1d(x["grad_norm"]) for x in m])
                pending = []
                if not np.all(np.isfinite(loss)):
                    bad = step - len(loss) + int(np.argmax(~np.isfinite(loss)))
                    raise TrainingDiverged(
                        f"loss became {loss[~np.isfinite(loss)][0]} at step {bad}; training stopped. "
                        f"The last good checkpoint (step {ckpt.latest_step()}) in {ckpt.directory} is kept. "
                        f"Try a lower optim.lr or optim.grad_clip.")
                now = time.time()
                sps = (step - last_log_step) / max(now - last_log_time, 1e-9)
                last_log_step, last_log_time = step, now
                writer.write(step, "train", loss=loss.mean(), grad_norm=gnorm.mean(), steps_per_sec=sps)
                if bar is not None:
                    bar.set_postfix(loss=f"{loss.mean():.4f}", steps_per_s=f"{sps:.0f}")
            if at_snap:
                if not bool(tree_all_finite(state.params)):
                    raise TrainingDiverged(f"parameters are not finite at step {step}; the last good "
                                           f"checkpoint (step {ckpt.latest_step()}) in {ckpt.directory} is kept")
                ckpt.save(step, state)
                if snapshot is not None:
                    snapshot_samples(tr, *snapshot, state, step)
            if bar is not None:
                bar.update(step - bar.n)
    finally:
        if bar is not None:
            bar.close()
        ckpt.close()
        writer.close()
    return state
