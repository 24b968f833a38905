"""Sample-quality metrics as papers report them, from Inception (or any) features: pure NumPy/SciPy.

- ``frechet_distance``: FID's ‖μ1 - μ2‖² + tr(Σ1 + Σ2 - 2 (Σ1 Σ2)^½), computed as pytorch-fid
  does (``scipy.linalg.sqrtm``; if the product is singular, eps·I is added to both covariances;
  an imaginary part beyond 1e-3 on the diagonal is an error, a smaller one is dropped);
- ``kid``: KID (Bińkowski et al., 2018), the unbiased MMD² with the cubic polynomial kernel
  k(x, y) = (xᵀy / d + 1)³, averaged over random subsets drawn without replacement (100 subsets
  of 1000, as torch-fidelity); returns mean and standard deviation over subsets;
- ``inception_score``: exp(E_x KL(p(y|x) ‖ p(y))) over ``splits`` equal parts (10, as in
  Salimans et al. and TF-GAN), from the logits of the FID network's 1008-way head (softmax over
  all 1008 outputs, bias included, as TF-GAN's ``logits`` tensor);
- ``feature_stats`` / ``save_stats`` / ``load_stats`` / ``reference_stats``: the (mu, sigma)
  ``.npz`` files pytorch-fid reads and writes, computed once per dataset and reused.
"""
from __future__ import annotations

import os
from typing import Callable, Optional

