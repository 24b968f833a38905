"""Classical reconstructions: zero-filled and compressed sensing (TV and translation-invariant
wavelet L1, one Chambolle–Pock primal-dual solver).

Every method minimises ``½ ||A x - y||² + lam R(x)`` for a complex image ``x: [B, H, W]`` with an
analysis regulariser ``R(x) = Σ w |D x|`` (:class:`Sparsifier`): TV (``D = ∇``, isotropic), or the
wavelet L1 averaged over all cyclic shifts of the image (cycle spinning, made an exact convex
objective through the undecimated transform, :func:`mri.wavelets.swt2`). The solver uses only
``op.forward`` / ``op.adjoint``, so it works for every operator in :mod:`mri.operators` (and any
user operator with that interface). Loops are ``lax.fori_loop`` with a fixed count, so
``jax.jit(lambda y: cs_reconstruct(op, y, ...))`` compiles to one program, and the objective of
every iterate is computed inside the loop (``return_objective=True``).
"""
from __future__ import annotations

import functools
from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp

from mri.wavelets import haar_levels, swt2, swt2_adjoint, swt_weights


def zero_filled(op, y) -> jax.Array:
    """Magnitude of the adjoint reconstruction ``|A^H y|``: [B, H, W] real."""
    return jnp.abs(op.adjoint(y))


# --- proximal and TV building blocks -----------------------------------------------------------------

@jax.jit
def soft_threshold(z: jax.Array, thresh) -> jax.Array:
    """Complex-safe soft thresholding: shrink ``|z|`` by ``thresh``, keep the phase."""
    mag = jnp.abs(z)
    return z * (jnp.maximum(mag - thresh, 0.0) / jnp.maximum(mag, jnp.finfo(mag.dtype).tiny))


@jax.jit
def finite_diff(x: jax.Array) -> jax.Array:
    """Forward differences with a zero last difference (Neumann boundary): ``[..., H, W]`` -> ``[2, ..., H, W]``."""
    x = jnp.asarray(x)
    zr = jnp.zeros_like(x[..., :1, :])
    zc = jnp.zeros_like(x[..., :, :1])
    dy = jnp.concatenate([x[..., 1:, :] - x[..., :-1, :], zr], axis=-2)
    dx = jnp.concatenate([x[..., :, 1:] - x[..., :, :-1], zc], axis=-1)
    return jnp.stack([dy, dx])


@jax.jit
def finite_diff_adjoint(g: jax.Array) -> jax.Array:
    """Adjoint of :func:`finite_diff` (minus the divergence): ``[2, ..., H, W]`` -> ``[..., H, W]``."""
    g = jnp.asarray(g)
    dy, dx = g[0], g[1]
    dy = dy.at[..., -1, :].set(0)
    dx = dx.at[..., :, -1].set(0)
    ty = jnp.concatenate([jnp.zeros_like(dy[..., :1, :]), dy[..., :-1, :]], axis=-2) - dy
    tx = jnp.concatenate([jnp.zeros_like(dx[..., :, :1]), dx[..., :, :-1]], axis=-1) - dx
    return ty + tx


# --- solvers -----------------------------------------------------------------------------------------

def operator_norm_sq(op, like: jax.Array, n_iter: int = 20) -> jax.Array:
    """Estimate ``||A||² = λ_max(A^H A)`` by power iteration from a fixed random start shaped like ``like``."""
    key_r, key_i = jax.random.split(jax.random.PRNGKey(0))
    v = jax.random.normal(key_r, like.shape, jnp.float32)
    if jnp.iscomplexobj(like):
        v = v + 1j * jax.random.normal(key_i, like.shape, jnp.float32)
    v = v.astype(like.dtype)
    tiny = jnp.finfo(jnp.float32).tiny

    def body(_, v):
        v = v / jnp.maximum(jnp.linalg.norm(v.ravel()), tiny)
        return op.normal(v).astype(v.dtype)

    v = jax.lax.fori_loop(0, int(n_iter), body, v)
    v = v / jnp.maximum(jnp.linalg.norm(v.ravel()), tiny)
    return jnp.real(jnp.vdot(v, op.normal(v)))


def _data_term(residual: jax.Array, lead: int) -> jax.Array:
    """``½ ||A x - y||²`` per problem: summed over every axis after the ``lead`` batch axes."""
    return 0.5 * jnp.sum(jnp.abs(residual) ** 2, axis=tuple(range(lead, residual.ndim)))


