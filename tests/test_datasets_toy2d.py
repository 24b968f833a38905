"""2-D toy samplers: shape, scale, determinism, and the ring's exact match with sde_lib."""
import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

import datasets
import sde_lib
from datasets import toy2d

# Documented per-coordinate standard deviations (see datasets/toy2d.py).
STD = {"gmm_ring": (2.84, 2.84), "checkerboard": (1.15, 1.15), "swiss_roll": (0.95, 0.99),
       "moons": (1.30, 0.75)}


def test_registry_is_complete():
    assert set(toy2d.TOY2D) == set(STD) == set(datasets.TOY_NAMES)


@pytest.mark.parametrize("name", sorted(STD))
def test_shape_scale_and_determinism(name):
    sample = toy2d.TOY2D[name]
    jitted = jax.jit(sample, static_argnums=1)
    key = jax.random.key(3)
    x = np.asarray(jitted(key, 20000))
    assert x.shape == (20000, 2) and x.dtype == np.float32
    assert np.all(np.isfinite(x))
    np.testing.assert_allclose(x.std(axis=0), STD[name], rtol=0.05)
    # Same key, same draws; another key, other draws.
    np.testing.assert_array_equal(np.asarray(jitted(key, 20000)), x)
    assert not np.allclose(np.asarray(jitted(jax.random.key(4), 20000)), x)


def test_checkerboard_lands_on_dark_squares():
    x = np.asarray(jax.jit(toy2d.checkerboard, static_argnums=1)(jax.random.key(0), 5000))
    assert np.all(np.abs(x) <= 2.0)
    cell = np.floor(x + 2.0).astype(int)
    assert np.all(cell.sum(axis=1) % 2 == 0)


def test_gmm_ring_is_the_sde_lib_mixture_and_modes_are_uniform():
    ref = sde_lib.GaussianMixture.ring(k=8, radius=4.0, std=0.3)
    np.testing.assert_allclose(np.asarray(toy2d.GMM_RING.means), np.asarray(ref.means))
    np.testing.assert_allclose(np.asarray(toy2d.GMM_RING.covs), np.asarray(ref.covs))
    n = 16000
    x = np.asarray(jax.jit(toy2d.gmm_ring, static_argnums=1)(jax.random.key(1), n))
    means = np.asarray(ref.means)
    d2 = ((x[:, None, :] - means[None]) ** 2).sum(-1)
    mode = d2.argmin(axis=1)
    counts = np.bincount(mode, minlength=8)
    chi2 = ((counts - n / 8) ** 2 / (n / 8)).sum()
    assert chi2 < 24.3, counts          # chi-square, 7 dof, p = 0.001
    # Distance to the assigned mode behaves like a 2-D isotropic Gaussian with std 0.3.
    resid = x - means[mode]
    np.testing.assert_allclose(resid.std(axis=0), 0.3, rtol=0.05)


def test_unknown_toy_lists_valid_names():
    with pytest.raises(ValueError, match="checkerboard"):
        toy2d.get_sampler("spirals")


def test_toy_dataset_via_get_dataset():
    cfg = ConfigDict(dict(dataset="moons", image_size=32, num_channels=3, centered=True,
                          random_flip=True, uniform_dequantization=False, root=""))
    ds = datasets.get_dataset(cfg, "train")
    assert ds.shape == (2,) and ds.num_examples is None
    key = jax.random.fold_in(jax.random.key(0), 7)
    a, b = ds.batch(key, 64), ds.batch(key, 64)
    assert a.shape == (64, 2)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    assert not np.allclose(np.asarray(ds.batch(jax.random.fold_in(key, 1), 64)), np.asarray(a))
    with pytest.raises(TypeError, match="endless"):
        ds.all()
    # The image options do not apply to toys: the scalers are the identity.
    x = np.ones(3)
    np.testing.assert_array_equal(datasets.inverse_scaler(cfg)(x), x)
