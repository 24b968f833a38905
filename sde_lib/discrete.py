"""The discrete chains the SDEs are limits of: DDPM (linear β) and the SMLD σ ladder.

Indices are 0-based: step i = 0 … N-1 corresponds to DDPM's t = 1 … T.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import bcast


class DDPMChain:
    """q(x_{i} | x_{i-1}) = N(sqrt(α_i) x_{i-1}, β_i I), β linear from beta_start to beta_end."""

    def __init__(self, beta_start: float = 1e-4, beta_end: float = 0.02, num_steps: int = 1000):
        if not 0 < beta_start <= beta_end < 1:
            raise ValueError(f"need 0 < beta_start <= beta_end < 1; got beta_start={beta_start}, beta_end={beta_end}")
        if int(num_steps) < 1:
            raise ValueError(f"num_steps must be >= 1; got {num_steps}")
        self.num_steps = int(num_steps)
        # Products are formed in float64 so ᾱ near the end of the chain keeps its digits.
        betas = np.linspace(beta_start, beta_end, self.num_steps, dtype=np.float64)
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.concatenate([[1.0], abar[:-1]])
        self.betas = jnp.asarray(betas, jnp.float32)
        self.alphas = jnp.asarray(alphas, jnp.float32)
        self.alphas_cumprod = jnp.asarray(abar, jnp.float32)
        self.alphas_cumprod_prev = jnp.asarray(abar_prev, jnp.float32)
        self.sqrt_alphas_cumprod = jnp.asarray(np.sqrt(abar), jnp.float32)
        self.sqrt_one_minus_alphas_cumprod = jnp.asarray(np.sqrt(1 - abar), jnp.float32)
        self.posterior_variance = jnp.asarray((1 - abar_prev) / (1 - abar) * betas, jnp.float32)
        self._coef_x0 = jnp.asarray(betas * np.sqrt(abar_prev) / (1 - abar), jnp.float32)
        self._coef_xt = jnp.asarray((1 - abar_prev) * np.sqrt(alphas) / (1 - abar), jnp.float32)

    def step(self, x: jax.Array, i: jax.Array, noise: jax.Array) -> jax.Array:
        """One forward step x_{i-1} -> x_i."""
        return bcast(jnp.sqrt(self.alphas[i]), x) * x + bcast(jnp.sqrt(self.betas[i]), x) * noise

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

    def perturb(self, x0: jax.Array, i: jax.Array, noise: jax.Array) -> jax.Array:
        """x0 + σ_i z."""
        return x0 + bcast(self.sigmas[i], x0) * noise
