"""The SDE interface every sampler and loss is written against.

Shapes: ``x`` is ``[B, ...]`` (any trailing shape), ``t`` is ``[B]`` in ``[0, T]``.
Per-sample scalars (``diffusion``, ``std``) are ``[B]`` and broadcast against ``x`` with
:func:`bcast` (``linops.bcast``). Everything here is jittable and holds no mutable state.
"""
from __future__ import annotations

import abc
from typing import Callable

import jax
import jax.numpy as jnp

from linops import bcast  # the one per-sample broadcast, re-exported as sde_lib.bcast

ScoreFn = Callable[[jax.Array, jax.Array], jax.Array]


def check_int(name: str, value, low: int = 1, what: str = "") -> int:
    """``value`` as an int, or a ValueError naming ``name`` (and ``what`` it counts) unless it is
    an integer >= ``low``. Shared by every step-count check of sde_lib and samplers."""
    if isinstance(value, bool) or int(value) != value or int(value) < low:
        raise ValueError(f"{name} must be an integer >= {low}{what}; got {value!r}")
    return int(value)


def standard_normal_logp(z: jax.Array, scale: float = 1.0) -> jax.Array:
    """log N(z; 0, scale² I) summed over all but the batch axis: ``[B]``."""
    d = z[0].size
    sq = jnp.sum(jnp.reshape(z, (z.shape[0], -1)) ** 2, axis=1)
    return -0.5 * d * jnp.log(2 * jnp.pi * scale**2) - 0.5 * sq / scale**2


