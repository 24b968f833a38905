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


def _phantoms(n, shifts, noise, seed):
    x = np.stack([np.roll(mri.phantom(n), s, axis=(0, 1)) for s in shifts])
    op = mri.SinglecoilOperator(mri.make_mask("poisson", (n, n), acceleration=4, center_fraction=0.08, seed=0))
    rng = np.random.default_rng(seed)
    y = np.asarray(op.forward(x)) + noise * (rng.standard_normal(x.shape) + 1j * rng.standard_normal(x.shape)) * op.mask
    return x, op, y.astype(np.complex64)


def test_tune_cs_lambda_picks_the_best_validation_psnr_and_it_transfers():
    grid = (1e-4, 1e-3, 1e-2, 1e-1, 1.0)
    x_val, op, y_val = _phantoms(24, [(0, 0), (2, -1), (-3, 2)], noise=0.02, seed=1)
    out = mri.tune_cs_lambda(op, y_val, x_val, "tv", rel_grid=grid, n_iter=60)
    psnrs = [row["psnr"] for row in out["table"]]
    assert [row["rel_lam"] for row in out["table"]] == list(grid)
    assert out["rel_lam"] == grid[int(np.argmax(psnrs))] and out["psnr"] == max(psnrs)
    assert not out["at_edge"] and psnrs[2] - min(psnrs) > 3   # an interior optimum, well above the edges
    # test slices of the same setting (other phantoms, other noise): the tuned λ is as good as any
    x_test, _, y_test = _phantoms(24, [(1, 1), (-2, -2)], noise=0.02, seed=2)
    test = mri.tune_cs_lambda(op, y_test, x_test, "tv", rel_grid=grid, n_iter=60)
    chosen = next(r["psnr"] for r in test["table"] if r["rel_lam"] == out["rel_lam"])
    assert chosen >= max(r["psnr"] for r in test["table"]) - 0.5
    with pytest.raises(ValueError, match="positive"):
        mri.tune_cs_lambda(op, y_val, x_val, "tv", rel_grid=(0.0,))


def test_tune_cs_lambda_grows_the_grid_past_an_edge_optimum():
    """A grid that starts above the optimum is extended downwards, by its own ratio, until the
    best value is interior; with max_extend=0 the edge is reported instead."""
    x_val, op, y_val = _phantoms(24, [(0, 0), (2, -1), (-3, 2)], noise=0.02, seed=1)
    full = mri.tune_cs_lambda(op, y_val, x_val, "tv", rel_grid=np.logspace(-4, 0, 9), n_iter=60)
    assert not full["at_edge"] and full["extended"] == 0
    high = [r for r in np.logspace(-4, 0, 9) if r > full["rel_lam"] * 1.5]   # the optimum lies below this grid
    kept = mri.tune_cs_lambda(op, y_val, x_val, "tv", rel_grid=high, n_iter=60, max_extend=0)
    assert kept["at_edge"] and kept["rel_lam"] == pytest.approx(min(high)) and kept["extended"] == 0
    grown = mri.tune_cs_lambda(op, y_val, x_val, "tv", rel_grid=high, n_iter=60)
    assert not grown["at_edge"] and 1 <= grown["extended"] <= 8
    lams = [r["rel_lam"] for r in grown["table"]]
    assert lams == sorted(lams) and len(lams) == len(high) + grown["extended"]
    assert grown["rel_lam"] == pytest.approx(full["rel_lam"], rel=1e-3) and grown["psnr"] > kept["psnr"]
    with pytest.raises(ValueError, match="max_extend"):
        mri.tune_cs_lambda(op, y_val, x_val, "tv", rel_grid=high, max_extend=-1)
