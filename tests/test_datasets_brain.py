"""Synthetic MNI152 brain slices: shapes, split, contrasts, determinism."""
import jax
import numpy as np
import pytest

import datasets
from data_configs import data_config
from datasets import brain


def brain_config(**kw):
    return data_config("brain", **{"image_size": 64, **kw})


def test_train_stream_shape_range_and_determinism():
    ds = datasets.get_dataset(brain_config(), "train")
    assert ds.shape == (64, 64, 1) and ds.num_examples is None
    key = jax.random.fold_in(jax.random.key(0), 3)
    x = ds.batch(key, 16)
    assert x.shape == (16, 64, 64, 1) and x.dtype == np.float32
    assert x.min() >= 0.0 and x.max() <= 1.0
    np.testing.assert_allclose(x.max(axis=(1, 2, 3)), 1.0)      # each image is peak-normalised
    assert (x > 0.05).mean() > 0.2                                 # mostly brain, not background
    np.testing.assert_array_equal(ds.batch(key, 16), x)
    assert not np.array_equal(ds.batch(jax.random.fold_in(key, 1), 16), x)


def test_sample_is_deterministic_for_a_seed():
    a = brain.sample(7, 8, image_size=32)
    assert a.shape == (8, 32, 32, 1)
    np.testing.assert_array_equal(a, brain.sample(7, 8, image_size=32))
    assert not np.array_equal(a, brain.sample(8, 8, image_size=32))


def test_held_out_slices_are_disjoint_and_separated():
    train, test = brain.split_slices("train"), brain.split_slices("test")
    assert len(train) > 3 * len(test) > 0
    assert not set(train) & set(test)
    assert np.abs(train[:, None] - test[None, :]).min() >= brain.GUARD + 1
    assert set(train) | set(test) <= set(brain.usable_slices())

    ds = datasets.get_dataset(brain_config(), "test")
    assert ds.num_examples == len(test) * len(brain.CONTRASTS)
    assert set(ds.ids) == set(test)
    x = ds.all()
    assert x.shape == (ds.num_examples, 64, 64, 1) and 0.0 <= x.min() and x.max() <= 1.0
    np.testing.assert_array_equal(x, datasets.get_dataset(brain_config(), "test").all())
    with pytest.raises(ValueError, match="split"):
        brain.split_slices("val")


def test_contrasts_change_the_image_and_keep_tissue_ordering():
    z = brain.split_slices("test")[12]
    imgs = brain.render([z, z, z], ["t1", "t2", "pd"], augment=False)
    for i in range(3):
        for j in range(i + 1, 3):
            assert np.abs(imgs[i] - imgs[j]).mean() > 0.02
    # Without augmentation the image is the weighted tissue sum: check it on pure-tissue pixels.
    maps = brain.tissue_stack(64)[z - brain.usable_slices()[0]]
    gm, wm, csf = (maps[..., k] > 0.8 for k in range(3))
    t1, t2 = imgs[0, ..., 0], imgs[1, ..., 0]
    assert t1[wm].mean() > t1[gm].mean() > t1[csf].mean()
    assert t2[csf].mean() > t2[gm].mean() > t2[wm].mean()
    # Jittered weights keep each weighting's ordering.
    gen = np.random.default_rng(0)
    for name, nominal in brain.CONTRASTS.items():
        w = brain._contrast_weights([name] * 500, gen)
        assert np.all(np.argsort(w, axis=1) == np.argsort(nominal))
        assert w.std(axis=0).min() > 0.01


def test_options_apply_to_brain_and_bad_config_is_rejected():
    ds = datasets.get_dataset(brain_config(image_size=32, centered=True, contrasts=("t2",)),
                              "train")
    x = ds.batch(jax.random.key(1), 4)
    assert x.shape == (4, 32, 32, 1) and x.min() >= -1.0 and x.max() == 1.0
    with pytest.raises(ValueError, match="flair"):
        datasets.get_dataset(brain_config(contrasts=("flair",)), "train")
    with pytest.raises(ValueError, match="num_channels"):
        datasets.get_dataset(brain_config(num_channels=3), "train")
