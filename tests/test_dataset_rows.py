"""``Dataset.batch(rng, B, rows=...)``: each process of a multi-host run makes only its rows of
the global batch, and they must be exactly the rows of the whole batch, whatever the split."""
import jax
import numpy as np
import pytest

import datasets
from data_configs import data_config
from datasets.base import key_words, select_rows

B = 16
# How 1, 2 and 4 processes would split a batch of 16 (contiguous and interleaved meshes).
SPLITS = [
    [[slice(0, 16)]],
    [[slice(0, 8)], [slice(8, 16)]],
    [[slice(0, 4), slice(8, 12)], [slice(4, 8), slice(12, 16)]],
    [[slice(4 * p, 4 * p + 4)] for p in range(4)],
]


def options_on(name):
    return data_config(name, centered=True, random_flip=True, uniform_dequantization=True)


def assemble(ds, key, split):
    """Put the processes' shares back where ``process_rows`` says they go."""
    out = np.full((B, *ds.shape), np.nan, np.float32)
    for rows in split:
        part = np.asarray(ds.batch(key, B, rows=rows))
        assert part.shape == (sum(r.stop - r.start for r in rows), *ds.shape)
        out[np.concatenate([np.arange(r.start, r.stop) for r in rows])] = part
    return out


@pytest.mark.parametrize("name", ["digits", "brain", "gmm_ring"])
def test_any_process_split_rebuilds_the_global_batch(name):
    ds = datasets.get_dataset(options_on(name))
    key = jax.random.fold_in(jax.random.PRNGKey(3), 7)
    whole = np.asarray(ds.batch(key, B))
    for split in SPLITS:
        np.testing.assert_array_equal(assemble(ds, key, split), whole, err_msg=f"{name} {split}")
    # Index arrays work too, in any order.
    np.testing.assert_array_equal(np.asarray(ds.batch(key, B, rows=np.array([9, 2]))), whole[[9, 2]])


def test_rows_keep_per_example_randomness():
    """Flips and dequantisation noise still differ between rows and between keys (a per-row
    seed that ignored the key or the row would make them repeat)."""
    img = (np.arange(8 * 6, dtype=np.uint8).reshape(1, 8, 6, 1) * 5).repeat(4, axis=0)
    ds = datasets.ArrayDataset("toy", img, random_flip=True, uniform_dequantization=True)
    x = ds.batch(jax.random.PRNGKey(0), 64)
    noise = x * 256.0 - np.floor(x * 256.0)
    assert len({np.round(n.sum(), 4) for n in noise}) == 64            # every row its own noise
    flipped = x[:, 0, 0, 0] > x[:, 0, -1, 0]
    assert 16 < flipped.sum() < 48
    y = ds.batch(jax.random.PRNGKey(1), 64)
    assert not np.array_equal(x, y)


def test_bad_rows_are_named():
    with pytest.raises(ValueError, match="outside a batch of 16"):
        select_rows(16, np.array([3, 16]))
    with pytest.raises(ValueError, match="inside a batch of 16"):
        select_rows(16, [slice(8, 20)])
    with pytest.raises(TypeError, match="rows must be"):
        select_rows(16, np.array([[1, 2]]))
    np.testing.assert_array_equal(select_rows(4, None), [0, 1, 2, 3])
    np.testing.assert_array_equal(select_rows(16, [slice(2, 4), slice(10, 11)]), [2, 3, 10])


def test_key_words_cover_the_whole_key():
    k = jax.random.PRNGKey(3)
    assert key_words(k) == [int(w) for w in np.asarray(k)]
    assert key_words(jax.random.key(3)) == key_words(k)
    assert key_words(7) == [7]
    with pytest.raises(ValueError, match="seed must be >= 0"):
        key_words(-1)
    g1, g2 = np.random.default_rng(0), np.random.default_rng(0)
    assert key_words(g1) == key_words(g2) and key_words(g1) != key_words(np.random.default_rng(0))
