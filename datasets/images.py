"""Finite image sources: scikit-learn's digits, a folder of PNG/JPEG files, and tfds (optional).

Each loader returns ``(images, ids)``: ``images`` uint8 ``[N, H, W, C]`` (every source here is
put on the 8-bit grid, so ``uniform_dequantization`` means the same thing for all of them) and
``ids`` saying where each image came from. Heavy imports (scikit-learn, PIL, tensorflow_datasets)
happen inside the loaders, only when that source is asked for.
"""
from __future__ import annotations

import functools
import os
from pathlib import Path

import numpy as np

from datasets.base import load_all

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg")
DIGITS_TEST_FRACTION = 0.2
FOLDER_TEST_EVERY = 5   # without train/ and test/ subfolders, every 5th file (sorted) is test


def _to_uint8(x: np.ndarray) -> np.ndarray:
    return np.round(np.clip(x, 0.0, 1.0) * 255.0).astype(np.uint8)


def _check_split(split: str) -> str:
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return split


# --------------------------------------------------------------------------- digits

@functools.lru_cache(maxsize=4)
def _digits_all(image_size: int) -> np.ndarray:
    from scipy import ndimage
    from sklearn.datasets import load_digits

    raw = load_digits().images.astype(np.float64) / 16.0        # [1797, 8, 8], 17 levels 0..16
    f = image_size / 8.0
    # Cubic spline zoom; grid_mode keeps pixel footprints aligned, the constant 0 border matches
    # the digits' black background; spline overshoot is clipped before 8-bit rounding.
    up = ndimage.zoom(raw, (1, f, f), order=3, grid_mode=True, mode="grid-constant")
    out = _to_uint8(up)[..., None]
    out.setflags(write=False)
    return out


