"""What the posterior methods share: scalar marginal coefficients and the noise-balancing weight."""
from __future__ import annotations

import jax
import jax.numpy as jnp

from sde_lib import SDE


def coeffs(sde: SDE, t: jax.Array) -> tuple[jax.Array, jax.Array]:
    """(alpha, sigma) as scalars for one scalar time."""
    a, s = sde.marginal_coeffs(jnp.reshape(t, (1,)).astype(jnp.float32))
    return a[0], s[0]


def soft_weight(alpha, sigma, noise_std):
    """gamma = (alpha s / sigma)²: the Tikhonov weight that balances x_t (noise sigma) against
    alpha y (noise alpha s); 0 in the noiseless case (a hard projection)."""
    if not isinstance(noise_std, jax.core.Tracer) and float(noise_std) == 0.0:
        return jnp.zeros(())
    return (alpha * noise_std) ** 2 / jnp.maximum(sigma**2, 1e-20)
