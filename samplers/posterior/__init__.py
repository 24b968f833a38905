"""``samplers.posterior_sample``: reconstruction from linear measurements with a score prior.

    x, nfe = samplers.posterior_sample(rng, sde, score_fn, operator, y, method="score_mri",
                                       complex_prior=False, **options)
    mean, std, nfe = samplers.posterior_mean_std(rng, sde, score_fn, operator, y, n_samples=8,
                                                 method="score_mri", **options)

``operator``: anything with ``forward`` and ``adjoint`` (``normal`` is used when present), e.g.
``mri.SinglecoilOperator`` / ``MulticoilOperator`` (complex images ``[B, H, W]``) or
``linops.InpaintingOperator`` / ``ColorizationOperator`` (real ``[B, H, W, C]``). ``y``: the
measurements for a batch of B problems, shaped like ``operator.forward(image)``. ``x``:
``[B, H, W, 1]`` with a real one-channel prior, ``[B, H, W, 2]`` (real, imag) with
``complex_prior=True`` or ``"split"``, ``[B, H, W, C]`` for an operator on real images; see
:mod:`samplers.posterior.view` for the adapter between the two spaces.

Every method is ``fn(rng, sde, score_fn, view, y, **options) -> (x, nfe)`` with ``view`` a
:class:`PriorView` (the operator seen from the prior's space, ``Ã``), one module each:

==============  =====================================================  ==========================
method          what it is                                             built on
==============  =====================================================  ==========================
``score_mri``   Chung & Ye 2022: PC with data consistency per step      ``pc_sample`` + hook
``projection``  Song et al. 2022: PC, a λ-step onto the noised data     ``pc_sample`` + hook
``dps``         Chung et al. 2023: DDIM + residual-norm gradient        ``ddim_update``
``dds``         Chung, Lee & Ye 2024: DDIM from a CG-corrected x̂0      ``ddim_update``
``mmps``        moment matching: PC on the conditional score            ``pc_sample``
==============  =====================================================  ==========================

They use only ``sde.marginal_coeffs`` / ``prior_sampling`` (and, for the ``reverse_diffusion``
predictor, ``sde.discretize``), so every SDE works; ``nfe`` is the exact number of ``score_fn``
evaluations (a vector-Jacobian product through the score counts as the one evaluation it
differentiates). Notation: x_t = alpha_t x0 + sigma_t z; Tweedie's
x̂0(x_t) = (x_t + sigma_t² s(x_t, t)) / alpha_t; ``noise_std`` s is the std of the measurement
noise (of the real and of the imaginary part of each complex sample).

Compilation: each call is one ``jax.jit`` program and nothing is kept afterwards (no cache that
would hold a ``score_fn`` closure and its parameters alive); under an outer ``jit`` it traces
inline. To reconstruct many batches, jit your own function of (rng, y) once.
"""
from __future__ import annotations

import inspect
from typing import Callable

import jax
import jax.numpy as jnp

from samplers.api import check_options
from sde_lib.base import check_int
from samplers.posterior.dds import dds
from samplers.posterior.dps import dps
from samplers.posterior.mmps import mmps
from samplers.posterior.projection import projection
from samplers.posterior.score_mri import MULTICOIL_MODES, score_mri
from samplers.posterior.view import PRIOR_KINDS, PriorView, from_complex, to_complex

# name -> fn(rng, sde, score_fn, view, y, **options) -> (x, nfe). The one registry of posterior methods.
POSTERIOR_METHODS: dict[str, Callable] = {
    "score_mri": score_mri,
    "projection": projection,
    "dps": dps,
    "dds": dds,
    "mmps": mmps,
}

# Config files can spell Song et al.'s λ as "lambda" (not a legal Python keyword argument).
_ALIASES = {"lambda": "lam"}


def get_posterior_method(name: str) -> Callable:
    if name not in POSTERIOR_METHODS:
        raise ValueError(f"unknown posterior method {name!r}; valid names: {sorted(POSTERIOR_METHODS)}")
    return POSTERIOR_METHODS[name]


def posterior_options(method: str) -> list[str]:
    """The option names ``method`` accepts."""
    params = inspect.signature(get_posterior_method(method)).parameters
    return [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY]


def _is_pytree(operator) -> bool:
    leaves = jax.tree_util.tree_leaves(operator)
    return not (len(leaves) == 1 and leaves[0] is operator)


def posterior_sample(rng: jax.Array, sde, score_fn, operator, y, method: str = "score_mri",
                     complex_prior=False, **options):
    """One posterior sample per measurement in ``y`` (batch B); returns ``(x, nfe)``.

    sde: any ``sde_lib.SDE``; score_fn(x, t): the prior's score on ``[B', H, W, C']`` tensors.
    complex_prior: False (real one-channel prior), True (two channels: real, imaginary) or
        "split" (a real prior applied to the real and the imaginary part as separate images, as
        Chung & Ye do for complex MRI data; x is ``[B, H, W, 2]``).
    """
    fn = get_posterior_method(method)
    options = {_ALIASES.get(k, k): v for k, v in options.items()}
    check_options(fn, options, f"posterior method {method!r}")
    y = jnp.asarray(y)

    def run(rng, operator, y):
        return fn(rng, sde, score_fn, PriorView(operator, y, complex_prior), y, **options)

    if not _is_pytree(operator):   # a plain Python operator: close over it
        return jax.jit(lambda rng, y: run(rng, operator, y))(rng, y)
    return jax.jit(run)(rng, operator, y)


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


__all__ = ["POSTERIOR_METHODS", "MULTICOIL_MODES", "PRIOR_KINDS", "get_posterior_method",
           "posterior_options", "posterior_sample", "posterior_mean_std", "to_complex", "from_complex",
           "PriorView", "score_mri", "projection", "dps", "dds", "mmps"]
