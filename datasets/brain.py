"""Synthetic brain MRI slices built from the MNI152 2009 template that ships inside nilearn.

Anatomy. nilearn (>= 0.10) bundles, in its wheel, the skull-stripped ICBM152 2009 T1 template
and its grey- and white-matter probability maps (1 mm, 197 x 233 x 189), read here with
``nilearn.datasets.load_mni152_template / load_mni152_gm_template / load_mni152_wm_template``
at ``resolution=1``; no network is touched. No CSF map is bundled, so CSF is what fills the
brain envelope but is neither grey nor white matter: ``CSF = clip(1[T1 > 0.01] - GM - WM, 0, 1)``
(ventricles and the sulcal / subarachnoid rim come out as expected).

Slices. Axial slices (image rows run anterior to posterior, columns along x) are kept where the
brain envelope covers at least 25 % of the largest axial cross-section: voxel z = 22 ... 142
(121 slices, from the lower cerebellum to the upper convexity). All of them share one square
field of view (the envelope's bounding box plus 6 mm: 193 mm) and are resampled once per
``image_size`` (Gaussian anti-aliasing, then bilinear zoom) into a ``[121, H, W, 3]`` tissue
stack cached in-process (``functools.lru_cache``); nothing is written.

Held-out split. The usable range is cut into consecutive blocks of 8 slices; every 5th block
(block index % 5 == 2) is the test set, and the 2 slices on each side of a test block are
dropped from training as a guard band, so every training slice is at least 3 mm from every
test slice: 85 training and 24 test slices (z = 38-45, 78-85, 118-125).
``split_slices("train" | "test")`` returns these voxel z indices.

Contrast. intensity = w_gm GM + w_wm WM + w_csf CSF with per-sample weights: each of "t1"
(WM > GM > CSF), "t2" (CSF > GM > WM) and "pd" (CSF > GM > WM, low contrast) has nominal
weights (``CONTRASTS``) that are jittered multiplicatively (log-normal, 10 %) and then re-sorted
into that weighting's ordering, so a T1 never turns into a T2.

Augmentation (``augment=True``): a random affine (rotation ±8°, isotropic scale 0.93–1.07
times per-axis 0.97–1.03, shift ±3 % of the width), a smooth elastic displacement (Gaussian
radial basis on a 5 x 5 grid, ~1.5 % of the width per coefficient), both applied by one
``scipy.ndimage.map_coordinates`` call per batch, then a mild multiplicative bias field
(exp of a random quadratic, typically within ±15 %). Every image is finally divided by its
maximum, so it lies in [0, 1] with maximum 1. Everything is a function of the given seed/key.
"""
from __future__ import annotations

import functools
from typing import Any, Sequence

import numpy as np

from datasets.base import SALT_AUGMENT, numpy_rng, row_generators, select_rows

# Nominal (w_gm, w_wm, w_csf) for each weighting.
CONTRASTS: dict[str, tuple[float, float, float]] = {
    "t1": (0.60, 0.95, 0.15),
    "t2": (0.55, 0.35, 1.00),
    "pd": (0.80, 0.65, 0.95),
}

ENVELOPE_THRESHOLD = 0.01   # T1 template (rescaled to [0, 1]) above this is inside the brain
MIN_AREA_FRACTION = 0.25    # keep axial slices covering >= 25 % of the largest cross-section
MARGIN_MM = 6
BLOCK, TEST_EVERY, TEST_PHASE, GUARD = 8, 5, 2, 2
TEST_SEED = 0               # the fixed seed that renders the test split's images


