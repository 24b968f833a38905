"""DDIM (Song, Meng & Ermon, 2021) written with the marginal coefficients only.

For x_t = alpha_t x0 + sigma_t ε, one step from t to s < t is

    x_s = alpha_s x̂0 + sqrt(sigma_s² - c²) ε̂ + c z,   c = η · sigma_s · sqrt(1 - e^(λ_t - λ_s)),

with x̂0, ε̂ the data and noise predictions at (x_t, t) and λ = log(alpha² / sigma²). c² is the
variance of q(x_s | x_t, x0), so η = 1 is ancestral sampling (DDPM for VP, SMLD's ancestral
step for VE) and η = 0 is the deterministic DDIM, which is exactly Euler's method on the
probability-flow ODE written as d(x/alpha)/d(sigma/alpha) = -sigma s: first order.
Nothing here depends on which SDE it is, so VP, sub-VP, VE and a user's SDE all work.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast, x0_from_score
from samplers.schedules import check_float, data_prediction, draw_prior, step_loop, step_times


def ddim_update(x0, eps_hat, a_t, sig_t, a_s, sig_s, eta, z):
    """The DDIM update from t to s given the data and noise predictions at t:
    x_s = alpha_s x̂0 + sqrt(sigma_s² - c²) ε̂ + c z, c = η sigma_s sqrt(1 - e^(λ_t - λ_s)).

    x0, eps_hat, z: ``[B, ...]``; the coefficients are scalars or ``[B]``. η = 1 is ancestral
    sampling, η = 0 deterministic DDIM. The posterior samplers (dps, dds) call this with their
    corrected x̂0.
    """
    keep = jnp.clip((a_t * sig_s / (a_s * sig_t)) ** 2, 0.0, 1.0)   # e^(λ_t - λ_s)
    c = eta * sig_s * jnp.sqrt(1.0 - keep)
    direction = jnp.sqrt(jnp.maximum(sig_s**2 - c**2, 0.0))
    return bcast(a_s, x0) * x0 + bcast(direction, x0) * eps_hat + bcast(c, x0) * z


def ddim_step(sde: SDE, score_fn, x, t, s, eta, z):
    """One DDIM step from t to s (both ``[B]``) with noise ``z`` (ignored when eta = 0)."""
    a_t, sig_t = sde.marginal_coeffs(t)
    a_s, sig_s = sde.marginal_coeffs(s)
    score = score_fn(x, t)
    x0 = x0_from_score(x, score, a_t, sig_t)
    eps_hat = -bcast(sig_t, x) * score
    return ddim_update(x0, eps_hat, a_t, sig_t, a_s, sig_s, eta, z)


def ddim_sample(rng, sde: SDE, score_fn, shape, *, num_steps: int = 50, eta: float = 0.0,
                schedule: str = "logsnr", eps: float = 1e-3, denoise: bool = False):
    """``num_steps`` DDIM steps from the prior at T to ``eps`` on ``schedule``.

    ``eta`` >= 0 scales the fresh noise (0: deterministic, 1: ancestral). ``denoise`` returns
    Tweedie's x̂0 at eps (one more score call). Returns ``(x, nfe = num_steps + denoise)``.
    """
    check_float("eta", eta)
    ts = step_times(sde, num_steps, schedule, eps)
    rng, x = draw_prior(rng, sde, shape)
    ones = jnp.ones((shape[0],), jnp.float32)
    stochastic = isinstance(eta, jax.core.Tracer) or float(eta) != 0.0

    def body(i, t, s, carry):
        rng, x = carry
        if stochastic:
            rng, k = jax.random.split(rng)
            z = jax.random.normal(k, x.shape, x.dtype)
        else:
            z = jnp.zeros_like(x)
        return rng, ddim_step(sde, score_fn, x, t * ones, s * ones, eta, z)

    _, x = step_loop(ts, body, (rng, x))
    nfe = len(ts) - 1
    if denoise:
        x = data_prediction(sde, score_fn, x, ts[-1] * ones)
        nfe += 1
    return x, jnp.asarray(nfe, jnp.int32)
