"""DPM-Solver++(2M) (Lu et al., 2022): a multistep exponential integrator in data prediction.

With l = log(alpha / sigma) (half the log-SNR) the probability-flow ODE's exact solution from
t_{i-1} to t_i is  x_i = (sigma_i / sigma_{i-1}) x_{i-1} + sigma_i ∫ e^l x̂0 dl. Taking x̂0
constant over the step gives DDIM (first order); extrapolating it linearly in l from the
current and the previous prediction gives the second-order multistep update

    x_i = (sigma_i / sigma_{i-1}) x_{i-1} + alpha_i (1 - e^(-h_i)) D_i,
    D_i = (1 + 1/(2 r_i)) x̂0_{i-1} - 1/(2 r_i) x̂0_{i-2},   h_i = l_i - l_{i-1},  r_i = h_{i-1} / h_i.

The first step has no previous prediction and is first order. One score call per step.
"""
from __future__ import annotations

import jax.numpy as jnp

from sde_lib import SDE
from samplers.schedules import data_prediction, draw_prior, step_loop, step_times


def dpm_solver_pp_sample(rng, sde: SDE, score_fn, shape, *, num_steps: int = 20,
                         schedule: str = "logsnr", eps: float = 1e-3, denoise: bool = False,
                         lower_order_final: bool = True):
    """DPM-Solver++(2M) from the prior at T to ``eps`` in ``num_steps`` steps.

    ``lower_order_final``: take the last step with first order (DPM-Solver's stabiliser for
    few steps; it keeps global order 2). ``denoise``: return x̂0 at eps (one more score call).
    Returns ``(x, nfe = num_steps + denoise)``.
    """
    ts = step_times(sde, num_steps, schedule, eps)
    n = len(ts) - 1
    rng, x = draw_prior(rng, sde, shape)
    ones = jnp.ones((shape[0],), jnp.float32)
    alphas, sigmas = sde.marginal_coeffs(ts)
    ls = jnp.log(alphas) - jnp.log(sigmas)

    def body(i, cur, nxt, carry):
        (t, _, sigma, l), (_, alpha_next, sigma_next, l_next) = cur, nxt
        x, x0_prev, h_prev = carry
        x0 = data_prediction(sde, score_fn, x, t * ones)
        h = l_next - l
        first = i == 0
        if lower_order_final:
            first = first | (i == n - 1)
        r = h_prev / h
        second = (1 + 0.5 / r) * x0 - (0.5 / r) * x0_prev
        d = jnp.where(first, x0, second)
        x_next = (sigma_next / sigma) * x - alpha_next * jnp.expm1(-h) * d
        return x_next, x0, h

    x, _, _ = step_loop((ts, alphas, sigmas, ls), body, (x, jnp.zeros_like(x), jnp.ones((), jnp.float32)))
    nfe = n
    if denoise:
        x = data_prediction(sde, score_fn, x, ts[-1] * ones)
        nfe += 1
    return x, jnp.asarray(nfe, jnp.int32)
