"""Linear measurement operators y = A x for inverse problems, and conjugate gradient.

Every operator has the same three pure methods, so posterior samplers and classical solvers are
written once against them:

    y = op.forward(x)       # A x
    x = op.adjoint(y)       # A^H y
    x = op.normal(x)        # A^H A x

Operators are registered JAX pytrees (their arrays are the leaves), so they can be closed over or
passed as arguments to ``jax.jit``, ``vmap`` and ``lax`` loops.

=========================  ======================  ==========================
operator                   x                       y
=========================  ======================  ==========================
SinglecoilOperator(mask)   [B, H, W] real/complex  [B, H, W] complex
MulticoilOperator(m, S)    [B, H, W] real/complex  [B, C, H, W] complex
InpaintingOperator(mask)   [B, H, W, C] real       [B, H, W, C]
ColorizationOperator()     [B, H, W, 3] real       [B, H, W, 1]
=========================  ======================  ==========================
"""
from __future__ import annotations

import math
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

from mri.fft import as_complex, fft2c, ifft2c


class LinearOperator:
    """Base class: subclasses define ``forward`` and ``adjoint``; ``normal`` is A^H A."""

    def forward(self, x: jax.Array) -> jax.Array:
        raise NotImplementedError

    def adjoint(self, y: jax.Array) -> jax.Array:
        raise NotImplementedError

    def normal(self, x: jax.Array) -> jax.Array:
        """A^H A x, same shape as ``x``."""
        return self.adjoint(self.forward(x))

    # Pytree plumbing: subclasses list their array attributes in ``_leaves``.
    _leaves: tuple[str, ...] = ()

    def tree_flatten(self):
        return tuple(getattr(self, name) for name in self._leaves), None

    @classmethod
    def tree_unflatten(cls, aux, children):
        obj = object.__new__(cls)
        for name, value in zip(cls._leaves, children):
            setattr(obj, name, value)
        return obj


def _as_mask(mask, name: str = "mask") -> jax.Array:
    mask = jnp.asarray(mask)
    if mask.ndim != 2:
        raise ValueError(f"{name} must be [H, W]; got shape {mask.shape}")
    if jnp.iscomplexobj(mask):
        raise ValueError(f"{name} must be real (0/1 or non-negative weights)")
    return mask.astype(jnp.float32)


@jax.tree_util.register_pytree_node_class
class SinglecoilOperator(LinearOperator):
    """Single-coil Cartesian MRI: ``y = mask * fft2c(x)``.

    mask: [H, W] 0/1 in centred k-space layout. x: [B, H, W] (any leading axes), y: same shape, complex.
    """

    _leaves = ("mask",)

    def __init__(self, mask):
        self.mask = _as_mask(mask)

    def forward(self, x):
        return self.mask * fft2c(x)

    def adjoint(self, y):
        return ifft2c(self.mask * as_complex(y))

    def normal(self, x):
        # The mask is real, so A^H A = F^H mask² F.
        return ifft2c(self.mask * self.mask * fft2c(x))


@jax.tree_util.register_pytree_node_class
class MulticoilOperator(LinearOperator):
    """Multi-coil (SENSE) Cartesian MRI: ``y_c = mask * fft2c(S_c x)``.

    mask: [H, W]; sens: [C, H, W] complex coil sensitivities.
    x: [B, H, W] -> y: [B, C, H, W]; adjoint sums ``conj(S_c) ifft2c(mask y_c)`` over coils.
    """

    _leaves = ("mask", "sens")

    def __init__(self, mask, sens):
        self.mask = _as_mask(mask)
        self.sens = as_complex(sens)
        if self.sens.ndim != 3:
            raise ValueError(f"sens must be [C, H, W]; got shape {self.sens.shape}")
        if self.sens.shape[-2:] != self.mask.shape:
            raise ValueError(f"sens maps {self.sens.shape} and mask {self.mask.shape} disagree on (H, W)")

    @property
    def num_coils(self) -> int:
        return self.sens.shape[0]

    def forward(self, x):
        return self.mask * fft2c(as_complex(x)[..., None, :, :] * self.sens)

    def adjoint(self, y):
        return jnp.sum(jnp.conj(self.sens) * ifft2c(self.mask * as_complex(y)), axis=-3)

    def normal(self, x):
        coil = fft2c(as_complex(x)[..., None, :, :] * self.sens)
        return jnp.sum(jnp.conj(self.sens) * ifft2c(self.mask * self.mask * coil), axis=-3)


@jax.tree_util.register_pytree_node_class
class InpaintingOperator(LinearOperator):
    """Inpainting: keep the observed pixels, ``y = mask * x`` (a diagonal, self-adjoint operator).

    pixel_mask: [H, W] (shared by all channels) or [H, W, C]. x, y: [B, H, W, C].
    """

    _leaves = ("mask",)

    def __init__(self, pixel_mask):
        mask = jnp.asarray(pixel_mask)
        if mask.ndim == 2:
            mask = mask[..., None]
        if mask.ndim != 3:
            raise ValueError(f"pixel_mask must be [H, W] or [H, W, C]; got shape {mask.shape}")
        self.mask = mask.astype(jnp.float32)

    def forward(self, x):
        return self.mask * x

    def adjoint(self, y):
        return self.mask * y

    def normal(self, x):
        return self.mask * self.mask * x


