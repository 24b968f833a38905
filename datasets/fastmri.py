"""Training data from a directory of fastMRI ``.h5`` volumes (``data.dataset = "fastmri"``).

Split by file: the volumes are ordered by a hash of their file name and the first
``data.val_fraction`` of them (at least one when there are two or more) form the "test"
split, the rest "train", so the two never share a volume and the split is the same on every
machine (it depends on the file names only). Within a volume only the central
``data.slice_fraction`` of the slices is used (the outer slices of a knee or brain volume hold
little anatomy).

Targets (``data.target``), each on a square field of view (``mri.square_kspace``): the central
``data.fov`` pixels of the image (default ``data.image_size``: the file's own resolution),
reduced to ``data.image_size`` by keeping the central k-space when ``fov > image_size``:

- ``"magnitude"``: |image| (single-coil) or the root-sum-of-squares of the coil images;
- ``"reconstruction"``: the file's own target (``reconstruction_esc`` / ``reconstruction_rss``),
  centre-cropped to ``fov`` (and low-passed to ``image_size``);
- ``"complex"``: two channels (real, imaginary) of the complex image. Multi-coil volumes are
  combined as ``Σ conj(S_c) x_c`` with coil maps estimated from each slice's k-space centre
  (``mri.estimate_sens_maps``); such maps carry the image's own low-resolution phase, so the
  combined image keeps the phase detail finer than the calibration region and loses the smooth
  background phase (single-coil images keep their phase exactly).

Normalisation is per volume and keeps the phase: every slice is divided by the largest
magnitude of the volume's target over its used slices (one scalar per volume, computed the
first time the volume is touched and kept), so magnitudes lie in [0, 1] and complex channels in
[-1, 1]. ``data.centered`` maps magnitudes to [-1, 1] as for other images (not allowed for
complex targets: a shift would change the phase).

Targets are computed once: the first time a volume is touched, the targets of all its used
slices are computed (its scale needs them anyway) and, while they fit in ``data.cache_mb``
(default 2048 MiB, per process; 0 turns it off), kept in memory, so later epochs copy them
instead of reading and transforming k-space again (a 15-coil slice's k-space is 28 MB; its
320 px target 0.4 MB). Volumes that do not fit are recomputed per slice, as with the cache off.

Files that cannot be read (not HDF5, no ``kspace``) are skipped with a count and the first
paths in the log; a challenge file (``mask`` present: k-space already undersampled, no fully
sampled reference) is an error, as is a directory with no usable volume.
"""
from __future__ import annotations

import concurrent.futures
import glob
import hashlib
import os
import threading
from typing import Any

import numpy as np

import mri
from datasets.base import Dataset, load_all, numpy_rng, preprocess, select_rows

TARGETS = ("magnitude", "reconstruction", "complex")


def split_files(paths: list[str], split: str, val_fraction: float) -> list[str]:
    """The files of ``split`` ("train" / "test"): ordered by the hash of the file name, the first
    ``round(val_fraction · n)`` are "test" (at least one when n >= 2 and val_fraction > 0)."""
    order = sorted(paths, key=lambda p: hashlib.sha256(os.path.basename(p).encode()).hexdigest())
    n_test = max(1, int(round(val_fraction * len(order)))) if len(order) >= 2 and val_fraction > 0 else 0
    return order[:n_test] if split == "test" else order[n_test:]


def central_slices(num_slices: int, fraction: float) -> np.ndarray:
    """The central ``fraction`` of ``range(num_slices)`` (at least one slice)."""
    keep = max(1, int(round(fraction * num_slices)))
    start = (num_slices - keep) // 2
    return np.arange(start, start + keep)


def _open_volume(path: str) -> mri.FastMRIVolume:
    volume = mri.FastMRIVolume(path).verify()   # reads the end slices: a damaged file fails here
    if volume.has_mask:
        raise ChallengeFileError(
            f"{path}: a challenge file (k-space already undersampled, with a mask) has no fully "
            "sampled reference to train on; remove it from data.root")
    return volume


class ChallengeFileError(ValueError):
    """A fastMRI challenge file in a training directory (never skipped: it is a wrong input)."""


