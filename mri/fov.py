"""Square fields of view of fastMRI-shaped k-space (NumPy, for data pipelines and recon setup).

fastMRI k-space is often not square (knee: 640 x 368, read-out oversampled twice); its targets
are the central 320 x 320 of the image. :func:`square_kspace` gives the k-space of the image's
central ``fov x fov`` crop, optionally reduced to ``size x size`` by keeping the central
k-space (a low-resolution view of the same field of view, phase intact).
"""
from __future__ import annotations

import numpy as np

from mri.fft import fft2c_np, ifft2c_np


def crop_center(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """The central ``h x w`` of the last two axes (NumPy)."""
    H, W = x.shape[-2:]
    if h > H or w > W:
        raise ValueError(f"crop {(h, w)} is larger than the image {(H, W)}")
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top:top + h, left:left + w]


def square_kspace(kspace: np.ndarray, fov: int | None = None, size: int | None = None) -> np.ndarray:
    """``[..., H, W]`` centred k-space -> ``[..., size, size]`` k-space of the central ``fov x fov``
    of its image (``fov`` defaults to ``min(H, W)``, ``size`` to ``fov``; ``size <= fov``)."""
    image = ifft2c_np(kspace)
    side = min(image.shape[-2:])
    fov = side if fov is None else int(fov)
    size = fov if size is None else int(size)
    if fov > side:
        raise ValueError(f"a field of view of {fov} px does not fit images of {image.shape[-2:]} px")
    if size > fov:
        raise ValueError(f"size {size} exceeds the field of view {fov}: k-space cropping only reduces resolution")
    k = fft2c_np(crop_center(image, fov, fov))
    return k if size == fov else crop_center(k, size, size)
