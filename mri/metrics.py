"""Image-quality metrics exactly as the fastMRI challenge defines them (NumPy, float64).

Inputs are magnitude images ``[H, W]`` or volumes ``[S, H, W]``; complex inputs are replaced by
their magnitude. As in fastMRI, the data range of PSNR and SSIM defaults to ``gt.max()`` over the
whole volume (the file's ``max`` attribute), and SSIM of a volume is the mean of per-slice SSIMs.
"""
from __future__ import annotations

import math

import numpy as np
from scipy.ndimage import uniform_filter


def _magnitude(a) -> np.ndarray:
    a = np.asarray(a)
    return (np.abs(a) if np.iscomplexobj(a) else a).astype(np.float64)


def _pair(gt, pred) -> tuple[np.ndarray, np.ndarray]:
    gt, pred = _magnitude(gt), _magnitude(pred)
    if gt.shape != pred.shape:
        raise ValueError(f"gt {gt.shape} and pred {pred.shape} must have the same shape")
    return gt, pred


def nmse(gt, pred) -> float:
    """Normalised MSE ``||gt - pred||² / ||gt||²`` over the whole array."""
    gt, pred = _pair(gt, pred)
    return float(np.sum((gt - pred) ** 2) / np.sum(gt**2))


def psnr(gt, pred, data_range: float | None = None) -> float:
    """PSNR in dB, ``10 log10(data_range² / mean((gt - pred)²))``; ``data_range`` defaults to ``gt.max()``."""
    gt, pred = _pair(gt, pred)
    data_range = float(gt.max()) if data_range is None else float(data_range)
    mse = float(np.mean((gt - pred) ** 2))
    return math.inf if mse == 0 else 10.0 * math.log10(data_range**2 / mse)


def _ssim_2d(x: np.ndarray, y: np.ndarray, data_range: float, win_size: int, k1: float, k2: float) -> float:
    """Mean SSIM of two 2-D images with a ``win_size``² uniform window, sample (N-1) covariances,
    averaged over the pixels whose window lies inside the image (skimage's defaults)."""
    n = win_size * win_size
    cov_norm = n / (n - 1)
    mx, my = uniform_filter(x, win_size), uniform_filter(y, win_size)
    vx = cov_norm * (uniform_filter(x * x, win_size) - mx * mx)
    vy = cov_norm * (uniform_filter(y * y, win_size) - my * my)
    vxy = cov_norm * (uniform_filter(x * y, win_size) - mx * my)
    c1, c2 = (k1 * data_range) ** 2, (k2 * data_range) ** 2
    s = ((2 * mx * my + c1) * (2 * vxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    pad = (win_size - 1) // 2
    return float(s[pad:s.shape[0] - pad, pad:s.shape[1] - pad].mean())


def ssim(gt, pred, data_range: float | None = None, win_size: int = 7, k1: float = 0.01,
         k2: float = 0.03) -> float:
    """Structural similarity of ``[H, W]`` images or the mean over slices of ``[S, H, W]`` volumes.

    Same definition as fastMRI's evaluation (skimage ``structural_similarity`` with its defaults: a
    7x7 uniform window, K1 = 0.01, K2 = 0.03, sample covariances, borders of (win_size-1)/2 dropped);
    ``data_range`` defaults to ``gt.max()`` over the whole volume.
    """
    gt, pred = _pair(gt, pred)
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    if gt.ndim != 3:
        raise ValueError(f"ssim expects [H, W] or [S, H, W]; got shape {gt.shape}")
    if win_size < 3 or win_size % 2 == 0:
        raise ValueError(f"win_size must be an odd integer >= 3; got {win_size}")
    if win_size > min(gt.shape[-2:]):
        raise ValueError(f"win_size={win_size} exceeds the image size {gt.shape[-2:]}")
    data_range = float(gt.max()) if data_range is None else float(data_range)
    return float(np.mean([_ssim_2d(g, p, data_range, win_size, k1, k2) for g, p in zip(gt, pred)]))


def slice_metrics(gt, pred) -> list[dict]:
    """NMSE, PSNR and SSIM of every slice of ``[S, H, W]`` volumes, with the data range of the
    whole volume (fastMRI's rule); SSIM's window shrinks (odd, >= 3) for images under 7 px."""
    gt, pred = _pair(gt, pred)
    data_range = float(gt.max())
    side = min(gt.shape[-2:])
    win = 7 if side >= 7 else max(3, side - (1 - side % 2))
    return [dict(nmse=nmse(g, p), psnr=psnr(g, p, data_range), ssim=ssim(g, p, data_range, win_size=win))
            for g, p in zip(gt, pred)]


def mean_metrics(per_slice: list[dict]) -> dict:
    """The mean over slices of each metric of :func:`slice_metrics`."""
    return {k: float(np.mean([m[k] for m in per_slice])) for k in ("nmse", "psnr", "ssim")}
