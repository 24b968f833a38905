"""``score_mri`` (Chung & Ye, 2022): predictor–corrector sampling with data consistency after
every predictor and every corrector step.

Noiseless (s = 0): the hard projection of x_t onto ``{Ã x = alpha_t y}`` (for the VE SDE,
alpha = 1: Chung & Ye's k-space replacement). Noisy: the soft step that weighs x_t (noise
sigma_t) against alpha_t y (noise alpha_t s). Multi-coil: SENSE (the operator as given) or
coil-by-coil with a root-sum-of-squares combine. The loop is ``samplers.pc_sample`` with its
``consistency`` hook.
"""
from __future__ import annotations

import copy

import jax
import jax.numpy as jnp

from sde_lib import SDE
from sde_lib.base import check_int
from samplers.pc import pc_sample
from samplers.posterior.common import coeffs, soft_weight
from samplers.posterior.view import PriorView, to_complex
from samplers.schedules import check_float

MULTICOIL_MODES = ("sense", "coil_by_coil")


def _coil_view(view: PriorView, y: jax.Array, complex_prior) -> tuple[PriorView, jax.Array, int]:
    """Coil-by-coil: the multi-coil operator with unit sensitivities acting on one coil image.

    y ``[B, C, H, W]`` -> ``[B·C, 1, H, W]``: every coil image becomes its own single-coil problem.
    """
    op = view.operator
    sens = getattr(op, "sens", None)
    if sens is None or getattr(sens, "ndim", 0) != 3:
        raise ValueError("multicoil='coil_by_coil' needs a multi-coil operator with a `sens` attribute "
                         f"[C, H, W] (e.g. mri.MulticoilOperator); {type(op).__name__} has none")
    if view.kind == "real":
        raise ValueError("multicoil='coil_by_coil' reconstructs complex coil images: use complex_prior=True "
                         "or complex_prior='split' (a real prior applied to real and imaginary parts)")
    num_coils = sens.shape[0]
    single = copy.copy(op)
    single.sens = jnp.ones((1,) + tuple(sens.shape[1:]), sens.dtype)
    y_coils = jnp.reshape(y, (-1, 1) + tuple(y.shape[2:]))
    return PriorView(single, y_coils, complex_prior), y_coils, num_coils


def score_mri(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int | None = None,
              predictor: str = "reverse_diffusion", corrector: str = "langevin", snr: float = 0.16,
              n_steps: int = 1, eps: float = 1e-3, denoise: bool = True, noise_std: float = 0.0,
              dc_iters: int = 5, multicoil: str = "sense"):
    """Chung & Ye's score-MRI: PC sampling with data consistency after every step.

    num_steps: noise levels (default ``sde.N``; other counts need a predictor other than
        ``reverse_diffusion``). predictor / corrector / snr / n_steps / eps / denoise: as in
        ``samplers.sample(method="pc")``.
    noise_std: 0 gives the hard projection onto ``{Ã x = alpha_t y}`` (exact once ``dc_iters``
        CG steps have converged: 1 for a complex image and a Cartesian mask, 2 for a real image);
        > 0 the soft step ``x + (Ã^T Ã + gamma)^{-1} Ã^T (alpha_t y - Ã x)``,
        gamma = (alpha_t noise_std / sigma_t)².
    dc_iters: CG iterations per data-consistency step (SENSE operators may want more).
    multicoil: "sense" (use the operator as given) or "coil_by_coil" (needs ``operator.sens``
        and complex_prior True or "split": each coil image is reconstructed on its own with
        single-coil consistency; the result is their root-sum-of-squares, ``[B, H, W, 1]``).
    Returns ``(x, nfe = num_steps · (1 + n_steps))`` for a one-call predictor and corrector.
    """
    num_steps = check_int("num_steps", sde.N if num_steps is None else num_steps, 1)
    noise_std = check_float("noise_std", noise_std)
    dc_iters = check_int("dc_iters", dc_iters, 1)
    if multicoil not in MULTICOIL_MODES:
        raise ValueError(f"unknown multicoil mode {multicoil!r}; valid: {list(MULTICOIL_MODES)}")
    num_coils = 0
    if multicoil == "coil_by_coil":
        kind = {"complex": True, "split": "split"}.get(view.kind, False)
        view, y, num_coils = _coil_view(view, y, kind)

    def consistency(_, x, t):
        alpha, sigma = coeffs(sde, t)
        gamma = soft_weight(alpha, sigma, noise_std)
        return view.least_squares_step(x, alpha * y - view.forward(x), dc_iters, gamma)

    x, nfe = pc_sample(rng, sde, score_fn, view.prior_shape, num_steps=num_steps, predictor=predictor,
                       corrector=corrector, snr=snr, n_steps=n_steps, eps=eps, denoise=denoise,
                       consistency=consistency)
    x = view.output(x)
    if num_coils:
        coils = to_complex(x).reshape((-1, num_coils) + x.shape[1:-1])
        x = jnp.sqrt(jnp.sum(jnp.abs(coils) ** 2, axis=1))[..., None]
    return x, nfe
