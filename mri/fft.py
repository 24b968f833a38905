"""Centred, orthonormal 2-D Fourier transforms in the fastMRI convention.

k-space is stored with the DC sample at index ``(H // 2, W // 2)``:
``fft2c(x) = fftshift(fft2(ifftshift(x)), norm="ortho")`` over the last two axes, so both
transforms are unitary (``ifft2c`` is the exact adjoint and inverse of ``fft2c``).
``fft2c_np`` / ``ifft2c_np`` are the same transforms in NumPy, for host-side data pipelines
that should not dispatch to an accelerator.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import scipy.fft

_AXES = (-2, -1)


def as_complex(x) -> jax.Array:
    """Promote ``x`` to a complex dtype (complex64 for float32 / integer input)."""
    x = jnp.asarray(x)
    if jnp.iscomplexobj(x):
        return x
    return x.astype(jnp.result_type(x.dtype, jnp.complex64))


def _centred(xp, transform, x):
    return xp.fft.fftshift(transform(xp.fft.ifftshift(x, axes=_AXES), axes=_AXES, norm="ortho"), axes=_AXES)


def fft2c(x) -> jax.Array:
    """Centred orthonormal 2-D FFT over the last two axes: ``[..., H, W]`` -> ``[..., H, W]`` complex."""
    return _centred(jnp, jnp.fft.fft2, as_complex(x))


def ifft2c(k) -> jax.Array:
    """Centred orthonormal inverse 2-D FFT over the last two axes (the adjoint of :func:`fft2c`)."""
    return _centred(jnp, jnp.fft.ifft2, as_complex(k))


def _np_complex(x) -> np.ndarray:
    x = np.asarray(x)
    return x if np.iscomplexobj(x) else x.astype(np.result_type(x.dtype, np.complex64))


def fft2c_np(x) -> np.ndarray:
    """:func:`fft2c` in NumPy (complex64 stays complex64; SciPy's FFT, faster than NumPy's in single precision)."""
    return _centred(np, scipy.fft.fft2, _np_complex(x))


def ifft2c_np(k) -> np.ndarray:
    """:func:`ifft2c` in NumPy (complex64 stays complex64)."""
    return _centred(np, scipy.fft.ifft2, _np_complex(k))
