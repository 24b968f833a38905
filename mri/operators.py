"""MRI measurement operators y = A x (single-coil and SENSE multi-coil Cartesian sampling).

They share :class:`linops.LinearOperator` (``forward`` / ``adjoint`` / ``normal``, pytree
plumbing) with the operators that are not MRI (``linops.InpaintingOperator``,
``linops.ColorizationOperator``), and are registered JAX pytrees (their arrays are the leaves).

=========================  ======================  ==========================
operator                   x                       y
=========================  ======================  ==========================
SinglecoilOperator(mask)   [B, H, W] real/complex  [B, H, W] complex
MulticoilOperator(m, S)    [B, H, W] real/complex  [B, C, H, W] complex
=========================  ======================  ==========================
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from linops import LinearOperator
from mri.fft import as_complex, fft2c, ifft2c


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
