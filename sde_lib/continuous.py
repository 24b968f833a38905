"""VP, sub-VP and VE SDEs (Song et al., 2021), the cosine-schedule VP SDE, with their discrete views."""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import SDE, bcast, standard_normal_logp
from sde_lib.discrete import (BETA_SCHEDULES, COSINE_MAX_BETA, COSINE_S, DDPMChain, SMLDLadder,
                              cosine_alpha_bar)


def _check_finite_nonneg(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value < 0:
        raise ValueError(f"{name} must be a finite number >= 0; got {value}")
    return value


class _VPType(SDE):
    """What VP, sub-VP and cosine VP share: marginals N(alpha_t x0, sigma_t² I) read from a
    subclass's ``marginal_coeffs``, and the standard normal prior p_T = N(0, I)."""

    def marginal_prob(self, x, t):
        alpha, std = self.marginal_coeffs(t)
        return bcast(alpha, x) * x, std

    def prior_sampling(self, rng, shape):
        return jax.random.normal(rng, shape)

    def prior_logp(self, z):
        return standard_normal_logp(z)


class _LinearBetaSDE(_VPType):
    """What VP and sub-VP share: β(t) linear from beta_min to beta_max on [0, 1] and the mean
    coefficient exp(-½∫β)."""

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


class _VPFamily:
    """What every variance-preserving SDE shares, given ``_beta(t)``, ``_log_mean_coeff(t)``
    (= ½ log ᾱ(t)) and a ``chain`` (DDPMChain) of N steps: dx = -½ β(t) x dt + sqrt(β(t)) dw,
    marginals N(sqrt(ᾱ) x0, (1 - ᾱ) I), and the discrete chain as ``discretize`` (exact DDPM
    steps, not Euler steps), corrector factor and discrete marginal. Used beside ``_VPType``."""

    def sde(self, x, t):
        beta_t = self._beta(t)
        return -0.5 * bcast(beta_t, x) * x, jnp.sqrt(beta_t)

    def marginal_coeffs(self, t):
        lmc = self._log_mean_coeff(t)
        return jnp.exp(lmc), jnp.sqrt(-jnp.expm1(2.0 * lmc))

    def discretize(self, x, t):
        i = self.timestep_index(t)
        return bcast(jnp.sqrt(self.chain.alphas[i]), x) * x - x, jnp.sqrt(self.chain.betas[i])

    def corrector_alpha(self, t):
        return self.chain.alphas[self.timestep_index(t)]

    def discrete_coeffs(self, t):
        i = self.timestep_index(t)
        return self.chain.sqrt_alphas_cumprod[i], self.chain.sqrt_one_minus_alphas_cumprod[i]


class VPSDE(_VPFamily, _LinearBetaSDE):
    """Variance preserving: dx = -½ β(t) x dt + sqrt(β(t)) dw, β linear from beta_min to beta_max.

    Its ``discretize`` is the DDPM chain with β_i = linspace(beta_min/N, beta_max/N, N):
    x_{i+1} = sqrt(1 - β_i) x_i + sqrt(β_i) z (exactly, not an Euler step).
    """

    def __init__(self, beta_min: float = 0.1, beta_max: float = 20.0, N: int = 1000):
        super().__init__(beta_min, beta_max, N)
        if self.beta_1 / self.N >= 1:
            raise ValueError(f"beta_max / N = {self.beta_1 / self.N} must be < 1 for the discrete chain")
        self.chain = DDPMChain(self.beta_0 / self.N, self.beta_1 / self.N, self.N)


class CosineVPSDE(_VPFamily, _VPType):
    """The VP SDE of Nichol & Dhariwal's cosine schedule: ᾱ(t) = f(t) / f(0) on [0, 1] with
    f(t) = cos²((t + s) / (1 + s) · π/2), hence β(t) = -d log ᾱ / dt = π tan((t + s)/(1 + s) · π/2) / (1 + s).

    Its chain (``self.chain``) is the paper's: β_i = min(1 - ᾱ((i+1)/N) / ᾱ(i/N), max_beta). The
    clip binds only on the last step(s), where ᾱ(1) = 0 would make β infinite; there the SDE
    decays at the clipped step's constant rate, so the continuous ᾱ equals the chain's at every
    chain time: ``marginal_coeffs((i + 1) / N)² = chain.alphas_cumprod[i]`` for every i, including
    the clipped ones, and ᾱ(1) = chain ᾱ_{N-1} > 0 (≈ 2e-9 for N = 1000).

    Near t = 1 β(t) is in the thousands (about 7 N on the clipped tail), so plain Euler steps
    there need steps well below 1 / β: prefer the samplers that step on the chain or on the
    marginal coefficients (``reverse_diffusion``, ``ancestral_sampling``, DDIM, DPM-Solver++,
    Heun, the adaptive ODE) over ``euler_maruyama`` with few steps.
    """

    def __init__(self, N: int = 1000, s: float = COSINE_S, max_beta: float = COSINE_MAX_BETA):
        super().__init__(N)
        self.chain = DDPMChain.from_schedule("cosine", self.N, s=s, max_beta=max_beta)
        self.s, self.max_beta = float(s), float(max_beta)
        grid = np.arange(self.N + 1, dtype=np.float64) / self.N
        abar = cosine_alpha_bar(grid, self.s)
        # β of the cosine schedule increases with t, so the steps the clip binds on form a tail.
        with np.errstate(divide="ignore"):
            clipped = 1.0 - abar[1:] / abar[:-1] > self.max_beta
        first = int(np.argmax(clipped))            # the last step always clips (ᾱ(1) = 0)
        self._t_clip = first / self.N
        self._lmc_clip = 0.5 * math.log(abar[first])
        self._tail_rate = -self.N * math.log1p(-self.max_beta)    # β(t) on the clipped tail
        self._half_pi = 0.5 * math.pi / (1.0 + self.s)
        self._log_f0 = math.log(math.cos(self.s * self._half_pi))

    def _phi(self, t):
        # π/2 minus the cosine's angle: cos θ = sin φ with φ formed from 1 - t, which keeps its
        # digits in float32 near t = 1, where ᾱ is tiny.
        return (1.0 - jnp.minimum(t, self._t_clip)) * self._half_pi

    def _beta(self, t):
        return jnp.where(t <= self._t_clip, 2.0 * self._half_pi / jnp.tan(self._phi(t)), self._tail_rate)

    def _log_mean_coeff(self, t):
        cosine = jnp.log(jnp.sin(self._phi(t))) - self._log_f0
        tail = self._lmc_clip - 0.5 * self._tail_rate * (t - self._t_clip)
        return jnp.where(t <= self._t_clip, cosine, tail)

    def marginal_coeffs(self, t):
        lmc = self._log_mean_coeff(t)
        # 1 - ᾱ = (sin²φ_0 - sin²φ) / sin²φ_0 = sin(φ_0 - φ) sin(φ_0 + φ) / sin²φ_0: no cancellation
        # at small t (1 - exp(2 lmc) in float32 would be off by ~4% at t = 1e-5).
        gap = jnp.minimum(t, self._t_clip) * self._half_pi            # φ_0 - φ
        phi0 = self._half_pi
        var_cos = jnp.sin(gap) * jnp.sin(2.0 * phi0 - gap) / math.sin(phi0) ** 2
        var = jnp.where(t <= self._t_clip, var_cos, -jnp.expm1(2.0 * lmc))
        return jnp.exp(lmc), jnp.sqrt(var)

    def time_from_log_snr(self, lam):
        """Closed-form inverse of λ(t) = log ᾱ - log(1 - ᾱ) (no bisection)."""
        lmc = 0.5 * jax.nn.log_sigmoid(jnp.asarray(lam, jnp.float32))
        phi = jnp.arcsin(jnp.clip(jnp.exp(lmc + self._log_f0), 0.0, 1.0))
        t_cos = 1.0 - phi / self._half_pi
        t_tail = self._t_clip + 2.0 * (self._lmc_clip - lmc) / self._tail_rate
        return jnp.clip(jnp.where(lmc >= self._lmc_clip, t_cos, t_tail), 0.0, self.T)


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


def get_sde(name: str, schedule: str = "linear", **kwargs) -> SDE:
    """Build an SDE by config name (``training.sde``) and β schedule (``training.schedule``).

    ``schedule="cosine"`` exists for "vpsde" only and gives ``CosineVPSDE(N=...)``; the
    ``beta_min`` / ``beta_max`` a config always carries are not used by it (the cosine schedule
    has no β range) and are dropped. Unknown names list the valid ones.
    """
    key = name.lower()
    if key not in SDES:
        raise ValueError(f"unknown SDE {name!r}; valid names: {sorted(SDES)}")
    if schedule not in BETA_SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; valid names: {sorted(BETA_SCHEDULES)}")
    if schedule == "linear":
        return SDES[key](**kwargs)
    if key != "vpsde":
        raise ValueError(f"schedule {schedule!r} is defined for training.sde='vpsde' only; got {name!r}")
    kwargs.pop("beta_min", None)
    kwargs.pop("beta_max", None)
    return CosineVPSDE(**kwargs)
