"""Closed-form densities and perturbed scores, the ground truth that tests and benchmarks use.

A Gaussian mixture p_0 = Σ_k w_k N(μ_k, Σ_k) pushed through any SDE whose marginal is
N(alpha_t x0, sigma_t² I) stays a mixture: p_t = Σ_k w_k N(alpha_t μ_k, alpha_t² Σ_k + sigma_t² I).
Covariances are eigendecomposed once, so each score evaluation is O(K D²) for any t.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from sde_lib.base import SDE


class GaussianMixture:
    """weights ``[K]``, means ``[K, D]``, covs ``[K, D, D]`` (symmetric positive definite)."""

    def __init__(self, weights, means, covs):
        w = np.asarray(weights, np.float64)
        means = np.asarray(means, np.float64)
        covs = np.asarray(covs, np.float64)
        if means.ndim != 2 or covs.shape != means.shape + means.shape[-1:] or w.shape != means.shape[:1]:
            raise ValueError(f"need weights [K], means [K, D], covs [K, D, D]; got {w.shape}, {means.shape}, {covs.shape}")
        if np.any(w < 0) or not np.isclose(w.sum(), 1.0):
            raise ValueError(f"weights must be >= 0 and sum to 1; got {w}")
        self.K, self.D = means.shape
        self.weights = jnp.asarray(w, jnp.float32)
        self.means = jnp.asarray(means, jnp.float32)
        self.covs = jnp.asarray(covs, jnp.float32)
        lam, U = np.linalg.eigh(covs)
        if np.any(lam <= 0):
            raise ValueError("every covariance must be positive definite")
        # C_k = U_k diag(lam_k) U_kᵀ, kept component-major for _components: row (k, j) of W is the
        # eigenvector u_kj, so W x stacks every U_kᵀ x in one matrix product; mproj[(k, j)] = u_kjᵀ μ_k.
        self._W = jnp.asarray(np.transpose(U, (0, 2, 1)).reshape(self.K * self.D, self.D), jnp.float32)
        self._mproj = jnp.asarray(np.einsum("kdj,kd->kj", U, means).reshape(-1), jnp.float32)
        self._lam_flat = jnp.asarray(lam.reshape(-1), jnp.float32)
        self._chol = jnp.asarray(np.linalg.cholesky(covs), jnp.float32)
        # Upper edges of the components' slices of [0, 1) for inverse-CDF draws (the last edge
        # is 1 by construction, so every uniform in [0, 1) lands in some component).
        self._cdf_inner = jnp.asarray(np.cumsum(w / w.sum())[:-1], jnp.float32)

    @classmethod
    def ring(cls, k: int = 8, radius: float = 4.0, std: float = 0.3) -> "GaussianMixture":
        """k equal-weight isotropic modes evenly spaced on a circle (the classic 2-D toy)."""
        ang = 2 * np.pi * np.arange(k) / k
        means = radius * np.stack([np.cos(ang), np.sin(ang)], 1)
        return cls(np.full(k, 1.0 / k), means, np.tile(np.eye(2) * std**2, (k, 1, 1)))

    @classmethod
    def gaussian(cls, mean, cov) -> "GaussianMixture":
        mean = np.asarray(mean, np.float64)
        return cls(np.ones(1), mean[None], np.asarray(cov, np.float64)[None])

    def sample(self, rng: jax.Array, n: int) -> jax.Array:
        """``[n, D]`` samples."""
        kc, kz = jax.random.split(rng)
        # The component by inverse CDF, one uniform per sample: k = #{inner edges <= u}. A
        # zero-weight component has an empty slice and is never drawn. jax.random.categorical
        # draws K Gumbel variates per sample instead, and threefry on CPU costs ~60 ns a word:
        # with the 8-mode ring that was 1.5-6 % of the toy training step (2026-12-06).
        u = jax.random.uniform(kc, (n,))
        comp = jnp.sum(u[:, None] >= self._cdf_inner[None, :], axis=1)
        z = jax.random.normal(kz, (n, self.D))
        return self.means[comp] + jnp.einsum("nij,nj->ni", self._chol[comp], z)

    def _components(self, x, alpha, sigma):
        """Per-component terms for x ``[B, D]`` under the perturbed mixture, with C_k(t) = α² C_k +
        σ² I: log w_k N(x; α μ_k, C_k(t)) ``[K, B]``, and C_k(t)⁻¹ (x - α μ_k) in C_k's eigenbasis,
        (α² λ_kj + σ²)⁻¹ u_kjᵀ (x - α μ_k), ``[K·D, B]``.

        Laid out component-major, so the sums over the D eigen-directions and the K modes run
        over leading axes, element by element across the batch. The batch-major layout reduced
        over minor axes of size D and K, which XLA:CPU runs slowly: the 8-mode 2-D ring's score
        for 6000 points took 1.49 ms that way and 0.48 ms this way (2026-12-05, 2-core EPYC).
        """
        K, D = self.K, self.D
        # ground truth: HIGHEST, so no reduced-precision matmuls on GPU / TPU
        proj = jnp.matmul(self._W, x.T, precision=jax.lax.Precision.HIGHEST)      # U_kᵀ x, [K·D, B]
        proj = proj - alpha[None] * self._mproj[:, None]                          # U_kᵀ (x - α μ_k)
        var = alpha[None] ** 2 * self._lam_flat[:, None] + (sigma ** 2)[None]   # [K·D, B]
        q = proj / var
        maha = jnp.sum((proj * q).reshape(K, D, -1), axis=1)
        logdet = jnp.sum(jnp.log(var).reshape(K, D, -1), axis=1)
        logc = jnp.log(self.weights)[:, None] - 0.5 * (maha + logdet + D * jnp.log(2 * jnp.pi))
        return logc, q

    def perturbed_log_prob(self, x: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
        """log p_t(x) for x ``[B, ...]`` (flattened to D), alpha/sigma ``[B]``."""
        xf = x.reshape(x.shape[0], -1)
        logc, _ = self._components(xf, alpha, sigma)
        return jax.scipy.special.logsumexp(logc, axis=0)

    def perturbed_score(self, x: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
        """∇_x log p_t(x) = -Σ_k r_k C_k(t)⁻¹ (x - α μ_k), shaped like x (r: the responsibilities)."""
        xf = x.reshape(x.shape[0], -1)
        logc, q = self._components(xf, alpha, sigma)
        r = jax.nn.softmax(logc, axis=0)                                          # [K, B]
        rq = (r[:, None, :] * q.reshape(self.K, self.D, -1)).reshape(self.K * self.D, -1)
        score = -jnp.matmul(self._W.T, rq, precision=jax.lax.Precision.HIGHEST)   # [D, B]
        return score.T.reshape(x.shape)

    def log_prob(self, x: jax.Array) -> jax.Array:
        n = x.shape[0]
        return self.perturbed_log_prob(x, jnp.ones(n), jnp.zeros(n))

    def score_fn(self, sde: SDE, discrete: bool = False):
        """The exact score of p_t under ``sde``: a ``score_fn(x, t)`` for any sampler.

        ``discrete``: the score of the SDE's discrete chain instead (marginal ``discrete_coeffs``
        at the step of t), the optimum of the DDPM loss and what the chain's VLB is exact for.
        """
        coeffs = sde.discrete_coeffs if discrete else sde.marginal_coeffs

        def score(x, t):
            alpha, sigma = coeffs(t)
            return self.perturbed_score(x, alpha, sigma)
        return score

    def log_prob_fn(self, sde: SDE):
        def logp(x, t):
            alpha, sigma = sde.marginal_coeffs(t)
            return self.perturbed_log_prob(x, alpha, sigma)
        return logp

    def posterior_gaussian(self, A, noise_std: float, y):
        """For a single Gaussian prior and y = A x + n, n ~ N(0, noise_std² I): the exact posterior.

        A ``[M, D]`` (real). Returns (mean ``[D]``, cov ``[D, D]``). With noise_std = 0 the
        posterior is the conditional Gaussian on {A x = y} (pseudo-inverse form).
        """
        if self.K != 1:
            raise ValueError("posterior_gaussian needs a single-component mixture")
        A = np.asarray(A, np.float64)
        mu = np.asarray(self.means[0], np.float64)
        S = np.asarray(self.covs[0], np.float64)
        G = A @ S @ A.T + noise_std**2 * np.eye(A.shape[0])
        Kg = S @ A.T @ np.linalg.pinv(G)
        mean = mu + Kg @ (np.asarray(y, np.float64) - A @ mu)
        cov = S - Kg @ A @ S
        return mean, cov
