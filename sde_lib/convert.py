"""Conversions between score, noise (ε) and data (x0) predictions.

For x_t = alpha x0 + sigma ε:  score = -ε / sigma,  x0 = (x_t + sigma² score) / alpha (Tweedie).
``alpha`` and ``sigma`` are per-sample ``[B]``.
"""
from __future__ import annotations

import jax

from sde_lib.base import bcast


def score_from_eps(eps: jax.Array, sigma: jax.Array) -> jax.Array:
    return -eps / bcast(sigma, eps)


def eps_from_score(score: jax.Array, sigma: jax.Array) -> jax.Array:
    return -bcast(sigma, score) * score


def x0_from_score(x: jax.Array, score: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
    return (x + bcast(sigma**2, x) * score) / bcast(alpha, x)


def x0_from_eps(x: jax.Array, eps: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
    return (x - bcast(sigma, x) * eps) / bcast(alpha, x)


def eps_from_x0(x: jax.Array, x0: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
    return (x - bcast(alpha, x) * x0) / bcast(sigma, x)


def score_from_x0(x: jax.Array, x0: jax.Array, alpha: jax.Array, sigma: jax.Array) -> jax.Array:
    return -(x - bcast(alpha, x) * x0) / bcast(sigma**2, x)
