"""Sampling masks: acceleration, calibration region, reproducibility, errors."""
import numpy as np
import pytest

import mri

KINDS = ("equispaced", "random", "gaussian1d", "poisson", "radial")
ONE_D = ("equispaced", "random", "gaussian1d")


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("acceleration", [4, 8])
@pytest.mark.parametrize("shape", [(64, 64), (48, 80)])
def test_acceleration_within_two_percent(kind, acceleration, shape):
    mask = mri.make_mask(kind, shape=shape, acceleration=acceleration, center_fraction=0.08, seed=3)
    assert mask.shape == shape and mask.dtype == np.float32
    assert set(np.unique(mask)) <= {0.0, 1.0}
    achieved = mri.mask_acceleration(mask)
    assert abs(achieved - acceleration) <= 0.02 * acceleration, achieved
    assert achieved == pytest.approx(mask.size / mask.sum())


@pytest.mark.parametrize("kind", ONE_D)
@pytest.mark.parametrize("acceleration", [4, 8])
def test_one_d_masks_are_columns_with_full_centre(kind, acceleration):
    h, w = 40, 320
    mask = mri.make_mask(kind, (h, w), acceleration=acceleration, center_fraction=0.08, seed=5)
    # whole columns: every row identical
    assert np.all(mask == mask[:1])
    # fastMRI: round(0.08 * 320) = 26 low-frequency columns starting at (320 - 26 + 1) // 2 = 147
    centre = np.arange(147, 173)
    assert np.all(mask[:, centre] == 1)
    assert mask[0].sum() == w / acceleration
    assert mri.mask_acceleration(mask) == acceleration   # exact when acceleration divides W


def test_equispaced_spacing_is_regular():
    mask = mri.make_mask("equispaced", (8, 128), acceleration=8, center_fraction=0.0625, seed=0)
    cols = np.flatnonzero(mask[0])
    outside = np.setdiff1d(cols, np.arange(60, 68))
    gaps = np.diff(outside)
    # columns outside the centre are evenly spaced apart from the jump across the centre block
    assert gaps.max() - np.sort(gaps)[-2] <= 9 and np.ptp(np.sort(gaps)[:-1]) <= 1


def test_poisson_has_centre_block_and_variable_density():
    mask = mri.make_mask("poisson", (64, 64), acceleration=4, center_fraction=0.125, seed=1)
    assert np.all(mask[28:36, 28:36] == 1)
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 32, xx - 32)
    inner, outer = mask[(r > 6) & (r < 14)].mean(), mask[r > 26].mean()
    assert inner > 1.5 * outer
    # Poisson disc: apart from the calibration block, no two samples are adjacent in the outer ring
    pts = np.argwhere(mask * (r > 20))
    d = np.hypot(*(pts[:, None] - pts[None]).transpose(2, 0, 1))
    np.fill_diagonal(d, np.inf)
    assert d.min() > 1.0


def test_radial_spokes_pass_through_centre():
    mask = mri.make_mask("radial", (64, 64), acceleration=8, seed=2)
    assert mask[32, 32] == 1
    yy, xx = np.mgrid[:64, :64]
    r = np.hypot(yy - 32, xx - 32)
    assert mask[r < 4].mean() > 0.75 and mask[r > 24].mean() < 0.15


@pytest.mark.parametrize("kind", KINDS)
def test_seeded_reproducible(kind):
    a = mri.make_mask(kind, (32, 32), acceleration=4, seed=7)
    b = mri.make_mask(kind, (32, 32), acceleration=4, seed=7)
    np.testing.assert_array_equal(a, b)
    others = [mri.make_mask(kind, (32, 32), acceleration=4, seed=s) for s in range(8, 12)]
    # equispaced only draws an offset, so two seeds may coincide; some must differ
    assert any(not np.array_equal(a, o) for o in others)
    if kind != "equispaced":
        assert not np.array_equal(a, others[0])


def test_errors():
    with pytest.raises(ValueError, match="equispaced.*gaussian1d.*poisson.*radial.*random"):
        mri.make_mask("spiral", (8, 8))
    with pytest.raises(ValueError, match="center_fraction"):
        mri.make_mask("random", (8, 64), acceleration=8, center_fraction=0.5)
    with pytest.raises(ValueError, match="acceleration"):
        mri.make_mask("random", (8, 64), acceleration=0.5)
    assert mri.mask_acceleration(np.zeros((4, 4))) == float("inf")
