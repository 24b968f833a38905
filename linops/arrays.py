"""Per-sample helpers for batched arrays ``x: [B, ...]``: the one broadcast and the one inner product."""
from __future__ import annotations

import jax
import jax.numpy as jnp


def bcast(v, x: jax.Array) -> jax.Array:
    """Reshape ``v`` (a scalar, ``[B]``, or any leading-axes array such as ``[K, B]``) so it
    broadcasts against ``x`` whose leading axes it shares: trailing unit axes are appended."""
    v = jnp.asarray(v)
    return v.reshape(v.shape + (1,) * (x.ndim - v.ndim))


def inner(a: jax.Array, b: jax.Array, batched: bool = True) -> jax.Array:
    """Real inner product ``Re Σ conj(a) b``: per sample over all but the leading axis, kept
    broadcastable (``[B, 1, ..., 1]``), or (``batched=False``) over everything (a scalar).

    The real part makes complex vectors behave as real ones of twice the length, which is the
    inner product every real-linear map here (and its adjoint) is defined with."""
    prod = jnp.real(jnp.conj(a) * b)
    if not batched:
        return jnp.sum(prod)
    return jnp.sum(prod, axis=tuple(range(1, prod.ndim)), keepdims=True)
