"""The k-space to reconstruct: simulated from held-out images, or read from a fastMRI file."""
from __future__ import annotations

import dataclasses
import os
from typing import Any

import jax.numpy as jnp
import numpy as np

import datasets
import mri
from datasets.base import load_all
from run.recon.settings import ReconConfigError, ReconSettings, as_settings


@dataclasses.dataclass
class Problem:
    """Undersampled k-space of S slices and what is needed to score reconstructions of it.

    gt: [S, H, W] magnitude ground truth (max 1 over the volume). y: [S, ...] measurements on the
    ground truth's scale. operator: the forward model (one mask for all slices), or a list of
    one operator per slice (multi-coil files: each slice has its own coil maps). complex_data:
    the images have a phase (fastMRI), so a real prior needs the "split" treatment.
    """
    gt: np.ndarray
    y: Any
    operator: Any
    mask: np.ndarray
    complex_data: bool
    source: str
    slice_ids: list


def _simulated_images(s: ReconSettings) -> tuple[np.ndarray, list]:
    test = datasets.get_dataset(s.data, "test")
    x = np.asarray(datasets.inverse_scaler(s.data)(test.all()), np.float32)
    if x.ndim != 4 or x.shape[-1] != 1:
        raise ReconConfigError(f"simulated k-space needs one-channel images; {s.data.dataset!r} test "
                               f"images have shape {x.shape[1:]}")
    idx = np.unique(np.linspace(0, len(x) - 1, min(s.num_slices, len(x))).round().astype(int))
    ids = [str(test.ids[i]) if getattr(test, "ids", None) is not None else str(i) for i in idx]
    return x[idx, ..., 0], [f"{s.data.dataset}[{i}] {z}" for i, z in zip(idx, ids)]


def native_fov(volume: mri.FastMRIVolume) -> int:
    """The file's own square field of view: the side of its reconstruction target where it has
    one (fastMRI's central 320 x 320), else the shorter side of its images."""
    side = min(volume.kspace_shape[-2:])
    return min(side, min(volume.target_shape[-2:])) if volume.target_shape else side


def _open_volume(path: str) -> mri.FastMRIVolume:
    volume = mri.FastMRIVolume(path).verify()
    if volume.has_mask:
        raise ReconConfigError(f"{path}: a challenge test file (already undersampled, with a mask); "
                               "recon needs fully sampled k-space to undersample retrospectively")
    return volume


def open_fastmri(path: str) -> mri.FastMRIVolume:
    """The volume of ``recon.fastmri_path``: a ``.h5`` file, or a directory whose first usable
    ``.h5`` (sorted by name) is used. Every file there is checked, and the unreadable ones are
    skipped and named in one log line (``datasets.base.load_all``); none usable is an error."""
    if not os.path.isdir(path):
        return _open_volume(path)
    files = sorted(os.path.join(path, f) for f in os.listdir(path) if f.endswith(".h5"))
    if not files:
        raise ReconConfigError(f"recon.fastmri_path={path!r} is a directory without .h5 files")
    volumes, _ = load_all(files, _open_volume, what="fastMRI volume",
                          errors=(mri.FastMRIFormatError, ReconConfigError))
    return volumes[0]


def _fastmri_kspace(s: ReconSettings) -> tuple[np.ndarray, list, str]:
    """The central ``num_slices`` slices of ``fastmri_path`` as square k-space ``[S, (C,) n, n]``:
    the file's own field of view at its own resolution (n = the fov), or, with
    ``recon.downsample``, the central k-space of that field of view at the prior's size."""
    volume = open_fastmri(s.fastmri_path)
    fov = native_fov(volume)
    if s.image_size > fov:
        raise ReconConfigError(f"{volume.path}: its images are {fov} px, smaller than the prior's "
                               f"data.image_size={s.image_size}")
    if s.image_size != fov and not s.downsample:
        raise ReconConfigError(f"{volume.path}: its images are {fov} px but the prior's data.image_size is "
                               f"{s.image_size}; use a prior of that size, or set recon.downsample=True to "
                               f"reconstruct a {s.image_size} px view of the same field of view")
    n = volume.num_slices
    centre = np.arange(n)[max(0, (n - s.num_slices) // 2):][:s.num_slices]
    kspace = np.stack([mri.square_kspace(volume.slice(int(i))["kspace"], fov, s.image_size) for i in centre])
    return kspace, [f"{os.path.basename(volume.path)}[{int(i)}]" for i in centre], volume.path


def _mask(s: ReconSettings) -> np.ndarray:
    try:
        return mri.make_mask(s.mask_kind, (s.image_size, s.image_size), s.acceleration, s.center_fraction,
                             s.mask_seed)
    except ValueError as e:   # e.g. a centre block larger than the acceleration's sample budget
        raise ReconConfigError(f"recon.mask ({s.mask_label}, centre {s.center_fraction:g}) at "
                               f"{s.image_size} px: {e}") from None


def build_problem(settings) -> Problem:
    """The k-space to reconstruct, from :class:`ReconSettings` (or a config, parsed here):
    held-out slices of ``data`` simulated single-coil or multi-coil (birdcage maps), or the
    central slices of ``fastmri_path`` at the file's own resolution (``recon.downsample``: a
    lower-resolution view), retrospectively undersampled; multi-coil files get per-slice
    ACS-estimated sensitivities."""
    s = as_settings(settings)
    size = s.image_size
    mask = _mask(s)
    rng = np.random.default_rng(s.seed)
    if s.fastmri_path:
        full, ids, source = _fastmri_kspace(s)
        multicoil = full.ndim == 4
        coil_images = np.asarray(mri.ifft2c(full))
        image = np.asarray(mri.rss(coil_images, axis=1)) if multicoil else coil_images
        scale = float(np.abs(image).max()) or 1.0
        full = full / scale
        gt = np.abs(image) / scale
        if multicoil:
            # Maps from each slice's own (fully sampled) k-space centre: one operator per slice.
            calib = max(2, int(round(size * s.center_fraction)))
            sens = np.asarray(mri.estimate_sens_maps(full * mask, calib_width=calib))
            operator = [mri.MulticoilOperator(mask, m) for m in sens]
        else:
            operator = mri.SinglecoilOperator(mask)
        clean = full * mask
        complex_data = True
    else:
        images, ids = _simulated_images(s)
        gt = images
        if s.multicoil:
            operator = mri.MulticoilOperator(mask, mri.birdcage_maps((s.num_coils, size, size)))
        else:
            operator = mri.SinglecoilOperator(mask)
        clean = np.asarray(operator.forward(jnp.asarray(images)))
        complex_data, source = False, f"{s.data.dataset} test split"
    noise = rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)
    y = clean + s.noise_std * noise * np.broadcast_to(mask, clean.shape)
    return Problem(gt=np.asarray(gt, np.float32), y=jnp.asarray(y.astype(np.complex64)), operator=operator,
                   mask=mask, complex_data=complex_data, source=source, slice_ids=ids)
