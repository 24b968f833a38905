"""The training loop: one jitted call runs ``n_jitted_steps`` updates over the global mesh.

Randomness is a function of the step number only (``fold_in(key, step)``), so a run killed
and rerun from its latest checkpoint reaches the same parameters as an uninterrupted one, and
every process of a multi-host run derives the same keys.
"""
from __future__ import annotations

import functools
import logging
import time

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

import datasets
import losses
from datasets.toy2d import TOY2D
from run import builders, mesh as mesh_lib
from run.checkpoint import Checkpointer
from run.logging_utils import MetricsWriter


class TrainingDiverged(FloatingPointError):
    """The loss became NaN or infinite; the last good checkpoint is left untouched."""


def tree_all_finite(tree) -> jax.Array:
    leaves = [jnp.all(jnp.isfinite(x)) for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.inexact)]
    return jnp.all(jnp.stack(leaves)) if leaves else jnp.array(True)


class Trainer:
    """Everything a train / sample / eval run shares, built once from the config."""

    def __init__(self, config, workdir: str | None, in_graph_data: bool = True):
        # Before validate: building an SDE touches the devices, after which joining is too late.
        mesh_lib.maybe_initialize_distributed(config)
        builders.validate(config)
        self.config = config
        self.workdir = builders.prepare_workdir(workdir) if workdir is not None else None
        self.mesh = mesh_lib.make_mesh(int(config.parallel.get("num_devices", 0)))
        self.sde = builders.build_sde(config)
        self.model = builders.build_model(config)
        self.builder = builders.score_fn_builder(config, self.sde, self.model)
        self.optimizer = builders.build_optimizer(config)
        self.dataset = datasets.get_dataset(config.data, "train")
        self.shape = tuple(self.dataset.shape)
        # In-graph data: toy distributions are sampled inside the compiled step (no host work);
        # in_graph_data=False feeds them through host_batches like any other dataset.
        self.sample_data = TOY2D.get(config.data.dataset) if in_graph_data else None
        key = jax.random.PRNGKey(int(config.seed))
        self.init_key, self.train_key = jax.random.split(key)
        self.replicated = mesh_lib.replicated(self.mesh)
        self._key_block = (None, None)

    # --- state ------------------------------------------------------------------------------
    def init_state(self) -> losses.TrainState:
        params = jax.jit(lambda k: builders.init_params(self.config, self.model, self.shape, k),
                         out_shardings=self.replicated)(self.init_key)
        return jax.jit(lambda p: losses.init_train_state(p, self.optimizer),
                       out_shardings=self.replicated)(params)

    def restore_or_init(self, checkpointer: Checkpointer) -> losses.TrainState:
        state = self.init_state()
        if checkpointer.latest_step() is not None:
            state = checkpointer.restore(state)
        return state

    # --- the compiled step --------------------------------------------------------------------
    def step_keys(self, step):
        """(data key, update key) of a step: the same on every process and after a restart."""
        k = jax.random.fold_in(self.train_key, step)
        return jax.random.split(k)

    @functools.cached_property
    def _train_step(self):
        loss_fn = builders.build_loss(self.config, self.sde, self.builder, train=True)
        return losses.make_train_step(loss_fn, self.optimizer, float(self.config.model.ema_rate))

    @functools.lru_cache(maxsize=8)
    def compiled_steps(self, length: int):
        """``fn(state[, batches]) -> (state, metrics [length])`` running ``length`` updates."""
        bs = int(self.config.training.batch_size)
        step_fn = self._train_step
        shard = mesh_lib.batch_sharding(self.mesh)

        if self.sample_data is not None:
            def one(state, _):
                k_data, k_step = self.step_keys(state.step)
                batch = jax.lax.with_sharding_constraint(self.sample_data(k_data, bs), shard)
                return step_fn(state, batch, k_step)

            def run(state):
                return jax.lax.scan(one, state, None, length=length)
            return jax.jit(run, out_shardings=(self.replicated, self.replicated), donate_argnums=0)

        def one(state, batch):
            return step_fn(state, batch, self.step_keys(state.step)[1])

        # XLA:CPU runs the backward pass of a conv net ~20-30x slower inside a while loop than
        # outside one (jax 0.10.2; NCSN++ 32 px: 7.0 s vs 0.29 s per step), so on CPU the steps
        # are unrolled into straight-line code (compile time grows with n_jitted_steps).
        # Accelerators keep the loop.
        unroll = True if self.mesh.devices.flat[0].platform == "cpu" else 1

        def run(state, batches):
            if length == 1:   # scan of length 1 still emits a (one-trip) while loop
                state, metrics = one(state, batches[0])
                return state, jax.tree.map(lambda m: m[None], metrics)
            return jax.lax.scan(one, state, batches, unroll=unroll)
        return jax.jit(run, in_shardings=(self.replicated, mesh_lib.batch_sharding(self.mesh, 1)),
                       out_shardings=(self.replicated, self.replicated), donate_argnums=0)

    def data_key(self, step: int) -> np.ndarray:
        """The data key of a step (``step_keys(step)[0]``) as host words.

        Keys are made on the device in blocks of 4096 steps and kept on the host, so preparing a
        batch does not wait for the train step still running on the device.
        """
        block = step // 4096
        if self._key_block[0] != block:
            steps = jnp.arange(block * 4096, (block + 1) * 4096)
            self._key_block = (block, np.asarray(jax.jit(jax.vmap(lambda s: self.step_keys(s)[0]))(steps)))
        return self._key_block[1][step % 4096]

    def host_batches(self, start: int, length: int) -> jax.Array:
        """Batches for steps [start, start+length), ``[length, B, ...]`` sharded on B.

        The global batch of a step is a function of its key alone (the same for any process or
        device count, and after a restart); each process makes only the rows its own devices
        hold (``Dataset.batch(..., rows=)``) and JAX assembles the global array.
        """
        bs = int(self.config.training.batch_size)
        rows = mesh_lib.process_rows(self.mesh, bs)
        local = [np.asarray(self.dataset.batch(self.data_key(s), bs, rows=rows))
                 for s in range(start, start + length)]
        return mesh_lib.global_batch(np.stack(local), self.mesh, extra_leading=1)

    def run_steps(self, state, start: int, length: int):
        fn = self.compiled_steps(length)
        if self.sample_data is not None:
            return fn(state)
        return fn(state, self.host_batches(start, length))


def snapshot_samples(tr: Trainer, state, step: int) -> None:
    """A PNG of a few samples from the EMA parameters, written beside the checkpoints' run."""
    import os
    from run import plots
    from run.sample import draw
    n = int(tr.config.training.get("snapshot_num_samples", 64))
    n = max(n // tr.mesh.devices.size, 1) * tr.mesh.devices.size
    x, _ = draw(tr, state.ema_params, n, n, jax.random.fold_in(jax.random.PRNGKey(0), step))
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
                if t.get("snapshot_sampling", False):
                    snapshot_samples(tr, state, step)
            if bar is not None:
                bar.update(step - bar.n)
    finally:
        if bar is not None:
            bar.close()
        ckpt.close()
        writer.close()
    return state
