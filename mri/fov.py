"""Square fields of view of fastMRI-shaped k-space (NumPy, for data pipelines and recon setup).

fastMRI k-space is often not square (knee: 640 x 368, read-out oversampled twice); its targets
are the central 320 x 320 of the image. :func:`square_image` gives the image's central
``fov x fov`` crop and :func:`square_kspace` its k-space, optionally reduced to ``size x size``
by keeping the central k-space (a low-resolution view of the same field of view, phase intact).

Both shift and crop only the *output*: a centred inverse FFT is the plain one times a phase
ramp, evaluated on the kept rows / columns alone (see :func:`_centred_ifft_crop`), in SciPy's
single-precision FFT. For the RSS target of a 15-coil 640 x 368 slice at 320 px that took 65–67
ms against 151–154 ms for NumPy FFTs with whole-array shifts and an image -> k-space -> image
round trip (2-core CPU, 2026-12-05); it is most of what the training pipeline for fastMRI files
spends per slice (bench/bench_fastmri_data.py).
"""
from __future__ import annotations

import numpy as np
import scipy.fft

from mri.fft import _np_complex, fft2c_np, ifft2c_np


def crop_center(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """The central ``h x w`` of the last two axes (NumPy)."""
    H, W = x.shape[-2:]
    if h > H or w > W:
        raise ValueError(f"crop {(h, w)} is larger than the image {(H, W)}")
    top, left = (H - h) // 2, (W - w) // 2
    return x[..., top:top + h, left:left + w]


def _centred_ifft_crop(k: np.ndarray, crops: tuple[int, int]) -> np.ndarray:
    """``crop_center(ifft2c_np(k), *crops)``, shifting only the kept samples.

    Along an axis of length ``n``, with ``n0 = n // 2``: ``ifftshift(k)[m] = k[(m + n0) % n]``,
    so the unshifted inverse FFT of the shifted input is ``exp(-2πi n0 p / n) · ifft(k)[p]``, and
    ``fftshift`` puts output ``p = (q - n0) % n`` at position ``q``. Exact for odd and even
    ``n``. The two transforms are plain FFTs; the gather of the kept samples and the two phase
    ramps touch the (smaller) output once.
    """
    z = scipy.fft.ifft2(k, norm="ortho")   # complex64 stays complex64 (NumPy's FFT is slower here)
    index, ramps = [], []
    for n, length in zip(k.shape[-2:], crops):
        q = np.arange((n - length) // 2, (n - length) // 2 + length)
        p = (q - n // 2) % n
        index.append(p)
        ramps.append(np.exp(-2j * np.pi * ((n // 2) * p % n) / n))
    out = z[..., index[0][:, None], index[1][None, :]]
    return out * (ramps[0][:, None] * ramps[1][None, :]).astype(z.dtype)


def _fov_and_size(shape, fov, size) -> tuple[int, int]:
    side = min(shape[-2:])
    fov = side if fov is None else int(fov)
    size = fov if size is None else int(size)
    if fov > side:
        raise ValueError(f"a field of view of {fov} px does not fit images of {tuple(shape[-2:])} px")
    if size > fov:
        raise ValueError(f"size {size} exceeds the field of view {fov}: k-space cropping only reduces resolution")
    return fov, size


def _fov_image(kspace: np.ndarray, fov: int) -> np.ndarray:
    """``crop_center(ifft2c_np(kspace), fov, fov)``."""
    return _centred_ifft_crop(_np_complex(kspace), (fov, fov))


def square_image(kspace: np.ndarray, fov: int | None = None, size: int | None = None) -> np.ndarray:
    """``[..., H, W]`` centred k-space -> ``[..., size, size]`` complex image of the central
    ``fov x fov`` of its image (``fov`` defaults to ``min(H, W)``, ``size`` to ``fov``;
    ``size <= fov``): equal to ``ifft2c_np(square_kspace(kspace, fov, size))``."""
    fov, size = _fov_and_size(np.shape(kspace), fov, size)
    image = _fov_image(kspace, fov)
    return image if size == fov else ifft2c_np(crop_center(fft2c_np(image), size, size))


def square_kspace(kspace: np.ndarray, fov: int | None = None, size: int | None = None) -> np.ndarray:
    """``[..., H, W]`` centred k-space -> ``[..., size, size]`` k-space of the central ``fov x fov``
    of its image (``fov`` defaults to ``min(H, W)``, ``size`` to ``fov``; ``size <= fov``)."""
    fov, size = _fov_and_size(np.shape(kspace), fov, size)
    k = fft2c_np(_fov_image(kspace, fov))
    return k if size == fov else crop_center(k, size, size)
