"""Input pipelines: one entry point, ``get_dataset(config.data, split)``.

    ds = datasets.get_dataset(config.data, split="train")
    ds.shape                      # per-example shape: (H, W, C), or (2,) for 2-D toys
    datasets.example_shape(config.data)   # the same, without building the dataset
    ds.num_examples               # int, or None for an endless stream
    x = ds.batch(jax.random.fold_in(key, step), batch_size)   # a pure function of the key
    x = ds.all()                  # finite datasets only

Names (``data.dataset``), all offline except tfds:

- ``gmm_ring``, ``checkerboard``, ``swiss_roll``, ``moons``: 2-D toys (``datasets.toy2d``),
  endless, ``batch`` returns a jax array ``[B, 2]``. The image options below are ignored.
- ``digits``: scikit-learn's 8x8 digits upsampled to ``data.image_size`` (1 channel).
- ``brain``: synthetic MRI slices from the MNI152 template in nilearn (``datasets.brain``);
  "train" is an endless stream of freshly augmented slices, "test" a fixed set (1 channel).
- ``image_folder``: PNG/JPEG files under ``data.root``.
- ``fastmri``: slices of the fastMRI ``.h5`` volumes under ``data.root`` (``datasets.fastmri``;
  keys ``data.target``, ``data.fov``, ``data.slice_fraction``, ``data.val_fraction``,
  ``data.workers`` (loader threads, 4) and ``data.cache_mb`` (targets kept in memory, 2048).
- ``tfds:<name>`` (e.g. ``tfds:cifar10``): a dataset already prepared by tensorflow_datasets in
  ``data.data_dir`` (default ``~/tensorflow_datasets``); needs ``pip install tensorflow-datasets``.

Config keys (score_sde names): ``data.dataset``, ``data.image_size``, ``data.num_channels``,
``data.centered``, ``data.random_flip``, ``data.uniform_dequantization``; plus ``data.root``
(image_folder), ``data.data_dir`` (tfds) and ``data.contrasts`` (brain; default all of
"t1", "t2", "pd"). Image batches are NumPy float32 ``[B, H, W, C]`` in [0, 1], or [-1, 1] when
``centered`` (``inverse_scaler`` maps back); see ``preprocess`` for flips and dequantization.

Importing this package imports NumPy only; jax, scipy, scikit-learn, nilearn, PIL and
tensorflow_datasets are imported when a dataset that needs them is built.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from datasets.base import TOY_NAMES, ArrayDataset, Dataset, StreamDataset, numpy_rng, preprocess

ConfigData = Any   # an ml_collections.ConfigDict (or a dict) with the data.* keys
Constructor = Callable[[ConfigData, str], Dataset]

# Image datasets: the side used when data.image_size is unset, and the channel count of the
# datasets that have one (the others take data.num_channels, default 3).
_DEFAULT_SIZE = {"digits": 32, "brain": 64, "image_folder": 32, "tfds": 32, "fastmri": 320}
_FIXED_CHANNELS = {"digits": 1, "brain": 1}


def _get(cfg: ConfigData, key: str, default: Any = None) -> Any:
    value = cfg.get(key, default)
    return default if value is None else value


def _options(cfg: ConfigData) -> dict:
    return dict(random_flip=bool(_get(cfg, "random_flip", False)),
                uniform_dequantization=bool(_get(cfg, "uniform_dequantization", False)),
                centered=bool(_get(cfg, "centered", False)))


def _image_size(cfg: ConfigData, default: int) -> int:
    size = _get(cfg, "image_size", default)
    if not isinstance(size, (int, np.integer)) or size < 1:
        raise ValueError(f"data.image_size must be a positive int, got {size!r}")
    return int(size)


def _check_channels(cfg: ConfigData, name: str, channels: int) -> None:
    wanted = _get(cfg, "num_channels", channels)
    if wanted != channels:
        raise ValueError(f"dataset {name!r} has {channels} channel(s) but data.num_channels="
                         f"{wanted!r}; set data.num_channels={channels}")


def _toy(name: str) -> Constructor:
    def make(cfg: ConfigData, split: str) -> Dataset:
        import jax

        from datasets import toy2d

        sampler = jax.jit(toy2d.get_sampler(name), static_argnums=1)

        def sample(rng: Any, n: int) -> jax.Array:
            if isinstance(rng, (int, np.integer)):
                rng = jax.random.key(int(rng))
            return sampler(rng, n)

        # Train and test are the same distribution; independent keys give independent draws.
        return StreamDataset(name, (2,), sample)

    make.__name__ = f"make_{name}"
    make.__doc__ = f"Endless stream of 2-D '{name}' samples (datasets.toy2d.{name})."
    return make


def make_digits(cfg: ConfigData, split: str) -> Dataset:
    """scikit-learn digits at data.image_size (default 32); last 20 % is the test split."""
    from datasets import images

    _check_channels(cfg, "digits", 1)
    x, ids = images.load_digits(split, _image_size(cfg, _DEFAULT_SIZE["digits"]))
    return ArrayDataset("digits", x, ids=ids, **_options(cfg))


def make_brain(cfg: ConfigData, split: str) -> Dataset:
    """Synthetic MRI slices at data.image_size (default 64): "train" endless, "test" fixed."""
    from datasets import brain

    _check_channels(cfg, "brain", 1)
    size = _image_size(cfg, _DEFAULT_SIZE["brain"])
    contrasts = tuple(_get(cfg, "contrasts", tuple(brain.CONTRASTS)))
    unknown = sorted(set(contrasts) - set(brain.CONTRASTS))
    if unknown or not contrasts:
        raise ValueError(f"data.contrasts {contrasts!r}: valid names are {sorted(brain.CONTRASTS)}")
    options = _options(cfg)
    if split == "test":
        x, z, _ = brain.test_set(size, contrasts)
        return ArrayDataset("brain", x, ids=z, **options)
    brain.tissue_stack(size)   # build the cache now, not inside the first training step

    def sample_rows(rng: Any, n: int, row_ids: Any = None) -> np.ndarray:
        gen = numpy_rng(rng)
        x = brain.sample(gen, n, split="train", image_size=size, contrasts=contrasts, rows=row_ids)
        ids = np.arange(n) if row_ids is None else row_ids
        return preprocess(x, gen, row_ids=ids, **options)

    return StreamDataset("brain", (size, size, 1), sample_rows, rows_fn=sample_rows)


def make_image_folder(cfg: ConfigData, split: str) -> Dataset:
    """PNG/JPEG files under data.root, centre-cropped and resized to data.image_size."""
    from datasets import images

    root = _get(cfg, "root", "")
    if not root:
        raise ValueError("dataset 'image_folder' needs data.root, the folder of images")
    x, paths = images.load_image_folder(root, split, _image_size(cfg, _DEFAULT_SIZE["image_folder"]),
                                        int(_get(cfg, "num_channels", 3)))
    return ArrayDataset("image_folder", x, ids=paths, **_options(cfg))


def _fastmri_channels(cfg: ConfigData) -> int:
    return 2 if _get(cfg, "target", "magnitude") == "complex" else 1


def make_fastmri(cfg: ConfigData, split: str) -> Dataset:
    """Slices of the fastMRI ``.h5`` volumes under data.root (``datasets.fastmri``): split by
    file, ``data.target`` magnitude / reconstruction / complex, square ``data.fov`` at
    ``data.image_size`` (default 320), per-volume normalisation."""
    from datasets import fastmri

    root = _get(cfg, "root", "")
    if not root:
        raise ValueError("dataset 'fastmri' needs data.root, the folder of fastMRI .h5 volumes")
    _check_channels(cfg, "fastmri", _fastmri_channels(cfg))
    return fastmri.FastMRIDataset(
        root, split, image_size=_image_size(cfg, _DEFAULT_SIZE["fastmri"]), fov=_get(cfg, "fov", 0) or None,
        target=str(_get(cfg, "target", "magnitude")), slice_fraction=float(_get(cfg, "slice_fraction", 1.0)),
        val_fraction=float(_get(cfg, "val_fraction", 0.1)), random_flip=bool(_get(cfg, "random_flip", False)),
        centered=bool(_get(cfg, "centered", False)), workers=int(_get(cfg, "workers", 4)),
        cache_mb=float(_get(cfg, "cache_mb", 2048)))


def make_tfds(cfg: ConfigData, split: str) -> Dataset:
    """A prepared tensorflow_datasets image dataset named by data.dataset = "tfds:<name>"."""
    from datasets import images

    full = str(_get(cfg, "dataset", ""))
    name = full.partition(":")[2]
    if not full.startswith("tfds:") or not name:
        raise ValueError("tfds datasets are named 'tfds:<name>' (e.g. 'tfds:cifar10'), "
                         f"got {full!r}")
    x, ids = images.load_tfds(name, split, _image_size(cfg, _DEFAULT_SIZE["tfds"]), int(_get(cfg, "num_channels", 3)),
                              _get(cfg, "data_dir", None))
    return ArrayDataset(full, x, ids=ids, **_options(cfg))


DATASETS: dict[str, Constructor] = {
    **{name: _toy(name) for name in TOY_NAMES},
    "digits": make_digits,
    "brain": make_brain,
    "image_folder": make_image_folder,
    "fastmri": make_fastmri,
    "tfds": make_tfds,
}


def _valid_names() -> list[str]:
    return [n for n in DATASETS if n != "tfds"] + ["tfds:<name>"]


def get_constructor(name: Any) -> Constructor:
    """The constructor for a ``data.dataset`` name ("tfds:<name>" maps to ``DATASETS["tfds"]``);
    an unknown name raises ValueError listing the valid ones. Cheap: use it to validate configs."""
    key = "tfds" if isinstance(name, str) and name.startswith("tfds:") else name
    if key not in DATASETS or (key == "tfds" and not name.partition(":")[2]):
        raise ValueError(f"unknown dataset {name!r}; valid names: {_valid_names()}")
    return DATASETS[key]


def get_dataset(config_data: ConfigData, split: str = "train") -> Dataset:
    """The dataset named by ``config_data.dataset`` for ``split`` ("train" or "test")."""
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    return get_constructor(_get(config_data, "dataset"))(config_data, split)


def example_shape(config_data: ConfigData) -> tuple:
    """The per-example shape ``get_dataset(config_data).shape`` will have, without building the
    dataset (no files read): ``(2,)`` for the 2-D toys, else ``(H, W, C)`` from the config."""
    name = _get(config_data, "dataset")
    key = "tfds" if isinstance(name, str) and name.startswith("tfds:") else name
    get_constructor(name)
    if key in TOY_NAMES:
        return (2,)
    size = _image_size(config_data, _DEFAULT_SIZE[key])
    fixed = _fastmri_channels(config_data) if key == "fastmri" else _FIXED_CHANNELS.get(key)
    if fixed is not None:
        _check_channels(config_data, key, fixed)
        return (size, size, fixed)
    return (size, size, int(_get(config_data, "num_channels", 3)))


def scaler(config_data: ConfigData) -> Callable[[Any], Any]:
    """Map data in [0, 1] to model space: ``2x - 1`` if ``centered`` (images only), else
    identity."""
    if _get(config_data, "dataset") in TOY_NAMES or not _get(config_data, "centered", False):
        return lambda x: x
    return lambda x: x * 2.0 - 1.0


def inverse_scaler(config_data: ConfigData) -> Callable[[Any], Any]:
    """Map model space back to [0, 1]: ``(x + 1) / 2`` if ``centered`` (images only), else identity.
    Works on NumPy and jax arrays alike."""
    if _get(config_data, "dataset") in TOY_NAMES or not _get(config_data, "centered", False):
        return lambda x: x
    return lambda x: (x + 1.0) / 2.0


__all__ = ["ArrayDataset", "DATASETS", "Dataset", "StreamDataset", "TOY_NAMES", "example_shape", "get_constructor",
           "get_dataset", "inverse_scaler", "numpy_rng", "preprocess", "scaler"]
