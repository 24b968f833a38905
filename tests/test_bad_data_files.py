"""Bad files in a data set are skipped with a count and the first paths in the log, or are one
clear error when nothing usable is left; never a crash inside a batch. The image folder and
fastMRI volumes, through the one helper ``datasets.base.load_all``."""
import logging

import h5py
import numpy as np
import pytest
from PIL import Image

import datasets
import mri
from data_configs import data_config
from datasets import images
from datasets.base import SHOW_SKIPPED, load_all


def write_pngs(folder, n, size=6):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray(rng.integers(0, 255, (size, size, 3), dtype=np.uint8)).save(folder / f"img{i:02d}.png")


def test_load_all_counts_names_the_first_few_and_refuses_nothing(caplog):
    def load(p):
        if p.startswith("bad"):
            raise ValueError("broken")
        return p.upper()
    paths = ["a", "bad0", "b"] + [f"bad{i}" for i in range(1, 8)]
    with caplog.at_level(logging.WARNING):
        items, skipped = load_all(paths, load, what="thing")
    assert items == ["A", "B"] and [p for p, _ in skipped] == [f"bad{i}" for i in range(8)]
    (msg,) = [r.getMessage() for r in caplog.records]
    assert msg.startswith("skipped 8 of 10 things") and "bad4 (ValueError: broken)" in msg
    assert f"bad{SHOW_SKIPPED}" not in msg and "and 3 more" in msg
    with pytest.raises(ValueError, match=r"none of the 2 things could be read: bad0 \(ValueError: broken\)"):
        load_all(["bad0", "bad1"], load, what="thing")
    with pytest.raises(KeyError):   # only the listed errors mean "bad file"; others are bugs
        load_all(["x"], lambda p: {}[p])


def test_image_folder_skips_truncated_and_fake_images(tmp_path, caplog):
    root = tmp_path / "imgs"
    write_pngs(root / "train", 4)
    write_pngs(root / "test", 2)
    good = (root / "train" / "img00.png").read_bytes()
    (root / "train" / "img01.png").write_bytes(good[: len(good) // 2])          # truncated
    (root / "train" / "notes.png").write_text("a text file with an image's extension")
    cfg = data_config(dataset="image_folder", root=str(root), image_size=4, num_channels=3)
    with caplog.at_level(logging.WARNING):
        ds = datasets.get_dataset(cfg, "train")
    assert ds.num_examples == 3 and not any("img01" in str(i) or "notes" in str(i) for i in ds.ids)
    (msg,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "skipped 2 of 5 images" in msg and "img01.png" in msg and "notes.png" in msg
    assert ds.batch(np.random.default_rng(0), 8).shape == (8, 4, 4, 3)   # every batch is whole
    for p in (root / "test").iterdir():
        p.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(ValueError, match="none of the 2 images could be read"):
        images.load_image_folder(root, "test", 4, 3)


def _volume(path, slices=3):
    k = (np.random.default_rng(0).standard_normal((slices, 24, 20)) * (1 + 1j)).astype(np.complex64)
    return mri.write_fastmri_file(path, k)


def test_fastmri_files_without_kspace_or_truncated_are_skipped_or_named(tmp_path, caplog):
    from run.recon import ReconConfigError
    from run.recon.problem import open_fastmri
    d = tmp_path / "volumes"
    d.mkdir()
    with h5py.File(d / "a_nokspace.h5", "w") as f:
        f.create_dataset("reconstruction_rss", data=np.zeros((1, 2, 2), np.float32))
    whole = _volume(d / "c_good.h5")
    raw = open(whole, "rb").read()
    (d / "b_truncated.h5").write_bytes(raw[: len(raw) // 2])
    with caplog.at_level(logging.WARNING):
        volume = open_fastmri(str(d))
    assert volume.path == whole and volume.num_slices == 3
    (msg,) = [r.getMessage() for r in caplog.records if "skipped" in r.getMessage()]
    assert "skipped 2 of 3 fastMRI volumes" in msg and "a_nokspace.h5" in msg and "missing the 'kspace'" in msg
    assert "b_truncated.h5" in msg and "truncated" in msg
    # One file given, and it is bad: an error naming it, raised when it is opened.
    with pytest.raises(mri.FastMRIFormatError, match="b_truncated.h5.*cannot be read"):
        open_fastmri(str(d / "b_truncated.h5"))
    (d / "c_good.h5").unlink()
    with pytest.raises(ValueError, match="none of the 2 fastMRI volumes could be read"):
        open_fastmri(str(d))
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ReconConfigError, match="without .h5 files"):
        open_fastmri(str(empty))


def test_fastmri_slice_read_failure_names_the_file_and_slice(tmp_path):
    path = _volume(tmp_path / "v.h5")
    vol = mri.FastMRIVolume(path).verify()
    with h5py.File(path, "a") as f:   # the file changes under a reader: the dataset is gone
        del f["kspace"]
        f.create_dataset("kspace", data=np.zeros((1, 24, 20), np.complex64))
    with pytest.raises(mri.FastMRIFormatError, match=r"v\.h5: slice 2 cannot be read"):
        vol.slice(2)