class Sparsifier(NamedTuple):
    """The analysis operator ``D`` of a regulariser ``R(x) = Σ_i w_i |(D x)_i|``: ``x [..., H, W]``
    -> ``[G, ..., H, W]``. ``grouped``: |.| is the Euclidean norm over the G axis (isotropic TV)
    rather than per entry; ``norm_sq`` bounds ``||D||²``; ``weights``: ``[G]`` (or ``[1]``)."""
    apply: Callable
    adjoint: Callable
    norm_sq: float
    weights: jax.Array
    grouped: bool

    def magnitude(self, g: jax.Array) -> jax.Array:
        return jnp.sqrt(jnp.sum(jnp.abs(g) ** 2, axis=0, keepdims=True)) if self.grouped else jnp.abs(g)

    def weights_like(self, g: jax.Array) -> jax.Array:
        return self.weights.reshape((-1,) + (1,) * (g.ndim - 1))

    def value(self, g: jax.Array) -> jax.Array:
        """``R`` from ``g = D x``, per image: ``[...]``."""
        r = self.weights_like(g) * self.magnitude(g)
        return jnp.sum(r, axis=(0,) + tuple(range(r.ndim - 2, r.ndim)))


def tv_sparsifier(levels: int = 0) -> Sparsifier:
    """Isotropic TV: forward differences, ``||∇||² <= 8``."""
    del levels
    return Sparsifier(finite_diff, finite_diff_adjoint, 8.0, jnp.ones((1,), jnp.float32), True)


def wavelet_sparsifier(wavelet: str, levels: int) -> Sparsifier:
    """Translation-invariant wavelet L1: the undecimated transform (a Parseval frame) weighted so that
    ``R(x)`` is the mean over all cyclic shifts of the orthonormal wavelet L1 norm, coarsest band
    unpenalised (:func:`mri.wavelets.swt_weights`)."""
    weights = jnp.asarray(swt_weights(levels), jnp.float32)
    return Sparsifier(lambda x: swt2(x, wavelet, levels), lambda c: swt2_adjoint(c, wavelet, levels), 1.0,
                      weights, False)


def _primal_dual(op, y, lam, n_iter, step, sparsifier: Sparsifier):
    """Chambolle–Pock on ``min_x ½||Ax - y||² + lam Σ w |D x|`` with both terms dualised, so only
    forward / adjoint applications are needed (no inner solves). ``step = 1 / ||A||²``.

    ``A x`` and ``D x`` are carried (those of the extrapolated point ``2 x_new - x`` are the same
    combination of them), so each iteration applies ``A``, ``A^H``, ``D`` and ``D^T`` once and the
    objective at every iterate comes for free. Returns ``(x, objective [n_iter, ...])``."""
    sp = sparsifier
    x_adj = op.adjoint(y)
    ax0 = op.forward(x_adj)
    y = jnp.asarray(y).astype(ax0.dtype)
    lead = x_adj.ndim - 2
    # ||K||² <= ||A||² + ||D||² and tau * sigma * ||K||² < 1 is required; the split between them
    # follows the scale of the variables: x ~ max|A^H y|, while the dual q is bounded by lam (and p,
    # the residual, shrinks with it), so tau / sigma = 0.3 max|A^H y| / lam. On 32 px brain slices
    # (Poisson 8x, equispaced 4x; TV and Haar; 1 and 8 coils; lam 0.03-3 % of max|A^H y|) the
    # objective gap after 200 iterations was within 2x of the best fixed ratio of 3-100 everywhere,
    # and 3-900x smaller than a fixed 30 at lam <= 0.1 %, where multi-coil optima lie.
    ratio = jnp.sqrt(jnp.clip(0.3 * jnp.max(jnp.abs(x_adj)) / jnp.maximum(lam, 1e-30), 1.0, 1e4))
    norm_k = jnp.sqrt(1.0 / step + sp.norm_sq)
    tau = 0.99 * ratio / norm_k
    sigma = 0.99 / (ratio * norm_k)
    g0 = sp.apply(x_adj)
    bound = lam * sp.weights_like(g0)

    def body(i, state):
        x, ax, gx, ax_bar, gx_bar, p, q, trace = state
        p = (p + sigma * (ax_bar - y)) / (1.0 + sigma)
        q = q + sigma * gx_bar
        # project onto {|q| <= lam w}; written so lam w = 0 gives q = 0 rather than 0 / 0
        q = q * jnp.minimum(1.0, bound / jnp.maximum(sp.magnitude(q), jnp.finfo(jnp.float32).tiny))
        x_new = (x - tau * (op.adjoint(p) + sp.adjoint(q))).astype(x.dtype)
        ax_new, gx_new = op.forward(x_new), sp.apply(x_new)
        trace = trace.at[i].set(_data_term(ax_new - y, lead) + lam * sp.value(gx_new))
        return x_new, ax_new, gx_new, 2.0 * ax_new - ax, 2.0 * gx_new - gx, p, q, trace

    trace = jnp.zeros((n_iter,) + x_adj.shape[:lead], jnp.float32)
    state = (x_adj, ax0, g0, ax0, g0, jnp.zeros_like(y), jnp.zeros_like(g0), trace)
    x, *_, trace = jax.lax.fori_loop(0, n_iter, body, state)
    return x, trace


