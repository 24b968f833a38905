"""``projection`` (Song, Shen, Xing & Ermon, ICLR 2022): the predictor–corrector loop, with x_t
moved a fraction ``lam`` (their λ) of the way onto ``{Ã x = ŷ_t}`` after every step, ŷ_t a draw
of the noised measurement, ŷ_t = alpha_t y + sqrt(sigma_t² - alpha_t² s²) Ã z.
"""
from __future__ import annotations

import jax.numpy as jnp

from sde_lib import SDE
from sde_lib.base import check_int
from samplers.pc import pc_sample
from samplers.posterior.common import coeffs
from samplers.posterior.view import PriorView
from samplers.schedules import check_float


def projection(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int | None = None,
               predictor: str = "reverse_diffusion", corrector: str = "langevin", snr: float = 0.16,
               n_steps: int = 1, eps: float = 1e-3, denoise: bool = True, lam: float = 1.0,
               noise_std: float = 0.0, dc_iters: int = 5):
    """Song et al. (ICLR 2022): PC sampling where every step is followed by
    ``x <- x + lam · Ã^+ (ŷ_t - Ã x)``, ŷ_t = alpha_t y + sqrt(max(sigma_t² - alpha_t² s², 0)) Ã z.

    lam: their λ in [0, 1] (1: replace the measured part; smaller trusts the prior more, which
        is their remedy for measurement noise). noise_std (s): the noise already in y, so only
        the rest of sigma_t is added (with s = 0 this is their ŷ_t = alpha_t y + sigma_t A z).
    Other options as in ``score_mri``. Returns ``(x, nfe)`` counted as there.
    """
    num_steps = check_int("num_steps", sde.N if num_steps is None else num_steps, 1)
    lam = check_float("lam (λ)", lam, 0.0, 1.0)
    noise_std = check_float("noise_std", noise_std)
    dc_iters = check_int("dc_iters", dc_iters, 1)

    def consistency(rng, x, t):
        alpha, sigma = coeffs(sde, t)
        scale = jnp.sqrt(jnp.maximum(sigma**2 - (alpha * noise_std) ** 2, 0.0))
        y_t = alpha * y + scale * view.measurement_noise(rng, y)
        return view.least_squares_step(x, lam * (y_t - view.forward(x)), dc_iters)

    x, nfe = pc_sample(rng, sde, score_fn, view.prior_shape, num_steps=num_steps, predictor=predictor,
                       corrector=corrector, snr=snr, n_steps=n_steps, eps=eps, denoise=denoise,
                       consistency=consistency)
    return view.output(x), nfe
