"""Probability-flow ODE sampling with the adaptive Dormand–Prince solver of ``samplers.rk45``.

    dx/dt = f(x, t) - ½ g(t)² s(x, t),   integrated from t = T (a prior sample) down to t = eps.

Each right-hand-side evaluation is exactly one ``score_fn`` call, so the returned nfe is the
solver's count: 2 + 6 · (accepted + rejected steps) (+ 1 with ``denoise``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sde_lib import SDE
from samplers.rk45 import ODEStats, dopri5
from samplers.schedules import check_eps, data_prediction, draw_prior


def probability_flow_rhs(sde: SDE, score_fn, batch: int):
    """``fn(t, x)`` for the solver: the probability-flow drift at scalar time t."""
    pf = sde.reverse(score_fn, probability_flow=True)
    ones = jnp.ones((batch,), jnp.float32)   # promoted to float64 with a float64 t under x64

    def fn(t, x):
        return pf.sde(x, t * ones)[0]
    return fn


def ode_solve(sde: SDE, score_fn, x: jax.Array, t0: float, t1: float, *, rtol: float = 1e-5,
              atol: float = 1e-5, max_steps: int = 4096, controller: str = "pi",
              first_step: float | None = None) -> tuple[jax.Array, ODEStats]:
    """Carry ``x: [B, ...]`` along the probability-flow ODE from time t0 to t1 (either way)."""
    fn = probability_flow_rhs(sde, score_fn, x.shape[0])
    return dopri5(fn, t0, t1, x, rtol=rtol, atol=atol, max_steps=max_steps,
                  first_step=first_step, controller=controller)


def ode_sample(rng, sde: SDE, score_fn, shape, *, rtol: float = 1e-5, atol: float = 1e-5,
               eps: float = 1e-3, denoise: bool = False, max_steps: int = 4096,
               controller: str = "pi", first_step: float | None = None):
    """Sample by solving the probability-flow ODE from the prior at T down to ``eps``.

    Options: ``rtol``/``atol`` — per-sample mixed error tolerance of the 5(4) pair;
    ``eps`` — final time; ``denoise`` — finish with Tweedie's x̂0 at eps (one more score call);
    ``max_steps`` — bound on attempted steps (samples come back NaN if it is hit);
    ``controller`` — "pi" (default) or "i"; ``first_step`` — |h| of the first step (default:
    chosen automatically at the cost of one score call).
    Returns ``(x [shape], nfe)``.
    """
    check_eps(sde, eps)
    rng, x = draw_prior(rng, sde, shape)
    x, stats = ode_solve(sde, score_fn, x, sde.T, eps, rtol=rtol, atol=atol, max_steps=max_steps,
                         controller=controller, first_step=first_step)
    nfe = stats.nfe
    if denoise:
        x = data_prediction(sde, score_fn, x, jnp.full((shape[0],), eps, jnp.float32))
        nfe = nfe + 1
    return x, nfe