@functools.lru_cache(maxsize=1)
def _load_volumes():
    """GM, WM, CSF probability volumes (1 mm, [X, Y, Z] float32) and the envelope, read-only.

    Kept once per process (4 × 34 MB): reading the gzipped NIfTI files takes ~2 s, and a recon
    run needs them twice (the slice geometry, then the images at the prior's size)."""
    try:
        from nilearn import datasets as nds
    except ImportError as e:  # nilearn is a declared dependency; say so if it is missing
        raise ImportError("the 'brain' dataset needs nilearn (pip install nilearn), whose wheel "
                          "ships the MNI152 2009 template") from e
    def volume(loader):
        # caching="unchanged": do not make nibabel keep a second full-size copy.
        return np.asarray(loader(resolution=1).get_fdata(caching="unchanged", dtype=np.float32))

    t1 = volume(nds.load_mni152_template)
    gm = volume(nds.load_mni152_gm_template)
    wm = volume(nds.load_mni152_wm_template)
    envelope = (t1 > ENVELOPE_THRESHOLD).astype(np.float32)
    gm = np.clip(gm, 0.0, 1.0) * envelope
    wm = np.clip(wm, 0.0, 1.0) * envelope
    csf = np.clip(envelope - gm - wm, 0.0, 1.0)
    for v in (gm, wm, csf, envelope):
        v.setflags(write=False)
    return gm, wm, csf, envelope


def _window(a: np.ndarray, lo: int, size: int, axis: int) -> np.ndarray:
    """``a`` restricted to [lo, lo + size) along ``axis``, zero-padded where that leaves ``a``."""
    n = a.shape[axis]
    src = np.take(a, np.arange(max(lo, 0), min(lo + size, n)), axis=axis)
    before, after = max(-lo, 0), max(lo + size - n, 0)
    pad = [(0, 0)] * a.ndim
    pad[axis] = (before, after)
    return np.pad(src, pad)


@functools.lru_cache(maxsize=1)
def _geometry() -> tuple[np.ndarray, int, int, int]:
    """(usable z indices, y0, x0, side): computed once from the envelope (cheap to keep)."""
    _, _, _, env = _load_volumes()
    return _geometry_from_envelope(env)


