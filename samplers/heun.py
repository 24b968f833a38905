"""EDM's deterministic 2nd-order Heun sampler (Karras et al., 2022, Alg. 1), for any SDE.

The probability-flow ODE in the scaled state y = x / alpha_t and the noise-to-signal ratio
r = sigma_t / alpha_t reads, for every SDE with marginals N(alpha_t x0, sigma_t² I) and affine
drift,

    dy/dr = (y - x̂0(alpha y, t)) / r  =  -sigma_t s(x, t),

EDM's form of the ODE (their s(t) = alpha, sigma(t) = r). Its Euler step is DDIM; Heun's
trapezoidal correction makes it second order at two score calls per step. The last step is a
plain Euler step (as in EDM, where it lands on sigma = 0), so nfe = 2 · num_steps - 1.
"""
from __future__ import annotations

import jax.numpy as jnp

from sde_lib import SDE
from samplers.schedules import data_prediction, draw_prior, step_loop, step_times


def heun_sample(rng, sde: SDE, score_fn, shape, *, num_steps: int = 18, schedule: str = "edm",
                eps: float = 1e-3, denoise: bool = False):
    """Heun steps from the prior at T to ``eps`` on ``schedule`` (default: EDM's ρ = 7).

    Returns ``(x, nfe = 2 · num_steps - 1 + denoise)``.
    """
    ts = step_times(sde, num_steps, schedule, eps)
    n = len(ts) - 1
    rng, x = draw_prior(rng, sde, shape)
    ones = jnp.ones((shape[0],), jnp.float32)
    alphas, sigmas = sde.marginal_coeffs(ts)
    rs = sigmas / alphas

    def slope(y, row):
        t, alpha, r = row
        x0 = data_prediction(sde, score_fn, alpha * y, t * ones)
        return (y - x0) / r

    def body(i, cur, nxt, y):
        d = slope(y, cur)
        dr = nxt[2] - cur[2]
        y_euler = y + dr * d
        return y + dr * 0.5 * (d + slope(y_euler, nxt))

    y = step_loop((ts, alphas, rs), body, x / alphas[0], n - 1)
    y = y + (rs[n] - rs[n - 1]) * slope(y, (ts[n - 1], alphas[n - 1], rs[n - 1]))   # final Euler step
    x = alphas[n] * y
    nfe = 2 * n - 1
    if denoise:
        x = data_prediction(sde, score_fn, x, ts[-1] * ones)
        nfe += 1
    return x, jnp.asarray(nfe, jnp.int32)
