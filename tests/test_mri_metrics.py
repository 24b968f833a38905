"""fastMRI metrics against hand-computed values."""
import math

import numpy as np
import pytest

import mri

GT = np.array([[0.0, 1.0], [2.0, 4.0]])
PRED = GT + np.array([[1.0, 0.0], [0.0, -1.0]])


def test_nmse_and_psnr_by_hand():
    assert mri.nmse(GT, PRED) == pytest.approx(2.0 / 21.0)
    # mse = 2 / 4, data range = gt.max() = 4
    assert mri.psnr(GT, PRED) == pytest.approx(10 * math.log10(16 / 0.5))
    assert mri.psnr(GT, PRED, data_range=1.0) == pytest.approx(10 * math.log10(1 / 0.5))
    assert mri.psnr(GT, GT) == math.inf
    # complex inputs are compared as magnitudes
    assert mri.nmse(GT * 1j, PRED) == pytest.approx(2.0 / 21.0)


def test_ssim_identical_and_constant_images():
    rng = np.random.default_rng(0)
    img = rng.random((16, 16))
    assert mri.ssim(img, img) == pytest.approx(1.0)
    # constant images: means a and b, zero variances -> (2ab + C1) / (a² + b² + C1), C1 = (0.01 L)²
    a, b, L = 2.0, 1.0, 2.0
    c1 = (0.01 * L) ** 2
    assert mri.ssim(np.full((8, 8), a), np.full((8, 8), b)) == pytest.approx((2 * a * b + c1) / (a * a + b * b + c1))


