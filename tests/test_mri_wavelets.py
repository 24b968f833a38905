"""mri/wavelets.py: periodized Daubechies transforms against PyWavelets, orthonormality, and the
undecimated transform whose weighted L1 norm is the exact cycle-spinning average."""
import warnings

import numpy as np
import pytest
import pywt

import mri

RNG = np.random.default_rng(0)


def crandn(*shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


def _pywt_array(x, wavelet, levels):
    with warnings.catch_warnings():   # levels beyond pywt's dwt_max_level only warn
        warnings.simplefilter("ignore")
        return pywt.coeffs_to_array(pywt.wavedec2(x, wavelet, mode="periodization", level=levels))[0]


def test_daubechies_filters_are_pywavelets():
    for order in (1, 2, 4, 8, 12):
        np.testing.assert_allclose(mri.daubechies_filter(order), pywt.Wavelet(f"db{order}").dec_lo, atol=1e-12)
    with pytest.raises(ValueError, match="1..20"):
        mri.daubechies_filter(0)


@pytest.mark.parametrize("wavelet,levels", [("db4", 1), ("db4", 2), ("db4", 3), ("db2", 3)])
def test_wavedec2_equals_pywt_periodization(wavelet, levels):
    # 16 x 32: rectangular, and at levels 2-3 the 8-tap filter is longer than the signal (it wraps)
    x = RNG.standard_normal((16, 32)).astype(np.float32)
    c = np.asarray(mri.wavedec2(x, wavelet, levels))
    np.testing.assert_allclose(c, _pywt_array(x.astype(np.float64), wavelet, levels), atol=1e-5)
    z = crandn(2, 16, 32)   # complex and batched: real and imaginary parts separately
    cz = np.asarray(mri.wavedec2(z, wavelet, levels))
    np.testing.assert_allclose(cz[1], _pywt_array(z[1].real, wavelet, levels)
                               + 1j * _pywt_array(z[1].imag, wavelet, levels), atol=1e-5)


@pytest.mark.parametrize("wavelet", ["db4", "haar"])
def test_wavedec2_is_orthonormal(wavelet):
    x, c = crandn(2, 16, 16), crandn(2, 16, 16)
    fx = np.asarray(mri.wavedec2(x, wavelet, 3))
    np.testing.assert_allclose(np.asarray(mri.waverec2(fx, wavelet, 3)), x, atol=1e-5)    # perfect reconstruction
    np.testing.assert_allclose(np.linalg.norm(fx), np.linalg.norm(x), rtol=1e-5)          # energy
    lhs = np.vdot(fx.ravel(), c.ravel())                                                   # adjoint = inverse
    rhs = np.vdot(x.ravel(), np.asarray(mri.waverec2(c, wavelet, 3)).ravel())
    assert abs(lhs - rhs) < 1e-5 * abs(lhs)
    with pytest.raises(ValueError, match="divisible"):
        mri.wavedec2(x[..., :12], wavelet, 3)


def test_haar_is_db1_up_to_the_sign_of_details():
    x = crandn(16, 16)
    np.testing.assert_allclose(np.abs(mri.wavedec2(x, "haar", 2)), np.abs(mri.wavedec2(x, "db1", 2)), atol=1e-5)
    np.testing.assert_allclose(mri.wavedec2(x, "haar", 2), mri.haar2d(x, 2), atol=1e-6)


@pytest.mark.parametrize("wavelet", ["db4", "haar"])
def test_undecimated_transform_is_a_parseval_frame_and_the_cycle_spinning_average(wavelet):
    levels = 2
    x = crandn(2, 16, 16)
    c = np.asarray(mri.swt2(x, wavelet, levels))
    assert c.shape == (3 * levels + 1, 2, 16, 16)
    np.testing.assert_allclose(np.linalg.norm(c), np.linalg.norm(x), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(mri.swt2_adjoint(c, wavelet, levels)), x, atol=1e-5)
    g = crandn(*c.shape)
    lhs = np.vdot(c.ravel(), g.ravel())
    rhs = np.vdot(x.ravel(), np.asarray(mri.swt2_adjoint(g, wavelet, levels)).ravel())
    assert abs(lhs - rhs) < 1e-5 * abs(lhs)
    # the weighted L1 norm = the mean over all 4**levels cyclic shifts of the decimated detail L1 norm
    w = mri.swt_weights(levels)
    ti = np.sum(w[:, None, None, None] * np.abs(c), axis=(0, 2, 3))
    detail = np.ones((16, 16))
    detail[: 16 >> levels, : 16 >> levels] = 0
    shifts = [(a, b) for a in range(2**levels) for b in range(2**levels)]
    mean = np.mean([np.sum(detail * np.abs(mri.wavedec2(np.roll(x, s, axis=(-2, -1)), wavelet, levels)),
                           axis=(-2, -1)) for s in shifts], axis=0)
    np.testing.assert_allclose(ti, mean, rtol=1e-5)