def _open_volumes(root: str, split: str, val_fraction: float) -> list[mri.FastMRIVolume]:
    if not os.path.isdir(root):
        raise ValueError(f"data.root={root!r} is not a directory (the fastMRI dataset reads its .h5 files)")
    paths = sorted(glob.glob(os.path.join(root, "*.h5")))
    if not paths:
        raise ValueError(f"data.root={root!r} holds no .h5 files (fastMRI volumes)")
    chosen = split_files(paths, split, val_fraction)
    if not chosen:
        raise ValueError(f"data.root={root!r}: the {split!r} split has no volume ({len(paths)} files, "
                         f"data.val_fraction={val_fraction})")
    try:
        volumes, _ = load_all(chosen, _open_volume, what=f"fastMRI volume ({split} split)",
                              errors=(mri.FastMRIFormatError,))
    except ValueError as e:
        if isinstance(e, ChallengeFileError):
            raise
        raise ValueError(f"data.root={root!r}: no readable fastMRI volume in the {split!r} split; {e}") from None
    return volumes


class FastMRIDataset(Dataset):
    """Slices of fastMRI volumes; ``batch`` draws slices uniformly with the key (see module doc).

    ``ids``: ``"<file>[<slice>]"`` per example; ``all()`` loads every slice (small sets only).
    """

    def __init__(self, root: str, split: str, *, image_size: int, fov: int | None = None,
                 target: str = "magnitude", slice_fraction: float = 1.0, val_fraction: float = 0.1,
                 random_flip: bool = False, centered: bool = False, workers: int = 4, cache_mb: float = 2048):
        if target not in TARGETS:
            raise ValueError(f"data.target={target!r}; valid: {list(TARGETS)}")
        if target == "complex" and centered:
            raise ValueError("data.target='complex' needs data.centered=False (a shift would change the phase)")
        if not 0.0 < slice_fraction <= 1.0 or not 0.0 <= val_fraction < 1.0:
            raise ValueError(f"need 0 < data.slice_fraction <= 1 and 0 <= data.val_fraction < 1; got "
                             f"{slice_fraction}, {val_fraction}")
        self.name = "fastmri"
        self.target, self.size = target, int(image_size)
        self.fov = self.size if fov is None else int(fov)
        if self.fov < self.size:
            raise ValueError(f"data.fov={self.fov} is smaller than data.image_size={self.size}")
        self.volumes = _open_volumes(root, split, val_fraction)
        for v in self.volumes:
            side = min(v.kspace_shape[-2:])
            if self.fov > side:
                raise ValueError(f"{v.path}: images of {v.kspace_shape[-2:]} px cannot give a {self.fov} px "
                                 f"field of view (data.fov / data.image_size)")
            if target == "reconstruction" and (v.target_key is None or self.fov > min(v.target_shape[-2:])):
                raise ValueError(f"{v.path}: data.target='reconstruction' needs a reconstruction_* target of at "
                                 f"least {self.fov} px; it has {v.target_key or 'none'} {v.target_shape or ''}")
        self.index = [(j, int(s)) for j, v in enumerate(self.volumes)
                      for s in central_slices(v.num_slices, slice_fraction)]
        self.ids = np.asarray([f"{os.path.basename(self.volumes[j].path)}[{s}]" for j, s in self.index])
        self.shape = (self.size, self.size, 2 if target == "complex" else 1)
        self.num_examples = len(self.index)
        self.options = dict(random_flip=bool(random_flip), centered=bool(centered))
        if cache_mb < 0:
            raise ValueError(f"data.cache_mb={cache_mb} must be >= 0 (0: no cache)")
        self._scales: dict[int, float] = {}
        self._workers = max(1, int(workers))
        # Per volume: its used slices (in index order), and, once computed and if they fit in the
        # budget, their normalised examples. One lock per volume, so that worker threads asking
        # for slices of the same new volume compute it once.
        self._slices: dict[int, list[int]] = {}
        for j, s in self.index:
            self._slices.setdefault(j, []).append(s)
        self._row = {(j, s): r for j, slices in self._slices.items() for r, s in enumerate(slices)}
        self._cache: dict[int, np.ndarray] = {}
        self._cache_budget, self._cache_used = int(cache_mb * 2**20), 0
        self._locks = {j: threading.Lock() for j in self._slices}
        self._cache_lock = threading.Lock()

    # --- one slice --------------------------------------------------------------------------
    def _raw(self, j: int, s: int) -> np.ndarray:
        """The unnormalised target of slice ``s`` of volume ``j``: ``[size, size]`` float32
        magnitude or complex64. Reads only the array it needs (k-space or the stored target)."""
        if self.target == "reconstruction":
            image = mri.crop_center(self.volumes[j].slice(s, kspace=False)["target"], self.fov, self.fov)
            if self.size < self.fov:   # low-pass the magnitude target on the same field of view
                image = np.abs(mri.ifft2c_np(mri.crop_center(mri.fft2c_np(image), self.size, self.size)))
            return np.asarray(image, np.float32)
        coils = mri.square_image(self.volumes[j].slice(s, target=False)["kspace"], self.fov, self.size)
        if coils.ndim == 2:
            return coils.astype(np.complex64) if self.target == "complex" else np.abs(coils).astype(np.float32)
        if self.target == "magnitude":
            return np.sqrt(np.sum(coils.real ** 2 + coils.imag ** 2, axis=0)).astype(np.float32)
        return self._combine(coils)

    def _combine(self, coils: np.ndarray) -> np.ndarray:
        """Coil images ``[C, H, W]`` -> one complex image, ``Σ conj(S_c) x_c`` with ACS maps."""
        import jax
        with jax.default_device(jax.devices("cpu")[0]):
            sens = np.asarray(mri.estimate_sens_maps(mri.fft2c_np(coils), calib_width=max(4, self.size // 16)))
        return np.sum(np.conj(sens) * coils, axis=0).astype(np.complex64)

    def _to_example(self, raw: np.ndarray, scale: float) -> np.ndarray:
        x = raw / scale
        if self.target == "complex":
            return np.stack([x.real, x.imag], axis=-1).astype(np.float32)
        return x[..., None].astype(np.float32)

    def _prepare(self, j: int) -> None:
        """First touch of volume ``j``: its scale (the largest target magnitude over its used
        slices) and, if they fit in the cache budget, its normalised examples."""
        if j in self._scales:
            return
        with self._locks[j]:
            if j in self._scales:   # another worker thread did it meanwhile
                return
            raws = self._map(lambda s: self._raw(j, s), self._slices[j])
            peak = max(float(np.abs(r).max()) for r in raws)
            scale = peak if peak > 0 else 1.0
            nbytes = len(raws) * int(np.prod(self.shape)) * 4
            with self._cache_lock:
                keep = self._cache_used + nbytes <= self._cache_budget
                self._cache_used += nbytes if keep else 0
            if keep:
                examples = np.stack([self._to_example(r, scale) for r in raws])
                examples.flags.writeable = False   # example() hands out views of it
                self._cache[j] = examples
            self._scales[j] = scale   # last: a thread that sees the scale also sees the cache entry

    def example(self, i: int) -> np.ndarray:
        """Example ``i`` normalised by its volume's scale: ``[size, size, 1 or 2]`` float32 (a
        read-only view when its volume is cached)."""
        j, s = self.index[i]
        self._prepare(j)
        if j in self._cache:
            return self._cache[j][self._row[j, s]]
        return self._to_example(self._raw(j, s), self._scales[j])

    def _map(self, fn, items) -> list:
        """``[fn(x) for x in items]`` in up to ``data.workers`` threads (h5py reads and SciPy /
        NumPy FFTs release the GIL for most of their time)."""
        items = list(items)
        if self._workers == 1 or len(items) == 1:
            return [fn(x) for x in items]
        with concurrent.futures.ThreadPoolExecutor(min(self._workers, len(items))) as pool:
            return list(pool.map(fn, items))

    def _load(self, indices) -> np.ndarray:
        return np.stack(self._map(self.example, [int(i) for i in indices]))

    # --- Dataset ------------------------------------------------------------------------------
    def batch(self, rng: Any, batch_size: int, rows: Any = None) -> np.ndarray:
        """``[batch_size, size, size, C]``: slices drawn with the key (without replacement when the
        batch fits), then flips / centering; with ``rows`` only those rows are read."""
        ids = select_rows(int(batch_size), rows)
        gen = numpy_rng(rng)
        idx = gen.choice(self.num_examples, int(batch_size), replace=int(batch_size) > self.num_examples)
        x = self._load(idx[ids])
        if self.target == "complex":
            return preprocess(x, gen, row_ids=ids, random_flip=self.options["random_flip"])
        return preprocess(x, gen, row_ids=ids, **self.options)

    def all(self) -> np.ndarray:
        x = self._load(range(self.num_examples))
        return preprocess(x, centered=self.options["centered"] and self.target != "complex")
