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


def grid_search(score, grid, max_extend: int = 8) -> dict:
    """Maximise ``score(value) -> dict with "psnr"`` over a positive log-grid that grows past a
    winning end.

    When the best value lies on an end of the grid, the grid grows past that end by the grid's
    own ratio, one value at a time, until the best is interior or ``max_extend`` values were
    added (0: never). Why: an optimum can lie past any fixed grid's end (measured: 8 noiseless
    coils at Poisson 8x chose CS λ 1e-4, the old end), and a value held at a grid edge is not
    tuned. Returns ``{"value", "psnr", "at_edge", "extended", "table"}``: the best value, its
    score's PSNR, whether it still lies on the (grown) grid's edge, how many values were added,
    and one row per value in increasing order (``value`` and the score's keys).
    """
    grid = sorted(float(v) for v in grid)
    if not grid or grid[0] <= 0:
        raise ValueError(f"the grid must hold positive values; got {grid!r}")
    if int(max_extend) < 0:
        raise ValueError(f"max_extend must be >= 0; got {max_extend}")

    def row(v: float) -> dict:
        return dict(value=v, **score(v))

    table = [row(v) for v in grid]
    # the grid's own spacing (a quarter decade for DEFAULT_REL_GRID); a single value grows by a decade
    ratio = (grid[-1] / grid[0]) ** (1.0 / (len(grid) - 1)) if len(grid) > 1 else 10.0
    extended = 0
    while extended < int(max_extend):
        best = int(np.argmax([r["psnr"] for r in table]))
        if best == 0:
            table.insert(0, row(table[0]["value"] / ratio))
        elif best == len(table) - 1:
            table.append(row(table[-1]["value"] * ratio))
        else:
            break
        extended += 1
    best = int(np.argmax([r["psnr"] for r in table]))
    return dict(value=table[best]["value"], psnr=table[best]["psnr"],
                at_edge=best in (0, len(table) - 1) and len(table) > 1, extended=extended, table=table)


def tune_cs_lambda(op, y, gt, method: str = "tv", rel_grid=DEFAULT_REL_GRID, n_iter: int = 200,
                   levels: int = 4, max_extend: int = 8) -> dict:
    """Grid-search ``rel_lam`` of :func:`mri.cs_reconstruct` on validation slices
    (:func:`grid_search`: the grid grows past a winning end, up to ``max_extend`` values).

    op: the setting's forward operator. y: ``[V, ...]`` validation measurements (same noise
    level as the test data). gt: ``[V, H, W]`` their ground truth (magnitudes; metrics use the
    volume's maximum as data range). The solver is compiled once for the whole grid.

    Returns ``{"rel_lam", "psnr", "at_edge", "extended", "table"}``: the best relative λ, its
    mean validation PSNR, whether it still lies on the (grown) grid's edge, how many values were
    added, and one row per grid value in increasing λ (``rel_lam``, ``nmse``, ``psnr``, ``ssim``).
    """
    run = jax.jit(lambda rel, y: jnp.abs(cs_reconstruct(op, y, method, n_iter=n_iter, levels=levels, rel_lam=rel)))
    gt = np.asarray(gt)
    out = grid_search(lambda rel: mean_metrics(slice_metrics(gt, np.asarray(run(jnp.float32(rel), y)))),
                      rel_grid, max_extend)   # grid_search checks the grid
    table = [dict(rel_lam=r.pop("value"), **r) for r in out["table"]]
    return dict(rel_lam=out["value"], psnr=out["psnr"], at_edge=out["at_edge"], extended=out["extended"], table=table)