import numpy as np
from scipy import linalg
from scipy.special import log_softmax


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(mu ``[D]``, sigma ``[D, D]``) of ``features: [N, D]`` in float64 (unbiased covariance)."""
    f = np.asarray(features, np.float64)
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"features must be [N >= 2, D]; got shape {f.shape}")
    return f.mean(0), np.cov(f, rowvar=False)


def frechet_distance(mu1, sigma1, mu2, sigma2, eps: float = 1e-6, method: str = "sqrtm") -> float:
    """Fréchet distance between N(mu1, sigma1) and N(mu2, sigma2).

    ``method="sqrtm"``: pytorch-fid's computation (the reference; ~20-40 s for D = 2048 on two
    CPU cores). ``"eigh"``: the same trace as Σ sqrt(λ(Σ1^½ Σ2 Σ1^½)) from two symmetric
    eigendecompositions (~1 s; equal up to rounding for positive semi-definite Σ).
    """
    mu1, mu2 = np.atleast_1d(np.asarray(mu1, np.float64)), np.atleast_1d(np.asarray(mu2, np.float64))
    sigma1, sigma2 = np.atleast_2d(np.asarray(sigma1, np.float64)), np.atleast_2d(np.asarray(sigma2, np.float64))
    if mu1.shape != mu2.shape or sigma1.shape != sigma2.shape or sigma1.shape != mu1.shape * 2:
        raise ValueError(f"mismatched statistics: mu {mu1.shape} vs {mu2.shape}, sigma {sigma1.shape} vs {sigma2.shape}")
    diff = mu1 - mu2
    if method == "eigh":
        w, v = np.linalg.eigh(sigma1)
        half = (v * np.sqrt(np.maximum(w, 0.0))) @ v.T
        tr_covmean = np.sum(np.sqrt(np.maximum(np.linalg.eigvalsh(half @ sigma2 @ half), 0.0)))
        return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * tr_covmean)
    if method != "sqrtm":
        raise ValueError(f"unknown method {method!r}; valid: ['sqrtm', 'eigh']")
    covmean = linalg.sqrtm(sigma1 @ sigma2)
    if not np.isfinite(covmean).all():
        # A singular product (fewer samples than dimensions): regularise both covariances.
        offset = np.eye(sigma1.shape[0]) * eps
        covmean = linalg.sqrtm((sigma1 + offset) @ (sigma2 + offset))
    if np.iscomplexobj(covmean):
        if not np.allclose(np.diagonal(covmean).imag, 0, atol=1e-3):
            raise ValueError(f"imaginary component {np.max(np.abs(covmean.imag))} in sqrtm(Σ1 Σ2)")
        covmean = covmean.real
    return float(diff @ diff + np.trace(sigma1) + np.trace(sigma2) - 2.0 * np.trace(covmean))


def polynomial_mmd2(x: np.ndarray, y: np.ndarray, degree: int = 3, coef0: float = 1.0) -> float:
    """Unbiased MMD² with k(a, b) = (aᵀb / d + coef0)^degree; x ``[m, d]``, y ``[n, d]``.

    Within-set sums leave out the diagonal (the U-statistic), the cross term uses every pair.
    """
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    d, m, n = x.shape[1], x.shape[0], y.shape[0]
    kxx = (x @ x.T / d + coef0) ** degree
    kyy = (y @ y.T / d + coef0) ** degree
    kxy = (x @ y.T / d + coef0) ** degree
    return float((kxx.sum() - np.trace(kxx)) / (m * (m - 1)) + (kyy.sum() - np.trace(kyy)) / (n * (n - 1))
                 - 2.0 * kxy.mean())


def kid(features1: np.ndarray, features2: np.ndarray, num_subsets: int = 100, subset_size: int = 1000,
        seed: int = 0) -> tuple[float, float]:
    """(mean, std) over ``num_subsets`` of the unbiased MMD² on subsets of min(subset_size, N1, N2)."""
    f1, f2 = np.asarray(features1), np.asarray(features2)
    size = min(int(subset_size), len(f1), len(f2))
    if size < 2:
        raise ValueError(f"KID needs at least 2 samples per set; got {len(f1)} and {len(f2)}")
    rng = np.random.default_rng(seed)
    vals = [polynomial_mmd2(f1[rng.choice(len(f1), size, replace=False)],
                            f2[rng.choice(len(f2), size, replace=False)]) for _ in range(int(num_subsets))]
    return float(np.mean(vals)), float(np.std(vals))


def inception_score(logits: np.ndarray, splits: int = 10) -> tuple[float, float]:
    """(mean, std) over ``splits`` parts of exp(E KL(p(y|x) ‖ p(y))) from ``logits: [N, K]``."""
    logits = np.asarray(logits, np.float64)
    if len(logits) < splits:
        raise ValueError(f"inception_score needs at least splits={splits} samples; got {len(logits)}")
    scores = []
    for part in np.array_split(logits, splits):
        logp = log_softmax(part, axis=1)                              # log p(y|x)
        log_py = np.log(np.mean(np.exp(logp), axis=0))                # log p(y) over the part
        kl = np.sum(np.exp(logp) * (logp - log_py[None]), axis=1)
        scores.append(np.exp(np.mean(kl)))
    return float(np.mean(scores)), float(np.std(scores))


def save_stats(path: str, mu: np.ndarray, sigma: np.ndarray, features: Optional[np.ndarray] = None) -> None:
    """pytorch-fid's stats file (keys mu, sigma), plus ``features`` when given (KID needs them)."""
    extra = {} if features is None else {"features": np.asarray(features, np.float32)}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez_compressed(path, mu=mu, sigma=sigma, **extra)


def load_stats(path: str) -> dict:
    """``{"mu", "sigma"}`` and, if stored, ``"features"`` from a stats ``.npz``."""
    with np.load(path) as f:
        if "mu" not in f or "sigma" not in f:
            raise ValueError(f"{path}: a statistics file needs arrays 'mu' and 'sigma'; found {sorted(f.files)}")
        return {k: f[k] for k in f.files}


def reference_stats(path: str, compute_features: Callable[[], np.ndarray]) -> dict:
    """The statistics stored at ``path``; if there is none yet, ``compute_features()`` once,
    save mu, sigma and the features there, and return them."""
    if os.path.exists(path):
        return load_stats(path)
    features = np.asarray(compute_features())
    mu, sigma = feature_stats(features)
    save_stats(path, mu, sigma, features)
    return {"mu": mu, "sigma": sigma, "features": features}
