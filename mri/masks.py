"""k-space undersampling masks.

    mask = make_mask("random", shape=(H, W), acceleration=4, center_fraction=0.08, seed=0)

Every mask is a host-side ``np.ndarray`` of shape ``[H, W]``, dtype float32, values 0/1, in the
centred k-space layout of :func:`mri.fft2c` (DC at ``(H // 2, W // 2)``). Masks are a pure
function of their arguments: the same seed gives the same mask.

The number of sampled lines / points is chosen so that the achieved acceleration
``H * W / mask.sum()`` is as close to the nominal one as the pattern allows:

* 1-D Cartesian kinds ("equispaced", "random", "gaussian1d") sample whole columns (phase encodes
  along W, readout along H). They sample exactly ``round(W / acceleration)`` columns, of which the
  ``round(W * center_fraction)`` centre columns are always fully sampled (the autocalibration
  region), so the achieved acceleration is ``W / round(W / acceleration)``: exact whenever
  ``acceleration`` divides ``W`` (e.g. 320, 368 or 640 columns at 4x / 8x).
* 2-D kinds ("poisson", "radial") sample exactly ``round(H * W / acceleration)`` points.
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np


def mask_acceleration(mask) -> float:
    """Achieved acceleration ``mask.size / mask.sum()`` of a 0/1 mask (``inf`` if nothing is sampled)."""
    mask = np.asarray(mask)
    total = float(np.sum(mask != 0))
    return math.inf if total == 0 else float(mask.size) / total


def _centre_indices(n: int, count: int) -> np.ndarray:
    """``count`` consecutive indices around ``n // 2`` (fastMRI's placement of the low frequencies)."""
    start = (n - count + 1) // 2
    return np.arange(start, start + count)


def _column_budget(width: int, acceleration: float, center_fraction: float) -> tuple[np.ndarray, int]:
    """Centre columns and the number of further columns a 1-D mask must sample."""
    n_total = max(1, int(round(width / acceleration)))
    centre = _centre_indices(width, int(round(width * center_fraction)))
    if centre.size > n_total:
        raise ValueError(
            f"center_fraction={center_fraction} fully samples {centre.size} of {width} columns, more than the "
            f"{n_total} columns allowed by acceleration={acceleration}; lower center_fraction or acceleration")
    return centre, n_total - centre.size


def _columns_mask(shape: tuple[int, int], columns: np.ndarray) -> np.ndarray:
    mask = np.zeros(shape, dtype=np.float32)
    mask[:, columns] = 1.0
    return mask


def _outside(width: int, centre: np.ndarray) -> np.ndarray:
    return np.setdiff1d(np.arange(width), centre)


def _equispaced(shape, acceleration, center_fraction, rng) -> np.ndarray:
    """Centre block plus evenly spaced columns with a seeded offset.

    The extra columns are evenly spaced along the list of columns *outside* the centre block, so
    their count is exact; across the centre block the grid simply skips the fully sampled region.
    """
    _, width = shape
    centre, k = _column_budget(width, acceleration, center_fraction)
    cols = [centre]
    if k > 0:
        outside = _outside(width, centre)
        spacing = outside.size / k
        offset = int(rng.integers(0, max(1, int(math.floor(spacing)))))
        cols.append(outside[np.floor(offset + np.arange(k) * spacing).astype(int)])
    return _columns_mask(shape, np.concatenate(cols))


def _random(shape, acceleration, center_fraction, rng) -> np.ndarray:
    """Centre block plus columns drawn uniformly without replacement (fastMRI's RandomMaskFunc,
    but with an exact rather than a binomial number of columns)."""
    _, width = shape
    centre, k = _column_budget(width, acceleration, center_fraction)
    extra = rng.choice(_outside(width, centre), size=k, replace=False) if k > 0 else np.zeros(0, int)
    return _columns_mask(shape, np.concatenate([centre, extra]))


