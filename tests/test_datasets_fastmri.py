"""The fastMRI training dataset on fastMRI-format files written here (single- and multi-coil,
non-square k-space with a phase): split by file, central slices, square field of view, the
three targets, per-volume normalisation that keeps the phase, per-process rows, bad input."""
import logging
import os

import numpy as np
import pytest

import datasets
import mri
from data_configs import data_config

H, W = 24, 20   # non-square, like fastMRI's 640 x 368


def _volume_images(num_slices: int, seed: int) -> np.ndarray:
    """Complex images [S, H, W]: a phantom with a per-slice gain and a smooth phase."""
    rng = np.random.default_rng(seed)
    base = np.zeros((H, W), np.float32)
    base[2:22] = mri.phantom(20)
    yy, xx = np.meshgrid(np.linspace(-1, 1, H), np.linspace(-1, 1, W), indexing="ij")
    gains = 0.5 + rng.random(num_slices)
    return np.stack([g * base * np.exp(1j * (0.9 * xx + 0.4 * yy * (s + 1)))
                     for s, g in enumerate(gains)]).astype(np.complex64)


def _write(root, name, num_slices=5, coils=0, seed=0, target=True):
    images = _volume_images(num_slices, seed)
    if coils:
        sens = mri.birdcage_maps((coils, H, W))
        kspace = np.asarray(mri.fft2c(images[:, None] * sens[None]))
    else:
        kspace = np.asarray(mri.fft2c(images))
    side = min(H, W)
    tgt = np.abs(np.asarray(mri.center_crop(images, (side, side)))) if target else None
    mri.write_fastmri_file(os.path.join(root, name), kspace, target=tgt)
    return images


def _config(root, **kw):
    cfg = data_config(dataset="fastmri", image_size=kw.pop("image_size", 20), num_channels=kw.pop("num_channels", 1))
    cfg.root = str(root)
    for k, v in kw.items():
        cfg[k] = v
    return cfg


@pytest.fixture(scope="module")
def multicoil_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("mc")
    vols = {f"file{i}.h5": _write(root, f"file{i}.h5", num_slices=5, coils=4, seed=i) for i in range(5)}
    return root, vols


def test_split_is_by_file_disjoint_and_deterministic(multicoil_dir):
    root, vols = multicoil_dir
    train = datasets.get_dataset(_config(root, val_fraction=0.2), "train")
    test = datasets.get_dataset(_config(root, val_fraction=0.2), "test")
    files = lambda ds: {i.split("[")[0] for i in ds.ids}   # noqa: E731
    assert files(train).isdisjoint(files(test)) and files(train) | files(test) == set(vols)
    assert len(files(test)) == 1
    again = datasets.get_dataset(_config(root, val_fraction=0.2), "test")
    assert list(again.ids) == list(test.ids)
    paths = [f"/any/dir/{n}" for n in vols]
    assert datasets.fastmri.split_files(paths, "test", 0.2) == datasets.fastmri.split_files(paths[::-1], "test", 0.2)


def test_central_slices():
    from datasets.fastmri import central_slices
    assert list(central_slices(10, 0.6)) == [2, 3, 4, 5, 6, 7]
    assert list(central_slices(5, 0.01)) == [2]
    assert list(central_slices(5, 1.0)) == [0, 1, 2, 3, 4]


def test_multicoil_magnitude_is_rss_of_the_square_fov_normalised_per_volume(multicoil_dir):
    root, vols = multicoil_dir
    ds = datasets.get_dataset(_config(root, val_fraction=0.2, slice_fraction=0.6), "train")
    assert ds.shape == (20, 20, 1)
    x = ds.all()
    name = ds.ids[0].split("[")[0]
    rows = [i for i, z in enumerate(ds.ids) if z.startswith(name + "[")]
    assert [int(z.split("[")[1][:-1]) for z in ds.ids[rows]] == [1, 2, 3]
    # The birdcage maps satisfy sum |S|² = 1, so the RSS is the magnitude of the image itself.
    want = np.abs(vols[name][1:4, 2:22, :])
    want = want / want.max()
    np.testing.assert_allclose(x[rows, ..., 0], want, atol=2e-5)
    assert x[rows].max() == pytest.approx(1.0, abs=1e-6)


