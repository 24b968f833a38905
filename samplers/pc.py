"""Predictor–corrector sampling (Song et al., 2021), the whole loop as one ``lax.fori_loop``."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sde_lib import SDE
from samplers.correctors import get_corrector
from samplers.predictors import get_predictor


def time_grid(sde: SDE, eps: float) -> jax.Array:
    """N times from T down to eps, then 0: step i goes from grid[i] to grid[i + 1].

    ``linspace(T, eps, N)`` is score_sde's grid; on it ``timestep_index`` visits every discrete
    step N-1 … 0 exactly once, so ``reverse_diffusion`` walks the discrete chain exactly.
    """
    return jnp.concatenate([jnp.linspace(sde.T, eps, sde.N), jnp.zeros((1,))])


def pc_sample(rng, sde: SDE, score_fn, shape, *, predictor: str = "euler_maruyama",
              corrector: str = "none", snr: float = 0.16, n_steps: int = 1, denoise: bool = True,
              eps: float = 1e-3):
    """Start from the prior and alternate corrector then predictor for the SDE's N steps.

    Returns ``(x [shape], nfe)`` with nfe = N · (predictor nfe + n_steps · corrector nfe).
    """
    pred = get_predictor(predictor)
    corr = get_corrector(corrector)
    if int(n_steps) < 0:
        raise ValueError(f"n_steps (corrector steps per noise level) must be >= 0; got {n_steps}")
    grid = time_grid(sde, eps)
    rng, k0 = jax.random.split(rng)
    x = sde.prior_sampling(k0, shape)
    ones = jnp.ones((shape[0],), jnp.float32)

    def body(i, carry):
        rng, x, _ = carry
        rng, kc, kp = jax.random.split(rng, 3)
        t, t_next = grid[i] * ones, grid[i + 1] * ones
        x, _ = corr.fn(kc, sde, score_fn, x, t, snr, n_steps)
        x, x_mean = pred.fn(kp, sde, score_fn, x, t, t_next)
        return rng, x, x_mean

    _, x, x_mean = jax.lax.fori_loop(0, sde.N, body, (rng, x, x))
    nfe = sde.N * (pred.nfe + int(n_steps) * corr.nfe)
    return (x_mean if denoise else x), jnp.asarray(nfe, jnp.int32)
