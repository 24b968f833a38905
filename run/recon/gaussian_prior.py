"""A Gaussian prior fitted to training images: a stand-in for a trained network whose exact score
needs no training (tests, benchmarks, and reconstructions before a network is trained)."""
from __future__ import annotations

import jax
import numpy as np

import datasets
import sde_lib


def fit_gaussian_prior(config, n: int = 4000, seed: int = 0, nugget: float = 1e-3) -> sde_lib.GaussianMixture:
    """A Gaussian fitted to ``n`` training images of ``config.data`` in model space
    (``sde_lib.GaussianMixture``). ``nugget`` is added to the covariance's diagonal."""
    train = datasets.get_dataset(config.data, "train")
    x = np.concatenate([np.asarray(train.batch(jax.random.PRNGKey(seed + i), min(n - 500 * i, 500)))
                        for i in range(-(-n // 500))]).reshape(n, -1).astype(np.float64)
    mean = x.mean(0)
    cov = np.cov(x, rowvar=False) + nugget * np.eye(x.shape[1])
    return sde_lib.GaussianMixture.gaussian(mean, cov)