def load_digits(split: str, image_size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 8x8 digits, upsampled (cubic) to ``image_size``.

    Fixed split: the first 80 % (1438 images, in the order scikit-learn ships them) train, the
    last 20 % (359) test. Returns (uint8 ``[N, S, S, 1]``, source indices ``[N]``).
    """
    _check_split(split)
    if not isinstance(image_size, (int, np.integer)) or image_size < 8:
        raise ValueError(f"digits: image_size must be an int >= 8, got {image_size!r}")
    images = _digits_all(int(image_size))
    n = images.shape[0]
    n_train = n - int(round(DIGITS_TEST_FRACTION * n))
    idx = np.arange(n_train) if split == "train" else np.arange(n_train, n)
    return images[idx], idx


# --------------------------------------------------------------------------- image folder

def _resize_pil(img, image_size: int):
    """Centre-crop a PIL image to a square, then resize (bicubic, anti-aliased by PIL)."""
    from PIL import Image

    w, h = img.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    img = img.crop((left, top, left + side, top + side))
    if side != image_size:
        img = img.resize((image_size, image_size), Image.Resampling.BICUBIC)
    return img


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Sorted PNG/JPEG files under ``folder`` (recursive); errors name the folder."""
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise FileNotFoundError(f"image folder {str(folder)!r} does not exist "
                                "(set data.root to a folder of PNG/JPEG images)")
    files = sorted(p for p in folder.rglob("*")
                   if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise FileNotFoundError(f"image folder {str(folder)!r} contains no "
                                f"{'/'.join(IMAGE_EXTENSIONS)} files")
    return files


def load_image_folder(root: str | os.PathLike, split: str, image_size: int = 32,
                      num_channels: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Images from ``root``, centre-cropped to a square and resized to ``image_size``.

    Split: if ``root/train`` and ``root/test`` exist, they are the splits; otherwise all files
    under ``root`` are sorted by path and every 5th one (index % 5 == 4) is test, the rest train.
    ``num_channels`` 1 converts to grey (PIL "L"), 3 to RGB (grey is replicated, alpha dropped).
    Files that cannot be decoded (truncated, not an image) are skipped after the split (so the
    others keep their split) and named in one warning; if none can be, ValueError.
    Returns (uint8 ``[N, S, S, C]``, file paths ``[N]`` as str, of the files loaded).
    """
    from PIL import Image

    _check_split(split)
    if num_channels not in (1, 3):
        raise ValueError(f"image_folder: num_channels must be 1 or 3, got {num_channels!r}")
    if not isinstance(image_size, (int, np.integer)) or image_size < 1:
        raise ValueError(f"image_folder: image_size must be a positive int, got {image_size!r}")
    root = Path(root).expanduser()
    if (root / "train").is_dir() and (root / "test").is_dir():
        files = list_images(root / split)
    else:
        files = list_images(root)
        pick = [(i % FOLDER_TEST_EVERY == FOLDER_TEST_EVERY - 1) == (split == "test")
                for i in range(len(files))]
        files = [f for f, keep in zip(files, pick) if keep]
        if not files:
            raise FileNotFoundError(f"image folder {str(root)!r} has too few images for a "
                                    f"{split} split (every {FOLDER_TEST_EVERY}th file is test)")
    mode = "L" if num_channels == 1 else "RGB"

    def read(path):
        # PIL raises OSError (UnidentifiedImageError is one) for a non-image or a truncated file;
        # load() decodes all of it now, so a truncated file fails here rather than in a batch.
        with Image.open(path) as img:
            img.load()
            img = _resize_pil(img.convert(mode), int(image_size))
            return np.asarray(img, np.uint8).reshape(image_size, image_size, num_channels)

    # Unreadable files are skipped (counted and named in the log); none readable is an error.
    images, skipped = load_all(files, read, what="image")
    bad = {p for p, _ in skipped}
    return np.stack(images), np.array([str(f) for f in files if f not in bad])


# --------------------------------------------------------------------------- tfds

def load_tfds(name: str, split: str, image_size: int, num_channels: int,
              data_dir: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """An image dataset already prepared by tensorflow_datasets (never downloads).

    ``split`` "test" falls back to "validation" when the dataset has no "test" split. Images
    are centre-cropped / resized to ``image_size`` if needed. Returns (uint8 ``[N, S, S, C]``,
    example indices ``[N]``). A missing package or missing data raises an error naming the
    dataset and how to get it.
    """
    _check_split(split)
    how = (f"install it with `pip install tensorflow-datasets`, prepare the data with "
           f"`tfds build {name}` (or tfds.load({name!r}) once with network), and point "
           f"data.data_dir at the tfds data directory if it is not the default "
           f"~/tensorflow_datasets")
    try:
        import tensorflow_datasets as tfds
    except ImportError as e:
        raise ImportError(f"dataset 'tfds:{name}' needs the tensorflow_datasets package, which "
                          f"is not installed: {how}") from e
    try:
        builder = tfds.builder(name, data_dir=data_dir)
    except Exception as e:  # tfds raises its own DatasetNotFoundError subclasses
        raise ValueError(f"tensorflow_datasets does not know a dataset named {name!r}: {e}") from e
    tfds_split = split
    try:
        known = set(builder.info.splits.keys())
    except Exception:
        known = set()
    if split == "test" and known and "test" not in known and "validation" in known:
        tfds_split = "validation"
    try:
        data = tfds.as_numpy(builder.as_dataset(split=tfds_split, batch_size=-1))
    except Exception as e:
        where = data_dir or "the default ~/tensorflow_datasets"
        raise FileNotFoundError(f"tfds dataset {name!r} (split {tfds_split!r}) is not prepared "
                                f"in {where}: {how}. ({type(e).__name__}: {e})") from e
    if not isinstance(data, dict) or "image" not in data:
        raise ValueError(f"tfds dataset {name!r} has no 'image' feature")
    images = np.asarray(data["image"])
    if images.ndim == 3:
        images = images[..., None]
    if images.dtype != np.uint8:
        raise ValueError(f"tfds dataset {name!r}: expected uint8 images, got {images.dtype}")
    if images.shape[-1] != num_channels:
        raise ValueError(f"tfds dataset {name!r} has {images.shape[-1]} channels but "
                         f"data.num_channels={num_channels}")
    if images.shape[1:3] != (image_size, image_size):
        from PIL import Image
        # 2-D uint8 arrays become "L" images and [H, W, 3] ones "RGB".
        squeeze = (lambda im: im[..., 0]) if num_channels == 1 else (lambda im: im)
        images = np.stack([
            np.asarray(_resize_pil(Image.fromarray(squeeze(im)), image_size), np.uint8)
            .reshape(image_size, image_size, num_channels)
            for im in images])
    return images, np.arange(images.shape[0])