def _gaussian1d(shape, acceleration, center_fraction, rng, sigma_fraction: float = 0.25) -> np.ndarray:
    """Centre block plus columns drawn without replacement with probability
    ``∝ exp(-(k / sigma)² / 2)``, ``k`` the distance to the centre column, ``sigma = sigma_fraction * W``."""
    _, width = shape
    centre, k = _column_budget(width, acceleration, center_fraction)
    extra = np.zeros(0, int)
    if k > 0:
        outside = _outside(width, centre)
        sigma = max(1.0, sigma_fraction * width)
        logits = -0.5 * ((outside - width // 2) / sigma) ** 2
        p = np.exp(logits - logits.max())
        extra = rng.choice(outside, size=k, replace=False, p=p / p.sum())
    return _columns_mask(shape, np.concatenate([centre, extra]))


def _dart_throw(order: np.ndarray, radius: np.ndarray, occupied: np.ndarray, r0: float) -> np.ndarray:
    """Grid dart throwing: visit pixels in ``order``; keep one if no kept pixel lies closer than
    ``r0 * radius[pixel]``. ``occupied`` (pre-sampled pixels, e.g. the calibration block) is copied."""
    height, width = occupied.shape
    occ = occupied.copy()
    rmax = int(math.ceil(r0 * radius.max()))
    off = np.arange(-rmax, rmax + 1)
    dist2 = off[:, None] ** 2 + off[None, :] ** 2
    flat_radius = radius.ravel()
    for p in order:
        y, x = divmod(int(p), width)
        if occ[y, x]:
            continue
        r = r0 * flat_radius[p]
        if r > 1.0:
            # Integer offsets closer than r have |dy|, |dx| <= ceil(r) - 1.
            h = int(math.ceil(r)) - 1
            y0, y1 = max(0, y - h), min(height, y + h + 1)
            x0, x1 = max(0, x - h), min(width, x + h + 1)
            d2 = dist2[rmax + y0 - y: rmax + y1 - y, rmax + x0 - x: rmax + x1 - x]
            if np.any(occ[y0:y1, x0:x1] & (d2 < r * r)):
                continue
        occ[y, x] = True
    return occ


def _poisson(shape, acceleration, center_fraction, rng, radius_growth: float = 2.0,
             max_trials: int = 30) -> np.ndarray:
    """2-D variable-density Poisson disc with a fully sampled centre block.

    The exclusion radius grows linearly with the normalised distance d ∈ [0, 1] from the k-space
    centre, ``r = r0 (1 + radius_growth * d)``, so the density falls off by ``(1 + radius_growth)²``
    from centre to corner. ``r0`` is searched (in log space) for a pattern with at least the target
    number of points, and the surplus is removed at random outside the centre block, which keeps the
    minimum-distance property and makes the count exact.
    """
    height, width = shape
    n_target = max(1, int(round(height * width / acceleration)))
    calib = np.zeros(shape, dtype=bool)
    calib[np.ix_(_centre_indices(height, int(round(height * center_fraction))),
                 _centre_indices(width, int(round(width * center_fraction))))] = True
    if calib.sum() > n_target:
        raise ValueError(f"center_fraction={center_fraction} fully samples {int(calib.sum())} points, more than "
                         f"the {n_target} allowed by acceleration={acceleration}")
    ky = (np.arange(height) - height // 2) / max(1, height // 2)
    kx = (np.arange(width) - width // 2) / max(1, width // 2)
    d = np.sqrt(ky[:, None] ** 2 + kx[None, :] ** 2) / math.sqrt(2.0)
    radius = 1.0 + radius_growth * np.clip(d, 0.0, 1.0)
    order = rng.permutation(height * width)

    # A random sequential packing covers ~55% of the area with discs of radius r/2; that gives the
    # first guess of r0, refined by bisection in log space between a too-dense and a too-sparse r0.
    guess = math.sqrt(4 * 0.547 / math.pi * np.sum(1.0 / radius**2) / n_target)
    best = np.ones(shape, dtype=bool)          # r0 -> 0 samples everything: always >= target
    lo, hi = None, None                        # lo: count >= target, hi: count < target
    r0 = guess
    for _ in range(max_trials):
        occ = _dart_throw(order, radius, calib, r0)
        count = int(occ.sum())
        if count >= n_target:
            if count < best.sum():
                best = occ
            if count <= 1.02 * n_target:
                break
            lo = r0
        else:
            hi = r0
        if lo is None:
            r0 = r0 / 1.3
        elif hi is None:
            r0 = r0 * 1.3
        else:
            r0 = math.sqrt(lo * hi)
    surplus = int(best.sum()) - n_target
    if surplus > 0:
        removable = np.flatnonzero(best & ~calib)
        best = best.copy()
        best.flat[rng.choice(removable, size=surplus, replace=False)] = False
    return best.astype(np.float32)


_GOLDEN_ANGLE = math.pi / ((1 + math.sqrt(5)) / 2)   # ≈ 111.25°, the radial-MRI golden angle


def _radial(shape, acceleration, center_fraction, rng) -> np.ndarray:
    """Golden-angle radial spokes through the k-space centre, rasterised to the grid.

    The first spoke's angle is drawn from the seed. Spokes are added until the target count is
    reached; the last spoke is kept only from the centre outwards up to the exact count.
    ``center_fraction`` is ignored: spokes already sample the centre densely.
    """
    del center_fraction
    height, width = shape
    n_target = max(1, int(round(height * width / acceleration)))
    cy, cx = height // 2, width // 2
    half = int(math.ceil(math.hypot(height, width))) + 2
    t = np.arange(-half, half + 1) / 2.0             # half-pixel steps along the spoke
    t = t[np.argsort(np.abs(t), kind="stable")]      # centre first, so a partial spoke is central
    mask = np.zeros(shape, dtype=bool)
    count = 0
    phi0 = float(rng.uniform(0.0, math.pi))
    for s in range(64 * max(height, width)):
        theta = phi0 + s * _GOLDEN_ANGLE
        ys = np.floor(cy + t * math.sin(theta) + 0.5).astype(int)
        xs = np.floor(cx + t * math.cos(theta) + 0.5).astype(int)
        inside = (ys >= 0) & (ys < height) & (xs >= 0) & (xs < width)
        flat = ys[inside] * width + xs[inside]
        _, first = np.unique(flat, return_index=True)
        flat = flat[np.sort(first)]                   # unique pixels, still ordered by |t|
        new = flat[~mask.flat[flat]]
        take = new[: n_target - count]
        mask.flat[take] = True
        count += take.size
        if count >= n_target:
            break
    else:   # pragma: no cover - spokes densely cover the grid long before this
        rest = np.flatnonzero(~mask)
        mask.flat[rng.choice(rest, size=n_target - count, replace=False)] = True
    return mask.astype(np.float32)


# kind -> generator(shape, acceleration, center_fraction, rng, **options). The one registry of mask kinds.
MASK_KINDS: dict[str, Callable[..., np.ndarray]] = {
    "equispaced": _equispaced,
    "random": _random,
    "gaussian1d": _gaussian1d,
    "poisson": _poisson,
    "radial": _radial,
}


def make_mask(kind: str, shape: tuple[int, int], acceleration: float = 4.0, center_fraction: float = 0.08,
              seed: int = 0, **options) -> np.ndarray:
    """An undersampling mask ``[H, W]`` float32 of 0/1 in centred k-space layout.

    kind: one of ``MASK_KINDS`` ("equispaced", "random", "gaussian1d", "poisson", "radial").
    acceleration: nominal ``H * W / mask.sum()`` (>= 1).
    center_fraction: fraction of columns (1-D kinds) or of each side (poisson) fully sampled at the
        centre; ignored by "radial".
    seed: integer seed; the same seed gives the same mask.
    options: kind-specific keywords (``sigma_fraction`` for gaussian1d, ``radius_growth`` for poisson).
    """
    if kind not in MASK_KINDS:
        raise ValueError(f"unknown mask kind {kind!r}; valid kinds: {', '.join(sorted(MASK_KINDS))}")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or min(shape) < 1:
        raise ValueError(f"shape must be (H, W) with positive sizes; got {shape}")
    acceleration = float(acceleration)
    if not math.isfinite(acceleration) or acceleration < 1.0:
        raise ValueError(f"acceleration must be a finite number >= 1; got {acceleration}")
    center_fraction = float(center_fraction)
    if not 0.0 <= center_fraction <= 1.0:
        raise ValueError(f"center_fraction must lie in [0, 1]; got {center_fraction}")
    rng = np.random.default_rng(seed)
    return MASK_KINDS[kind](shape, acceleration, center_fraction, rng, **options).astype(np.float32)
