"""Host loading speed of the fastMRI training dataset (``datasets.fastmri``) at full size.

Writes synthetic volumes in fastMRI's layout and size (multi-coil: 15 coils, 640 x 368
k-space, with a 320 x 320 ``reconstruction_rss``; single-coil: 640 x 368) into a temporary
folder, then, for each target at 320 px, prints slices / s:

- "no cache": ``dataset.batch(key, B)`` with ``data.cache_mb=0`` (every slice read and
  transformed each time; the first batch warms the per-volume scales and is not counted);
- "first epoch": every slice once from a fresh dataset with the cache on (the default);
- "cached": ``dataset.batch(key, B)`` after that (what every later epoch costs).

    python bench/bench_fastmri_data.py [--volumes 3] [--slices 8] [--batch 8] [--workers 1,4]
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import datasets  # noqa: E402
import mri  # noqa: E402
from ml_collections import ConfigDict  # noqa: E402


def write_volumes(root: str, n: int, slices: int, coils: int) -> None:
    rng = np.random.default_rng(0)
    for v in range(n):
        shape = (slices, coils, 640, 368) if coils else (slices, 640, 368)
        k = (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)
        k *= np.exp(-((np.arange(640) - 320)[:, None] ** 2 / 8e3 + (np.arange(368) - 184)[None] ** 2 / 3e3))
        target = rng.random((slices, 320, 320), dtype=np.float32)
        mri.write_fastmri_file(os.path.join(root, f"vol{v:03d}.h5"), k, target=target)


def time_batches(ds, batch: int, reps: int) -> float:
    """Seconds per ``ds.batch`` (after one untimed batch)."""
    ds.batch(0, batch)
    t0 = time.perf_counter()
    for i in range(reps):
        ds.batch(i + 1, batch)
    return (time.perf_counter() - t0) / reps


def rates(cfg: ConfigDict, batch: int, reps: int) -> tuple[float, float, float]:
    """Slices / s: no cache, the first epoch with the cache, cached batches."""
    no_cache = batch / time_batches(datasets.get_dataset(ConfigDict({**cfg.to_dict(), "cache_mb": 0}), "train"),
                                    batch, reps)
    ds = datasets.get_dataset(cfg, "train")
    t0 = time.perf_counter()
    ds.all()
    first = ds.num_examples / (time.perf_counter() - t0)
    return no_cache, first, batch / time_batches(ds, batch, reps)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--volumes", type=int, default=3)
    p.add_argument("--slices", type=int, default=8)
    p.add_argument("--batch", type=int, default=8)
    p.add_argument("--reps", type=int, default=5)
    p.add_argument("--workers", default="1,4")
    args = p.parse_args(argv)
    print(f"# fastMRI host loading, {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"batch {args.batch}, 320 px, {args.volumes} volumes x {args.slices} slices; slices / s")
    print("| data | target | workers | no cache | first epoch | cached |")
    print("|---|---|---|---|---|---|")
    for coils in (15, 0):
        with tempfile.TemporaryDirectory() as root:
            write_volumes(root, args.volumes, args.slices, coils)
            for target in ("magnitude", "reconstruction", "complex"):
                for workers in [int(w) for w in args.workers.split(",")]:
                    cfg = ConfigDict(dict(dataset="fastmri", root=root, image_size=320, target=target,
                                          num_channels=2 if target == "complex" else 1, val_fraction=0.0,
                                          workers=workers, centered=False, random_flip=False, cache_mb=2048))
                    r = rates(cfg, args.batch, args.reps)
                    kind = f"{coils}-coil 640x368" if coils else "single-coil 640x368"
                    print(f"| {kind} | {target} | {workers} | " + " | ".join(f"{v:.1f}" for v in r) + " |", flush=True)


if __name__ == "__main__":
    main()
