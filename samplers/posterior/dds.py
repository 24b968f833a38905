"""``dds`` (Chung, Lee & Ye, ICLR 2024): decomposed diffusion sampling.

At each step: Tweedie's x̂0, then ``cg_iters`` conjugate-gradient steps on
``min ||y - Ã x||² + gamma ||x - x̂0||²`` started at x̂0, then a DDIM step (``samplers.ddim_update``)
from the corrected x̂0 with the network's noise estimate. About 50 steps.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sde_lib import SDE, x0_from_score
from sde_lib.base import check_int
from samplers.ddim import ddim_update
from samplers.posterior.common import coeffs, soft_weight
from samplers.posterior.view import PriorView
from samplers.schedules import check_float, draw_prior, step_loop, step_times


def dds(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int = 50, eta: float = 0.15,
        cg_iters: int = 5, final_cg_iters: int | None = None, noise_std: float = 0.0,
        gamma: float | None = None, gamma_floor: float = 0.0, schedule: str = "logsnr", eps: float = 1e-3,
        clip_x0: float = 0.0):
    """Decomposed diffusion sampling: at each of ``num_steps`` times (T down to ``eps``):
    x̂0 = Tweedie(x_t); ``cg_iters`` CG steps on ``(Ã^T Ã + gamma) x = Ã^T y + gamma x̂0`` from
    x̂0 (gamma = 0: the nearest consistent image in the Krylov space, exactly consistent once
    CG has converged); then the DDIM step (``eta``) from the corrected x̂0 with the network's
    noise estimate ε̂ = (x_t - alpha_t x̂0) / sigma_t. The output is the corrected x̂0 at ``eps``.

    final_cg_iters: CG steps of that last correction (None: ``cg_iters``). The inner steps need
        only a few (the next step's network redoes the rest), but the output is the last
        correction's: with well-determined data (many coils) a few CG steps leave most of the
        data's information unused, so a longer final solve pays for itself (no extra NFE).

    gamma: Tikhonov weight of the prior estimate; None derives it from ``noise_std`` as
        (alpha_t noise_std / sigma_t)² (x̂0 taken as accurate to sigma_t / alpha_t), 0 if noiseless.
    gamma_floor: added to that derived weight (only with ``gamma=None``). The derived weight
        vanishes at high noise levels, where x̂0 is far better than sigma_t / alpha_t (a Gaussian
        prior of variance v adds noise_std² / v; a trained prior more): the floor keeps the prior's
        estimate weighted there while the low-noise steps keep the schedule.
    clip_x0: if > 0, clip x̂0 to [-clip_x0, clip_x0] before data consistency. Near t = T the
        Tweedie estimate divides by alpha_t ≈ 0.007 (VP), so a trained network's error there is
        amplified ~150x; with the exact score it is harmless, with a network it can diverge
        (measured on the CPU brain prior: PSNR 1.4 dB unclipped). Set it to a bound of the data.
    Returns ``(x, nfe = num_steps)``.
    """
    num_steps = check_int("num_steps", num_steps, 2)
    check_float("eta", eta)
    clip_x0 = check_float("clip_x0", clip_x0)
    cg_iters = check_int("cg_iters", cg_iters, 1)
    final_cg_iters = cg_iters if final_cg_iters is None else check_int("final_cg_iters", final_cg_iters, 1)
    noise_std = check_float("noise_std", noise_std)
    if gamma is not None:
        gamma = check_float("gamma", gamma)
    gamma_floor = check_float("gamma_floor", gamma_floor)
    if gamma is not None and not isinstance(gamma_floor, jax.core.Tracer) and gamma_floor > 0:
        raise ValueError(f"gamma_floor ({gamma_floor}) adds to the noise-derived weight, which gamma={gamma} "
                         f"replaces: give one of them")
    ts = step_times(sde, num_steps - 1, schedule, eps)
    rng, x = draw_prior(rng, sde, view.prior_shape)
    ones = jnp.ones((view.prior_shape[0],), jnp.float32)

    def corrected_x0(x, t, n_cg=cg_iters):
        alpha, sigma = coeffs(sde, t)
        x0 = x0_from_score(x, score_fn(x, t * ones), alpha * ones, sigma * ones)
        if clip_x0 > 0:
            x0 = jnp.clip(x0, -clip_x0, clip_x0)
        weight = soft_weight(alpha, sigma, noise_std) + gamma_floor if gamma is None else gamma
        return view.least_squares_step(x0, y - view.forward(x0), n_cg, weight), x0, alpha, sigma

    def body(i, t, s, carry):
        rng, x = carry
        rng, k = jax.random.split(rng)
        x0c, x0, a_t, s_t = corrected_x0(x, t)
        a_s, s_s = coeffs(sde, s)
        eps_hat = (x - a_t * x0) / s_t
        z = jax.random.normal(k, x.shape, x.dtype)
        return rng, ddim_update(x0c, eps_hat, a_t, s_t, a_s, s_s, eta, z)

    _, x = step_loop(ts, body, (rng, x))
    x0c, *_ = corrected_x0(x, ts[-1], final_cg_iters)
    return view.output(x0c), jnp.asarray(num_steps, jnp.int32)
