"""A piecewise-constant head phantom (the modified Shepp–Logan ellipses of Toft, 1996)."""
from __future__ import annotations

import numpy as np

# (intensity added, semi-axis a (x), semi-axis b (y), centre x, centre y, rotation in degrees), in the
# [-1, 1]² field of view with y pointing up. "Modified" contrasts: values end up in [0, 1].
_ELLIPSES = (
    (1.0, 0.6900, 0.9200, 0.00, 0.0000, 0.0),
    (-0.8, 0.6624, 0.8740, 0.00, -0.0184, 0.0),
    (-0.2, 0.1100, 0.3100, 0.22, 0.0000, -18.0),
    (-0.2, 0.1600, 0.4100, -0.22, 0.0000, 18.0),
    (0.1, 0.2100, 0.2500, 0.00, 0.3500, 0.0),
    (0.1, 0.0460, 0.0460, 0.00, 0.1000, 0.0),
    (0.1, 0.0460, 0.0460, 0.00, -0.1000, 0.0),
    (0.1, 0.0460, 0.0230, -0.08, -0.6050, 0.0),
    (0.1, 0.0230, 0.0230, 0.00, -0.6060, 0.0),
    (0.1, 0.0230, 0.0460, 0.06, -0.6050, 0.0),
)


def phantom(n: int = 64) -> np.ndarray:
    """Shepp–Logan-like phantom ``[n, n]`` float32 with values in [0, 1] (background 0, skull 1).

    Each pixel is tested at its centre against ten ellipses whose intensities add up.
    """
    n = int(n)
    if n < 2:
        raise ValueError(f"phantom size must be >= 2; got {n}")
    coords = (2 * np.arange(n) + 1 - n) / n        # pixel centres in (-1, 1)
    x = coords[None, :]
    y = -coords[:, None]                             # row 0 is the top (y = +1)
    image = np.zeros((n, n), dtype=np.float64)
    for value, a, b, x0, y0, degrees in _ELLIPSES:
        phi = np.deg2rad(degrees)
        dx, dy = x - x0, y - y0
        u = dx * np.cos(phi) + dy * np.sin(phi)
        v = -dx * np.sin(phi) + dy * np.cos(phi)
        image += value * ((u / a) ** 2 + (v / b) ** 2 <= 1.0)
    return np.clip(image, 0.0, 1.0).astype(np.float32)