def test_complex_target_keeps_the_phase(tmp_path):
    vol = _write(tmp_path, "single.h5", num_slices=3, coils=0)
    _write(tmp_path, "other.h5", num_slices=3, coils=0, seed=1)
    ds = datasets.get_dataset(_config(tmp_path, target="complex", num_channels=2, val_fraction=0.0), "train")
    rows = [i for i, z in enumerate(ds.ids) if z.startswith("single.h5[")]
    x = ds.all()[rows]
    z = x[..., 0] + 1j * x[..., 1]
    want = vol[:, 2:22, :] / np.abs(vol[:, 2:22, :]).max()
    np.testing.assert_allclose(z, want, atol=2e-5)
    assert np.abs(z).max() == pytest.approx(1.0, abs=1e-6)
    with pytest.raises(ValueError, match="centered=False"):
        datasets.get_dataset(_config(tmp_path, target="complex", num_channels=2, centered=True), "train")
    with pytest.raises(ValueError, match="num_channels=2"):
        datasets.get_dataset(_config(tmp_path, target="complex", num_channels=1), "train")
    assert datasets.example_shape(_config(tmp_path, target="complex", num_channels=2)) == (20, 20, 2)


def test_multicoil_complex_target_is_the_coil_combined_image(multicoil_dir):
    root, vols = multicoil_dir
    ds = datasets.get_dataset(_config(root, target="complex", num_channels=2, val_fraction=0.2), "test")
    x = ds.all()
    z = x[..., 0] + 1j * x[..., 1]
    name = ds.ids[0].split("[")[0]
    want = vols[name][:, 2:22, :]
    want = want / np.abs(want).max()
    # Maps estimated from a 4 x 4 centre at 20 px are right except at sharp edges, where
    # |sum conj(S) x| falls below |x| (Cauchy-Schwarz with sum |S|² = 1), so the volume peak and
    # hence the scale differ a little: compare magnitudes up to one fitted scale. ACS maps carry
    # the image's own low-resolution phase, so the combined image differs from it by a smooth
    # phase field only (documented in datasets/fastmri.py).
    m, w = np.abs(z).ravel(), np.abs(want).ravel()
    c = float(m @ w / (m @ m))
    assert 1.0 <= c < 1.2
    err = np.abs(c * m - w)
    assert np.mean(err < 0.05) > 0.98 and np.median(err) < 0.01
    rel = z * np.conj(want)
    inside = (np.abs(want[:, 1:, :]) > 0.05) & (np.abs(want[:, :-1, :]) > 0.05)
    step = np.abs(np.angle(rel[:, 1:, :] * np.conj(rel[:, :-1, :])))[inside]
    assert step.size > 100 and np.percentile(step, 95) < 0.3


def test_reconstruction_target_and_low_resolution_fov(tmp_path):
    vol = _write(tmp_path, "a.h5", num_slices=2)
    _write(tmp_path, "b.h5", num_slices=2, seed=3)
    cfg = _config(tmp_path, target="reconstruction", val_fraction=0.0)
    x = datasets.get_dataset(cfg, "train").all()
    ds = datasets.get_dataset(cfg, "train")
    rows = [i for i, z in enumerate(ds.ids) if z.startswith("a.h5[")]
    want = np.abs(vol[:, 2:22, :])
    np.testing.assert_allclose(x[rows, ..., 0], want / want.max(), atol=2e-5)
    # A 10 px view of the same 20 px field of view: the central 10 x 10 of its k-space.
    low = datasets.get_dataset(_config(tmp_path, image_size=10, fov=20, val_fraction=0.0), "train")
    rows = [i for i, z in enumerate(low.ids) if z.startswith("a.h5[")]
    k = np.asarray(mri.fft2c(vol[:, 2:22, :]))[:, 5:15, 5:15]
    want = np.abs(np.asarray(mri.ifft2c(k)))
    np.testing.assert_allclose(low.all()[rows, ..., 0], want / want.max(), atol=2e-5)


def test_rows_of_a_batch_equal_the_whole_batch(multicoil_dir):
    root, _ = multicoil_dir
    ds = datasets.get_dataset(_config(root, random_flip=True, centered=True), "train")
    whole = ds.batch(7, 6)
    assert whole.shape == (6, 20, 20, 1) and whole.min() >= -1 and whole.max() <= 1
    part = ds.batch(7, 6, rows=[slice(2, 4), slice(5, 6)])
    np.testing.assert_array_equal(part, whole[[2, 3, 5]])
    assert not np.array_equal(ds.batch(8, 6), whole)


