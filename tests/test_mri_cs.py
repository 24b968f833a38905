"""Compressed sensing that a reviewer accepts: the objective of every iterate, its decrease and
convergence at the configured iteration count, and λ tuned on validation data."""
import jax
import numpy as np
import pytest

import mri
from configs.mri.brain_recon import get_config

CS_ITERS = get_config().recon.cs_iters


def _phantom_problem(n=32, kind="poisson"):
    x = mri.phantom(n)[None]
    op = mri.SinglecoilOperator(mri.make_mask(kind, (n, n), acceleration=4, center_fraction=0.08, seed=0))
    return x, op, op.forward(x)


@pytest.mark.parametrize("method", ["tv", "wavelet", "wavelet_db4"])
def test_objective_decreases_and_converges_at_the_configured_iterations(method):
    x, op, y = _phantom_problem()
    run = jax.jit(lambda y, n: mri.cs_reconstruct(op, y, method, n_iter=n, return_objective=True), static_argnums=1)
    rec, trace = run(y, CS_ITERS)
    assert trace.shape == (CS_ITERS, 1)
    f = np.asarray(trace[:, 0], np.float64)
    lam = 0.01 * float(mri.lambda_scale(op, y))               # the default λ
    # the trace is the objective of the iterates (computed in the loop, checked from outside)
    assert f[-1] == pytest.approx(float(mri.cs_objective(op, y, rec, method, lam)[0]), rel=1e-5)
    f_start = float(mri.cs_objective(op, y, op.adjoint(y), method, lam)[0])
    assert f[-1] < 0.95 * f_start
    assert np.all(np.diff(f[CS_ITERS // 2:]) <= 1e-6 * f[-1])   # monotone over the second half
    assert abs(f[-1] - f[-2]) / f[-1] < 1e-4                    # converged: relative change per iteration
    _, long = run(y, 10 * CS_ITERS)
    f_star = float(np.min(np.asarray(long)))
    assert (f[-1] - f_star) / f_star < 2e-3                     # ... and near the optimum (10x the iterations)
    assert mri.psnr(x, np.abs(np.asarray(rec))) > mri.psnr(x, np.asarray(mri.zero_filled(op, y)))


def test_lam_and_rel_lam():
    _, op, y = _phantom_problem(16)
    scale = float(mri.lambda_scale(op, y))
    a = mri.cs_reconstruct(op, y, "tv", n_iter=20, rel_lam=0.02)
    b = mri.cs_reconstruct(op, y, "tv", lam=0.02 * scale, n_iter=20)
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=1e-6)
    with pytest.raises(ValueError, match="not both"):
        mri.cs_reconstruct(op, y, "tv", lam=0.1, rel_lam=0.1)
