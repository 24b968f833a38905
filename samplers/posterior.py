"""``samplers.posterior_sample``: reconstruction from linear measurements with a score prior.

    x, nfe = samplers.posterior_sample(rng, sde, score_fn, operator, y, method="score_mri",
                                       complex_prior=False, **options)
    mean, std, nfe = samplers.posterior_mean_std(rng, sde, score_fn, operator, y, n_samples=8,
                                                 method="score_mri", **options)

``operator``: anything with ``forward`` and ``adjoint`` (``normal`` is used when present), e.g.
``mri.SinglecoilOperator`` / ``MulticoilOperator`` (complex images ``[B, H, W]``) or
``mri.InpaintingOperator`` / ``ColorizationOperator`` (real ``[B, H, W, C]``). ``y``: the
measurements for a batch of B problems, shaped like ``operator.forward(image)``. ``x``:
``[B, H, W, 1]`` with a real one-channel prior, ``[B, H, W, 2]`` (real, imag) with
``complex_prior=True`` or ``"split"``, ``[B, H, W, C]`` for an operator on real images; see
:mod:`samplers.posterior_ops` for the adapters (``to_complex`` / ``from_complex``).

Methods (``POSTERIOR_METHODS``) and their options are documented in
:mod:`samplers.posterior_methods`: ``score_mri``, ``projection``, ``dps``, ``dds``, ``mmps``.
An unknown method or option raises an error listing the valid ones.
"""
from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax
import jax.numpy as jnp

from samplers.api import check_options
from sde_lib.base import check_int
from samplers.posterior_methods import POSTERIOR_METHODS
from samplers.posterior_ops import PriorView, from_complex, to_complex

# Config files can spell Song et al.'s λ as "lambda" (not a legal Python keyword argument).
_ALIASES = {"lambda": "lam"}


def get_posterior_method(name: str) -> Callable:
    if name not in POSTERIOR_METHODS:
        raise ValueError(f"unknown posterior method {name!r}; valid names: {sorted(POSTERIOR_METHODS)}")
    return POSTERIOR_METHODS[name]


def _prepare(method: str, options: dict) -> tuple[Callable, dict]:
    fn = get_posterior_method(method)
    options = {_ALIASES.get(k, k): v for k, v in options.items()}
    check_options(fn, options, f"posterior method {method!r}")
    return fn, options


def _run(fn, rng, sde, score_fn, operator, y, complex_prior, options):
    view = PriorView(operator, y, complex_prior)
    return fn(rng, sde, score_fn, view, y, **options)


@functools.lru_cache(maxsize=32)
def _compiled(method: str, sde, score_fn, complex_prior, options: tuple):
    fn = POSTERIOR_METHODS[method]
    opts = dict(options)
    return jax.jit(lambda rng, op, y: _run(fn, rng, sde, score_fn, op, y, complex_prior, opts))


def _is_pytree(operator) -> bool:
    leaves = jax.tree_util.tree_leaves(operator)
    return not (len(leaves) == 1 and leaves[0] is operator)


def _traced(*values) -> bool:
    leaves = jax.tree_util.tree_leaves(values)
    return any(isinstance(v, jax.core.Tracer) for v in leaves)


def posterior_sample(rng: jax.Array, sde, score_fn, operator, y, method: str = "score_mri",
                     complex_prior=False, **options):
    """One posterior sample per measurement in ``y`` (batch B); returns ``(x, nfe)``.

    sde: any ``sde_lib.SDE``; score_fn(x, t): the prior's score on ``[B', H, W, C']`` tensors.
    complex_prior: False (real one-channel prior), True (two channels: real, imaginary) or
        "split" (a real prior applied to the real and the imaginary part as separate images, as
        Chung & Ye do for complex MRI data; x is ``[B, H, W, 2]``).
    Compiled once per (method, sde, score_fn, complex_prior, options); under an outer ``jit``
    it traces inline.
    """
    fn, options = _prepare(method, options)
    y = jnp.asarray(y)
    if _traced(rng, operator, y, options):
        return _run(fn, rng, sde, score_fn, operator, y, complex_prior, options)
    if not _is_pytree(operator):   # a plain Python operator: close over it
        return jax.jit(lambda rng, y: _run(fn, rng, sde, score_fn, operator, y, complex_prior, options))(rng, y)
    try:
        compiled = _compiled(method, sde, score_fn, complex_prior, tuple(sorted(options.items())))
    except TypeError:   # an unhashable option value: compile without caching
        compiled = jax.jit(lambda rng, op, y: _run(fn, rng, sde, score_fn, op, y, complex_prior, options))
    return compiled(rng, operator, y)


def posterior_mean_std(rng: jax.Array, sde, score_fn, operator, y, n_samples: int = 8,
                       method: str = "score_mri", complex_prior=False, **options):
    """Mean and per-pixel standard deviation of ``n_samples`` posterior samples per measurement.

    All samples run as one batch of ``n_samples · B``. Returns ``(mean, std, nfe)`` with mean and
    std shaped like one ``posterior_sample`` output ``[B, ...]`` (std with Bessel's correction;
    zeros when ``n_samples = 1``); nfe is per sample (all run in parallel).
    """
    n = check_int("n_samples", n_samples)
    y = jnp.asarray(y)
    y_rep = jnp.concatenate([y] * n, axis=0)
    x, nfe = posterior_sample(rng, sde, score_fn, operator, y_rep, method, complex_prior, **options)
    x = x.reshape((n, y.shape[0]) + x.shape[1:])
    mean = jnp.mean(x, axis=0)
    std = jnp.std(x, axis=0, ddof=1) if n > 1 else jnp.zeros_like(mean)
    return mean, std, nfe


def posterior_options(method: str) -> list[str]:
    """The option names ``method`` accepts."""
    params = inspect.signature(get_posterior_method(method)).parameters
    return [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY]


__all__ = ["POSTERIOR_METHODS", "get_posterior_method", "posterior_options", "posterior_sample",
           "posterior_mean_std", "to_complex", "from_complex", "PriorView"]