def brute_force_ssim(x, y, L, win=7, k1=0.01, k2=0.03):
    c1, c2 = (k1 * L) ** 2, (k2 * L) ** 2
    vals = []
    for i in range(x.shape[0] - win + 1):
        for j in range(x.shape[1] - win + 1):
            wx, wy = x[i:i + win, j:j + win].ravel(), y[i:i + win, j:j + win].ravel()
            mx, my = wx.mean(), wy.mean()
            vx, vy = wx.var(ddof=1), wy.var(ddof=1)
            cxy = np.sum((wx - mx) * (wy - my)) / (wx.size - 1)
            vals.append((2 * mx * my + c1) * (2 * cxy + c2) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
    return np.mean(vals)


def test_ssim_matches_window_by_window_definition():
    rng = np.random.default_rng(1)
    x = rng.random((11, 10))
    y = x + 0.3 * rng.standard_normal(x.shape)
    assert mri.ssim(x, y) == pytest.approx(brute_force_ssim(x, y, x.max()), rel=1e-10)
    assert mri.ssim(x, y, data_range=5.0) == pytest.approx(brute_force_ssim(x, y, 5.0), rel=1e-10)
    assert mri.ssim(x, y, win_size=3) == pytest.approx(brute_force_ssim(x, y, x.max(), win=3), rel=1e-10)
    assert mri.ssim(x, y) < 0.9


def test_volume_ssim_is_slice_mean_with_volume_max():
    rng = np.random.default_rng(2)
    gt = rng.random((3, 9, 9)) * np.array([1.0, 2.0, 4.0])[:, None, None]
    pred = gt + 0.2 * rng.standard_normal(gt.shape)
    expected = np.mean([brute_force_ssim(g, p, gt.max()) for g, p in zip(gt, pred)])
    assert mri.ssim(gt, pred) == pytest.approx(expected, rel=1e-10)
    # the per-slice maximum would give a different number
    per_slice = np.mean([brute_force_ssim(g, p, g.max()) for g, p in zip(gt, pred)])
    assert abs(mri.ssim(gt, pred) - per_slice) > 1e-3


def test_metric_errors():
    with pytest.raises(ValueError, match="shape"):
        mri.psnr(np.zeros((2, 2)), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="win_size"):
        mri.ssim(np.ones((5, 5)), np.ones((5, 5)))


def _heteroscedastic(shape=(2, 64, 64), seed=0):
    """A ground truth with a support, and per-pixel stds spread over a decade."""
    rng = np.random.default_rng(seed)
    gt = np.zeros(shape)
    gt[:, 8:56, 8:56] = 1.0 + rng.random((shape[0], 48, 48))
    std = 0.01 * 10 ** rng.random(shape)
    return rng, gt, std


def test_uncertainty_metrics_on_errors_drawn_from_the_std():
    rng, gt, std = _heteroscedastic()
    pred = gt + std * rng.standard_normal(gt.shape)          # error ~ N(0, std²): calibrated
    per = mri.uncertainty_metrics(gt, pred, std)
    assert len(per) == 2 and per[0]["support"] == pytest.approx(48 * 48 / 64**2)
    m = mri.mean_metrics(per, mri.UNCERTAINTY_KEYS)
    assert m["coverage"] == pytest.approx(mri.calibrated_coverage(), abs=0.01)   # 0.954
    assert mri.calibrated_coverage() == pytest.approx(0.9545, abs=1e-4)
    # |error| = std |z|: the rank correlation is that of std and std |z| (~0.5 for a decade of stds)
    assert 0.3 < m["spearman"] < 0.8
    # a std twice too large over-covers, one too small under-covers
    assert mri.mean_metrics(mri.uncertainty_metrics(gt, pred, 2 * std), mri.UNCERTAINTY_KEYS)["coverage"] > 0.99
    assert mri.mean_metrics(mri.uncertainty_metrics(gt, pred, std / 2), mri.UNCERTAINTY_KEYS)["coverage"] < 0.7


def test_uncertainty_metrics_on_a_std_unrelated_to_the_error():
    rng, gt, std = _heteroscedastic()
    pred = gt + 0.03 * rng.standard_normal(gt.shape)
    m = mri.mean_metrics(mri.uncertainty_metrics(gt, pred, std), mri.UNCERTAINTY_KEYS)
    assert abs(m["spearman"]) < 0.05
    # support: the background (gt = 0) is left out unless asked for
    all_px = mri.uncertainty_metrics(gt, pred, std, support_fraction=0.0)
    assert all_px[0]["support"] == 1.0
    assert mri.object_support(gt).sum() == 2 * 48 * 48
    assert all(m["spearman_image"] == pytest.approx(a["spearman"]) for m, a in zip(
        mri.uncertainty_metrics(gt, pred, std), all_px))


def test_whole_image_correlation_is_lifted_by_a_quiet_background():
    # inside the object the std says nothing about the error; in the background both are ~0,
    # as a magnitude prior makes them: the whole-image ρ is high, the object's stays ~0
    rng, gt, std = _heteroscedastic()
    pred = gt + 0.03 * rng.standard_normal(gt.shape)
    background = gt == 0
    std = np.where(background, 1e-4 * std, std)
    pred = np.where(background, 1e-5 * rng.standard_normal(gt.shape), pred)
    for m in mri.uncertainty_metrics(gt, pred, std):
        assert abs(m["spearman"]) < 0.1 and m["spearman_image"] > 0.5, m


def test_coverage_with_a_few_samples_is_student_t():
    # gt and n samples are draws of the same N(m, s²): the sample mean / std interval covers gt
    # with the t probability, below 0.954 for few samples
    rng, gt, std = _heteroscedastic((4, 64, 64), seed=1)
    n = 4
    truth = gt + std * rng.standard_normal(gt.shape)
    draws = gt[None] + std[None] * rng.standard_normal((n,) + gt.shape)
    per = mri.uncertainty_metrics(truth, draws.mean(0), draws.std(0, ddof=1))
    cover = mri.mean_metrics(per, mri.UNCERTAINTY_KEYS)["coverage"]
    assert cover == pytest.approx(mri.calibrated_coverage(n), abs=0.01)
    assert mri.calibrated_coverage(4) == pytest.approx(0.83, abs=0.01)
    with pytest.raises(ValueError, match="n_samples >= 2"):
        mri.calibrated_coverage(1)


def test_calibrated_spearman_is_what_a_calibrated_sampler_scores():
    """The simulated ceiling equals the rank correlation measured on real draws of the Gaussian
    whose std the map is, for the exact std and for n = 4 samples; it grows with the spread of
    the std over the support, and falls with fewer samples."""
    rng, gt, std = _heteroscedastic((4, 64, 64), seed=2)
    truth = gt + std * rng.standard_normal(gt.shape)
    exact = mri.mean_metrics(mri.uncertainty_metrics(truth, gt, std), mri.UNCERTAINTY_KEYS)["spearman"]
    assert mri.calibrated_spearman(gt, std) == pytest.approx(exact, abs=0.03)
    n = 4
    draws = gt[None] + std[None] * rng.standard_normal((n,) + gt.shape)
    sampled = mri.mean_metrics(mri.uncertainty_metrics(truth, draws.mean(0), draws.std(0, ddof=1)),
                               mri.UNCERTAINTY_KEYS)["spearman"]
    ceiling = mri.calibrated_spearman(gt, std, n)
    assert ceiling == pytest.approx(sampled, abs=0.03)
    assert ceiling < mri.calibrated_spearman(gt, std) - 0.05         # 4 samples estimate σ less well (0.48 vs 0.57)
    narrow = 0.01 * 10 ** (0.2 * rng.random(gt.shape))                # a fifth of a decade of spread
    assert mri.calibrated_spearman(gt, narrow) < mri.calibrated_spearman(gt, std) - 0.2
    assert mri.calibrated_spearman(gt, std, n) == mri.calibrated_spearman(gt, std, n)   # seeded
    with pytest.raises(ValueError, match="n_samples >= 2"):
        mri.calibrated_spearman(gt, std, 1)
    with pytest.raises(ValueError, match="shape"):
        mri.calibrated_spearman(gt, std[:, :10])


def test_local_rank_correlation_sees_the_pattern_per_pixel_noise_hides():
    """A std map that varies smoothly (left to right, a decade) with calibrated errors std·z: per
    pixel the |z| noise caps ρ, over 5 x 5 means the pattern shows; an error whose size varies
    top to bottom instead is unrelated to that std map at both scales."""
    rng = np.random.default_rng(3)
    gt = np.zeros((2, 64, 64))
    gt[:, 4:60, 4:60] = 1.0
    std = np.broadcast_to(0.01 * 10 ** (np.arange(64) / 63.0), (2, 64, 64)).copy()
    calibrated = mri.uncertainty_metrics(gt, gt + std * rng.standard_normal(gt.shape), std)
    per_pixel = np.mean([m["spearman"] for m in calibrated])
    local = np.mean([m["spearman_local"] for m in calibrated])
    assert 0.2 < per_pixel < 0.7 and local > 0.9 and local > per_pixel + 0.3, (per_pixel, local)
    one_px = mri.uncertainty_metrics(gt, gt + std * rng.standard_normal(gt.shape), std, local_window=1)
    assert one_px[0]["spearman_local"] == pytest.approx(one_px[0]["spearman"])
    other = np.swapaxes(std, 1, 2) * rng.standard_normal(gt.shape)
    unrelated = mri.uncertainty_metrics(gt, gt + other, std)
    assert all(abs(m["spearman"]) < 0.1 and abs(m["spearman_local"]) < 0.1 for m in unrelated), unrelated
    with pytest.raises(ValueError, match="local_window"):
        mri.uncertainty_metrics(gt, gt, std, local_window=0)
