"""VP, sub-VP and VE SDEs (Song et al., 2021), with their discrete views."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import SDE, bcast, standard_normal_logp
from sde_lib.discrete import DDPMChain, SMLDLadder


def _check_finite_nonneg(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value}")
    return value


class _LinearBetaSDE(SDE):
    """What VP and sub-VP share: β(t) linear from beta_min to beta_max on [0, 1], the mean
    coefficient exp(-½∫β) and the standard normal prior."""

    def __init__(self, beta_min: float, beta_max: float, N: int):
        super().__init__(N)
        self.beta_0 = _check_finite_nonneg("beta_min", beta_min)
        self.beta_1 = _check_finite_nonneg("beta_max", beta_max)
        if self.beta_1 < self.beta_0:
            raise ValueError(f"beta_min ({beta_min}) must not exceed beta_max ({beta_max})")
        if self.beta_1 == 0:
            raise ValueError("beta_max must be > 0, otherwise the SDE adds no noise")

    def _beta(self, t):
        return self.beta_0 + t * (self.beta_1 - self.beta_0)

    def _log_mean_coeff(self, t):
        return -0.25 * t**2 * (self.beta_1 - self.beta_0) - 0.5 * t * self.beta_0

    def prior_sampling(self, rng, shape):
        return jax.random.normal(rng, shape)

    def prior_logp(self, z):
        return standard_normal_logp(z)


class VPSDE(_LinearBetaSDE):
    """Variance preserving: dx = -½ β(t) x dt + sqrt(β(t)) dw, β linear from beta_min to beta_max.

    Its ``discretize`` is the DDPM chain with β_i = linspace(beta_min/N, beta_max/N, N):
    x_{i+1} = sqrt(1 - β_i) x_i + sqrt(β_i) z (exactly, not an Euler step).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000):
        super().__init__(beta_min, beta_max, N)
        if self.beta_1 / self.N >= 1:
            raise ValueError(f"beta_max / N = {self.beta_1 / self.N} must be < 1 for the discrete chain")
        self.chain = DDPMChain(self.beta_0 / self.N, self.beta_1 / self.N, self.N)

    def sde(self, x, t):
        beta_t = self._beta(t)
        return -0.5 * bcast(beta_t, x) * x, jnp.sqrt(beta_t)

    def marginal_prob(self, x, t):
        lmc = self._log_mean_coeff(t)
        return bcast(jnp.exp(lmc), x) * x, jnp.sqrt(-jnp.expm1(2.0 * lmc))

    def marginal_coeffs(self, t):
        lmc = self._log_mean_coeff(t)
        return jnp.exp(lmc), jnp.sqrt(-jnp.expm1(2.0 * lmc))

    def discretize(self, x, t):
        i = self.timestep_index(t)
        beta = self.chain.betas[i]
        alpha = self.chain.alphas[i]
        return bcast(jnp.sqrt(alpha), x) * x - x, jnp.sqrt(beta)

    def corrector_alpha(self, t):
        return self.chain.alphas[self.timestep_index(t)]

    def discrete_coeffs(self, t):
        i = self.timestep_index(t)
        return self.chain.sqrt_alphas_cumprod[i], self.chain.sqrt_one_minus_alphas_cumprod[i]


class subVPSDE(_LinearBetaSDE):
    """sub-VP: drift as VP, diffusion sqrt(β(t) (1 - exp(-2∫β))); variance (1 - e^{-∫β})²."""

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000):
        super().__init__(beta_min, beta_max, N)

    def sde(self, x, t):
        beta_t = self._beta(t)
        discount = -jnp.expm1(-2 * self.beta_0 * t - (self.beta_1 - self.beta_0) * t**2)
        return -0.5 * bcast(beta_t, x) * x, jnp.sqrt(beta_t * discount)

    def marginal_coeffs(self, t):
        lmc = self._log_mean_coeff(t)
        return jnp.exp(lmc), -jnp.expm1(2.0 * lmc)

    def marginal_prob(self, x, t):
        alpha, std = self.marginal_coeffs(t)
        return bcast(alpha, x) * x, std


class VESDE(SDE):
    """Variance exploding: dx = sqrt(d σ²(t)/dt) dw with σ(t) = σ_min (σ_max/σ_min)^t.

    As in score_sde, ``marginal_prob`` returns std σ(t): it describes x(t) given an x(0) that
    already carries σ_min noise. ``discretize`` is the SMLD ladder step
    x_i = x_{i-1} + sqrt(σ_i² - σ_{i-1}²) z (σ_{-1} = 0).
    """

    def __init__(self, sigma_min: float = 0.01, sigma_max: float = 50.0, N: int = 1000):
        super().__init__(N)
        self.sigma_min = float(sigma_min)
        self.sigma_max = float(sigma_max)
        if not (math.isfinite(self.sigma_min) and self.sigma_min > 0):
            raise ValueError(f"sigma_min must be a finite number > 0; got {sigma_min}")
        if not (math.isfinite(self.sigma_max) and self.sigma_max > self.sigma_min):
            raise ValueError(f"sigma_max ({sigma_max}) must be finite and greater than sigma_min ({sigma_min})")
        self.ladder = SMLDLadder(self.sigma_min, self.sigma_max, self.N)

    def _sigma(self, t):
        return self.sigma_min * (self.sigma_max / self.sigma_min) ** t

    def sde(self, x, t):
        sigma = self._sigma(t)
        diffusion = sigma * np.sqrt(2 * (np.log(self.sigma_max) - np.log(self.sigma_min)))
        return jnp.zeros_like(x), diffusion

    def marginal_prob(self, x, t):
        return x, self._sigma(t)

    def marginal_coeffs(self, t):
        return jnp.ones_like(t), self._sigma(t)

    def prior_sampling(self, rng, shape):
        return jax.random.normal(rng, shape) * self.sigma_max

    def prior_logp(self, z):
        return standard_normal_logp(z, self.sigma_max)

    def discretize(self, x, t):
        i = self.timestep_index(t)
        sigma = self.ladder.sigmas[i]
        adjacent = jnp.where(i == 0, 0.0, self.ladder.sigmas[jnp.maximum(i - 1, 0)])
        return jnp.zeros_like(x), jnp.sqrt(sigma**2 - adjacent**2)

    def discrete_coeffs(self, t):
        return jnp.ones_like(t), self.ladder.sigmas[self.timestep_index(t)]


# The one registry of SDE names used by configs.
SDES = {"vpsde": VPSDE, "subvpsde": subVPSDE, "vesde": VESDE}


def get_sde(name: str, **kwargs) -> SDE:
    """Build an SDE by config name; unknown names list the valid ones."""
    key = name.lower()
    if key not in SDES:
        raise ValueError(f"unknown SDE {name!r}; valid names: {sorted(SDES)}")
    return SDES[key](**kwargs)
