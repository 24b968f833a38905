"""The ``Dataset`` objects every pipeline returns, and the options they share.

Two kinds:

- ``ArrayDataset``: a finite set of images held in memory (uint8 for 8-bit sources, float32
  otherwise). ``batch(rng, batch_size)`` picks indices with the key: no iterator state, so a
  trainer that folds the step number into its key resumes exactly.
- ``StreamDataset``: an endless generator (2-D toys, freshly augmented brain slices);
  ``num_examples`` is None and ``all()`` raises.

``batch(rng, batch_size, rows=...)`` returns only some rows of that global batch, equal to
slicing the whole one: every random choice that belongs to one example (flip, dequantization
noise, augmentation) comes from a generator seeded by the key and the row's position, so each
process of a multi-host run makes only the rows its devices hold, whatever the process count.

The image options (``random_flip``, ``uniform_dequantization``, ``centered``) are applied by
``preprocess`` in that order. Nothing here imports jax: a jax key is converted to a NumPy
generator only when one is passed in (jax is then already imported by the caller).
"""
from __future__ import annotations

import logging
import sys
from typing import Any, Callable, Optional, Sequence

import numpy as np

Array = Any  # np.ndarray or jax.Array

# The 2-D toy distributions: their one list of names (each is a function of datasets.toy2d,
# which needs jax; the names must be known without it).
TOY_NAMES = ("gmm_ring", "checkerboard", "swiss_roll", "moons")


def key_words(rng_or_seed: Any) -> list[int]:
    """The integers that seed everything a jax key (typed or raw uint32) or int seed determines.

    The whole key (both words of a threefry key) counts, so ``jax.random.fold_in(key, step)``
    gives a different, reproducible batch per step. A ``np.random.Generator`` is consumed for
    four words, so the result is still a pure function of the generator's state.
    """
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed.integers(0, 2**32, 4, dtype=np.uint64).tolist()
    if isinstance(rng_or_seed, (int, np.integer)):
        if rng_or_seed < 0:
            raise ValueError(f"seed must be >= 0, got {rng_or_seed}")
        return [int(rng_or_seed)]
    data = rng_or_seed
    jax = sys.modules.get("jax")
    if jax is not None and isinstance(rng_or_seed, jax.Array):
        if jax.dtypes.issubdtype(rng_or_seed.dtype, jax.dtypes.prng_key):
            data = jax.random.key_data(rng_or_seed)
    words = np.asarray(data)
    if words.dtype.kind not in "ui" or words.size == 0:
        raise TypeError(f"expected a jax PRNG key or an int seed, got {type(rng_or_seed).__name__} "
                        f"with dtype {words.dtype}")
    return words.astype(np.uint64).ravel().tolist()


def numpy_rng(rng_or_seed: Any) -> np.random.Generator:
    """A NumPy generator fully determined by a jax PRNG key (typed or raw uint32) or an int seed
    (``key_words``); a generator passed in is returned as it is."""
    if isinstance(rng_or_seed, np.random.Generator):
        return rng_or_seed
    return np.random.default_rng(key_words(rng_or_seed))


def row_generators(rng: Any, row_ids: np.ndarray, salt: int) -> list[np.random.Generator]:
    """One generator per global batch row: seeded by the key, ``salt`` (which use) and the row.

    A row's randomness then does not depend on which other rows are made, which is what lets
    each process make only its own rows of a global batch.
    """
    words = key_words(rng)
    return [np.random.default_rng([*words, int(salt), int(i)]) for i in row_ids]


