"""Score-based MCMC correctors applied at a fixed time t.

Each corrector is ``fn(rng, sde, score_fn, x, t, snr, n_steps) -> (x, x_mean)`` and calls
``score_fn`` exactly ``n_steps`` times. ``CORRECTORS`` maps the config name to ``(fn, nfe per
inner step)``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast


class Corrector(NamedTuple):
    fn: Callable
    nfe: int


def _per_sample_norm(v):
    return jnp.sqrt(jnp.sum(jnp.reshape(v, (v.shape[0], -1)) ** 2, axis=1))


def langevin(rng, sde: SDE, score_fn, x, t, snr, n_steps):
    """Langevin MCMC with step 2 α (snr ‖z‖ / ‖s‖)² (Song et al., 2021, Alg. 4).

    As in score_sde, ‖z‖ and ‖s‖ are averaged over the batch: per-sample norms make the step
    blow up for a sample that sits where its score is nearly zero (a mode centre in low
    dimension). Under a sharded jit the mean spans the global batch, so results do not depend
    on the device count.
    """
    alpha = sde.corrector_alpha(t)

    def body(_, carry):
        rng, x, _ = carry
        rng, k = jax.random.split(rng)
        grad = score_fn(x, t)
        z = jax.random.normal(k, x.shape, x.dtype)
        ratio = jnp.mean(_per_sample_norm(z)) / jnp.maximum(jnp.mean(_per_sample_norm(grad)), 1e-12)
        step = (snr * ratio) ** 2 * 2 * alpha
        x_mean = x + bcast(step, x) * grad
        return rng, x_mean + bcast(jnp.sqrt(2 * step), x) * z, x_mean

    _, x, x_mean = jax.lax.fori_loop(0, n_steps, body, (rng, x, x))
    return x, x_mean


def annealed_langevin(rng, sde: SDE, score_fn, x, t, snr, n_steps):
    """NCSN's annealed Langevin dynamics: step 2 α (snr σ_t)² at noise level σ_t."""
    alpha = sde.corrector_alpha(t)
    std = sde.marginal_coeffs(t)[1]
    step = (snr * std) ** 2 * 2 * alpha

    def body(_, carry):
        rng, x, _ = carry
        rng, k = jax.random.split(rng)
        grad = score_fn(x, t)
        z = jax.random.normal(k, x.shape, x.dtype)
        x_mean = x + bcast(step, x) * grad
        return rng, x_mean + bcast(jnp.sqrt(2 * step), x) * z, x_mean

    _, x, x_mean = jax.lax.fori_loop(0, n_steps, body, (rng, x, x))
    return x, x_mean


def none_corrector(rng, sde, score_fn, x, t, snr, n_steps):
    return x, x


CORRECTORS: dict[str, Corrector] = {
    "langevin": Corrector(langevin, 1),
    "ald": Corrector(annealed_langevin, 1),
    "none": Corrector(none_corrector, 0),
}


def get_corrector(name: str) -> Corrector:
    if name not in CORRECTORS:
        raise ValueError(f"unknown corrector {name!r}; valid names: {sorted(CORRECTORS)}")
    return CORRECTORS[name]
