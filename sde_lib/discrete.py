"""The discrete chains the SDEs are limits of: DDPM (linear or cosine β) and the SMLD σ ladder.

Indices are 0-based: step i = 0 … N-1 corresponds to DDPM's t = 1 … T. β schedules are plain
NumPy functions of the step count (float64, so ᾱ near the end of the chain keeps its digits);
``BETA_SCHEDULES`` is the one registry of their names.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import bcast, check_int

COSINE_S = 0.008        # Nichol & Dhariwal's offset: keeps β_1 from being vanishingly small
COSINE_MAX_BETA = 0.999  # their clip: the last step would otherwise have β = 1 (ᾱ_T = 0)


def linear_betas(num_steps: int, beta_start: float = 1e-4, beta_end: float = 0.02) -> np.ndarray:
    """Ho et al. (2020): β linear from beta_start to beta_end, ``[num_steps]`` float64."""
    if not 0 < beta_start <= beta_end < 1:
        raise ValueError(f"need 0 < beta_start <= beta_end < 1; got beta_start={beta_start}, beta_end={beta_end}")
    return np.linspace(beta_start, beta_end, check_int("num_steps", num_steps), dtype=np.float64)


def cosine_alpha_bar(t, s: float = COSINE_S) -> np.ndarray:
    """ᾱ(t) = f(t) / f(0), f(t) = cos²((t + s) / (1 + s) · π/2), t = step / T in [0, 1]."""
    f = lambda u: np.cos((np.asarray(u, np.float64) + s) / (1 + s) * np.pi / 2) ** 2
    return f(t) / f(0.0)


def cosine_betas(num_steps: int, s: float = COSINE_S, max_beta: float = COSINE_MAX_BETA) -> np.ndarray:
    """Nichol & Dhariwal (2021): β_t = min(1 - ᾱ(t/T) / ᾱ((t-1)/T), max_beta), ``[num_steps]``."""
    n = check_int("num_steps", num_steps)
    if not (math.isfinite(s) and s > 0):
        raise ValueError(f"cosine schedule offset s must be a finite number > 0; got {s}")
    if not 0 < max_beta < 1:
        raise ValueError(f"max_beta must lie in (0, 1); got {max_beta}")
    grid = np.arange(n + 1, dtype=np.float64) / n
    abar = cosine_alpha_bar(grid, s)
    return np.minimum(1.0 - abar[1:] / abar[:-1], max_beta)


# name -> fn(num_steps, **params) -> betas [num_steps]; the one registry of β schedule names.
BETA_SCHEDULES = {"linear": linear_betas, "cosine": cosine_betas}


def get_betas(schedule: str, num_steps: int, **params) -> np.ndarray:
    """β of the named schedule; an unknown name lists the valid ones."""
    if schedule not in BETA_SCHEDULES:
        raise ValueError(f"unknown β schedule {schedule!r}; valid names: {sorted(BETA_SCHEDULES)}")
    return BETA_SCHEDULES[schedule](num_steps, **params)


class DDPMChain:
    """q(x_i | x_{i-1}) = N(sqrt(α_i) x_{i-1}, β_i I) and what the DDPM view derives from it.

        DDPMChain(1e-4, 0.02, 1000)              # linear β (Ho et al.)
        DDPMChain.from_schedule("cosine", 1000)  # Nichol & Dhariwal, s = 0.008, β <= 0.999
        DDPMChain.from_betas(betas)              # any β in (0, 1)
    """

    def __init__(self, beta_start: float = 1e-4, beta_end: float = 0.02, num_steps: int = 1000):
        self._set_betas(linear_betas(num_steps, beta_start, beta_end))

    @classmethod
    def from_betas(cls, betas) -> "DDPMChain":
        chain = cls.__new__(cls)
        chain._set_betas(np.asarray(betas, np.float64))
        return chain

    @classmethod
    def from_schedule(cls, schedule: str, num_steps: int, **params) -> "DDPMChain":
        return cls.from_betas(get_betas(schedule, num_steps, **params))

    def _set_betas(self, betas: np.ndarray) -> None:
        if betas.ndim != 1 or betas.size < 1 or not np.all((betas > 0) & (betas < 1)):
            raise ValueError(f"betas must be a non-empty vector with entries in (0, 1); got {betas}")
        self.num_steps = betas.size
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        post_var = (1 - abar_prev) / (1 - abar) * betas
        f32 = lambda v: jnp.asarray(v, jnp.float32)
        self.betas = f32(betas)
        self.alphas = f32(alphas)
        self.alphas_cumprod = f32(abar)
        self.sqrt_alphas_cumprod = f32(np.sqrt(abar))
        self.sqrt_one_minus_alphas_cumprod = f32(np.sqrt(1 - abar))
        self.posterior_variance = f32(post_var)
        # β̃_0 = 0 (x_0 is known given x_0); the VLB's decoder needs a finite log-variance there,
        # so index 0 borrows β̃_1, as Improved DDPM does.
        self.posterior_log_variance_clipped = f32(np.log(np.concatenate([post_var[1:2], post_var[1:]]))
                                                  if betas.size > 1 else np.log(betas))
        self.log_betas = f32(np.log(betas))
        self._coef_x0 = f32(betas * np.sqrt(abar_prev) / (1 - abar))
        self._coef_xt = f32((1 - abar_prev) * np.sqrt(alphas) / (1 - abar))

    def q_sample(self, x0: jax.Array, i: jax.Array, noise: jax.Array) -> jax.Array:
        """x_i ~ q(x_i | x_0) = N(sqrt(ᾱ_i) x_0, (1 - ᾱ_i) I)."""
        return bcast(self.sqrt_alphas_cumprod[i], x0) * x0 + bcast(self.sqrt_one_minus_alphas_cumprod[i], x0) * noise

    def q_posterior(self, x0: jax.Array, xt: jax.Array, i: jax.Array) -> tuple[jax.Array, jax.Array]:
        """Mean μ̃_i ``[B, ...]`` and variance β̃_i ``[B]`` of q(x_{i-1} | x_i, x_0)."""
        mean = bcast(self._coef_x0[i], x0) * x0 + bcast(self._coef_xt[i], xt) * xt
        return mean, self.posterior_variance[i]


class SMLDLadder:
    """Noise levels σ_0 < … < σ_{N-1}, geometric from sigma_min to sigma_max (NCSN)."""

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, num_scales: int = 1000):
        if not 0 < sigma_min < sigma_max:
            raise ValueError(f"need 0 < sigma_min < sigma_max; got {sigma_min}, {sigma_max}")
        self.num_scales = int(num_scales)
        self.sigmas = jnp.asarray(np.exp(np.linspace(np.log(sigma_min), np.log(sigma_max), self.num_scales)), jnp.float32)