def select_rows(batch_size: int, rows: Any) -> np.ndarray:
    """Normalise ``rows`` (None, a slice, a list of slices, or int indices) to, in that order,
    int indices into a batch of ``batch_size``; out-of-range rows are an error."""
    if rows is None:
        return np.arange(batch_size)
    if isinstance(rows, slice):
        rows = [rows]
    if isinstance(rows, (list, tuple)) and rows and all(isinstance(r, slice) for r in rows):
        parts = []
        for r in rows:
            lo, hi = 0 if r.start is None else r.start, batch_size if r.stop is None else r.stop
            if r.step not in (None, 1) or not 0 <= lo <= hi <= batch_size:
                raise ValueError(f"rows {r} is not a forward block inside a batch of {batch_size}")
            parts.append(np.arange(lo, hi))
        ids = np.concatenate(parts)
    else:
        ids = np.asarray(rows)
        if ids.ndim != 1 or (ids.size and ids.dtype.kind not in "ui"):
            raise TypeError(f"rows must be a slice, a list of slices or 1-D int indices, got {rows!r}")
        ids = ids.astype(np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= batch_size):
        raise ValueError(f"rows {ids.min()}..{ids.max()} fall outside a batch of {batch_size}")
    return ids


# How many bad files a skip message names before "..." (a folder of 10 000 broken files must
# not flood the log).
SHOW_SKIPPED = 5


def load_all(paths: Sequence[Any], load_one: Callable[[Any], Any], what: str = "file",
             errors: tuple = (OSError, ValueError)) -> tuple[list, list]:
    """``load_one(path)`` for every path, skipping those that raise one of ``errors``.

    Returns ``(items, skipped)``: the loaded items in the order of ``paths`` and ``[(path,
    reason)]`` for the files that failed. When some are skipped, one warning says how many of
    how many, names the first :data:`SHOW_SKIPPED` with their reasons; when *none* loads, a
    ValueError says the same instead (a dataset of nothing is never returned, and a broken
    file never reaches a batch). Use it for every loader that reads a set of files (image
    folders, directories of fastMRI volumes): ``load_one`` should raise a clear error for a bad
    file (a truncated PNG, an ``.h5`` without ``kspace``) and check what a batch will need, so a
    file either loads whole here or is skipped here.

        images, skipped = load_all(files, read_png, what="image")
    """
    items, skipped = [], []
    for p in paths:
        try:
            items.append(load_one(p))
        except errors as e:
            skipped.append((p, f"{type(e).__name__}: {e}"))
    if not skipped:
        return items, skipped
    listed = "; ".join(f"{p} ({why})" for p, why in skipped[:SHOW_SKIPPED])
    more = f"; and {len(skipped) - SHOW_SKIPPED} more" if len(skipped) > SHOW_SKIPPED else ""
    if not items:
        raise ValueError(f"none of the {len(skipped)} {what}s could be read: {listed}{more}")
    logging.warning("skipped %d of %d %ss that could not be read: %s%s", len(skipped), len(paths), what,
                    listed, more)
    return items, skipped


# Salts of row_generators: independent streams for each use of a row's key.
SALT_PREPROCESS, SALT_AUGMENT = 1, 2


def preprocess(x: np.ndarray, rng: Any = None, *, row_ids: Optional[np.ndarray] = None,
               random_flip: bool = False, uniform_dequantization: bool = False,
               centered: bool = False) -> np.ndarray:
    """Apply the shared image options to a batch ``x: [B, H, W, C]`` float32 in [0, 1].

    - ``random_flip``: each example is mirrored left-right (``np.flip(x_i, axis=1)``, the W axis)
      with probability 1/2.
    - ``uniform_dequantization``: data on the 8-bit grid ``k / 255`` become
      ``(k + u) / 256`` with ``u ~ U(0, 1)``, i.e. a continuous density on [0, 1) whose 256
      bins of width 1/256 each hold one original level (the score_sde convention). For data that
      are not 8-bit it is a tiny (≤ 1/256) uniform jitter and a 255/256 rescale.
    - ``centered``: maps [0, 1] to [-1, 1] (``2x - 1``); ``inverse_scaler`` undoes it.

    ``rng`` (jax key, int seed or ``np.random.Generator``) is needed only by flips and
    dequantization; row ``j`` of ``x`` uses the generator of global row ``row_ids[j]``
    (default ``0..B-1``), so a subset of a batch gets exactly its rows of the whole batch.
    Returns a new float32 array.
    """
    x = np.array(x, dtype=np.float32, copy=True)
    if x.ndim != 4:
        raise ValueError(f"preprocess expects [B, H, W, C], got shape {x.shape}")
    if random_flip or uniform_dequantization:
        if rng is None:
            raise ValueError("random_flip / uniform_dequantization need an rng")
        row_ids = np.arange(x.shape[0]) if row_ids is None else np.asarray(row_ids)
        if row_ids.shape != (x.shape[0],):
            raise ValueError(f"row_ids has shape {row_ids.shape}, expected ({x.shape[0]},)")
        for j, gen in enumerate(row_generators(rng, row_ids, SALT_PREPROCESS)):
            if random_flip and gen.random() < 0.5:
                x[j] = x[j, :, ::-1, :]
            if uniform_dequantization:
                x[j] = (x[j] * 255.0 + gen.random(x.shape[1:], dtype=np.float32)) / 256.0
    if centered:
        x = x * 2.0 - 1.0
    return x.astype(np.float32, copy=False)


