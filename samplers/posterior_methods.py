"""Posterior samplers for linear inverse problems ``y = A x + n`` with a score-based prior.

Every method is ``fn(rng, sde, score_fn, view, y, **options) -> (x, nfe)`` where ``view`` is a
:class:`samplers.posterior_ops.PriorView` (the operator seen from the prior's space, ``Ã``).
They use only ``sde.marginal_coeffs`` / ``prior_sampling`` (and, for the ``reverse_diffusion``
predictor, ``sde.discretize``), so every SDE works. Loops are ``lax.fori_loop``; ``nfe`` is the
exact number of ``score_fn`` evaluations (a vector-Jacobian product through the score counts as
the one evaluation it differentiates).

Notation: x_t = alpha_t x0 + sigma_t z; Tweedie's x̂0(x_t) = (x_t + sigma_t² s(x_t, t)) / alpha_t;
``noise_std`` s is the std of the measurement noise (of the real and of the imaginary part of
each complex sample).

- ``score_mri`` (Chung & Ye, 2022): predictor–corrector sampling with data consistency after
  every predictor and every corrector step. Noiseless (s = 0): the hard projection of x_t onto
  ``{Ã x = alpha_t y}`` (for the VE SDE, alpha = 1: Chung & Ye's k-space replacement). Noisy:
  the soft step that weighs x_t (noise sigma_t) against alpha_t y (noise alpha_t s).
  Multi-coil: SENSE (the operator as given) or coil-by-coil with a root-sum-of-squares combine.
- ``projection`` (Song, Shen, Xing & Ermon, ICLR 2022): the same PC loop, but x_t is moved a
  fraction ``lam`` (their λ) of the way onto ``{Ã x = ŷ_t}`` with ŷ_t a draw of the noised
  measurement, ŷ_t = alpha_t y + sqrt(sigma_t² - alpha_t² s²) Ã z.
- ``dps`` (Chung, Kim, Mccann, Klasky & Ye, ICLR 2023): DDIM/ancestral steps plus
  ``-zeta ∇_{x_t} ||y - Ã x̂0(x_t)||`` (the residual norm, as in the authors' code: the step
  normalised by the residual, their ζ_i = ζ / ||y - A x̂0||).
- ``dds`` (Chung, Lee & Ye, ICLR 2024, decomposed diffusion sampling): x̂0, then ``cg_iters``
  conjugate-gradient steps on ``min ||y - Ã x||² + gamma ||x - x̂0||²`` started at x̂0, then a
  DDIM step from the corrected x̂0 with the network's noise estimate. ~50 steps.
- ``mmps``: the PC sampler driven by the conditional score, moment-matching posterior sampling
  (Rozet et al., 2024; Boys et al., 2023): p(x0 | x_t) is replaced by the Gaussian with
  Tweedie's mean x̂0 and covariance V = (sigma_t² / alpha_t) ∂x̂0/∂x_t, so
  ∇ log p(y | x_t) = J^T Ã^T (s² I + Ã V Ã^T)^{-1} (y - Ã x̂0), J = ∂x̂0/∂x_t, solved by CG with
  Jacobian-vector products (``jax.linearize``: one score evaluation per step). For a Gaussian
  prior both moments are exact, so this is the exact conditional score and the sampler draws
  from the exact posterior up to time discretisation: the reference that the others are
  measured against.
"""
from __future__ import annotations

import copy
import math

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast, x0_from_score
from sde_lib.base import check_int
from samplers.correctors import get_corrector
from samplers.posterior_ops import PriorView, cg, inner, to_complex
from samplers.predictors import get_predictor
from samplers.schedules import SCHEDULES, draw_prior, step_times


# --- option checks (all before any compute) -----------------------------------------------------

def _check_float(name: str, value, low: float = 0.0, high: float = math.inf) -> float:
    if isinstance(value, jax.core.Tracer):
        return value
    value = float(value)
    if not math.isfinite(value) or not low <= value <= high:
        raise ValueError(f"{name} must lie in [{low}, {high}]; got {value}")
    return value


