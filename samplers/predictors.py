"""Reverse-time predictors: one step from time t to t_next < t.

Each predictor is ``fn(rng, sde, score_fn, x, t, t_next) -> (x, x_mean)`` with ``t, t_next: [B]``;
``x_mean`` is the step without its final noise (returned by ``denoise``). ``PREDICTORS`` maps the
config name to ``(fn, score evaluations per step)``.
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast


class Predictor(NamedTuple):
    fn: Callable
    nfe: int


def euler_maruyama(rng, sde: SDE, score_fn, x, t, t_next):
    """x_mean = x + f̄(x, t) dt, x = x_mean + ḡ(t) sqrt(|dt|) z on the reverse SDE."""
    dt = bcast(t_next - t, x)
    drift, diffusion = sde.reverse(score_fn).sde(x, t)
    x_mean = x + drift * dt
    z = jax.random.normal(rng, x.shape, x.dtype)
    return x_mean + bcast(diffusion, x) * jnp.sqrt(-dt) * z, x_mean


def reverse_diffusion(rng, sde: SDE, score_fn, x, t, t_next):
    """The reverse of the SDE's own discretisation: x_mean = x - f_i + G_i² s, x = x_mean + G_i z."""
    f, G = sde.reverse(score_fn).discretize(x, t)
    x_mean = x - f
    z = jax.random.normal(rng, x.shape, x.dtype)
    return x_mean + bcast(G, x) * z, x_mean


def ancestral_sampling(rng, sde: SDE, score_fn, x, t, t_next):
    """Sample q(x_s | x_t, x0 = Tweedie estimate) for s = t_next.

    Written with the marginal coefficients only, so it holds for any SDE with Gaussian
    marginals N(alpha_t x0, sigma_t² I): for VE it is SMLD's ancestral step exactly
    (mean x + (σ_t² - σ_s²) s), for VP the DDPM posterior q(x_{t-1} | x_t, x̂0).
    """
    a_t, s_t = sde.marginal_coeffs(t)
    a_s, s_s = sde.marginal_coeffs(t_next)
    score = score_fn(x, t)
    x0 = (x + bcast(s_t**2, x) * score) / bcast(a_t, x)
    a_ts = a_t / a_s
    var_ts = jnp.maximum(s_t**2 - a_ts**2 * s_s**2, 0.0)
    coef_xt = a_ts * s_s**2 / s_t**2
    coef_x0 = a_s * var_ts / s_t**2
    x_mean = bcast(coef_xt, x) * x + bcast(coef_x0, x) * x0
    std = jnp.sqrt(var_ts * s_s**2 / s_t**2)
    z = jax.random.normal(rng, x.shape, x.dtype)
    return x_mean + bcast(std, x) * z, x_mean


def none_predictor(rng, sde, score_fn, x, t, t_next):
    return x, x


PREDICTORS: dict[str, Predictor] = {
    "euler_maruyama": Predictor(euler_maruyama, 1),
    "reverse_diffusion": Predictor(reverse_diffusion, 1),
    "ancestral_sampling": Predictor(ancestral_sampling, 1),
    "none": Predictor(none_predictor, 0),
}


def get_predictor(name: str) -> Predictor:
    if name not in PREDICTORS:
        raise ValueError(f"unknown predictor {name!r}; valid names: {sorted(PREDICTORS)}")
    return PREDICTORS[name]