def _geometry_from_envelope(env: np.ndarray):
    area = env.sum(axis=(0, 1))
    z = np.nonzero(area >= MIN_AREA_FRACTION * area.max())[0]
    z = np.arange(z.min(), z.max() + 1)   # one contiguous range
    inside = env[:, :, z].any(axis=2)      # [X, Y]
    xs, ys = np.nonzero(inside.any(axis=1))[0], np.nonzero(inside.any(axis=0))[0]
    side = int(max(np.ptp(xs), np.ptp(ys)) + 1 + 2 * MARGIN_MM)
    x0 = int((xs.min() + xs.max() + 1) // 2 - side // 2)
    y0 = int((ys.min() + ys.max() + 1) // 2 - side // 2)
    return z, y0, x0, side


@functools.lru_cache(maxsize=4)
def tissue_stack(image_size: int) -> np.ndarray:
    """``[Z, image_size, image_size, 3]`` float32 (GM, WM, CSF) for the usable axial slices,
    rows anterior→posterior. Computed once per size and cached (read-only)."""
    from scipy import ndimage

    image_size = _check_size(image_size)
    gm, wm, csf, _ = _load_volumes()
    z, y0, x0, side = _geometry()
    maps = []
    for vol in (gm, wm, csf):
        slab = vol[:, :, z]                                   # [X, Y, Z]
        slab = _window(_window(slab, x0, side, 0), y0, side, 1)
        slab = np.ascontiguousarray(np.transpose(slab, (2, 1, 0))[:, ::-1, :])  # [Z, Y↓, X]
        factor = side / image_size
        if factor > 1:
            slab = ndimage.gaussian_filter(slab, sigma=(0, 0.45 * factor, 0.45 * factor))
        slab = ndimage.zoom(slab, (1, image_size / side, image_size / side), order=1,
                            grid_mode=True, mode="grid-constant")
        maps.append(np.clip(slab, 0.0, 1.0))
    out = np.stack(maps, axis=-1).astype(np.float32)
    out.setflags(write=False)
    return out


def _check_size(image_size: int) -> int:
    if not isinstance(image_size, (int, np.integer)) or image_size < 8:
        raise ValueError(f"brain: image_size must be an int >= 8, got {image_size!r}")
    return int(image_size)


def usable_slices() -> np.ndarray:
    """MNI z indices (1 mm voxels) of every axial slice in the usable range."""
    return _geometry()[0].copy()


def split_slices(split: str) -> np.ndarray:
    """MNI z indices of the ``"train"`` or ``"test"`` slices (see the module docstring)."""
    z = usable_slices()
    block = np.arange(len(z)) // BLOCK
    test = block % TEST_EVERY == TEST_PHASE
    if split == "test":
        return z[test]
    if split == "train":
        test_pos = np.nonzero(test)[0]
        dist = np.abs(np.arange(len(z))[:, None] - test_pos[None, :]).min(axis=1)
        return z[dist > GUARD]
    raise ValueError(f"split must be 'train' or 'test', got {split!r}")


def _contrast_weights(names: Sequence[str], gen: np.random.Generator | None) -> np.ndarray:
    """``[N, 3]`` (w_gm, w_wm, w_csf); nominal if ``gen`` is None, else jittered and re-sorted."""
    base = np.array([CONTRASTS[c] for c in names], np.float64)
    if gen is None:
        return base.astype(np.float32)
    jittered = base * np.exp(0.1 * gen.standard_normal(base.shape))
    # Restore each weighting's ordering: the k-th smallest nominal weight gets the k-th smallest
    # jittered weight, so the jitter changes contrast levels but never the tissue ordering.
    rank = np.argsort(np.argsort(base, axis=1), axis=1)
    return np.take_along_axis(np.sort(jittered, axis=1), rank, axis=1).astype(np.float32)


def _rbf_basis(n: int, k: int = 5, width: float = 0.3) -> np.ndarray:
    """``[n, k]`` Gaussian bumps centred on a k-point grid over [-1, 1]."""
    u = np.linspace(-1.0, 1.0, n)[:, None]
    c = np.linspace(-1.0, 1.0, k)[None, :]
    return np.exp(-0.5 * ((u - c) / width) ** 2)


def _deform(img: np.ndarray, gen: np.random.Generator) -> np.ndarray:
    """Random affine + elastic warp of ``img: [N, H, W]`` (bilinear, zero outside)."""
    from scipy import ndimage

    n, h, w = img.shape
    cy, cx = (h - 1) / 2, (w - 1) / 2
    theta = np.deg2rad(gen.uniform(-8.0, 8.0, n))
    scale = gen.uniform(0.93, 1.07, (n, 1)) * gen.uniform(0.97, 1.03, (n, 2))
    shift = gen.uniform(-0.03, 0.03, (n, 2)) * np.array([h, w])
    coef = gen.standard_normal((n, 2, 5, 5)) * (0.015 * max(h, w))
    disp = np.einsum("ncij,hi,wj->nchw", coef, _rbf_basis(h), _rbf_basis(w))   # [N, 2, H, W]

    yy, xx = np.meshgrid(np.arange(h) - cy, np.arange(w) - cx, indexing="ij")
    py = yy[None] - shift[:, 0, None, None]
    px = xx[None] - shift[:, 1, None, None]
    cos, sin = np.cos(theta)[:, None, None], np.sin(theta)[:, None, None]
    src_y = (cos * py - sin * px) / scale[:, 0, None, None] + cy + disp[:, 0]
    src_x = (sin * py + cos * px) / scale[:, 1, None, None] + cx + disp[:, 1]
    src_n = np.broadcast_to(np.arange(n, dtype=np.float64)[:, None, None], src_y.shape)
    # Integer sample coordinates + bilinear interpolation never mix two examples.
    return ndimage.map_coordinates(img, np.stack([src_n, src_y, src_x]), order=1,
                                   mode="constant", cval=0.0)


def _bias_field(n: int, h: int, w: int, gen: np.random.Generator) -> np.ndarray:
    """``[N, H, W]`` smooth multiplicative field exp(quadratic), typically within ±15 %."""
    yy, xx = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    terms = np.stack([yy, xx, yy * xx, yy**2 - 1 / 3, xx**2 - 1 / 3])   # [5, H, W]
    coef = gen.normal(0.0, 0.06, (n, 5))
    return np.exp(np.einsum("nk,khw->nhw", coef, terms))


def render(z: Sequence[int], contrast: str | Sequence[str], rng: Any = None, *,
           image_size: int = 64, augment: bool = True) -> np.ndarray:
    """Images of the axial slices ``z`` (MNI z indices), ``[N, H, W, 1]`` float32 in [0, 1].

    ``contrast``: one name of ``CONTRASTS`` or one per slice. With ``augment=False`` the nominal
    weights are used and nothing is random (``rng`` unused); with ``augment=True`` ``rng``
    (jax key, int seed or numpy Generator) drives contrast jitter, deformation and bias field.
    """
    image_size = _check_size(image_size)
    z = np.atleast_1d(np.asarray(z, dtype=np.int64))
    names = [contrast] * len(z) if isinstance(contrast, str) else list(contrast)
    if len(names) != len(z):
        raise ValueError(f"got {len(z)} slices but {len(names)} contrasts")
    unknown = sorted(set(names) - set(CONTRASTS))
    if unknown:
        raise ValueError(f"unknown contrast(s) {unknown}; valid names: {sorted(CONTRASTS)}")
    usable = usable_slices()
    bad = z[(z < usable[0]) | (z > usable[-1])]
    if bad.size:
        raise ValueError(f"slices {bad.tolist()} are outside the usable range "
                         f"{usable[0]}..{usable[-1]}")
    if augment and rng is None:
        raise ValueError("render(augment=True) needs an rng (jax key, int seed or Generator)")
    gen = numpy_rng(rng) if augment else None

    maps = tissue_stack(image_size)[z - usable[0]]                 # [N, H, W, 3]
    weights = _contrast_weights(names, gen)                         # [N, 3]
    img = np.einsum("nhwk,nk->nhw", maps, weights)
    if augment:
        img = _deform(img, gen) * _bias_field(len(z), image_size, image_size, gen)
    peak = img.reshape(len(z), -1).max(axis=1)
    img = img / np.maximum(peak, 1e-6)[:, None, None]
    return np.clip(img, 0.0, 1.0).astype(np.float32)[..., None]


def sample(rng: Any, n: int, *, split: str = "train", image_size: int = 64,
           contrasts: Sequence[str] = tuple(CONTRASTS), augment: bool = True,
           rows: Any = None) -> np.ndarray:
    """``[n, H, W, 1]`` float32 in [0, 1]: slices drawn uniformly from ``split``, each with a
    contrast drawn uniformly from ``contrasts``; a pure function of ``rng``.

    ``rows`` (slices or indices of the ``n``): render only those examples, equal to the same
    rows of the whole draw (each example's augmentation has its own generator).
    """
    gen = numpy_rng(rng)
    z = split_slices(split)
    contrasts = list(contrasts)
    picks = gen.integers(0, len(contrasts), n)
    zs, names = z[gen.integers(0, len(z), n)], [contrasts[i] for i in picks]
    ids = select_rows(n, rows)
    if not augment:
        return render(zs[ids], [names[i] for i in ids], image_size=image_size, augment=False)
    gens = row_generators(gen, ids, SALT_AUGMENT)
    out = np.empty((len(ids), image_size, image_size, 1), np.float32)
    for j, (i, g) in enumerate(zip(ids, gens)):
        out[j] = render(zs[i:i + 1], [names[i]], g, image_size=image_size)[0]
    return out


def test_set(image_size: int = 64, contrasts: Sequence[str] = tuple(CONTRASTS)
             ) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """The fixed evaluation set: every test slice in every contrast, augmented with
    ``TEST_SEED``. Returns (images ``[S * C, H, W, 1]``, z ``[S * C]``, contrast names)."""
    z = split_slices("test")
    contrasts = list(contrasts)
    zz = np.repeat(z, len(contrasts))
    names = contrasts * len(z)
    return render(zz, names, TEST_SEED, image_size=image_size, augment=True), zz, names


test_set.__test__ = False   # keep pytest from collecting this function by its name
