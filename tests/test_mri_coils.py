"""Coil maps, root-sum-of-squares, autocalibrated sensitivity estimation."""
import numpy as np
import pytest

import mri


def test_birdcage_unit_sum_of_squares_and_coil_geometry():
    maps = mri.birdcage_maps((8, 32, 24), r=1.5)
    assert maps.shape == (8, 32, 24) and maps.dtype == np.complex64
    np.testing.assert_allclose(np.sum(np.abs(maps) ** 2, axis=0), 1.0, atol=1e-5)
    # coil 0 sits at angle 0 (+x, the right edge): it is strongest on the right, coil 4 on the left
    assert np.abs(maps[0, :, -1]).mean() > 2 * np.abs(maps[0, :, 0]).mean()
    assert np.abs(maps[4, :, 0]).mean() > 2 * np.abs(maps[4, :, -1]).mean()
    # maps are distinct and carry spatially varying phase
    assert np.ptp(np.angle(maps[0])) > 1.0
    with pytest.raises(ValueError):
        mri.birdcage_maps((8, 16, 16), r=0.0)


def test_rss_and_ssos_combine():
    rng = np.random.default_rng(0)
    x = (rng.standard_normal((3, 5, 6)) + 1j * rng.standard_normal((3, 5, 6))).astype(np.complex64)
    np.testing.assert_allclose(mri.rss(x, axis=0), np.sqrt((np.abs(x) ** 2).sum(0)), rtol=1e-5)
    np.testing.assert_allclose(mri.rss(x[None], axis=1)[0], mri.rss(x, 0), rtol=1e-6)
    # ssos_combine works from k-space: the RSS of the coil images
    k = mri.fft2c(x)
    np.testing.assert_allclose(mri.ssos_combine(k[None], coil_axis=1)[0], mri.rss(x, 0), rtol=1e-4, atol=1e-5)
    # RSS of birdcage-weighted coil images returns |x| exactly (sum |S|² = 1)
    img = mri.phantom(16)
    coils = mri.birdcage_maps((6, 16, 16)) * img
    np.testing.assert_allclose(mri.rss(coils, 0), img, atol=1e-5)


def test_center_crop():
    x = np.arange(6 * 8).reshape(6, 8)
    np.testing.assert_array_equal(mri.center_crop(x, (2, 4)), x[2:4, 2:6])
    with pytest.raises(ValueError):
        mri.center_crop(x, (7, 2))


def test_estimate_sens_maps_recovers_birdcage_inside_object():
    n, c = 48, 6
    true = mri.birdcage_maps((c, n, n))
    yy, xx = np.mgrid[:n, :n]
    obj = np.exp(-(((yy - n / 2) / 14) ** 2 + ((xx - n / 2) / 12) ** 2) ** 2).astype(np.float32)   # smooth blob
    kspace = mri.fft2c(true * obj)
    mask = mri.make_mask("equispaced", (n, n), acceleration=4, center_fraction=0.25, seed=0)
    est = np.asarray(mri.estimate_sens_maps(kspace * mask, calib_width=12))
    assert est.shape == (c, n, n)
    np.testing.assert_allclose(np.sum(np.abs(est) ** 2, axis=0), 1.0, atol=1e-4)
    # per-pixel agreement |<S_est, S_true>| (1 = identical up to a common phase) inside the object
    agree = np.abs(np.sum(np.conj(est) * true, axis=0))
    inside = obj > 0.5
    assert agree[inside].mean() > 0.995 and agree[inside].min() > 0.99
    # the object here is real positive, so the estimate matches without any phase ambiguity
    assert np.abs(est - true)[:, inside].mean() < 0.04
    # threshold zeroes the background
    est_t = np.asarray(mri.estimate_sens_maps(kspace * mask, calib_width=12, threshold=0.05))
    assert np.all(est_t[:, 0, 0] == 0)