def test_bad_directories_and_files(tmp_path, caplog):
    with pytest.raises(ValueError, match="needs data.root"):
        datasets.get_dataset(_config(""), "train")
    with pytest.raises(ValueError, match="no .h5 files"):
        datasets.get_dataset(_config(tmp_path), "train")
    for i in range(3):
        _write(tmp_path, f"good{i}.h5", num_slices=2, seed=i)
    (tmp_path / "broken.h5").write_bytes(b"not hdf5 at all")
    import h5py
    with h5py.File(tmp_path / "nokspace.h5", "w") as f:
        f.create_dataset("reconstruction_esc", data=np.zeros((2, 4, 4), np.float32))
    with caplog.at_level(logging.WARNING):
        ds = datasets.get_dataset(_config(tmp_path, val_fraction=0.0), "train")
    assert len({i.split("[")[0] for i in ds.ids}) == 3
    assert "skipped 2 of 5" in caplog.text and "broken.h5" in caplog.text and "nokspace.h5" in caplog.text
    with pytest.raises(ValueError, match="field of view"):
        datasets.get_dataset(_config(tmp_path, image_size=22, val_fraction=0.0), "train")
    bad = tmp_path / "bad_only"
    bad.mkdir()
    (bad / "x.h5").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="no readable fastMRI volume"):
        datasets.get_dataset(_config(bad), "train")
    challenge = tmp_path / "challenge"
    challenge.mkdir()
    _write(challenge, "c.h5", num_slices=1)
    with h5py.File(challenge / "c.h5", "a") as f:
        f.create_dataset("mask", data=np.ones(W, np.float32))
    with pytest.raises(ValueError, match="challenge file"):
        datasets.get_dataset(_config(challenge, val_fraction=0.0), "train")


def _count_raw(ds):
    """Wrap ``ds._raw`` (the k-space read + transform of one slice) with a call counter."""
    calls = []
    raw = ds._raw

    def counted(j, s):
        calls.append((j, s))
        return raw(j, s)
    ds._raw = counted
    return calls


@pytest.mark.parametrize("target", ["magnitude", "complex"])
def test_targets_are_computed_once_and_cached(multicoil_dir, target):
    root, _ = multicoil_dir
    kw = dict(target=target, num_channels=2 if target == "complex" else 1, val_fraction=0.0, slice_fraction=0.6)
    ds = datasets.get_dataset(_config(root, **kw), "train")
    calls = _count_raw(ds)
    first = ds.all()
    for key in range(3):   # batches in worker threads, then a second epoch: all from the cache
        ds.batch(key, 6)
    np.testing.assert_array_equal(ds.all(), first)
    assert sorted(calls) == sorted(set(calls)) and len(calls) == ds.num_examples
    with pytest.raises(ValueError, match="read-only"):   # a caller cannot change the cache
        ds.example(0)[0, 0, 0] = 5.0
    # Without a cache the same examples are recomputed: the volume's scale pass, then each slice.
    off = datasets.get_dataset(_config(root, cache_mb=0, **kw), "train")
    off_calls = _count_raw(off)
    np.testing.assert_allclose(off.all(), first, atol=1e-6)
    assert len(off_calls) == 2 * off.num_examples
    np.testing.assert_allclose(off.batch(4, 6), ds.batch(4, 6), atol=1e-6)


def test_cache_keeps_whole_volumes_within_its_budget(multicoil_dir):
    root, _ = multicoil_dir
    one_volume_mb = 3 * 20 * 20 * 4 / 2**20      # 3 used slices of 20 x 20 float32
    cfg = _config(root, val_fraction=0.0, slice_fraction=0.6, cache_mb=1.5 * one_volume_mb, workers=4)
    ds = datasets.get_dataset(cfg, "train")
    calls = _count_raw(ds)
    first = ds.all()
    assert len(ds._cache) == 1 and ds._cache_used <= ds._cache_budget
    ds.all()   # the four volumes that did not fit are read again, the cached one is not
    assert len(calls) == ds.num_examples + 2 * 4 * 3   # scale pass of all five, then twice the four
    full = datasets.get_dataset(_config(root, val_fraction=0.0, slice_fraction=0.6), "train")
    np.testing.assert_array_equal(full.all(), first)
    with pytest.raises(ValueError, match="cache_mb"):
        datasets.get_dataset(_config(root, cache_mb=-1), "train")


def test_reconstruction_target_does_not_read_kspace(tmp_path):
    _write(tmp_path, "a.h5", num_slices=2)
    ds = datasets.get_dataset(_config(tmp_path, target="reconstruction", val_fraction=0.0), "train")
    seen = []
    slice_ = ds.volumes[0].slice
    ds.volumes[0].slice = lambda s, **kw: seen.append(kw) or slice_(s, **kw)
    ds.all()
    assert seen and all(kw == {"kspace": False} for kw in seen)
