"""``dps`` (Chung, Kim, Mccann, Klasky & Ye, ICLR 2023): diffusion posterior sampling.

DDIM / ancestral steps plus ``-zeta ∇_{x_t} ||y - Ã x̂0(x_t)||`` (the residual norm, as in the
authors' code: the step normalised by the residual, their ζ_i = ζ / ||y - A x̂0||). DPS treats
p(x0 | x_t) as a point mass at Tweedie's x̂0: an approximation.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from linops import inner
from sde_lib import SDE, x0_from_score
from sde_lib.base import check_int
from samplers.ddim import ddim_update
from samplers.posterior.common import coeffs
from samplers.posterior.view import PriorView
from samplers.schedules import check_float, draw_prior, step_loop, step_times


def dps(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int = 1000, zeta: float = 1.0,
        eta: float = 1.0, schedule: str = "uniform", eps: float = 1e-3):
    """Diffusion posterior sampling: a DDIM step (``eta`` = 1: DDPM's ancestral step) from x_t,
    then ``x <- x - zeta ∇_{x_t} ||y - Ã x̂0(x_t)||`` (per sample; the gradient goes through the
    score network by one vector-Jacobian product).

    The score is evaluated at ``num_steps`` times from T down to ``eps`` (``schedule``); the
    output is Tweedie's x̂0 at ``eps``. It takes no ``noise_std``.
    Returns ``(x, nfe = num_steps)``.
    """
    num_steps = check_int("num_steps", num_steps, 2)
    check_float("eta", eta)
    zeta = check_float("zeta", zeta)
    ts = step_times(sde, num_steps - 1, schedule, eps)
    rng, x = draw_prior(rng, sde, view.prior_shape)
    ones = jnp.ones((view.prior_shape[0],), jnp.float32)

    def residual_norm(x, t):
        alpha, sigma = sde.marginal_coeffs(t * ones)
        x0 = x0_from_score(x, score_fn(x, t * ones), alpha, sigma)
        r = y - view.forward(x0)
        # sqrt(|r|² + tiny): the norm's gradient stays finite at a zero residual.
        return jnp.sum(jnp.sqrt(inner(r, r) + 1e-30)), x0

    grad_fn = jax.grad(residual_norm, has_aux=True)

    def body(i, t, s, carry):
        rng, x = carry
        rng, k = jax.random.split(rng)
        g, x0 = grad_fn(x, t)
        a_t, s_t = coeffs(sde, t)
        a_s, s_s = coeffs(sde, s)
        eps_hat = (x - a_t * x0) / s_t
        z = jax.random.normal(k, x.shape, x.dtype)
        return rng, ddim_update(x0, eps_hat, a_t, s_t, a_s, s_s, eta, z) - zeta * g

    _, x = step_loop(ts, body, (rng, x))
    alpha, sigma = sde.marginal_coeffs(ts[-1] * ones)
    x0 = x0_from_score(x, score_fn(x, ts[-1] * ones), alpha, sigma)
    return view.output(x0), jnp.asarray(num_steps, jnp.int32)
