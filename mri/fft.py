"""Centred, orthonormal 2-D Fourier transforms in the fastMRI convention.

k-space is stored with the DC sample at index ``(H // 2, W // 2)``:
``fft2c(x) = fftshift(fft2(ifftshift(x)), norm="ortho")`` over the last two axes, so both
transforms are unitary (``ifft2c`` is the exact adjoint and inverse of ``fft2c``).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

_AXES = (-2, -1)


def as_complex(x) -> jax.Array:
    """Promote ``x`` to a complex dtype (complex64 for float32 / integer input)."""
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        return x
    return x.astype(jnp.result_type(x.dtype, jnp.complex64))


def fft2c(x) -> jax.Array:
    """Centred orthonormal 2-D FFT over the last two axes: ``[..., H, W]`` -> ``[..., H, W]`` complex."""
    x = as_complex(x)
    return jnp.fft.fftshift(jnp.fft.fft2(jnp.fft.ifftshift(x, axes=_AXES), axes=_AXES, norm="ortho"),
                            axes=_AXES)


def ifft2c(k) -> jax.Array:
    """Centred orthonormal inverse 2-D FFT over the last two axes (the adjoint of :func:`fft2c`)."""
    k = as_complex(k)
    return jnp.fft.fftshift(jnp.fft.ifft2(jnp.fft.ifftshift(k, axes=_AXES), axes=_AXES, norm="ortho"),
                            axes=_AXES)
