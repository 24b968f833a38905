"""Statistics that say whether samples reproduce a Gaussian mixture, with their tolerances."""
import numpy as np


def mixture_report(x, gmm):
    """Assign each sample to its nearest mode; per-mode weight, mean and covariance."""
    x = np.asarray(x, np.float64)
    means = np.asarray(gmm.means, np.float64)
    d = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    comp = d.argmin(1)
    weights = np.bincount(comp, minlength=gmm.K) / len(x)
    mus = np.stack([x[comp == k].mean(0) for k in range(gmm.K)])
    covs = np.stack([np.cov(x[comp == k].T) for k in range(gmm.K)])
    return weights, mus, covs


def assert_matches_mixture(x, gmm, weight_tol=0.03, mean_tol=0.08, cov_rtol=0.25):
    """Defaults for n ≈ 4000 samples of the 8-mode ring (std 0.3): weight ±0.03 is ~5 binomial
    standard errors (0.0052), a mode mean ±0.08 is ~6 standard errors (0.013) plus the bias of a
    few hundred solver steps, and ±25% on each covariance entry (its standard error is ~6%)
    leaves room for the discretisation bias of the coarser solvers. A sampler that drops a mode,
    shifts it by one std or doubles its spread fails."""
    assert np.all(np.isfinite(x)), "non-finite samples"
    w, mus, covs = mixture_report(x, gmm)
    ref_w = np.asarray(gmm.weights)
    assert np.all(np.abs(w - ref_w) < weight_tol), f"mode weights {w} vs {ref_w}"
    assert np.all(np.abs(mus - np.asarray(gmm.means)) < mean_tol), f"mode means off by {np.abs(mus - np.asarray(gmm.means)).max()}"
    ref_c = np.asarray(gmm.covs)
    scale = np.abs(ref_c).max()
    err = np.abs(covs - ref_c).max() / scale
    assert err < cov_rtol, f"mode covariances off by {err:.3f} of their scale: {covs[0]} vs {ref_c[0]}"
