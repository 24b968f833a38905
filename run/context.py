"""What every mode shares, built once from the config: the mesh, the SDE, the network, the
score-function builder and the data shape — and, for the modes that only read a checkpoint
(sample, eval, recon), the EMA parameters of the latest one.

Nothing here builds a dataset or an optimizer's state: a reconstruction needs neither, and the
checkpoint's structure is derived abstractly (``jax.eval_shape``) to name what to restore.
"""
from __future__ import annotations

import logging
import sys

import jax

import datasets
import losses
from run import builders, mesh as mesh_lib, prior
from run.checkpoint import Checkpointer

# XLA compile options for programs that run once (init): no backend (LLVM) optimisation.
ONE_SHOT_COMPILE = {"xla_backend_optimization_level": 0}


def start_run(config) -> None:
    """Once per command, first thing: join a multi-process run (before anything touches a device:
    building an SDE already does), then validate the config (no compute, no disk)."""
    mesh_lib.maybe_initialize_distributed(config)
    builders.validate(config)


class RunContext:
    """``config``, ``mesh`` (+ ``replicated`` sharding), ``sde``, ``model``, ``builder``
    (``builder(params, rng, train) -> score_fn``), ``shape`` (one example), and the seed's keys
    ``init_key`` / ``train_key``."""

    def __init__(self, config):
        self.config = config
        self.mesh = mesh_lib.make_mesh(int(config.parallel.get("num_devices", 0)))
        self.replicated = mesh_lib.replicated(self.mesh)
        self.sde = builders.build_sde(config)
        self.model = builders.build_model(config)
        self.builder = builders.score_fn_builder(config, self.sde, self.model)
        self.shape = tuple(datasets.example_shape(config.data))
        self.init_key, self.train_key = jax.random.split(jax.random.PRNGKey(int(config.seed)))

    def init_params(self):
        """Freshly initialised network parameters, replicated over the mesh.

        Compiled without XLA's backend optimisations on CPU: the init program runs once, and its
        graph (a threefry stream per parameter, beside the traced forward) spent most of its
        compile time there: 24 s -> 4 s for a small DDPM++, 28 s -> 10 s for the brain128 one
        (2-core CPU), with bitwise the same parameters (tests/test_train_init.py checks that).
        """
        fn = jax.jit(lambda k: builders.init_params(self.model, self.shape, k), out_shardings=self.replicated)
        if self.mesh.devices.flat[0].platform != "cpu":
            return fn(self.init_key)
        return fn.lower(self.init_key).compile(compiler_options=ONE_SHOT_COMPILE)(self.init_key)

    def abstract_params(self):
        """The network parameters' shapes and dtypes, without computing them."""
        return jax.eval_shape(lambda k: builders.init_params(self.model, self.shape, k), self.init_key)

    def abstract_state(self, optimizer) -> losses.TrainState:
        """The TrainState's shapes, dtypes and (replicated) shardings, without computing it."""
        shapes = jax.eval_shape(lambda k: losses.init_train_state(
            builders.init_params(self.model, self.shape, k), optimizer), self.init_key)
        return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=self.replicated), shapes)


def load_ema(config, workdir: str) -> tuple[RunContext, object, int]:
    """``(context, EMA parameters, step)`` of the newest checkpoint in ``workdir`` that restores
    (a damaged newer one is reported and skipped: ``Checkpointer.restore_latest``); when the
    workdir has none and ``config.prior_dir`` names a shipped prior (:mod:`run.prior`), that one.

    The optimizer is built only to name the checkpoint's structure (no state is computed, no
    dataset is loaded). Nothing is locked: a training run may be writing meanwhile, and finished
    checkpoints are immutable. Raises FileNotFoundError when there is neither.
    """
    ctx = RunContext(config)
    prior_dir = str(config.get("prior_dir", "") or "")
    ckpt = Checkpointer(workdir, int(config.training.get("keep_checkpoints", 3)), read_only=True)
    try:
        state, step = ckpt.restore_latest(ctx.abstract_state(builders.build_optimizer(config)))
    finally:
        ckpt.close()
    if state is None:
        if prior.has_prior(prior_dir):
            logging.info("no checkpoint in %s: reading the prior in %s", ckpt.directory, prior_dir)
            params, step = prior.read_prior(prior_dir, ctx.abstract_params(), ctx.replicated)
            if jax.process_index() == 0:
                print(f"using the prior in {prior.resolve_dir(prior_dir)} (step {step})", file=sys.stderr)
            return ctx, params, step
        hint = f" (and config.prior_dir={prior_dir!r} holds no prior)" if prior_dir else ""
        raise FileNotFoundError(f"no checkpoint in {ckpt.directory}{hint}: run --mode train with this workdir first")
    if jax.process_index() == 0:
        print(f"using checkpoint {step} in {ckpt.directory}", file=sys.stderr)
    return ctx, state.ema_params, int(step)
