"""Conjugate gradients with a fixed iteration count (jittable, one ``lax.fori_loop``)."""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from linops.arrays import bcast, inner


def conjugate_gradient(normal_fn: Callable[[jax.Array], jax.Array], rhs: jax.Array,
                       x0: jax.Array | None = None, n_iter: int = 20, damping=0.0,
                       batched: bool = False, scale=None) -> jax.Array:
    """Solve ``(N + damping I) x = rhs`` by ``n_iter`` conjugate-gradient steps.

    normal_fn: a Hermitian positive semi-definite linear map, e.g. ``op.normal``.
    rhs, x0: arrays of one shape, real or complex (``x0=None`` starts from zero). From zero, CG
        stays in the range of a singular ``N``, so with ``damping = 0`` it converges to the
        minimum-norm least-squares solution.
    damping: a Tikhonov term, a scalar or (batched) ``[B]``; may be traced.
    batched: the leading axis holds independent systems (``normal_fn`` must not mix them), each
        with its own step sizes, so each converges as fast as a solve of its own.
    scale: optional ``[B]`` (or scalar) size of the problem behind ``rhs``, e.g. ``|r|²`` when
        ``rhs = A^H r``: a least-squares residual orthogonal to the range of A gives a
        right-hand side made of rounding alone, which must not count as a system to solve.

    Inner products are ``Re Σ conj(a) b`` (:func:`linops.inner`), valid for complex Hermitian
    systems. A system whose squared residual has fallen below 1e-12 of its start (or of
    ``scale``), or whose search direction has no curvature, is frozen: extra iterations then do
    not stir float rounding into huge steps, and an exact ``x0`` stays put.
    """
    rhs = jnp.asarray(rhs)
    start = jnp.zeros_like(rhs) if x0 is None else jnp.asarray(x0)
    if start.shape != rhs.shape:
        raise ValueError(f"x0 {start.shape} and rhs {rhs.shape} must have the same shape")
    dtype = jnp.result_type(rhs.dtype, start.dtype, jax.eval_shape(normal_fn, start).dtype)
    rhs, start = rhs.astype(dtype), start.astype(dtype)
    damp = bcast(damping, rhs) if batched else jnp.asarray(damping)

    def apply(v):
        return (normal_fn(v) + damp * v).astype(dtype)

    # From zero the residual is rhs itself: skip one application of N.
    r = rhs if x0 is None else rhs - apply(start)
    rs0 = inner(r, r, batched)
    size = rs0 if scale is None else jnp.maximum(rs0, bcast(scale, rs0) if batched else scale)
    floor = 1e-12 * size

    def body(_, state):
        x, r, p, rs = state
        ap = apply(p)
        pap = inner(p, ap, batched)
        live = (rs > floor) & (pap > 0)
        alpha = jnp.where(live, rs / jnp.where(live, pap, 1.0), 0.0)
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = inner(r, r, batched)
        beta = jnp.where(live, rs_new / jnp.where(live, rs, 1.0), 0.0)
        return x, r, r + beta * p, jnp.where(live, rs_new, rs)

    x, *_ = jax.lax.fori_loop(0, int(n_iter), body, (start, r, r, rs0))
    return x
