"""Image-quality metrics exactly as the fastMRI challenge defines them (NumPy, float64), and
calibration metrics of a posterior's uncertainty map.

Inputs are magnitude images ``[H, W]`` or volumes ``[S, H, W]``; complex inputs are replaced by
their magnitude. As in fastMRI, the data range of PSNR and SSIM defaults to ``gt.max()`` over the
whole volume (the file's ``max`` attribute), and SSIM of a volume is the mean of per-slice SSIMs.

Uncertainty (:func:`uncertainty_metrics`): does the per-pixel posterior std say where the error
is? Spearman's rank correlation between std and |error|, and the coverage of ±k std intervals,
within the object support (pixels where the ground truth exceeds a fraction of the volume's
maximum; the background, where a magnitude prior puts both error and std near 0, would otherwise
inflate the correlation), per slice. :func:`calibrated_coverage` is what a perfectly calibrated
sampler would score with the same number of samples.
"""
from __future__ import annotations

import math

import warnings

import numpy as np
from scipy import special, stats
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


def mean_metrics(per_slice: list[dict], keys: tuple = ("nmse", "psnr", "ssim")) -> dict:
    """The mean over slices of each metric of :func:`slice_metrics` (or of ``keys``)."""
    return {k: float(np.mean([m[k] for m in per_slice])) for k in keys}


UNCERTAINTY_KEYS = ("spearman", "coverage")


def object_support(gt, fraction: float = 0.05) -> np.ndarray:
    """Pixels where the magnitude ground truth exceeds ``fraction`` of the volume's maximum
    (``fraction = 0``: every pixel)."""
    gt = _magnitude(gt)
    return gt > fraction * gt.max() if fraction > 0 else np.ones(gt.shape, bool)


def calibrated_coverage(n_samples: int | None = None, k: float = 2.0) -> float:
    """The coverage of ``|gt - mean| <= k std`` that a calibrated sampler has when ``mean`` and
    ``std`` (Bessel-corrected) come from ``n_samples`` posterior draws and ``gt`` is one more draw
    of the same Gaussian: ``(gt - mean) / (std sqrt(1 + 1/n))`` is Student-t with n - 1 degrees of
    freedom, so it is ``P(|T| <= k / sqrt(1 + 1/n))`` (0.83 at n = 4, 0.92 at n = 16);
    ``None``: the exact-std limit ``P(|Z| <= k) = erf(k / √2)`` (0.954 for k = 2)."""
    if n_samples is None:
        return float(special.erf(k / np.sqrt(2.0)))
    n = int(n_samples)
    if n < 2:
        raise ValueError(f"a std needs n_samples >= 2; got {n_samples}")
    t = k / np.sqrt(1.0 + 1.0 / n)
    return float(1.0 - 2.0 * stats.t.sf(t, df=n - 1))


def calibrated_spearman(gt, std, n_samples: int | None = None, support_fraction: float = 0.05,
                        draws: int = 4, seed: int = 0) -> float:
    """The rank correlation of std and |error| that a *calibrated* sampler whose true posterior
    std is ``std`` would reach: the ceiling of :func:`uncertainty_metrics`' ``spearman`` for std
    maps of this shape. Per slice of ``[S, H, W]`` over the object support, a calibrated draw is
    simulated as std estimate ``σ √(χ²_{n-1} / (n-1))`` (Bessel, from ``n_samples`` draws) and
    error ``σ √(1 + 1/n) |z|``, independent of each other given σ (``None``: the exact std, error
    ``σ |z|``); the mean over ``draws`` simulations and the slices.

    Why: per pixel, even a perfect posterior's error is its std times a |Gaussian|, so the
    attainable correlation is set by how much σ varies over the support; a bar on ``spearman``
    means little without it. Seeded, so the same maps give the same number."""
    gt = _magnitude(gt)
    std = np.asarray(std, np.float64)
    if std.shape != gt.shape:
        raise ValueError(f"std {std.shape} must have the shape of gt {gt.shape}")
    if gt.ndim == 2:
        gt, std = gt[None], std[None]
    if n_samples is not None and int(n_samples) < 2:
        raise ValueError(f"a std needs n_samples >= 2; got {n_samples}")
    rng = np.random.default_rng(seed)
    support = object_support(gt, support_fraction)
    vals = []
    for s, m in zip(std, support):
        sigma = s[m]
        for _ in range(int(draws)):
            err = sigma * np.abs(rng.standard_normal(sigma.shape))
            if n_samples is None:
                est = sigma
            else:
                n = int(n_samples)
                est = sigma * np.sqrt(rng.chisquare(n - 1, sigma.shape) / (n - 1))
                err = err * np.sqrt(1.0 + 1.0 / n)
            vals.append(_spearman(est, err))
    return float(np.nanmean(vals)) if vals and not np.all(np.isnan(vals)) else float("nan")


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3:
        return float("nan")
    with warnings.catch_warnings():   # a constant input gives nan, which is the honest answer
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(a, b).statistic)


def uncertainty_metrics(gt, pred, std, support_fraction: float = 0.05, k: float = 2.0,
                        local_window: int = 5) -> list[dict]:
    """Per slice of ``[S, H, W]`` (or one ``[H, W]``) magnitudes: ``spearman``, the rank correlation
    of ``std`` and ``|pred - gt|`` over the support (:func:`object_support` with the volume's
    maximum), ``coverage``, the fraction of support pixels with ``|pred - gt| <= k std``,
    ``support``, the fraction of pixels in it, ``spearman_local``, the rank correlation over
    the support of the two maps averaged over ``local_window``² neighbourhoods, and
    ``spearman_image``, the per-pixel rank correlation over every pixel of the slice.

    Why the whole-image one is beside, not instead of, ``spearman``: many papers correlate over
    the whole image, but there a magnitude prior puts both maps near 0 in the background, so
    the background alone lifts the correlation without saying anything about the anatomy; it
    is reported so that numbers can be compared with such papers.

    Why the local one: per pixel even a calibrated error is its std times a |Gaussian|, so
    ``spearman`` is capped by that noise (:func:`calibrated_spearman`); averaging both maps over a
    small window removes most of it and asks whether the std map points at the regions where the
    errors are (measured, 8 noiseless coils, Poisson 8x, shipped prior: per pixel 0.19-0.37,
    5 x 5 means 0.83-0.93)."""
    gt, pred = _pair(gt, pred)
    std = np.asarray(std, np.float64)
    if std.shape != gt.shape:
        raise ValueError(f"std {std.shape} must have the shape of gt {gt.shape}")
    if gt.ndim == 2:
        gt, pred, std = gt[None], pred[None], std[None]
    support = object_support(gt, support_fraction)
    out = []
    w = int(local_window)
    if w < 1:
        raise ValueError(f"local_window must be >= 1 pixel; got {local_window}")
    for g, p, s, m in zip(gt, pred, std, support):
        err_map = np.abs(p - g)
        err, sd = err_map[m], s[m]
        local = _spearman(uniform_filter(s, w)[m], uniform_filter(err_map, w)[m])
        out.append(dict(spearman=_spearman(sd, err), coverage=float(np.mean(err <= k * sd)) if err.size else float("nan"),
                        support=float(m.mean()), spearman_local=local,
                        spearman_image=_spearman(s.ravel(), err_map.ravel())))
    return out
