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
                   levels: int = 4, max_extend: int = 8) -> dict:
    """Grid-search ``rel_lam`` of :func:`mri.cs_reconstruct` on validation slices.

    op: the setting's forward operator. y: ``[V, ...]`` validation measurements (same noise
    level as the test data). gt: ``[V, H, W]`` their ground truth (magnitudes; metrics use the
    volume's maximum as data range). The solver is compiled once for the whole grid.

    When the best value lies on an end of the grid, the grid grows past that end by the grid's
    own ratio, one value at a time, until the best is interior or ``max_extend`` values were
    added (0: never). Why: with many coils and little noise the optimum can lie below any fixed
    grid's end (measured: 8 noiseless coils at Poisson 8x chose 1e-4, the old end), and a
    baseline held at a grid edge is not validation-tuned.

    Returns ``{"rel_lam", "psnr", "at_edge", "extended", "table"}``: the best relative λ, its
    mean validation PSNR, whether it still lies on the (grown) grid's edge, how many values were
    added, and one row per grid value in increasing λ (``rel_lam``, ``nmse``, ``psnr``, ``ssim``).
    """
    grid = sorted(float(v) for v in rel_grid)
    if not grid or grid[0] <= 0:
        raise ValueError(f"rel_grid must hold positive values; got {rel_grid!r}")
    if int(max_extend) < 0:
        raise ValueError(f"max_extend must be >= 0; got {max_extend}")
    run = jax.jit(lambda rel, y: jnp.abs(cs_reconstruct(op, y, method, n_iter=n_iter, levels=levels, rel_lam=rel)))
    gt = np.asarray(gt)

    def row(rel: float) -> dict:
        return dict(rel_lam=rel, **mean_metrics(slice_metrics(gt, np.asarray(run(jnp.float32(rel), y)))))

    table = [row(rel) for rel in grid]
    # the grid's own spacing (a quarter decade for the default); a single value grows by a decade
    ratio = (grid[-1] / grid[0]) ** (1.0 / (len(grid) - 1)) if len(grid) > 1 else 10.0
    extended = 0
    while extended < int(max_extend):
        best = int(np.argmax([r["psnr"] for r in table]))
        if best == 0:
            table.insert(0, row(table[0]["rel_lam"] / ratio))
        elif best == len(table) - 1:
            table.append(row(table[-1]["rel_lam"] * ratio))
        else:
            break
        extended += 1
    best = int(np.argmax([r["psnr"] for r in table]))
    return dict(rel_lam=table[best]["rel_lam"], psnr=table[best]["psnr"],
                at_edge=best in (0, len(table) - 1) and len(table) > 1, extended=extended, table=table)
