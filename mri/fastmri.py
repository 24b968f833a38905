"""Reading and writing fastMRI ``.h5`` volumes (the only module of ``mri`` that touches disk).

A fastMRI file holds one volume:

* ``kspace``: [S, H, W] complex64 (single-coil) or [S, C, H, W] (multi-coil), centred k-space;
* optionally ``reconstruction_esc`` (single-coil target) and/or ``reconstruction_rss`` (multi-coil
  target), [S, h, w] float32 magnitude images, usually the central 320 x 320;
* optionally ``mask`` [W] (challenge test files);
* attributes such as ``acquisition`` (e.g. "CORPD_FBK"), ``max`` (the target volume's maximum,
  the data range of fastMRI's PSNR / SSIM), ``norm``, ``patient_id``.

    volume = FastMRIVolume("file1000001.h5")
    for i in range(volume.num_slices):
        s = volume.slice(i)          # {"kspace": ..., "target": ... or None, "mask": ... or None}

Slices are read one at a time (the file is opened per access and closed again), so a volume
never has to fit in memory and handles are never left open.
"""
from __future__ import annotations

import os
from typing import Any, Iterator

import h5py
import numpy as np


class FastMRIFormatError(ValueError):
    """A file is missing, is not HDF5, or does not have fastMRI's layout. The message names the file."""


_TARGET_KEYS_SINGLECOIL = ("reconstruction_esc", "reconstruction_rss")
_TARGET_KEYS_MULTICOIL = ("reconstruction_rss", "reconstruction_esc")


def _decode(value: Any) -> Any:
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


