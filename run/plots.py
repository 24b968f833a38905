"""PNG figures: 2-D scatter beside the data, image grids, and MRI reconstructions."""
from __future__ import annotations

import numpy as np


def _pyplot():
    """matplotlib.pyplot on the Agg backend, imported on first use: its import takes 0.7-0.9 s
    on our 2-core CPU, which a command that draws nothing (a refused config, a training run
    without snapshots) need not pay."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def scatter_2d(samples: np.ndarray, data: np.ndarray, path: str, title: str = "samples") -> None:
    """Samples and training data side by side on shared axes."""
    lim = np.percentile(np.abs(np.concatenate([samples, data])), 99.5) * 1.15
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 4.5), sharex=True, sharey=True)
    for ax, pts, name in ((axes[0], data, "training data"), (axes[1], samples, title)):
        ax.scatter(pts[:, 0], pts[:, 1], s=1.5, alpha=0.5)
        ax.set_title(f"{name} (n={len(pts)})")
        ax.set_xlim(-lim, lim)
        ax.set_ylim(-lim, lim)
        ax.set_aspect("equal")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def image_grid(images: np.ndarray, path: str, ncol: int | None = None) -> None:
    """``images: [N, H, W, C]`` in [0, 1] tiled into one PNG (C = 1 shown in grey)."""
    images = np.clip(np.asarray(images, np.float32), 0.0, 1.0)
    n, h, w, c = images.shape
    ncol = ncol or int(np.ceil(np.sqrt(n)))
    nrow = int(np.ceil(n / ncol))
    grid = np.ones((nrow * (h + 1) + 1, ncol * (w + 1) + 1, c), np.float32)
    for i in range(n):
        r, q = divmod(i, ncol)
        grid[1 + r * (h + 1):1 + r * (h + 1) + h, 1 + q * (w + 1):1 + q * (w + 1) + w] = images[i]
    if c == 1:
        _pyplot().imsave(path, grid[..., 0], cmap="gray", vmin=0, vmax=1)
    else:
        _pyplot().imsave(path, grid)


def recon_figure(path: str, gt: np.ndarray, images: dict, std: np.ndarray, title: str) -> None:
    """One slice's reconstructions: ground truth and each method (PSNR in the title) on the top
    row, their |error| maps and the posterior std map below. ``images``: name -> ``[H, W]``."""
    from mri import psnr
    names = list(images)
    cols = max(len(names) + 1, 4)
    plt = _pyplot()
    fig, axes = plt.subplots(2, cols, figsize=(2.4 * cols, 5.0))
    vmax = float(gt.max()) or 1.0
    err_max = max(float(np.abs(images[n] - gt).max()) for n in names) or 1.0
    axes[0, 0].imshow(gt, cmap="gray", vmin=0, vmax=vmax)
    axes[0, 0].set_title("ground truth")
    for j, name in enumerate(names, start=1):
        axes[0, j].imshow(images[name], cmap="gray", vmin=0, vmax=vmax)
        axes[0, j].set_title(f"{name}\nPSNR {psnr(gt, images[name], vmax):.1f}", fontsize=8)
        axes[1, j].imshow(np.abs(images[name] - gt), cmap="magma", vmin=0, vmax=err_max)
        axes[1, j].set_title(f"|error| {name}", fontsize=8)
    axes[1, 0].imshow(std, cmap="viridis")
    axes[1, 0].set_title("posterior std", fontsize=8)
    for ax in axes.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in list(axes[0, len(names) + 1:]) + list(axes[1, len(names) + 1:]):
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
