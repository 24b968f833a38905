"""Turn a config into the objects the research API works with; validate it before any compute."""
from __future__ import annotations

import os
import tempfile

import jax.numpy as jnp
import ml_collections

import datasets
import losses
import models
import samplers
import sde_lib


class ConfigError(ValueError):
    """A config names something that does not exist or asks for something impossible."""


def _check_name(what: str, name: str, valid) -> None:
    if name not in valid:
        raise ConfigError(f"unknown {what} {name!r}; valid names: {sorted(valid)}")


def validate(config) -> None:
    """Every name the run will look up, checked up front (no compute, no disk)."""
    _check_name("training.sde", config.training.sde.lower(), sde_lib.SDES)
    _check_name("model.name", config.model.name, models.MODELS)
    _check_name("training.loss", config.training.loss, losses.LOSSES)
    _check_name("sampling.method", config.sampling.method, samplers.METHODS)
    if config.sampling.method == "pc":
        _check_name("sampling.predictor", config.sampling.predictor, samplers.PREDICTORS)
        _check_name("sampling.corrector", config.sampling.corrector, samplers.CORRECTORS)
    try:
        datasets.get_constructor(config.data.dataset)
    except ValueError as e:
        raise ConfigError(f"data.dataset: {e}") from None
    try:
        models.check_parametrization(config.model.get("output", "eps"), config.model.get("label", "time"))
    except ValueError as e:
        raise ConfigError(str(e)) from None
    for key in ("batch_size", "n_iters", "snapshot_freq", "log_freq"):
        if int(config.training[key]) < 1:
            raise ConfigError(f"training.{key} must be >= 1; got {config.training[key]}")
    if int(config.training.get("n_jitted_steps", 1)) < 1:
        raise ConfigError(f"training.n_jitted_steps must be >= 1; got {config.training.n_jitted_steps}")
    if not 0.0 <= float(config.model.ema_rate) < 1.0:
        raise ConfigError(f"model.ema_rate must be in [0, 1); got {config.model.ema_rate}")
    build_sde(config)  # constructor checks (negative σ, β_min > β_max, N < 1) happen here


def build_sde(config) -> sde_lib.SDE:
    name = config.training.sde.lower()
    schedule = config.training.get("schedule", "linear")
    m = config.model
    try:
        if name == "vesde":   # through get_sde too, so vesde + cosine is refused, not ignored
            return sde_lib.get_sde(name, schedule=schedule, sigma_min=m.sigma_min, sigma_max=m.sigma_max,
                                   N=m.num_scales)
        return sde_lib.get_sde(name, schedule=schedule, beta_min=m.beta_min, beta_max=m.beta_max, N=m.num_scales)
    except ValueError as e:
        raise ConfigError(f"training.sde={name}, training.schedule={schedule}: {e}") from None


def build_model(config):
    """The network; image size, channels and centering come from ``data.*`` as in score_sde."""
    m = config.model
    if "image_size" in config.data:
        m = ml_collections.ConfigDict(config.model.to_dict())
        m.image_size = int(config.data.image_size)
        m.num_channels = int(config.data.get("num_channels", 1))
        m.centered = bool(config.data.get("centered", False))
    return models.get_model(m)


def example_input(shape):
    """A batch of ones used to initialise the network: ``[1, *shape]``."""
    return jnp.ones((1,) + tuple(shape), jnp.float32), jnp.ones((1,), jnp.float32)


def init_params(model, shape, rng):
    x, labels = example_input(shape)
    return model.init({"params": rng, "dropout": rng}, x, labels, train=False)


def score_fn_builder(config, sde, model):
    """``builder(params, rng, train) -> score_fn(x, t)`` for the configured parametrisation."""
    kw = dict(output=config.model.get("output", "eps"), label=config.model.get("label", "time"),
              continuous=bool(config.training.continuous))

    def builder(params, rng=None, train=False):
        return models.make_score_fn(sde, model.apply, params, train=train, rng=rng, **kw)
    return builder


def build_loss(config, sde, builder, train: bool = True):
    t = config.training
    kind = t.loss
    if kind == "dsm":
        opts = dict(reduce_mean=t.reduce_mean, likelihood_weighting=t.likelihood_weighting, eps=t.eps)
    elif kind == "ssm":
        opts = dict(reduce_mean=t.reduce_mean, eps=t.eps)
    else:
        opts = dict(reduce_mean=t.reduce_mean)
    return losses.get_loss_fn(sde, builder, kind, train=train, **opts)


def build_optimizer(config):
    o = config.optim
    return losses.make_optimizer(lr=o.lr, warmup=o.warmup, grad_clip=o.grad_clip, beta1=o.beta1,
                                 eps=o.eps, weight_decay=o.weight_decay)


def sampler_options(config) -> dict:
    """Keyword options for ``samplers.sample`` from the score_sde-named sampling keys."""
    s = config.sampling
    opts = dict(s.get("options", {}))
    if s.method == "pc":
        opts.setdefault("predictor", s.predictor)
        opts.setdefault("corrector", s.corrector)
        opts.setdefault("snr", s.snr)
        opts.setdefault("n_steps", s.n_steps_each)
        opts.setdefault("denoise", s.noise_removal)
        opts.setdefault("eps", s.eps)
    return opts


def prepare_workdir(workdir: str) -> str:
    """Create the workdir and prove it is writable, naming the path if not.

    The probe file gets a unique name: in a multi-process run every process probes the same
    (shared) workdir at the same moment, and one fixed name would let one process delete the
    file another is about to remove.
    """
    workdir = os.path.abspath(workdir)
    try:
        os.makedirs(workdir, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=workdir, prefix=".write_test.") as f:
            f.write(b"ok")
    except OSError as e:
        raise PermissionError(f"workdir {workdir} cannot be written: {e.strerror or e}") from None
    return workdir
