"""``mmps``: the PC sampler driven by the conditional score, moment-matching posterior sampling
(Rozet et al., 2024; Boys et al., 2023).

p(x0 | x_t) is replaced by the Gaussian with Tweedie's mean x̂0 and covariance
V = (sigma_t² / alpha_t) ∂x̂0/∂x_t, so ∇ log p(y | x_t) = J^T Ã^T (s² I + Ã V Ã^T)^{-1} (y - Ã x̂0),
J = ∂x̂0/∂x_t, solved by CG with Jacobian-vector products (``jax.linearize``: one score evaluation
per step). For a Gaussian prior both moments are exact, so this is the exact conditional score
and the sampler draws from the exact posterior up to time discretisation: the reference that the
other methods are measured against.
"""
from __future__ import annotations

import jax

from linops import bcast, conjugate_gradient
from sde_lib import SDE, x0_from_score
from sde_lib.base import check_int
from samplers.pc import pc_sample
from samplers.posterior.view import PriorView
from samplers.schedules import check_float


def conditional_score(sde: SDE, score_fn, view: PriorView, y, noise_std, cg_iters: int):
    """``score(x, t) + ∇_x log N(y; Ã x̂0, s² I + Ã V Ã^T)`` with V = (sigma²/alpha) ∂x̂0/∂x_t,
    one score evaluation (``jax.linearize``) and ``cg_iters`` Jacobian-vector products."""
    def cond(x, t):
        alpha, sigma = sde.marginal_coeffs(t)
        x0, jvp = jax.linearize(lambda z: x0_from_score(z, score_fn(z, t), alpha, sigma), x)
        vjp = jax.linear_transpose(jvp, x)
        score = (bcast(alpha, x) * x0 - x) / bcast(sigma**2, x)
        c = bcast(sigma**2 / alpha, x)

        def system(u):
            return view.forward(c * jvp(view.adjoint(u))) + noise_std**2 * u

        r = y - view.forward(x0)
        u = conjugate_gradient(system, r, None, cg_iters, batched=True)
        return score + vjp(view.adjoint(u))[0]
    return cond


def mmps(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int = 200,
         predictor: str = "euler_maruyama", corrector: str = "none", snr: float = 0.16,
         n_steps: int = 1, eps: float = 1e-3, denoise: bool = True, noise_std: float = 0.0,
         cg_iters: int = 10):
    """Moment-matching posterior sampling: the PC sampler on the conditional score
    (see :func:`conditional_score`); exact for Gaussian priors up to time discretisation.

    cg_iters: CG iterations on ``s² I + Ã V Ã^T`` per score evaluation (each one a Jacobian-vector
        product through the score).
    noise_std: the measurement noise; at 0 the system is only semi-definite (CG from zero stays
        in its range) and the sampler conditions on ``Ã x = y`` exactly.
    Other options as in ``samplers.sample(method="pc")``, on a grid of ``num_steps`` levels. The
    default predictor is Euler–Maruyama: with a Gaussian prior at 300 steps it matched the
    posterior variance to 1 %, where ``ancestral_sampling`` (which treats x0 | x_t as a point
    mass within each step) came out 7 % narrow.
    Returns ``(x, nfe)`` = PC's count (score evaluations; JVPs not counted).
    """
    num_steps = check_int("num_steps", num_steps, 1)
    noise_std = check_float("noise_std", noise_std)
    cg_iters = check_int("cg_iters", cg_iters, 1)
    cond = conditional_score(sde, score_fn, view, y, noise_std, cg_iters)
    x, nfe = pc_sample(rng, sde, cond, view.prior_shape, num_steps=num_steps, predictor=predictor,
                       corrector=corrector, snr=snr, n_steps=n_steps, eps=eps, denoise=denoise)
    return view.output(x), nfe
