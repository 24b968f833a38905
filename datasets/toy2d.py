"""2-D toy distributions, generated on the fly (no files).

Each sampler is a pure function ``sample(rng: jax.Array, n: int) -> [n, 2] float32``, jittable
with ``n`` static (``jax.jit(sample, static_argnums=1)``), and registered in ``TOY2D``.

Scales (per-coordinate standard deviation, measured on 10^6 samples; means ≈ 0 except the
swiss roll, whose mean is ≈ (0.29, 0.03) because the spiral is kept centred on its own axis):

- ``gmm_ring``, std (2.84, 2.84): ``GMM_RING``, 8 equal modes on a circle of radius 4 with
  isotropic std 0.3, exactly ``sde_lib.GaussianMixture.ring(k=8, radius=4.0, std=0.3)``, so
  ``GMM_RING.score_fn(sde)`` is the true perturbed score of these samples. Kept at radius 4
  (the classic setting), not rescaled to unit variance.
- ``checkerboard``, std (1.15, 1.15): uniform on the 8 dark squares of a 4 x 4 board covering
  [-2, 2]^2.
- ``swiss_roll``, std (0.95, 0.99): the spiral (t cos t, t sin t) / 7, t ~ U(1.5π, 4.5π), plus
  N(0, 0.05²) noise.
- ``moons``, std (1.30, 0.75): two interleaved unit half circles, centred, scaled by 1.5, plus
  N(0, 0.075²) noise.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from datasets.base import TOY_NAMES
from sde_lib.analytic import GaussianMixture

Sampler = Callable[[jax.Array, int], jax.Array]

# The single source of truth for the ring mixture: its samples and its analytic score.
GMM_RING = GaussianMixture.ring(k=8, radius=4.0, std=0.3)


def gmm_ring(rng: jax.Array, n: int) -> jax.Array:
    """``[n, 2]`` draws from ``GMM_RING`` (8 modes, radius 4, std 0.3)."""
    return GMM_RING.sample(rng, n).astype(jnp.float32)


def checkerboard(rng: jax.Array, n: int) -> jax.Array:
    """``[n, 2]`` uniform on the dark squares (row + column even) of a 4 x 4 board on [-2, 2]^2."""
    k_row, k_col, k_off = jax.random.split(rng, 3)
    row = jax.random.randint(k_row, (n,), 0, 4)
    # Columns 0/2 on even rows, 1/3 on odd rows: every chosen square has even row + column.
    col = 2 * jax.random.randint(k_col, (n,), 0, 2) + row % 2
    offset = jax.random.uniform(k_off, (n, 2))
    xy = jnp.stack([col, row], axis=1).astype(jnp.float32) + offset
    return xy - 2.0


def swiss_roll(rng: jax.Array, n: int) -> jax.Array:
    """``[n, 2]`` on the spiral r = t, t ~ U(1.5π, 4.5π), divided by 7, plus N(0, 0.05²)."""
    k_t, k_noise = jax.random.split(rng)
    t = 1.5 * jnp.pi * (1.0 + 2.0 * jax.random.uniform(k_t, (n,)))
    xy = jnp.stack([t * jnp.cos(t), t * jnp.sin(t)], axis=1) / 7.0
    return (xy + 0.05 * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


def moons(rng: jax.Array, n: int) -> jax.Array:
    """``[n, 2]``: two interleaved unit half circles (each with probability 1/2), centred on the
    origin, scaled by 1.5, plus N(0, 0.075²) noise."""
    k_side, k_angle, k_noise = jax.random.split(rng, 3)
    lower = jax.random.bernoulli(k_side, 0.5, (n,))
    angle = jnp.pi * jax.random.uniform(k_angle, (n,))
    upper_xy = jnp.stack([jnp.cos(angle), jnp.sin(angle)], axis=1)
    lower_xy = jnp.stack([1.0 - jnp.cos(angle), 0.5 - jnp.sin(angle)], axis=1)
    xy = jnp.where(lower[:, None], lower_xy, upper_xy) - jnp.array([0.5, 0.25])
    return (1.5 * xy + 0.075 * jax.random.normal(k_noise, (n, 2))).astype(jnp.float32)


# The names live once, in datasets.base.TOY_NAMES (importable without jax); each is a function here.
TOY2D: dict[str, Sampler] = {name: globals()[name] for name in TOY_NAMES}


def get_sampler(name: str) -> Sampler:
    """The sampler registered under ``name``; an unknown name raises ValueError listing the
    valid ones."""
    try:
        return TOY2D[name]
    except KeyError:
        raise ValueError(f"unknown 2-D toy {name!r}; valid names: {sorted(TOY2D)}") from None