class Dataset:
    """Common interface.

    ``name``: the config name; ``shape``: per-example shape (``(H, W, C)`` or ``(2,)``);
    ``num_examples``: int, or None for an endless stream; ``batch(rng, batch_size, rows=None)``
    (``rows``: only those rows of the global batch, see the module docstring); ``all()`` for
    finite datasets.
    """

    name: str
    shape: tuple
    num_examples: Optional[int]

    def batch(self, rng: Any, batch_size: int, rows: Any = None) -> Array:
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

    def batch(self, rng: Any, batch_size: int, rows: Any = None) -> np.ndarray:
        """``[batch_size, H, W, C]`` float32: indices drawn with the key (without replacement
        when batch_size <= num_examples), then flips / dequantization / centering. With
        ``rows`` only those rows are gathered and processed."""
        batch_size = _check_batch_size(batch_size)
        ids = select_rows(batch_size, rows)
        gen = numpy_rng(rng)
        # The index draw is for the whole batch (cheap, identical on every process); only the
        # selected rows are gathered.
        idx = gen.choice(self.num_examples, batch_size, replace=batch_size > self.num_examples)
        return preprocess(self._to_float(self._images[idx[ids]]), gen, row_ids=ids, **self.options)

    def all(self) -> np.ndarray:
        """Every example in order, ``[N, H, W, C]`` float32, centered if configured; no random
        flips or dequantization (those are training-time noise)."""
        return preprocess(self._to_float(self._images), centered=self.options["centered"])


class StreamDataset(Dataset):
    """An endless dataset: ``sample_fn(rng, n) -> [n, *shape]`` makes every batch afresh (and
    applies any options itself, from the same key), so a batch is a pure function of the key.

    ``rows_fn(rng, n, row_ids) -> [len(row_ids), *shape]``, when given, makes only those rows
    of ``sample_fn(rng, n)`` (and must equal them); without it a ``rows`` request draws the
    whole batch and slices it, which is right but does the work of every process.
    """

    def __init__(self, name: str, shape: tuple, sample_fn: Callable[[Any, int], Array],
                 rows_fn: Optional[Callable[[Any, int, np.ndarray], Array]] = None):
        self.name = name
        self.shape = tuple(shape)
        self.num_examples = None
        self._sample_fn = sample_fn
        self._rows_fn = rows_fn

    def batch(self, rng: Any, batch_size: int, rows: Any = None) -> Array:
        batch_size = _check_batch_size(batch_size)
        if rows is None:
            return self._sample_fn(rng, batch_size)
        ids = select_rows(batch_size, rows)
        if self._rows_fn is not None:
            return self._rows_fn(rng, batch_size, ids)
        return self._sample_fn(rng, batch_size)[ids]

    def all(self) -> Array:
        raise TypeError(f"dataset {self.name!r} is an endless stream (num_examples is None); "
                        "draw batches with .batch(rng, batch_size)")
