"""Coil sensitivities and coil combination.

Convention for every map produced here: ``sum_c |S_c|² = 1`` at every pixel (where the map is
defined), so the SENSE operator built from them has ``||A|| <= 1`` and the coil-combined image
``sum_c conj(S_c) x_c`` is on the scale of the single-coil image.
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from mri.fft import as_complex, fft2c, ifft2c


def rss(images, axis: int = 0) -> jax.Array:
    """Root-sum-of-squares ``sqrt(sum |x|²)`` along ``axis`` (the coil axis), e.g. [C, H, W] -> [H, W]."""
    images = jnp.asarray(images)
    return jnp.sqrt(jnp.sum(jnp.abs(images) ** 2, axis=axis))


def ssos_combine(kspace, coil_axis: int = -3) -> jax.Array:
    """Square root of the sum of squares of the coil images of multi-coil k-space.

    kspace: [..., C, H, W] centred k-space -> [..., H, W] real magnitude image (how fastMRI builds its
    ``reconstruction_rss`` targets, before the centre crop; see :func:`center_crop`).
    """
    return rss(ifft2c(kspace), axis=coil_axis)


def center_crop(x, shape: tuple[int, int]) -> jax.Array:
    """Crop the last two axes of ``x: [..., H, W]`` to ``shape`` around the centre (fastMRI's
    targets are the central 320 x 320 of the full field of view)."""
    x = jnp.asarray(x)
    h, w = (int(s) for s in shape)
    H, W = x.shape[-2:]
    if h > H or w > W:
        raise ValueError(f"crop {shape} is larger than the image {(H, W)}")
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top:top + h, left:left + w]


def birdcage_maps(shape: tuple[int, int, int] = (8, 64, 64), r: float = 1.5) -> np.ndarray:
    """Simulated birdcage-coil sensitivities ``[C, H, W]`` complex64, with ``sum_c |S_c|² = 1``.

    The field of view is the square [-1, 1]²; coil ``c`` sits at angle ``θ_c = 2π c / C`` on a circle of
    radius ``r`` (r > sqrt(2) keeps every coil outside the image). Before normalisation a coil sees a
    pixel at offset ``d`` from it with magnitude ``1 / |d|`` (the near-field fall-off of a small loop)
    and with phase ``arg(d) - θ_c`` (the phase of its rotating field, which varies smoothly across the
    image and differs between coils). The maps are then divided by their root-sum-of-squares.
    """
    num_coils, height, width = (int(s) for s in shape)
    if num_coils < 1 or height < 1 or width < 1:
        raise ValueError(f"shape must be (C, H, W) with positive sizes; got {shape}")
    if not r > 0:
        raise ValueError(f"coil radius r must be > 0; got {r}")
    ys = (np.arange(height) - height / 2 + 0.5) / (height / 2)
    xs = (np.arange(width) - width / 2 + 0.5) / (width / 2)
    theta = 2 * np.pi * np.arange(num_coils) / num_coils
    dx = xs[None, None, :] - r * np.cos(theta)[:, None, None]
    dy = ys[None, :, None] - r * np.sin(theta)[:, None, None]
    dist = np.maximum(np.hypot(dx, dy), 1e-6)
    maps = np.exp(1j * (np.arctan2(dy, dx) - theta[:, None, None])) / dist
    maps = maps / np.sqrt(np.sum(np.abs(maps) ** 2, axis=0, keepdims=True))
    return maps.astype(np.complex64)


def _centre_window(n: int, width: int) -> jax.Array:
    """Length-``n`` window: a Hann taper of ``width`` samples around ``n // 2``, zero elsewhere.
    The taper uses ``width + 2`` points with the two zero end points dropped, so all ``width`` kept
    samples contribute."""
    width = max(1, min(int(width), n))
    taper = np.hanning(width + 2)[1:-1]
    window = np.zeros(n, dtype=np.float32)
    start = (n - width + 1) // 2
    window[start:start + width] = taper
    return jnp.asarray(window)


def estimate_sens_maps(kspace_multicoil, calib_width: int = 24, smoothing: float = 1.0,
                       threshold: float = 0.0) -> jax.Array:
    """Autocalibrated coil maps from the fully sampled k-space centre (a simple, non-ESPIRiT estimate).

    kspace_multicoil: [..., C, H, W] centred k-space whose central ``calib_width`` x ``calib_width``
        block is fully sampled (e.g. the centre columns of a 1-D Cartesian mask).
    Steps: Hann-tapered ACS block -> low-resolution coil images -> divide by their root-sum-of-squares
    -> Gaussian smoothing of the ratio (std ``smoothing`` pixels, circular, applied in k-space) ->
    renormalise so ``sum_c |S_c|² = 1``. Pixels whose low-resolution RSS is below
    ``threshold * max`` are set to zero (``threshold=0`` keeps the whole field of view).
    Returns [..., C, H, W] complex. Jittable for fixed ``calib_width``.
    """
    k = as_complex(kspace_multicoil)
    if k.ndim < 3:
        raise ValueError(f"kspace_multicoil must be [..., C, H, W]; got shape {k.shape}")
    height, width = k.shape[-2:]
    window = _centre_window(height, calib_width)[:, None] * _centre_window(width, calib_width)[None, :]
    low = ifft2c(k * window)
    low_rss = rss(low, axis=-3)[..., None, :, :]
    peak = jnp.max(low_rss, axis=(-2, -1), keepdims=True)
    eps = 1e-6 * peak + jnp.finfo(jnp.float32).tiny
    maps = low / jnp.maximum(low_rss, eps)
    if smoothing > 0:
        # A Gaussian blur of std s pixels is a Gaussian of std n / (2π s) samples in k-space.
        fy = (np.arange(height) - height // 2) / height
        fx = (np.arange(width) - width // 2) / width
        g = np.exp(-2 * (math.pi * smoothing) ** 2 * (fy[:, None] ** 2 + fx[None, :] ** 2))
        maps = ifft2c(fft2c(maps) * jnp.asarray(g, jnp.float32))
    norm = rss(maps, axis=-3)[..., None, :, :]
    maps = maps / jnp.maximum(norm, jnp.finfo(jnp.float32).tiny)
    if threshold > 0:
        maps = jnp.where(low_rss >= threshold * peak, maps, 0.0)
    return maps
