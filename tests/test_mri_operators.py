"""fft2c conventions, adjointness of every operator, jit-compatibility, conjugate gradient."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

import mri

RNG = np.random.default_rng(0)


def crandn(*shape):
    return (RNG.standard_normal(shape) + 1j * RNG.standard_normal(shape)).astype(np.complex64)


def inner(a, b):
    """<a, b> = sum conj(a) b in float64."""
    return np.vdot(np.asarray(a, np.complex128).ravel(), np.asarray(b, np.complex128).ravel())


def assert_adjoint(op, x, y):
    lhs = inner(op.forward(x), y)          # <A x, y>
    rhs = inner(x, op.adjoint(y))          # <x, A^H y>
    scale = np.linalg.norm(np.asarray(x)) * np.linalg.norm(np.asarray(y))
    assert abs(lhs - rhs) <= 2e-6 * scale, (lhs, rhs)
    assert abs(lhs) > 1e-3 * scale          # not trivially zero
    np.testing.assert_allclose(op.normal(x), op.adjoint(op.forward(x)), rtol=1e-5, atol=1e-5)


def test_fft2c_matches_numpy_convention_and_is_unitary():
    x = crandn(2, 6, 9)   # odd and even sizes: shift conventions differ there
    axes = (-2, -1)
    ref = np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=axes), norm="ortho"), axes=axes)
    np.testing.assert_allclose(mri.fft2c(x), ref, rtol=1e-5, atol=1e-5)
    iref = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(x, axes=axes), norm="ortho"), axes=axes)
    np.testing.assert_allclose(mri.ifft2c(x), iref, rtol=1e-5, atol=1e-5)
    # unitary: norm preserved, inverse exact, and the adjoint equals the inverse
    np.testing.assert_allclose(np.linalg.norm(mri.fft2c(x)), np.linalg.norm(x), rtol=1e-5)
    np.testing.assert_allclose(mri.ifft2c(mri.fft2c(x)), x, atol=1e-5)
    y = crandn(2, 6, 9)
    np.testing.assert_allclose(inner(mri.fft2c(x), y), inner(x, mri.ifft2c(y)), rtol=1e-5)
    # DC of a constant image sits at (H // 2, W // 2) with value sqrt(H W)
    k = np.asarray(mri.fft2c(np.ones((6, 9), np.float32)))
    assert np.argmax(np.abs(k)) == np.ravel_multi_index((3, 4), (6, 9))
    np.testing.assert_allclose(k[3, 4], np.sqrt(54), rtol=1e-5)
    assert mri.fft2c(np.ones((4, 4), np.float32)).dtype == jnp.complex64


def test_singlecoil_adjoint():
    mask = mri.make_mask("random", (12, 16), acceleration=2, seed=1)
    op = mri.SinglecoilOperator(mask)
    assert_adjoint(op, crandn(3, 12, 16), crandn(3, 12, 16))
    # real input is promoted; forward is exactly mask * fft2c
    x = RNG.standard_normal((1, 12, 16)).astype(np.float32)
    np.testing.assert_allclose(op.forward(x), mask * np.asarray(mri.fft2c(x)), atol=1e-6)


def test_multicoil_adjoint_and_coil_sum():
    mask = mri.make_mask("equispaced", (16, 16), acceleration=4, seed=0)
    sens = mri.birdcage_maps((4, 16, 16))
    op = mri.MulticoilOperator(mask, sens)
    x, y = crandn(2, 16, 16), crandn(2, 4, 16, 16)
    assert op.forward(x).shape == (2, 4, 16, 16)
    assert op.adjoint(y).shape == (2, 16, 16)
    assert_adjoint(op, x, y)
    # fully sampled with sum |S|² = 1: A^H A = I
    full = mri.MulticoilOperator(np.ones((16, 16), np.float32), sens)
    np.testing.assert_allclose(full.normal(x), x, atol=1e-5)


def test_inpainting_adjoint():
    pix = (RNG.random((8, 8)) > 0.5).astype(np.float32)
    op = mri.InpaintingOperator(pix)
    x = RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)
    y = RNG.standard_normal((2, 8, 8, 3)).astype(np.float32)
    assert_adjoint(op, x, y)
    np.testing.assert_array_equal(op.forward(x)[..., 1], x[..., 1] * pix)


def test_colorization_adjoint_and_grey_is_mean():
    op = mri.ColorizationOperator()
    x = RNG.standard_normal((2, 5, 5, 3)).astype(np.float32)
    y = RNG.standard_normal((2, 5, 5, 1)).astype(np.float32)
    assert_adjoint(op, x, y)
    np.testing.assert_allclose(op.forward(x), x.mean(-1, keepdims=True), atol=1e-6)
    np.testing.assert_allclose(op.adjoint(y), np.repeat(y / 3, 3, axis=-1), atol=1e-6)
    # orthonormal channel mixing: couple inverts decouple, and the first channel is the grey axis
    np.testing.assert_allclose(op.couple(op.decouple(x)), x, atol=1e-5)
    np.testing.assert_allclose(op.decouple(x)[..., 0], x.sum(-1) / np.sqrt(3), atol=1e-5)


def test_operators_are_pytrees_usable_in_jit():
    mask = mri.make_mask("random", (8, 8), acceleration=2, seed=0)
    op = mri.MulticoilOperator(mask, mri.birdcage_maps((2, 8, 8)))
    x = crandn(1, 8, 8)
    f = jax.jit(lambda o, v: o.normal(v))
    np.testing.assert_allclose(f(op, x), op.normal(x), atol=1e-5)
    g = jax.jit(lambda v: mri.SinglecoilOperator(mask).adjoint(v))   # closed over, built under trace
    np.testing.assert_allclose(g(x), mri.ifft2c(mask * x), atol=1e-5)
    leaves = jax.tree_util.tree_leaves(op)
    assert len(leaves) == 2


def test_conjugate_gradient_solves_hermitian_system():
    n = 12
    m = crandn(n, n)
    h = (m.conj().T @ m + 0.5 * np.eye(n)).astype(np.complex64)     # Hermitian positive definite
    x_true = crandn(n)
    rhs = h @ x_true
    solve = jax.jit(lambda b: mri.conjugate_gradient(lambda v: jnp.asarray(h) @ v, b, jnp.zeros_like(b), n_iter=40))
    np.testing.assert_allclose(solve(rhs), x_true, rtol=2e-3, atol=2e-3)
    # damping: (H + d I) x = rhs
    d = 2.0
    xd = mri.conjugate_gradient(lambda v: jnp.asarray(h) @ v, rhs, None, n_iter=40, damping=d)
    np.testing.assert_allclose(np.linalg.solve(h.astype(np.complex128) + d * np.eye(n), rhs), xd, atol=2e-3)


def test_conjugate_gradient_batched_sense_recovers_image():
    # 8 coils at 2x: SENSE is well posed, so CG on A^H A x = A^H y recovers x.
    mask = mri.make_mask("equispaced", (16, 16), acceleration=2, center_fraction=0.25, seed=0)
    op = mri.MulticoilOperator(mask, mri.birdcage_maps((8, 16, 16)))
    x = crandn(2, 16, 16) * np.array([1.0, 100.0], np.float32)[:, None, None]   # very different scales
    rhs = op.adjoint(op.forward(x))
    for batched in (False, True):
        sol = mri.conjugate_gradient(op.normal, rhs, jnp.zeros_like(rhs), n_iter=60, batched=batched)
        err = np.linalg.norm(np.asarray(sol - x).reshape(2, -1), axis=1) / np.linalg.norm(x.reshape(2, -1), axis=1)
        assert np.all(err < 1e-3), (batched, err)
    # zero iterations leave x0; an exact x0 stays put (the zero-residual guard avoids 0 / 0)
    np.testing.assert_array_equal(mri.conjugate_gradient(op.normal, rhs, jnp.asarray(x), n_iter=0), x)
    assert np.all(np.isfinite(np.asarray(mri.conjugate_gradient(op.normal, jnp.zeros_like(rhs), None, 5))))


def test_operator_validation():
    with pytest.raises(ValueError, match="sens"):
        mri.MulticoilOperator(np.ones((8, 8)), np.ones((3, 8, 4), np.complex64))
    with pytest.raises(ValueError, match="mask"):
        mri.SinglecoilOperator(np.ones((2, 8, 8)))