def _check_eps(sde: SDE, eps) -> None:
    if not isinstance(eps, jax.core.Tracer) and not 0.0 < float(eps) < sde.T:
        raise ValueError(f"eps (the smallest time) must lie in (0, T = {sde.T}); got {eps}")


def _check_schedule(schedule: str) -> None:
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid names: {list(SCHEDULES)}")


def _coeffs(sde: SDE, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(alpha, sigma) as scalars for one scalar time."""
    a, s = sde.marginal_coeffs(jnp.reshape(t, (1,)).astype(jnp.float32))
    return a[0], s[0]


def _soft_weight(alpha, sigma, noise_std):
    """gamma = (alpha s / sigma)²: the Tikhonov weight that balances x_t (noise sigma) against
    alpha y (noise alpha s); 0 in the noiseless case (a hard projection)."""
    if not isinstance(noise_std, jax.core.Tracer) and float(noise_std) == 0.0:
        return jnp.zeros(())
    return (alpha * noise_std) ** 2 / jnp.maximum(sigma**2, 1e-20)


# --- the predictor–corrector loop with a data-consistency hook ---------------------------------

def _pc_grid(sde: SDE, num_steps: int, eps: float) -> jax.Array:
    """num_steps times from T down to eps, then 0 (score_sde's grid when num_steps = N)."""
    return jnp.concatenate([jnp.linspace(sde.T, eps, num_steps), jnp.zeros((1,))])


def _pc_loop(rng, sde: SDE, score_fn, shape, *, num_steps, predictor, corrector, snr, n_steps, eps,
             denoise, dc=None):
    """Corrector steps at t_i then a predictor step to t_{i+1}; ``dc(rng, x, t)`` after each
    (and on the returned noise-free mean of the last step).

    Returns ``(x, nfe)``: the last predictor mean (``denoise``) or sample, and the exact count.
    """
    pred, corr = get_predictor(predictor), get_corrector(corrector)
    n_steps = check_int("n_steps (corrector steps per noise level)", n_steps, 0)
    if predictor == "reverse_diffusion" and num_steps != sde.N:
        raise ValueError(f"predictor 'reverse_diffusion' walks the SDE's own N = {sde.N} discrete steps; "
                         f"num_steps={num_steps} needs 'ancestral_sampling' or 'euler_maruyama' (or num_steps=N)")
    _check_eps(sde, eps)
    grid = _pc_grid(sde, num_steps, eps)
    rng, k0 = jax.random.split(rng)
    x = sde.prior_sampling(k0, shape)
    ones = jnp.ones((shape[0],), jnp.float32)
    dc = dc if dc is not None else (lambda k, x, t: x)
    correct = corr.nfe > 0 and n_steps > 0

    def body(i, carry):
        rng, x, _ = carry
        rng, kc, kp, kd = jax.random.split(rng, 4)
        t, t_next = grid[i], grid[i + 1]
        if correct:
            def corr_body(j, x):
                k_c, k_d = jax.random.split(jax.random.fold_in(kc, j))
                x, _ = corr.fn(k_c, sde, score_fn, x, t * ones, snr, 1)
                return dc(k_d, x, t)
            x = jax.lax.fori_loop(0, n_steps, corr_body, x)
        x, x_mean = pred.fn(kp, sde, score_fn, x, t * ones, t_next * ones)
        return rng, dc(kd, x, t_next), x_mean

    rng, x, x_mean = jax.lax.fori_loop(0, num_steps, body, (rng, x, x))
    nfe = num_steps * (pred.nfe + (n_steps * corr.nfe if correct else 0))
    # Only the last step's noise-free mean is ever returned: make it consistent once, here.
    out = dc(jax.random.fold_in(rng, 1), x_mean, grid[-1]) if denoise else x
    return out, jnp.asarray(nfe, jnp.int32)


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


MULTICOIL_MODES = ("sense", "coil_by_coil")


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
    noise_std = _check_float("noise_std", noise_std)
    dc_iters = check_int("dc_iters", dc_iters, 1)
    if multicoil not in MULTICOIL_MODES:
        raise ValueError(f"unknown multicoil mode {multicoil!r}; valid: {list(MULTICOIL_MODES)}")
    num_coils = 0
    if multicoil == "coil_by_coil":
        kind = {"complex": True, "split": "split"}.get(view.kind, False)
        view, y, num_coils = _coil_view(view, y, kind)

    def dc(_, x, t):
        alpha, sigma = _coeffs(sde, t)
        gamma = _soft_weight(alpha, sigma, noise_std)
        return view.least_squares_step(x, alpha * y - view.forward(x), dc_iters, gamma)

    x, nfe = _pc_loop(rng, sde, score_fn, view.prior_shape, num_steps=num_steps, predictor=predictor,
                      corrector=corrector, snr=snr, n_steps=n_steps, eps=eps, denoise=denoise, dc=dc)
    x = view.output(x)
    if num_coils:
        coils = to_complex(x).reshape((-1, num_coils) + x.shape[1:-1])
        x = jnp.sqrt(jnp.sum(jnp.abs(coils) ** 2, axis=1))[..., None]
    return x, nfe


def projection(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int | None = None,
               predictor: str = "reverse_diffusion", corrector: str = "langevin", snr: float = 0.16,
               n_steps: int = 1, eps: float = 1e-3, denoise: bool = True, lam: float = 1.0,
               noise_std: float = 0.0, dc_iters: int = 5):
    """Song et al. (ICLR 2022): PC sampling where every step is followed by
    ``x <- x + lam · Ã^+ (ŷ_t - Ã x)``, ŷ_t = alpha_t y + sqrt(max(sigma_t² - alpha_t² s², 0)) Ã z.

    lam: their λ in [0, 1] (1: replace the measured part; smaller trusts the prior more, which
        is their remedy for measurement noise). noise_std (s): the noise already in y, so only
        the rest of sigma_t is added (with s = 0 this is their ŷ_t = alpha_t y + sigma_t A z).
    Other options as in :func:`score_mri`. Returns ``(x, nfe)`` counted as there.
    """
    num_steps = check_int("num_steps", sde.N if num_steps is None else num_steps, 1)
    lam = _check_float("lam (λ)", lam, 0.0, 1.0)
    noise_std = _check_float("noise_std", noise_std)
    dc_iters = check_int("dc_iters", dc_iters, 1)

    def dc(rng, x, t):
        alpha, sigma = _coeffs(sde, t)
        scale = jnp.sqrt(jnp.maximum(sigma**2 - (alpha * noise_std) ** 2, 0.0))
        y_t = alpha * y + scale * view.measurement_noise(rng, y)
        return view.least_squares_step(x, lam * (y_t - view.forward(x)), dc_iters)

    x, nfe = _pc_loop(rng, sde, score_fn, view.prior_shape, num_steps=num_steps, predictor=predictor,
                      corrector=corrector, snr=snr, n_steps=n_steps, eps=eps, denoise=denoise, dc=dc)
    return view.output(x), nfe


# --- DDIM-based methods --------------------------------------------------------------------------

def _ddim_update(x0, eps_hat, a_t, s_t, a_s, s_s, eta, z):
    """x_s = alpha_s x0 + sqrt(sigma_s² - c²) ε̂ + c z with c = η sigma_s sqrt(1 - e^(λ_t - λ_s))
    (η = 1: ancestral, η = 0: deterministic DDIM)."""
    keep = jnp.clip((a_t * s_s / (a_s * s_t)) ** 2, 0.0, 1.0)
    c = eta * s_s * jnp.sqrt(1.0 - keep)
    return a_s * x0 + jnp.sqrt(jnp.maximum(s_s**2 - c**2, 0.0)) * eps_hat + c * z


def _check_ddim(sde, num_steps, eta, schedule, eps) -> int:
    num_steps = check_int("num_steps", num_steps, 2)
    _check_float("eta", eta, 0.0)
    _check_schedule(schedule)
    _check_eps(sde, eps)
    return num_steps


def dps(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int = 1000, zeta: float = 1.0,
        eta: float = 1.0, schedule: str = "uniform", eps: float = 1e-3):
    """Diffusion posterior sampling: a DDIM step (``eta`` = 1: DDPM's ancestral step) from x_t,
    then ``x <- x - zeta ∇_{x_t} ||y - Ã x̂0(x_t)||`` (per sample; the gradient goes through the
    score network by one vector-Jacobian product).

    The score is evaluated at ``num_steps`` times from T down to ``eps`` (``schedule``); the
    output is Tweedie's x̂0 at ``eps``. DPS is an approximation (it treats p(x0 | x_t) as a point
    mass at x̂0 and normalises the step by the residual); it takes no ``noise_std``.
    Returns ``(x, nfe = num_steps)``.
    """
    num_steps = _check_ddim(sde, num_steps, eta, schedule, eps)
    zeta = _check_float("zeta", zeta)
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

    def body(i, carry):
        rng, x = carry
        rng, k = jax.random.split(rng)
        t, s = ts[i], ts[i + 1]
        g, x0 = grad_fn(x, t)
        a_t, s_t = _coeffs(sde, t)
        a_s, s_s = _coeffs(sde, s)
        eps_hat = (x - a_t * x0) / s_t
        z = jax.random.normal(k, x.shape, x.dtype)
        return rng, _ddim_update(x0, eps_hat, a_t, s_t, a_s, s_s, eta, z) - zeta * g

    _, x = jax.lax.fori_loop(0, num_steps - 1, body, (rng, x))
    alpha, sigma = sde.marginal_coeffs(ts[-1] * ones)
    x0 = x0_from_score(x, score_fn(x, ts[-1] * ones), alpha, sigma)
    return view.output(x0), jnp.asarray(num_steps, jnp.int32)


def dds(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int = 50, eta: float = 0.15,
        cg_iters: int = 5, noise_std: float = 0.0, gamma: float | None = None,
        schedule: str = "logsnr", eps: float = 1e-3, clip_x0: float = 0.0):
    """Decomposed diffusion sampling: at each of ``num_steps`` times (T down to ``eps``):
    x̂0 = Tweedie(x_t); ``cg_iters`` CG steps on ``(Ã^T Ã + gamma) x = Ã^T y + gamma x̂0`` from
    x̂0 (gamma = 0: the nearest consistent image in the Krylov space, exactly consistent once
    CG has converged); then the DDIM step (``eta``) from the corrected x̂0 with the network's
    noise estimate ε̂ = (x_t - alpha_t x̂0) / sigma_t. The output is the corrected x̂0 at ``eps``.

    gamma: Tikhonov weight of the prior estimate; None derives it from ``noise_std`` as
        (alpha_t noise_std / sigma_t)² (x̂0 taken as accurate to sigma_t / alpha_t), 0 if noiseless.
    clip_x0: if > 0, clip x̂0 to [-clip_x0, clip_x0] before data consistency. Near t = T the
        Tweedie estimate divides by alpha_t ≈ 0.007 (VP), so a trained network's error there is
        amplified ~150x; with the exact score it is harmless, with a network it can diverge
        (measured on the CPU brain prior: PSNR 1.4 dB unclipped). Set it to a bound of the data.
    Returns ``(x, nfe = num_steps)``.
    """
    num_steps = _check_ddim(sde, num_steps, eta, schedule, eps)
    clip_x0 = _check_float("clip_x0", clip_x0)
    cg_iters = check_int("cg_iters", cg_iters, 1)
    noise_std = _check_float("noise_std", noise_std)
    if gamma is not None:
        gamma = _check_float("gamma", gamma)
    ts = step_times(sde, num_steps - 1, schedule, eps)
    rng, x = draw_prior(rng, sde, view.prior_shape)
    ones = jnp.ones((view.prior_shape[0],), jnp.float32)

    def corrected_x0(x, t):
        alpha, sigma = _coeffs(sde, t)
        x0 = x0_from_score(x, score_fn(x, t * ones), alpha * ones, sigma * ones)
        if clip_x0 > 0:
            x0 = jnp.clip(x0, -clip_x0, clip_x0)
        weight = _soft_weight(alpha, sigma, noise_std) if gamma is None else gamma
        return view.least_squares_step(x0, y - view.forward(x0), cg_iters, weight), x0, alpha, sigma

    def body(i, carry):
        rng, x = carry
        rng, k = jax.random.split(rng)
        x0c, x0, a_t, s_t = corrected_x0(x, ts[i])
        a_s, s_s = _coeffs(sde, ts[i + 1])
        eps_hat = (x - a_t * x0) / s_t
        z = jax.random.normal(k, x.shape, x.dtype)
        return rng, _ddim_update(x0c, eps_hat, a_t, s_t, a_s, s_s, eta, z)

    _, x = jax.lax.fori_loop(0, num_steps - 1, body, (rng, x))
    x0c, *_ = corrected_x0(x, ts[-1])
    return view.output(x0c), jnp.asarray(num_steps, jnp.int32)


# --- the conditional-score PC sampler -------------------------------------------------------------

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
        u = cg(system, r, cg_iters)
        return score + vjp(view.adjoint(u))[0]
    return cond


def mmps(rng, sde: SDE, score_fn, view: PriorView, y, *, num_steps: int = 200,
         predictor: str = "euler_maruyama", corrector: str = "none", snr: float = 0.16,
         n_steps: int = 1, eps: float = 1e-3, denoise: bool = True, noise_std: float = 0.0,
         cg_iters: int = 10):
    """Moment-matching posterior sampling: the PC sampler on the conditional score
    (see :func:`conditional_score`); exact for Gaussian priors up to time discretisation.

    cg_iters: CG iterations on ``s² I + Ã V Ã^T`` per score evaluation (each one a Jacobian-vector
        product through the score: costlier than the evaluation itself is cheap to count).
    noise_std: the measurement noise; at 0 the system is only semi-definite (CG from zero stays
        in its range) and the sampler conditions on ``Ã x = y`` exactly.
    Other options as in ``samplers.sample(method="pc")``, on a grid of ``num_steps`` levels. The
    default predictor is Euler–Maruyama: with a Gaussian prior at 300 steps it matched the
    posterior variance to 1 %, where ``ancestral_sampling`` (which treats x0 | x_t as a point
    mass within each step) came out 7 % narrow.
    Returns ``(x, nfe)`` = PC's count (score evaluations; JVPs not counted).
    """
    num_steps = check_int("num_steps", num_steps, 1)
    noise_std = _check_float("noise_std", noise_std)
    cg_iters = check_int("cg_iters", cg_iters, 1)
    cond = conditional_score(sde, score_fn, view, y, noise_std, cg_iters)
    x, nfe = _pc_loop(rng, sde, cond, view.prior_shape, num_steps=num_steps, predictor=predictor,
                      corrector=corrector, snr=snr, n_steps=n_steps, eps=eps, denoise=denoise)
    return view.output(x), nfe


# name -> fn(rng, sde, score_fn, view, y, **options) -> (x, nfe). The one registry of posterior methods.
POSTERIOR_METHODS = {
    "score_mri": score_mri,
    "projection": projection,
    "dps": dps,
    "dds": dds,
    "mmps": mmps,
}
