"""The training machinery: a :class:`RunContext` plus the optimizer, the training data and the
compiled multi-step update over the global mesh.

Randomness is a function of the step number only (``fold_in(key, step)``), so a run killed
and rerun from its latest checkpoint reaches the same parameters as an uninterrupted one, and
every process of a multi-host run derives the same keys.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

import datasets
import losses
import models
from datasets.toy2d import TOY2D
from run import builders, mesh as mesh_lib
from run.checkpoint import Checkpointer
from run.context import RunContext


# Losses that differentiate through a jvp of the network (sliced score matching): they need
# convolutions with forward-mode derivatives, i.e. XLA's own.
_NEEDS_FORWARD_MODE = {"ssm"}


class Trainer(RunContext):
    """A training run's objects. ``workdir`` (created and probed when given) is where
    :func:`run.train.train` writes; ``in_graph_data=False`` feeds the 2-D toys through
    :meth:`host_batches` like any other dataset instead of sampling them inside the step."""

    def __init__(self, config, workdir: str | None = None, in_graph_data: bool = True):
        super().__init__(config)
        self.workdir = builders.prepare_workdir(workdir) if workdir is not None else None
        self.optimizer = builders.build_optimizer(config)
        self.dataset = datasets.get_dataset(config.data, "train")
        if tuple(self.dataset.shape) != self.shape:   # datasets.example_shape must agree with the data
            raise ValueError(f"{config.data.dataset}: examples have shape {self.dataset.shape}, but the config "
                             f"implies {self.shape}")
        # In-graph data: toy distributions are sampled inside the compiled step (no host work).
        self.sample_data = TOY2D.get(config.data.dataset) if in_graph_data else None
        loss_fn = builders.build_loss(config, self.sde, self.builder, train=True)
        self.train_step = losses.make_train_step(loss_fn, self.optimizer, float(config.model.ema_rate))
        # Several steps in one compiled call run in a lax.scan. On CPU, a loss that
        # differentiates the network in first-order reverse mode only then lets its convolutions
        # take models.conv's hand-written VJP, which XLA:CPU runs as fast inside a loop as
        # outside (its own runs 35-40x slower there, and ~8% faster outside a loop, so a single
        # step keeps it); accelerators keep XLA's.
        self.fast_convs = (self.mesh.devices.flat[0].platform == "cpu"
                           and config.training.loss not in _NEEDS_FORWARD_MODE)
        # Compiled programs by chunk length: held by this object, gone with it.
        self._compiled: dict[int, object] = {}
        self._key_block = (None, None)

    # --- state ------------------------------------------------------------------------------
    def init_state(self) -> losses.TrainState:
        return jax.jit(lambda p: losses.init_train_state(p, self.optimizer),
                       out_shardings=self.replicated)(self.init_params())

    def restore_or_init(self, checkpointer: Checkpointer) -> losses.TrainState:
        """The newest checkpoint that restores (damaged newer ones are set aside, see
        ``Checkpointer.restore_latest``), else a fresh state."""
        state, _ = checkpointer.restore_latest(self.abstract_state(self.optimizer))
        return self.init_state() if state is None else state

    # --- the compiled step --------------------------------------------------------------------
    def step_keys(self, step):
        """(data key, update key) of a step: the same on every process and after a restart."""
        k = jax.random.fold_in(self.train_key, step)
        return jax.random.split(k)

    def compiled_steps(self, length: int):
        """``fn(state[, batches]) -> (state, metrics [length])`` running ``length`` updates."""
        if length not in self._compiled:
            self._compiled[length] = self._compile_steps(length)
        return self._compiled[length]

    def _compile_steps(self, length: int):
        bs = int(self.config.training.batch_size)
        fast = self.fast_convs and length > 1

        def step_fn(state, batch, rng):
            with models.reverse_mode_convs(fast):   # read while this is traced
                return self.train_step(state, batch, rng)
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

        # XLA:CPU runs its own backward pass of a conv net ~20-30x slower inside a while loop
        # than outside one (jax 0.10.2; NCSN++ 32 px: 7.0 s vs 0.29 s per step): when the fast
        # convolutions are off on CPU (a loss that needs forward mode), the steps are unrolled
        # into straight-line code instead (compile time grows with n_jitted_steps).
        unroll = True if (self.mesh.devices.flat[0].platform == "cpu" and not fast) else 1

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
