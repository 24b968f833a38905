"""Sample-quality distances between point clouds (for 2-D data and benchmarks)."""
from __future__ import annotations

import numpy as np


def sliced_wasserstein(x: np.ndarray, y: np.ndarray, n_proj: int = 256, seed: int = 0) -> float:
    """Sliced 2-Wasserstein distance: the root mean over random directions of W2² in 1-D.

    Quantiles are compared on a common grid, so x and y may differ in size.
    """
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    y = np.asarray(y, np.float64).reshape(len(y), -1)
    rng = np.random.default_rng(seed)
    dirs = rng.normal(size=(x.shape[1], n_proj))
    dirs /= np.linalg.norm(dirs, axis=0, keepdims=True)
    q = (np.arange(min(len(x), len(y))) + 0.5) / min(len(x), len(y))
    px = np.quantile(x @ dirs, q, axis=0)
    py = np.quantile(y @ dirs, q, axis=0)
    return float(np.sqrt(np.mean((px - py) ** 2)))


def mmd_rbf(x: np.ndarray, y: np.ndarray, bandwidths=(0.1, 0.3, 1.0, 3.0)) -> float:
    """Unbiased squared MMD with a sum of RBF kernels (a few length scales)."""
    x = np.asarray(x, np.float64).reshape(len(x), -1)
    y = np.asarray(y, np.float64).reshape(len(y), -1)

    def k(a, b):
        d2 = np.sum(a**2, 1)[:, None] + np.sum(b**2, 1)[None] - 2 * a @ b.T
        return sum(np.exp(-d2 / (2 * h**2)) for h in bandwidths)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    n, m = len(x), len(y)
    return float((kxx.sum() - np.trace(kxx)) / (n * (n - 1)) + (kyy.sum() - np.trace(kyy)) / (m * (m - 1))
                 - 2 * kxy.mean())
