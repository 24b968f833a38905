"""Linear operators y = A x that are not MRI, and the base class every operator shares.

Every operator has the same three pure methods, so posterior samplers and classical solvers are
written once against them:

    y = op.forward(x)       # A x
    x = op.adjoint(y)       # A^H y
    x = op.normal(x)        # A^H A x

Operators are registered JAX pytrees (their arrays are the leaves), so they can be closed over or
passed as arguments to ``jax.jit``, ``vmap`` and ``lax`` loops. The MRI operators
(``mri.SinglecoilOperator``, ``mri.MulticoilOperator``) build on :class:`LinearOperator` too.

=========================  ======================  ==========================
operator                   x                       y
=========================  ======================  ==========================
InpaintingOperator(mask)   [B, H, W, C] real       [B, H, W, C]
ColorizationOperator()     [B, H, W, 3] real       [B, H, W, 1]
=========================  ======================  ==========================
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


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