def _colour_basis() -> np.ndarray:
    """Orthonormal 3x3 matrix whose first column is the grey axis (1, 1, 1) / sqrt(3); the other two
    columns span the chroma plane orthogonal to it."""
    grey = np.ones(3) / math.sqrt(3.0)
    red_green = np.array([1.0, -1.0, 0.0]) / math.sqrt(2.0)
    yellow_blue = np.array([1.0, 1.0, -2.0]) / math.sqrt(6.0)
    return np.stack([grey, red_green, yellow_blue], axis=1).astype(np.float32)


@jax.tree_util.register_pytree_node_class
class ColorizationOperator(LinearOperator):
    """Colorization: observe the grey level ``y = mean(r, g, b)``. x: [B, H, W, 3] -> y: [B, H, W, 1].

    Written through the orthonormal colour basis ``M`` (:meth:`decouple` / :meth:`couple`): the first
    decoupled channel is ``(r + g + b) / sqrt(3)``, so ``y = decouple(x)[..., :1] / sqrt(3)`` and
    ``A^H y = couple([y, 0, 0]) / sqrt(3) = y / 3`` in every channel. score_sde's colorization
    sampler replaces that first decoupled channel; :meth:`decouple` / :meth:`couple` expose it.
    """

    _leaves = ("basis",)

    def __init__(self):
        self.basis = jnp.asarray(_colour_basis())

    def decouple(self, x):
        """[..., 3] RGB -> [..., 3] (grey, chroma1, chroma2) coordinates (orthonormal change of basis)."""
        return x @ self.basis

    def couple(self, z):
        """Inverse of :meth:`decouple`."""
        return z @ self.basis.T

    def forward(self, x):
        return self.decouple(x)[..., :1] / math.sqrt(3.0)

    def adjoint(self, y):
        zeros = jnp.zeros(y.shape[:-1] + (2,), y.dtype)
        return self.couple(jnp.concatenate([y, zeros], axis=-1)) / math.sqrt(3.0)


def _inner(a: jax.Array, b: jax.Array, batched: bool) -> jax.Array:
    """Real part of <a, b> = sum conj(a) b: over everything, or per leading index (kept broadcastable)."""
    prod = jnp.real(jnp.conj(a) * b)
    if not batched:
        return jnp.sum(prod)
    return jnp.sum(prod, axis=tuple(range(1, prod.ndim)), keepdims=True)


def _safe_div(num: jax.Array, den: jax.Array) -> jax.Array:
    ok = den > 0
    return jnp.where(ok, num / jnp.where(ok, den, 1.0), 0.0)


def conjugate_gradient(normal_fn: Callable[[jax.Array], jax.Array], rhs: jax.Array, x0: jax.Array | None = None,
                       n_iter: int = 20, damping: float = 0.0, batched: bool = False) -> jax.Array:
    """Solve ``(N + damping I) x = rhs`` by ``n_iter`` conjugate-gradient steps (jittable, fixed count).

    normal_fn: a Hermitian positive semi-definite linear map, e.g. ``op.normal``.
    rhs, x0: arrays of one shape (real or complex; ``x0=None`` starts from zero).
    damping: Tikhonov term; may be a traced scalar.
    batched: if True, the leading axis holds independent systems (``normal_fn`` must not mix batch
        entries) and every entry gets its own step sizes, converging as fast as a solve of its own.
    Inner products are ``Re sum conj(a) b``, valid for complex Hermitian systems. A step whose
    curvature or residual is exactly zero (already converged) leaves the iterate unchanged.
    """
    rhs = jnp.asarray(rhs)
    x0 = jnp.zeros_like(rhs) if x0 is None else jnp.asarray(x0)
    if x0.shape != rhs.shape:
        raise ValueError(f"x0 {x0.shape} and rhs {rhs.shape} must have the same shape")
    out = jax.eval_shape(normal_fn, x0)
    dtype = jnp.result_type(rhs.dtype, x0.dtype, out.dtype)
    rhs, x0 = rhs.astype(dtype), x0.astype(dtype)

    def apply(v):
        return (normal_fn(v) + damping * v).astype(dtype)

    r = rhs - apply(x0)
    rs = _inner(r, r, batched)

    def body(_, state):
        x, r, p, rs = state
        ap = apply(p)
        alpha = _safe_div(rs, _inner(p, ap, batched))
        x = x + alpha * p
        r = r - alpha * ap
        rs_new = _inner(r, r, batched)
        p = r + _safe_div(rs_new, rs) * p
        return x, r, p, rs_new

    x, *_ = jax.lax.fori_loop(0, int(n_iter), body, (x0, r, r, rs))
    return x