class FastMRIVolume:
    """One fastMRI volume, opened lazily.

    Attributes: ``path``, ``attrs`` (all file attributes), ``acquisition`` and ``max`` (None when the
    file lacks them), ``num_slices``, ``is_multicoil``, ``kspace_shape``, ``target_key`` (the dataset
    used as the target, or None). The target is ``reconstruction_esc`` for single-coil files and
    ``reconstruction_rss`` for multi-coil files when both exist (fastMRI's challenge targets);
    otherwise whichever exists.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = os.fspath(path)
        if not os.path.exists(self.path):
            raise FastMRIFormatError(f"{self.path}: file does not exist")
        if os.path.isdir(self.path):
            raise FastMRIFormatError(f"{self.path}: is a directory, not a fastMRI .h5 file")
        if not h5py.is_hdf5(self.path):
            raise FastMRIFormatError(f"{self.path}: not an HDF5 file (fastMRI volumes are .h5)")
        try:
            with h5py.File(self.path, "r") as f:
                keys = sorted(f.keys())
                if "kspace" not in f:
                    raise FastMRIFormatError(
                        f"{self.path}: missing the 'kspace' dataset (found keys: {keys or 'none'})")
                kspace = f["kspace"]
                if not isinstance(kspace, h5py.Dataset):
                    raise FastMRIFormatError(f"{self.path}: 'kspace' is a group, expected a dataset")
                self.kspace_shape = tuple(kspace.shape)
                self.kspace_dtype = kspace.dtype
                self.attrs = {k: _decode(v) for k, v in f.attrs.items()}
                candidates = _TARGET_KEYS_MULTICOIL if len(self.kspace_shape) == 4 else _TARGET_KEYS_SINGLECOIL
                self.target_key = next((k for k in candidates if k in f), None)
                self.target_shape = tuple(f[self.target_key].shape) if self.target_key else None
                self.has_mask = "mask" in f
        except FastMRIFormatError:
            raise
        except (OSError, KeyError) as err:   # corrupt / truncated file
            raise FastMRIFormatError(f"{self.path}: cannot be read as HDF5 ({err})") from err

        if len(self.kspace_shape) not in (3, 4):
            raise FastMRIFormatError(
                f"{self.path}: 'kspace' must be [slices, H, W] (single-coil) or [slices, coils, H, W] "
                f"(multi-coil); got shape {self.kspace_shape}")
        if self.kspace_dtype.kind != "c":
            raise FastMRIFormatError(f"{self.path}: 'kspace' must be complex; got dtype {self.kspace_dtype}")
        if self.target_shape is not None and self.target_shape[0] != self.kspace_shape[0]:
            raise FastMRIFormatError(
                f"{self.path}: '{self.target_key}' has {self.target_shape[0]} slices but 'kspace' has "
                f"{self.kspace_shape[0]}")
        self.acquisition = self.attrs.get("acquisition")
        self.max = self.attrs.get("max")

    @property
    def num_slices(self) -> int:
        return self.kspace_shape[0]

    @property
    def is_multicoil(self) -> bool:
        return len(self.kspace_shape) == 4

    def __len__(self) -> int:
        return self.num_slices

    def slice(self, i: int, kspace: bool = True, target: bool = True) -> dict[str, np.ndarray | None]:
        """Slice ``i`` (negative indices count from the end) as a dict:

        ``kspace``: [H, W] or [C, H, W] complex64; ``target``: [h, w] float32 or None;
        ``mask``: [W] float32 or None (only challenge test files carry one).
        ``kspace=False`` / ``target=False`` skip reading that array (None in the dict): a 15-coil
        knee slice's k-space is 28 MB, its 320 x 320 target 0.4 MB.
        """
        n = self.num_slices
        index = int(i)
        if not -n <= index < n:
            raise IndexError(f"{self.path}: slice {i} out of range for a volume of {n} slices")
        index %= n
        try:
            with h5py.File(self.path, "r") as f:
                k = np.asarray(f["kspace"][index]).astype(np.complex64, copy=False) if kspace else None
                t = (np.asarray(f[self.target_key][index]).astype(np.float32, copy=False)
                     if target and self.target_key else None)
                mask = np.asarray(f["mask"][()]).astype(np.float32) if self.has_mask else None
        except (OSError, KeyError, ValueError, IndexError) as err:   # changed on disk, or a corrupt chunk
            raise FastMRIFormatError(f"{self.path}: slice {index} cannot be read ({err})") from err
        return {"kspace": k, "target": t, "mask": mask}

    def verify(self) -> "FastMRIVolume":
        """Read the first and the last slice (a damaged file usually fails at one end), so that a
        loader can skip a bad file up front instead of failing in the middle of a run; raises
        FastMRIFormatError naming the file. Returns ``self``."""
        self.slice(0)
        if self.num_slices > 1:
            self.slice(-1)
        return self

    def __iter__(self) -> Iterator[dict[str, np.ndarray | None]]:
        for i in range(self.num_slices):
            yield self.slice(i)

    def __repr__(self) -> str:
        kind = "multicoil" if self.is_multicoil else "singlecoil"
        return (f"FastMRIVolume({self.path!r}, {kind}, kspace={self.kspace_shape}, "
                f"target={self.target_key}, acquisition={self.acquisition!r})")


def write_fastmri_file(path: str | os.PathLike, kspace, target=None, acquisition: str = "CORPD_FBK",
                       max_value: float | None = None, **attrs) -> str:
    """Write a volume in fastMRI's layout (for tests and for exporting simulated data).

    kspace: [S, H, W] (single-coil) or [S, C, H, W] (multi-coil) complex, stored as complex64.
    target: optional [S, h, w] magnitude images, stored as ``reconstruction_esc`` (single-coil) or
        ``reconstruction_rss`` (multi-coil).
    max_value: the ``max`` attribute; defaults to ``target.max()`` when a target is given (fastMRI's
        definition) and is omitted otherwise. Extra keyword arguments become further attributes.
    Returns the path written.
    """
    path = os.fspath(path)
    kspace = np.asarray(kspace)
    if kspace.ndim not in (3, 4):
        raise ValueError(f"kspace must be [S, H, W] or [S, C, H, W]; got shape {kspace.shape}")
    if target is not None:
        target = np.asarray(target, dtype=np.float32)
        if target.ndim != 3 or target.shape[0] != kspace.shape[0]:
            raise ValueError(f"target must be [S, h, w] with S={kspace.shape[0]}; got shape {target.shape}")
        if max_value is None:
            max_value = float(target.max())
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace.astype(np.complex64))
        if target is not None:
            key = "reconstruction_rss" if kspace.ndim == 4 else "reconstruction_esc"
            f.create_dataset(key, data=target)
        f.attrs["acquisition"] = acquisition
        if max_value is not None:
            f.attrs["max"] = float(max_value)
        for key, value in attrs.items():
            f.attrs[key] = value
    return path