# method -> (sparsifier(levels), default lam relative to max |A^H y|). The one registry of CS methods.
CS_METHODS: dict[str, tuple[Callable[[int], Sparsifier], float]] = {
    "tv": (tv_sparsifier, 0.01),
    "wavelet": (functools.partial(wavelet_sparsifier, "haar"), 0.01),
    "wavelet_db4": (functools.partial(wavelet_sparsifier, "db4"), 0.01),
}


def _check_method(method: str) -> None:
    if method not in CS_METHODS:
        raise ValueError(f"unknown CS method {method!r}; valid methods: {', '.join(sorted(CS_METHODS))}")


def lambda_scale(op, y) -> jax.Array:
    """``max |A^H y|`` over the whole batch: the unit of relative λ (``rel_lam``)."""
    return jnp.max(jnp.abs(op.adjoint(y)))


def cs_objective(op, y, x, method: str, lam, levels: int = 4) -> jax.Array:
    """``½||A x - y||² + lam R(x)`` of ``method`` per image of ``x: [B, H, W]`` -> ``[B]``."""
    _check_method(method)
    sp = CS_METHODS[method][0](haar_levels(jnp.shape(x), int(levels)))
    return _data_term(op.forward(x) - y, jnp.ndim(x) - 2) + lam * sp.value(sp.apply(x))


def cs_reconstruct(op, y, method: str = "tv", lam: float | None = None, n_iter: int = 100,
                   levels: int = 4, *, rel_lam: float | None = None, return_objective: bool = False):
    """Compressed-sensing reconstruction, returning the complex image ``[B, H, W]`` (and, with
    ``return_objective``, the objective ``½||A x_k - y||² + lam R(x_k)`` of every iterate,
    ``[n_iter, B]``, computed inside the loop at no extra operator cost).

    op: an operator with forward / adjoint / normal (e.g. :class:`mri.SinglecoilOperator`).
    y: measurements shaped like ``op.forward(x)``.
    method: "tv" (isotropic total variation), "wavelet" (L1 of the orthonormal Haar coefficients
        averaged over all cyclic shifts, coarsest band unpenalised) or "wavelet_db4" (the same with
        periodized Daubechies-4, :func:`mri.wavelets.wavedec2`); all solved by Chambolle–Pock.
    lam: regularisation weight in the units of ``x``; or ``rel_lam``: relative to
        :func:`lambda_scale` = ``max|A^H y|`` (scale-free; :func:`mri.tune_cs_lambda` picks it on
        validation data); neither: ``0.01 * max|A^H y|`` (a default tuned on phantoms at 4x).
    n_iter: fixed number of iterations. levels: maximal wavelet depth (reduced until H, W stay even).
    The step size comes from a 20-step power iteration for ``||A||²``.
    """
    _check_method(method)
    sparsifier, default_rel = CS_METHODS[method]
    if lam is not None and rel_lam is not None:
        raise ValueError("give lam or rel_lam, not both")
    x_adj = op.adjoint(y)
    if lam is None:
        lam = (default_rel if rel_lam is None else rel_lam) * lambda_scale(op, y)
    step = 1.0 / (1.05 * jnp.maximum(operator_norm_sq(op, x_adj), 1e-12))
    x, trace = _primal_dual(op, y, lam, int(n_iter), step, sparsifier(haar_levels(x_adj.shape, int(levels))))
    return (x, trace) if return_objective else x
