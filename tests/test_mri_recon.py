"""Phantom, wavelet / TV building blocks, and compressed sensing against zero-filling."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mri

RNG = np.random.default_rng(0)


def crandn(*shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


def test_phantom_is_piecewise_constant_head():
    p = mri.phantom(64)
    assert p.shape == (64, 64) and p.dtype == np.float32
    assert p.min() == 0.0 and p.max() == 1.0
    assert p[0, 0] == 0.0 and p[32, 0] == 0.0           # background outside the skull
    assert p[32, 32] == pytest.approx(0.2)              # brain matter inside: 1 - 0.8
    assert len(np.unique(p)) <= 10                      # a handful of constant regions


def test_haar_is_orthonormal_and_inverts():
    x = crandn(2, 16, 24)
    levels = mri.haar_levels(x.shape, 4)
    assert levels == 3                                  # 24 = 3 * 2^3
    c = mri.haar2d(x, levels)
    np.testing.assert_allclose(np.linalg.norm(c), np.linalg.norm(x), rtol=1e-5)
    np.testing.assert_allclose(mri.ihaar2d(c, levels), x, atol=1e-5)
    # a constant image has only the coarsest approximation coefficient block non-zero
    cc = np.asarray(mri.haar2d(jnp.ones((16, 24)), levels))
    assert np.allclose(cc[2:, :], 0, atol=1e-5) and np.allclose(cc[:, 3:], 0, atol=1e-5)
    np.testing.assert_allclose(cc[:2, :3], 2 ** levels, rtol=1e-5)


def test_finite_difference_adjoint_and_soft_threshold():
    x, g = crandn(2, 7, 9), crandn(2, 2, 7, 9).transpose(1, 0, 2, 3)
    lhs = np.vdot(np.asarray(mri.finite_diff(x)).ravel(), g.ravel())
    rhs = np.vdot(x.ravel(), np.asarray(mri.finite_diff_adjoint(g)).ravel())
    assert abs(lhs - rhs) < 1e-4 * abs(lhs)
    z = jnp.asarray([3 + 4j, 0.3 + 0.4j, 0j])
    np.testing.assert_allclose(mri.soft_threshold(z, 1.0), [2.4 + 3.2j, 0, 0], atol=1e-6)


def _problem(kind="random", n=64, seed=0):
    x = mri.phantom(n)[None]
    mask = mri.make_mask(kind, (n, n), acceleration=4, center_fraction=0.08, seed=seed)
    op = mri.SinglecoilOperator(mask)
    return x, op, op.forward(x)


@pytest.mark.parametrize("method", ["tv", "wavelet"])
def test_cs_beats_zero_filled_at_4x(method):
    x, op, y = _problem("random")
    zf = np.asarray(mri.zero_filled(op, y))
    rec = jax.jit(lambda v: mri.cs_reconstruct(op, v, method=method, n_iter=100))(y)
    assert rec.shape == (1, 64, 64) and jnp.iscomplexobj(rec)
    psnr_zf, psnr_cs = mri.psnr(x, zf), mri.psnr(x, np.abs(np.asarray(rec)))
    assert psnr_cs > psnr_zf + 2.5, (psnr_zf, psnr_cs)
    assert mri.ssim(x[0], np.abs(np.asarray(rec))[0]) > mri.ssim(x[0], zf[0])


def test_tv_cs_with_poisson_mask_is_accurate_and_multicoil_works():
    # 2-D variable-density sampling: incoherent aliasing that TV removes
    x, op, y = _problem("poisson", n=32)
    rec = np.abs(np.asarray(mri.cs_reconstruct(op, y, "tv", n_iter=150)))
    assert mri.psnr(x, rec) > mri.psnr(x, np.asarray(mri.zero_filled(op, y))) + 3.5
    # multi-coil: the same solver through the SENSE operator; coil diversity helps a lot (~36 dB)
    mc = mri.MulticoilOperator(op.mask, mri.birdcage_maps((4, 32, 32)))
    ymc = mc.forward(x)
    rec_mc = np.abs(np.asarray(mri.cs_reconstruct(mc, ymc, "wavelet", n_iter=60)))
    assert mri.psnr(x, rec_mc) > mri.psnr(x, np.asarray(mri.zero_filled(mc, ymc))) + 14


def test_operator_norm_and_errors():
    _, op, y = _problem("random", n=16)
    assert float(mri.operator_norm_sq(op, op.adjoint(y))) == pytest.approx(1.0, rel=1e-3)
    with pytest.raises(ValueError, match="tv.*wavelet"):
        mri.cs_reconstruct(op, y, method="l0")
