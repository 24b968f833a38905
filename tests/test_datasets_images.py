"""Digits, image folders, tfds errors, the shared options and the registry."""
import subprocess
import sys
import types

import jax
import numpy as np
import pytest
from PIL import Image

import datasets
from data_configs import data_config
from datasets import images


def test_import_is_numpy_only():
    code = ("import sys, datasets; heavy = [m for m in ('jax', 'scipy', 'sklearn', 'nilearn', "
            "'PIL', 'tensorflow', 'tensorflow_datasets') if m in sys.modules]; print(heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- digits

@pytest.mark.parametrize("size", [16, 32])
def test_digits_shape_range_and_disjoint_split(size):
    train = datasets.get_dataset(data_config(image_size=size), "train")
    test = datasets.get_dataset(data_config(image_size=size), "test")
    assert train.shape == test.shape == (size, size, 1)
    assert (train.num_examples, test.num_examples) == (1438, 359)
    assert not set(train.ids) & set(test.ids)
    assert set(train.ids) | set(test.ids) == set(range(1797))
    x = train.all()
    assert x.dtype == np.float32 and x.min() == 0.0 and x.max() == 1.0
    # The upsampled digit still looks like its 8x8 source (block means track the original).
    from sklearn.datasets import load_digits
    src = load_digits().images[:5] / 16.0
    f = size // 8
    blocks = x[:5, :, :, 0].reshape(5, 8, f, 8, f).mean(axis=(2, 4))
    assert np.corrcoef(blocks.ravel(), src.ravel())[0, 1] > 0.95


def test_finite_batch_is_a_function_of_the_key():
    ds = datasets.get_dataset(data_config(random_flip=True, uniform_dequantization=True))
    key = jax.random.fold_in(jax.random.key(0), 12)
    a, b = ds.batch(key, 32), ds.batch(key, 32)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (32, 16, 16, 1) and a.dtype == np.float32
    assert not np.array_equal(ds.batch(jax.random.fold_in(key, 1), 32), a)
    np.testing.assert_array_equal(ds.batch(5, 8), ds.batch(5, 8))    # int seeds work too
    raw = jax.random.PRNGKey(1)                                         # so do raw uint32 keys
    np.testing.assert_array_equal(ds.batch(raw, 8), ds.batch(raw, 8))


# --------------------------------------------------------------------------- options

def asymmetric_image():
    img = np.zeros((1, 4, 6, 1), np.float32)
    img[0, :, :2] = 1.0          # bright left edge
    img[0, 0, 5] = 0.5
    return img


def test_random_flip_is_np_flip_along_width():
    img = asymmetric_image()
    ds = datasets.ArrayDataset("toy", img, random_flip=True)
    x = ds.batch(jax.random.key(0), 64)
    flipped = np.flip(img[0], axis=1)
    is_orig = np.all(x == img[0], axis=(1, 2, 3))
    is_flip = np.all(x == flipped, axis=(1, 2, 3))
    assert np.all(is_orig ^ is_flip)
    assert 16 < is_flip.sum() < 48
    # Without the option nothing is flipped.
    plain = datasets.ArrayDataset("toy", img).batch(jax.random.key(0), 16)
    assert np.all(plain == img[0])


def test_uniform_dequantization_fills_each_8bit_bin():
    levels = np.arange(256, dtype=np.uint8)
    img = np.tile(levels.reshape(1, 16, 16, 1), (200, 1, 1, 1))
    x = datasets.preprocess(img.astype(np.float32) / 255.0, 0, uniform_dequantization=True)
    k = img.astype(np.float64)
    frac = x.astype(np.float64) * 256.0 - k      # U(0, 1) if x = (k + u) / 256
    assert frac.min() >= 0.0 and frac.max() < 1.0 + 1e-4
    assert abs(frac.mean() - 0.5) < 0.01 and abs(frac.var() - 1 / 12) < 0.005
    assert x.min() >= 0.0 and x.max() < 1.0


def test_centering_and_inverse_scaler():
    img = np.array([0, 51, 255], np.uint8).reshape(1, 1, 3, 1)
    ds = datasets.ArrayDataset("toy", img, centered=True)
    x = ds.all()
    np.testing.assert_allclose(x.ravel(), [-1.0, 51 / 255 * 2 - 1, 1.0], atol=1e-6)
    cfg = data_config(centered=True)
    np.testing.assert_allclose(datasets.inverse_scaler(cfg)(x).ravel(), [0, 0.2, 1], atol=1e-6)
    np.testing.assert_allclose(datasets.scaler(cfg)(np.array([0.0, 1.0])), [-1.0, 1.0])
    y = np.array([0.3])
    assert datasets.inverse_scaler(data_config(centered=False))(y) is y


# --------------------------------------------------------------------------- image folder

def write_pngs(folder, n):
    folder.mkdir(parents=True, exist_ok=True)
    colours = []
    for i in range(n):
        colour = (10 * i, 255 - 10 * i, 100)
        Image.new("RGB", (30, 20), colour).save(folder / f"img_{i:02d}.png")
        colours.append(colour)
    return colours


def test_image_folder_reads_pngs(tmp_path):
    colours = write_pngs(tmp_path / "pics", 10)
    cfg = data_config(dataset="image_folder", root=str(tmp_path / "pics"), image_size=8,
                      num_channels=3)
    train, test = datasets.get_dataset(cfg, "train"), datasets.get_dataset(cfg, "test")
    assert (train.num_examples, test.num_examples) == (8, 2)
    assert train.shape == (8, 8, 3)
    assert not set(train.ids) & set(test.ids)
    x = test.all()                                    # files 4 and 9 (every 5th)
    np.testing.assert_allclose(x[0], np.broadcast_to(np.array(colours[4]) / 255.0, (8, 8, 3)),
                               atol=1e-6)
    grey = datasets.get_dataset(data_config(dataset="image_folder", root=str(tmp_path / "pics"),
                                            image_size=8, num_channels=1), "test")
    assert grey.shape == (8, 8, 1)


def test_image_folder_train_test_subfolders(tmp_path):
    write_pngs(tmp_path / "train", 3)
    write_pngs(tmp_path / "test", 2)
    cfg = data_config(dataset="image_folder", root=str(tmp_path), image_size=4, num_channels=3)
    assert datasets.get_dataset(cfg, "train").num_examples == 3
    assert datasets.get_dataset(cfg, "test").num_examples == 2


def test_image_folder_missing_or_empty_names_the_folder(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(FileNotFoundError, match="nowhere"):
        datasets.get_dataset(data_config(dataset="image_folder", root=str(missing),
                                         num_channels=3))
    empty = tmp_path / "empty_dir"
    empty.mkdir()
    (empty / "notes.txt").write_text("not an image")
    with pytest.raises(FileNotFoundError, match="empty_dir"):
        datasets.get_dataset(data_config(dataset="image_folder", root=str(empty),
                                         num_channels=3))
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "broken.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="broken.png"):
        images.load_image_folder(bad, "train", 8, 3)


# --------------------------------------------------------------------------- tfds

def tfds_config():
    return data_config(dataset="tfds:cifar10", image_size=32, num_channels=3)


def test_tfds_not_installed_says_how_to_get_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", None)   # import now fails
    with pytest.raises(ImportError) as err:
        datasets.get_dataset(tfds_config())
    assert "cifar10" in str(err.value) and "pip install tensorflow-datasets" in str(err.value)


class FakeBuilder:
    def __init__(self, prepared):
        self.prepared = prepared
        self.info = types.SimpleNamespace(splits={"train": None, "test": None})

    def as_dataset(self, split, batch_size):
        if not self.prepared:
            raise AssertionError("Dataset cifar10: could not find data in /nowhere")
        return {"image": np.full((3, 16, 16, 3), 128, np.uint8), "label": np.zeros(3)}


def fake_tfds(prepared):
    mod = types.ModuleType("tensorflow_datasets")
    mod.builder = lambda name, data_dir=None: FakeBuilder(prepared)
    mod.as_numpy = lambda x: x
    return mod


def test_tfds_missing_data_says_how_to_build_it(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake_tfds(prepared=False))
    with pytest.raises(FileNotFoundError) as err:
        datasets.get_dataset(tfds_config(), "test")
    assert "cifar10" in str(err.value) and "tfds build cifar10" in str(err.value)


def test_tfds_prepared_data_is_served(monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorflow_datasets", fake_tfds(prepared=True))
    ds = datasets.get_dataset(tfds_config(), "train")        # 16 px source resized to 32
    assert ds.shape == (32, 32, 3) and ds.num_examples == 3
    np.testing.assert_allclose(ds.all(), 128 / 255, atol=1e-6)


# --------------------------------------------------------------------------- registry

def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="digits.*brain.*tfds:<name>"):
        datasets.get_dataset(data_config(dataset="mnist"))
    with pytest.raises(ValueError, match="tfds:<name>"):
        datasets.get_dataset(data_config(dataset="tfds"))
    with pytest.raises(ValueError, match="split"):
        datasets.get_dataset(data_config(), "validation")
    with pytest.raises(ValueError, match="num_channels"):
        datasets.get_dataset(data_config(num_channels=3))
    assert set(datasets.DATASETS) == {"gmm_ring", "checkerboard", "swiss_roll", "moons",
                                      "digits", "brain", "image_folder", "fastmri", "tfds"}


def test_get_constructor_validates_names_without_building():
    assert datasets.get_constructor("tfds:cifar10") is datasets.DATASETS["tfds"]
    assert datasets.get_constructor("brain") is datasets.DATASETS["brain"]
    with pytest.raises(ValueError, match="valid names"):
        datasets.get_constructor("tfds:")
