"""λ of a compressed-sensing baseline chosen on validation data: a log-grid search that maximises
the mean PSNR (fastMRI's definition) of the validation slices.

The grid is relative to ``max|A^H y|`` (:func:`mri.lambda_scale`), so the chosen value transfers
to other slices of the same setting (mask, acceleration, coils, noise) as ``rel_lam``. The
caller supplies validation slices that are disjoint from the test slices (``run/recon`` draws
them from the training split); nothing here sees test data.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from mri.metrics import mean_metrics, slice_metrics
from mri.recon import cs_reconstruct

# 10^-4 ... 10^-0.5 in quarter decades (15 values, a factor 1.78 apart). The optima measured on
# brain slices at 32 and 64 px (4x / 8x equispaced, 8x Poisson) lay in 2e-3 ... 6e-2 for one
# coil and down to 3e-4 for 8 noiseless coils.
DEFAULT_REL_GRID: tuple[float, ...] = tuple(float(v) for v in np.logspace(-4.0, -0.5, 15))


def tune_cs_lambda(op, y, gt, method: str = "tv", rel_grid=DEFAULT_REL_GRID, n_iter: int = 200,
                   levels: int = 4) -> dict:
    """Grid-search ``rel_lam`` of :func:`mri.cs_reconstruct` on validation slices.

    op: the setting's forward operator. y: ``[V, ...]`` validation measurements (same noise
    level as the test data). gt: ``[V, H, W]`` their ground truth (magnitudes; metrics use the
    volume's maximum as data range). The solver is compiled once for the whole grid.

    Returns ``{"rel_lam", "psnr", "at_edge", "table"}``: the best relative λ, its mean
    validation PSNR, whether it lies on the grid's edge (widen the grid), and one row per grid
    value (``rel_lam``, ``nmse``, ``psnr``, ``ssim``).
    """
    grid = [float(v) for v in rel_grid]
    if not grid or min(grid) <= 0:
        raise ValueError(f"rel_grid must hold positive values; got {rel_grid!r}")
    run = jax.jit(lambda rel, y: jnp.abs(cs_reconstruct(op, y, method, n_iter=n_iter, levels=levels, rel_lam=rel)))
    gt = np.asarray(gt)
    table = [dict(rel_lam=rel, **mean_metrics(slice_metrics(gt, np.asarray(run(jnp.float32(rel), y)))))
             for rel in grid]
    best = int(np.argmax([row["psnr"] for row in table]))
    return dict(rel_lam=grid[best], psnr=table[best]["psnr"], at_edge=best in (0, len(grid) - 1) and len(grid) > 1,
                table=table)
