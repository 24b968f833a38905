"""How a measurement operator is seen from the prior's space (:class:`PriorView`).

A prior (a score model) lives on real tensors ``[B, H, W, C]``. A measurement operator lives
on its own images: MRI operators take complex images ``[B, H, W]`` and give complex k-space,
inpainting and colorization operators take real ``[B, H, W, C]`` images. :class:`PriorView`
joins the two with an adapter ``to_image`` (prior tensor -> operator image) and its adjoint
``from_image``, so that the composite ``Ã = A ∘ to_image`` is a *real*-linear map on the prior
space with the real inner product ``<a, b> = Re Σ conj(a) b`` on both sides. Every posterior
sampler is written against ``Ã`` alone and so serves MRI, inpainting and colorization alike.

Prior kinds (the ``complex_prior`` argument of :func:`samplers.posterior_sample`):

====================  ======================  ==========================  ==================
complex_prior         operator image          prior tensor (score input)  output ``x``
====================  ======================  ==========================  ==================
False (real prior)    complex [B, H, W]       [B, H, W, 1] = Re image     [B, H, W, 1]
True                  complex [B, H, W]       [B, H, W, 2] = (Re, Im)     [B, H, W, 2]
"split"               complex [B, H, W]       [2B, H, W, 1]: Re then Im   [B, H, W, 2]
False                 real [B, H, W, C]       [B, H, W, C] (identity)     [B, H, W, C]
====================  ======================  ==========================  ==================

"split" is Chung & Ye's way of using a prior trained on real images for complex data: the real
and imaginary parts are two independent images of one batch.

For the real prior on a complex operator the composite is not the operator's own: a real image
has Hermitian-symmetric k-space, so ``Ã^T Ã = Re ∘ A^H A`` (the adjoint takes the real part).
Least-squares solves are therefore done by conjugate gradients (``linops.conjugate_gradient``)
on ``Π A^H A Π`` in the operator's image space (``Π = to_image ∘ from_image`` is the identity or ``Re``), batched per
image; for a single-coil Cartesian mask that operator has at most three distinct eigenvalues
(0, ½, 1), so two or three CG iterations solve it to float precision.

Pure JAX: nothing here imports the ``mri`` package; operators are duck-typed (``forward``,
``adjoint``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from linops import conjugate_gradient, inner

PRIOR_KINDS = (False, True, "split")


def to_complex(x: jax.Array) -> jax.Array:
    """``[..., 1]`` -> ``x[..., 0]`` as complex; ``[..., 2]`` (real, imag) -> ``x[..., 0] + i x[..., 1]``."""
    x = jnp.asarray(x)
    if x.shape[-1] == 1:
        return x[..., 0].astype(jnp.result_type(x.dtype, jnp.complex64))
    if x.shape[-1] == 2:
        return jax.lax.complex(x[..., 0], x[..., 1])
    raise ValueError(f"to_complex needs a last axis of 1 (real) or 2 (real, imag) channels; got shape {x.shape}")


def from_complex(z: jax.Array, channels: int = 2) -> jax.Array:
    """The adjoint of :func:`to_complex` (real inner products): ``channels=1`` keeps ``Re z`` as
    ``[..., 1]``, ``channels=2`` stacks ``(Re z, Im z)`` as ``[..., 2]``."""
    z = jnp.asarray(z)
    if channels == 1:
        return jnp.real(z)[..., None]
    if channels == 2:
        return jnp.stack([jnp.real(z), jnp.imag(z)], axis=-1)
    raise ValueError(f"channels must be 1 or 2; got {channels}")


class PriorView:
    """The operator ``Ã = A ∘ to_image`` on the prior's space, built from ``operator`` and ``y``.

    Attributes: ``kind`` ("real", "complex", "split" or "identity"), ``batch`` (B, the
    measurement batch), ``prior_shape`` (what the score function sees), ``output_channels``.
    """

    def __init__(self, operator, y: jax.Array, complex_prior=False):
        if not (complex_prior is False or complex_prior is True or complex_prior == "split"):
            raise ValueError(f"complex_prior must be one of {list(PRIOR_KINDS)}; got {complex_prior!r}")
        for name in ("forward", "adjoint"):
            if not callable(getattr(operator, name, None)):
                raise TypeError(f"operator must have forward and adjoint methods; "
                                f"{type(operator).__name__} lacks {name!r}")
        self.operator = operator
        image = jax.eval_shape(operator.adjoint, y)
        if len(image.shape) < 2:
            raise ValueError(f"measurements need a leading batch axis; operator.adjoint(y) has shape {image.shape}")
        self.batch = int(image.shape[0])
        self.image_shape = tuple(image.shape)
        self.image_dtype = image.dtype
        if jnp.issubdtype(image.dtype, jnp.complexfloating):
            self.kind = {False: "real", True: "complex", "split": "split"}[complex_prior]
            spatial = self.image_shape[1:]
            if self.kind == "real":
                self.prior_shape = (self.batch, *spatial, 1)
            elif self.kind == "complex":
                self.prior_shape = (self.batch, *spatial, 2)
            else:
                self.prior_shape = (2 * self.batch, *spatial, 1)
            self.output_channels = 1 if self.kind == "real" else 2
        else:
            if complex_prior is not False:
                raise ValueError(f"complex_prior={complex_prior!r} needs an operator on complex images; "
                                 f"{type(operator).__name__} takes real images {self.image_shape}")
            self.kind = "identity"
            self.prior_shape = self.image_shape
            self.output_channels = self.image_shape[-1]

    # --- the adapter and its adjoint --------------------------------------------------------
    def to_image(self, x: jax.Array) -> jax.Array:
        """Prior tensor -> operator image."""
        if self.kind == "identity":
            return x
        if self.kind == "split":
            return jax.lax.complex(x[: self.batch, ..., 0], x[self.batch:, ..., 0])
        return to_complex(x)

    def from_image(self, z: jax.Array) -> jax.Array:
        """Operator image -> prior tensor: the adjoint of :meth:`to_image` (real inner products)."""
        if self.kind == "identity":
            return jnp.real(z) if jnp.iscomplexobj(z) else z
        if self.kind == "split":
            return jnp.concatenate([jnp.real(z), jnp.imag(z)], axis=0)[..., None]
        return from_complex(z, self.output_channels)

    def output(self, x: jax.Array) -> jax.Array:
        """Prior tensor -> what ``posterior_sample`` returns (``split``: ``[B, H, W, 2]``)."""
        if self.kind == "split":
            return jnp.concatenate([x[: self.batch], x[self.batch:]], axis=-1)
        return x

    def project_image(self, z: jax.Array) -> jax.Array:
        """``Π = to_image ∘ from_image``: ``Re`` for the real prior on complex images, else identity."""
        if self.kind == "real":
            return jnp.real(z).astype(z.dtype)
        return z

    # --- Ã, Ã^T ------------------------------------------------------------------------------
    def forward(self, x: jax.Array) -> jax.Array:
        return self.operator.forward(self.to_image(x))

    def adjoint(self, v: jax.Array) -> jax.Array:
        return self.from_image(self.operator.adjoint(v))

    def image_normal(self, z: jax.Array) -> jax.Array:
        """``Π A^H A Π z`` on operator images (per image, real-linear, self-adjoint)."""
        z = self.project_image(z)
        normal = getattr(self.operator, "normal", None)
        out = normal(z) if callable(normal) else self.operator.adjoint(self.operator.forward(z))
        return self.project_image(out.astype(z.dtype))

    def least_squares_step(self, x: jax.Array, r: jax.Array, n_iter: int, damping=0.0) -> jax.Array:
        """``x + d`` with ``d = argmin ||Ã d - r||² + damping ||d||²`` (minimum-norm when damping = 0),
        by ``n_iter`` CG steps per image. With ``r = y - Ã x`` and damping 0 this projects x onto
        ``{Ã x = y}`` (exactly once CG has converged)."""
        rhs = self.project_image(self.operator.adjoint(r))
        scale = inner(r, r).reshape(r.shape[0])
        d = conjugate_gradient(self.image_normal, rhs.astype(self.image_dtype), None, n_iter, damping,
                               batched=True, scale=scale)
        return x + self.from_image(d).astype(x.dtype)

    def measurement_noise(self, rng: jax.Array, y: jax.Array) -> jax.Array:
        """``Ã z`` with ``z ~ N(0, I)`` on the prior space: noise in measurement space with the
        covariance ``Ã Ã^T`` that the forward diffusion puts there."""
        return self.forward(jax.random.normal(rng, self.prior_shape, jnp.float32))