class SDE(abc.ABC):
    """Forward SDE dx = f(x, t) dt + g(t) dw on t in [0, T], discretised with N steps.

    A subclass supplies ``sde``, ``marginal_prob``, ``prior_sampling`` and ``prior_logp``; the
    base class derives an Euler–Maruyama ``discretize``, ``reverse``, ``marginal_coeffs``,
    ``log_snr`` / ``time_from_log_snr`` and ``corrector_alpha`` from them, so a user's own SDE
    works with every generic sampler.
    """

    T: float = 1.0

    def __init__(self, N: int):
        self.N = check_int("N", N, what=" (the number of discretisation steps)")

    # --- what a subclass must provide -------------------------------------------------------
    @abc.abstractmethod
    def sde(self, x: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Drift ``[B, ...]`` and diffusion coefficient ``[B]``."""

    @abc.abstractmethod
    def marginal_prob(self, x: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean ``[B, ...]`` and std ``[B]`` of p_{0t}(x(t) | x(0) = x)."""

    @abc.abstractmethod
    def prior_sampling(self, rng: jax.Array, shape) -> jax.Array:
        """A sample of p_T with ``shape = (B, ...)``."""

    @abc.abstractmethod
    def prior_logp(self, z: jax.Array) -> jax.Array:
        """log p_T(z) per sample, ``[B]``."""

    # --- derived, overridable ----------------------------------------------------------------
    def discretize(self, x: jax.Array, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """One step x_{i+1} = x_i + f_i + G_i z, here Euler–Maruyama with dt = T / N."""
        dt = self.T / self.N
        drift, diffusion = self.sde(x, t)
        return drift * dt, diffusion * jnp.sqrt(dt)

    def marginal_coeffs(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(alpha_t, sigma_t), both ``[B]``, for SDEs whose marginal is N(alpha_t x0, sigma_t² I).

        The default reads them off ``marginal_prob`` (its mean must be linear in x0); solvers
        that work with data/noise predictions (DDIM, DPM-Solver++, Tweedie) use only this.
        """
        mean, std = self.marginal_prob(jnp.ones((t.shape[0], 1), jnp.float32), t)
        return mean[:, 0], std

    def log_snr(self, t: jax.Array) -> jax.Array:
        """λ(t) = log(alpha_t² / sigma_t²) ``[B]``; decreasing in t for any SDE that adds noise."""
        alpha, sigma = self.marginal_coeffs(t)
        return 2.0 * (jnp.log(alpha) - jnp.log(sigma))

    def time_from_log_snr(self, lam: jax.Array) -> jax.Array:
        """The t in [0, T] with ``log_snr(t) = lam`` (clipped to the ends), ``lam: [n]``.

        Default: bisection on ``log_snr`` (needs only ``marginal_coeffs``, so any SDE with
        Gaussian marginals gets it; 40 halvings reach float32 resolution on [0, T]). Subclasses
        with a closed-form inverse may override it. Fast samplers use it to build step
        schedules that are uniform in log-SNR or in sigma/alpha.
        """
        lam = jnp.asarray(lam, jnp.float32)
        lo = jnp.zeros_like(lam)
        hi = jnp.full_like(lam, self.T)

        def halve(_, bounds):
            lo, hi = bounds
            mid = 0.5 * (lo + hi)
            above = self.log_snr(mid) > lam      # λ still too large: the answer lies later
            return jnp.where(above, mid, lo), jnp.where(above, hi, mid)

        lo, hi = jax.lax.fori_loop(0, 40, halve, (lo, hi))
        return 0.5 * (lo + hi)

    def corrector_alpha(self, t: jax.Array) -> jax.Array:
        """The factor alpha_i in the Langevin corrector's step size 2 alpha_i (snr ||z|| / ||s||)²."""
        return jnp.ones_like(t)

    def discrete_coeffs(self, t: jax.Array) -> tuple[jax.Array, jax.Array]:
        """(alpha_i, sigma_i) ``[B]`` of the discrete chain's marginal at the step of time t.

        The discrete losses (DDPM L_simple, SMLD) perturb with these, and a model trained that
        way converts its output with the same sigma. Default: the continuous coefficients.
        """
        return self.marginal_coeffs(t)

    def discrete_std(self, t: jax.Array) -> jax.Array:
        return self.discrete_coeffs(t)[1]

    def discrete_time(self, i: jax.Array) -> jax.Array:
        """The continuous time whose ``timestep_index`` is the integer step ``i``."""
        return i.astype(jnp.float32) * self.T / max(self.N - 1, 1)

    def timestep_index(self, t: jax.Array) -> jax.Array:
        """Index of the discrete step for continuous time t: floor(t (N-1) / T), as in score_sde.

        A margin of 2.5e-4 steps absorbs float32 rounding, so t = i T / (N-1) maps to i exactly,
        while score_sde's sampling grid linspace(T, eps=1e-3, N) still visits N-1 … 0 once each.
        """
        return jnp.clip(jnp.floor(t * (self.N - 1) / self.T + 2.5e-4).astype(jnp.int32), 0, self.N - 1)

    def reverse(self, score_fn: ScoreFn, probability_flow: bool = False) -> "ReverseSDE":
        """The reverse-time SDE (or, with ``probability_flow``, the probability-flow ODE)."""
        return ReverseSDE(self, score_fn, probability_flow)


class ReverseSDE(SDE):
    """dx = [f - g² s] dt + g dw̄ (or the ODE dx = [f - ½ g² s] dt), run from T to 0.

    It has the SDE interface: ``sde`` and ``discretize`` give the reverse drift / step; the prior
    is the forward SDE's prior (where a reverse process starts).
    """

    def __init__(self, forward: SDE, score_fn: ScoreFn, probability_flow: bool = False):
        self.forward = forward
        self.score_fn = score_fn
        self.probability_flow = bool(probability_flow)
        self.T = forward.T
        super().__init__(forward.N)

    def sde(self, x, t):
        drift, diffusion = self.forward.sde(x, t)
        score = self.score_fn(x, t)
        w = 0.5 if self.probability_flow else 1.0
        drift = drift - bcast(diffusion**2, x) * score * w
        diffusion = jnp.zeros_like(diffusion) if self.probability_flow else diffusion
        return drift, diffusion

    def discretize(self, x, t):
        f, G = self.forward.discretize(x, t)
        w = 0.5 if self.probability_flow else 1.0
        rev_f = f - bcast(G**2, x) * self.score_fn(x, t) * w
        rev_G = jnp.zeros_like(G) if self.probability_flow else G
        return rev_f, rev_G

    def marginal_prob(self, x, t):
        raise NotImplementedError("a reverse SDE has no closed-form marginal; use the forward SDE's")

    def prior_sampling(self, rng, shape):
        return self.forward.prior_sampling(rng, shape)

    def prior_logp(self, z):
        return self.forward.prior_logp(z)

    def marginal_coeffs(self, t):
        return self.forward.marginal_coeffs(t)
