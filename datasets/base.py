"""The ``Dataset`` objects every pipeline returns, and the options they share.

Two kinds:

- ``ArrayDataset``: a finite set of images held in memory (uint8 for 8-bit sources, float32
  otherwise). ``batch(rng, batch_size)`` picks indices with the key: no iterator state, so a
  trainer that folds the step number into its key resumes exactly.
- ``StreamDataset``: an endless generator (2-D toys, freshly augmented brain slices);
  ``num_examples`` is None and ``all()`` raises.

The image options (``random_flip``, ``uniform_dequantization``, ``centered``) are applied by
``preprocess`` in that order. Nothing here imports jax: a jax key is converted to a NumPy
generator only when one is passed in (jax is then already imported by the caller).
"""
from __future__ import annotations

import sys
from typing import Any, Callable, Optional

import numpy as np

Array = Any  # np.ndarray or jax.Array


def numpy_rng(rng_or_seed: Any) -> np.random.Generator:
    """A NumPy generator fully determined by a jax PRNG key (typed or raw uint32) or an int seed.

    The whole key (both words of a threefry key) seeds the generator, so
    ``jax.random.fold_in(key, step)`` gives a different, reproducible batch per step.
    """
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    if isinstance(rng_or_seed, (int, np.integer)):
        if rng_or_seed < 0:
            raise ValueError(f"seed must be >= 0, got {rng_or_seed}")
        return np.random.default_rng(int(rng_or_seed))
    data = rng_or_seed
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(rng_or_seed, jax.Array):
        if jax.dtypes.issubdtype(rng_or_seed.dtype, jax.dtypes.prng_key):
            data = jax.random.key_data(rng_or_seed)
    words = np.asarray(data)
    if words.dtype.kind not in "ui" or words.size == 0:
        raise TypeError(f"expected a jax PRNG key or an int seed, got {type(rng_or_seed).__name__} "
                        f"with dtype {words.dtype}")
    return np.random.default_rng(words.astype(np.uint64).ravel().tolist())


def preprocess(x: np.ndarray, rng: Any = None, *, random_flip: bool = False,
               uniform_dequantization: bool = False, centered: bool = False) -> np.ndarray:
    """Apply the shared image options to a batch ``x: [B, H, W, C]`` float32 in [0, 1].

    - ``random_flip``: each example is mirrored left-right (``np.flip(x_i, axis=1)``, the W axis)
      with probability 1/2.
    - ``uniform_dequantization``: data on the 8-bit grid ``k / 255`` become
      ``(k + u) / 256`` with ``u ~ U(0, 1)``, i.e. a continuous density on [0, 1) whose 256
      bins of width 1/256 each hold one original level (the score_sde convention). For data that
      are not 8-bit it is a tiny (≤ 1/256) uniform jitter and a 255/256 rescale.
    - ``centered``: maps [0, 1] to [-1, 1] (``2x - 1``); ``inverse_scaler`` undoes it.

    ``rng`` (jax key, int seed or ``np.random.Generator``) is needed only by flips and
    dequantization. Returns a new float32 array.
    """
    x = np.array(x, dtype=np.float32, copy=True)
    if x.ndim != 4:
        raise ValueError(f"preprocess expects [B, H, W, C], got shape {x.shape}")
    if random_flip or uniform_dequantization:
        if rng is None:
            raise ValueError("random_flip / uniform_dequantization need an rng")
        gen = numpy_rng(rng)
        if random_flip:
            flip = gen.random(x.shape[0]) < 0.5
            x[flip] = x[flip][:, :, ::-1, :]
        if uniform_dequantization:
            u = gen.random(x.shape, dtype=np.float32)
            x = (x * 255.0 + u) / 256.0
    if centered:
        x = x * 2.0 - 1.0
    return x.astype(np.float32, copy=False)


class Dataset:
    """Common interface.

    ``name``: the config name; ``shape``: per-example shape (``(H, W, C)`` or ``(2,)``);
    ``num_examples``: int, or None for an endless stream; ``batch(rng, batch_size)``;
    ``all()`` for finite datasets.
    """

    name: str
    shape: tuple
    num_examples: Optional[int]

    def batch(self, rng: Any, batch_size: int) -> Array:
        raise NotImplementedError

    def all(self) -> Array:
        raise NotImplementedError

    def __repr__(self) -> str:
        n = "endless" if self.num_examples is None else f"{self.num_examples} examples"
        return f"{type(self).__name__}({self.name!r}, shape={self.shape}, {n})"


def _check_batch_size(batch_size: int) -> int:
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    return int(batch_size)


class ArrayDataset(Dataset):
    """A finite dataset held in memory.

    ``images``: ``[N, H, W, C]``, either uint8 (8-bit data; divided by 255 when served) or
    float32 in [0, 1]. ``ids``: optional ``[N]`` provenance (source index, file path, slice
    index) so callers can check splits. Options are those of ``preprocess``.
    """

    def __init__(self, name: str, images: np.ndarray, *, ids: Optional[np.ndarray] = None,
                 random_flip: bool = False, uniform_dequantization: bool = False,
                 centered: bool = False):
        images = np.asarray(images)
        if images.ndim != 4 or images.shape[0] == 0:
            raise ValueError(f"{name}: need a non-empty [N, H, W, C] array, "
                             f"got shape {images.shape}")
        if images.dtype != np.uint8:
            images = images.astype(np.float32, copy=False)
        images.setflags(write=False)
        self.name = name
        self._images = images
        self.ids = None if ids is None else np.asarray(ids)
        self.shape = tuple(images.shape[1:])
        self.num_examples = int(images.shape[0])
        self.options = dict(random_flip=bool(random_flip),
                            uniform_dequantization=bool(uniform_dequantization),
                            centered=bool(centered))

    def _to_float(self, x: np.ndarray) -> np.ndarray:
        if x.dtype == np.uint8:
            return x.astype(np.float32) / np.float32(255.0)
        return np.array(x, dtype=np.float32)

    def batch(self, rng: Any, batch_size: int) -> np.ndarray:
        """``[batch_size, H, W, C]`` float32: indices drawn with the key (without replacement
        when batch_size <= num_examples), then flips / dequantization / centering."""
        batch_size = _check_batch_size(batch_size)
        gen = numpy_rng(rng)
        idx = gen.choice(self.num_examples, batch_size, replace=batch_size > self.num_examples)
        return preprocess(self._to_float(self._images[idx]), gen, **self.options)

    def all(self) -> np.ndarray:
        """Every example in order, ``[N, H, W, C]`` float32, centered if configured; no random
        flips or dequantization (those are training-time noise)."""
        return preprocess(self._to_float(self._images), centered=self.options["centered"])


class StreamDataset(Dataset):
    """An endless dataset: ``sample_fn(rng, n) -> [n, *shape]`` makes every batch afresh (and
    applies any options itself, from the same key), so a batch is a pure function of the key."""

    def __init__(self, name: str, shape: tuple, sample_fn: Callable[[Any, int], Array]):
        self.name = name
        self.shape = tuple(shape)
        self.num_examples = None
        self._sample_fn = sample_fn

    def batch(self, rng: Any, batch_size: int) -> Array:
        return self._sample_fn(rng, _check_batch_size(batch_size))

    def all(self) -> Array:
        raise TypeError(f"dataset {self.name!r} is an endless stream (num_examples is None); "
                        "draw batches with .batch(rng, batch_size)")
