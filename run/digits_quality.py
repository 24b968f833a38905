"""Sample quality on the embedded digits with no downloaded weights: KID, a Fréchet distance and a
classifier score in the feature space of a small CNN trained once on scikit-learn's digits.

These numbers are NOT comparable to FID / KID / IS in papers: the features are a 64-unit layer
of a 38k-parameter network trained on 1438 8x8 digits, not Inception's pool3. They do rank
models on this data (real test digits score far better than noise or blurred digits) and track
a run's progress, offline and in a second.

    q = digits_quality(samples, reference)   # [N, H, W, 1] in [0, 1], any H = W >= 8
    q["digits_kid"], q["digits_fd"], q["digits_score"]

The weights ship in ``run/assets/digits_cnn.npz`` (150 kB), made by
``train_digits_classifier()`` with the defaults below; if that file is absent,
``digits_classifier(cache_dir)`` trains once (a few seconds) and caches the result there.
"""
from __future__ import annotations

import os
from typing import Optional

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax

from run import fid

WEIGHTS = os.path.join(os.path.dirname(__file__), "assets", "digits_cnn.npz")
SIZE = 16   # the classifier's input resolution; digits carry 8x8 pixels of information


class DigitsCNN(nn.Module):
    """``x [B, H, W, 1]`` in [0, 1] -> (features ``[B, 64]``, logits ``[B, 10]``)."""

    @nn.compact
    def __call__(self, x):
        x = jnp.asarray(x, jnp.float32)
        x = jax.image.resize(x, (x.shape[0], SIZE, SIZE, 1), "linear") * 2.0 - 1.0
        for features in (16, 32):
            x = nn.avg_pool(nn.relu(nn.Conv(features, (3, 3))(x)), (2, 2), (2, 2))
        feats = nn.relu(nn.Dense(64)(x.reshape(x.shape[0], -1)))
        logits = nn.Dense(10)(feats)
        # Features leave divided by their RMS over the training digits (set after training), so
        # the KID kernel (fᵀg / d + 1)³ sees O(1) inputs, as with Inception's pool features.
        scale = self.variable("norm", "feature_scale", lambda: jnp.ones((), jnp.float32))
        return feats / scale.value, logits


def digits_data(split: str) -> tuple[np.ndarray, np.ndarray]:
    """(images ``[N, 16, 16, 1]`` float32 in [0, 1], labels ``[N]``) of the fixed digits split."""
    from sklearn.datasets import load_digits as sk_digits

    from datasets import images
    x, ids = images.load_digits(split, SIZE)
    return x.astype(np.float32) / 255.0, sk_digits().target[ids]


def train_digits_classifier(seed: int = 0, steps: int = 500, batch_size: int = 128, lr: float = 3e-3) -> dict:
    """Adam on the cross-entropy of the training split; returns the variables
    ``{"params", "norm"}`` (norm: the features' RMS over the training split)."""
    x, y = (jnp.asarray(a) for a in digits_data("train"))
    model = DigitsCNN()
    variables = model.init(jax.random.PRNGKey(seed), x[:1])
    norm = variables["norm"]
    opt = optax.adam(lr)

    @jax.jit
    def step(params, state, key):
        k_idx, k_shift = jax.random.split(key)
        idx = jax.random.choice(k_idx, x.shape[0], (batch_size,), replace=False)
        # A random shift of up to one pixel per batch: cheap augmentation against overfitting.
        shift = jax.random.randint(k_shift, (2,), -1, 2)
        batch = jnp.roll(x[idx], (shift[0], shift[1]), axis=(1, 2))

        def loss(p):
            logits = model.apply({"params": p, "norm": norm}, batch)[1]
            return jnp.mean(optax.softmax_cross_entropy_with_integer_labels(logits, y[idx]))
        updates, state = opt.update(jax.grad(loss)(params), state)
        return optax.apply_updates(params, updates), state

    params, state = variables["params"], opt.init(variables["params"])
    key = jax.random.PRNGKey(seed + 1)
    for i in range(int(steps)):
        params, state = step(params, state, jax.random.fold_in(key, i))
    feats, _ = model.apply({"params": params, "norm": norm}, x)
    rms = jnp.sqrt(jnp.mean(jnp.sum(feats**2, axis=1)) / feats.shape[1])
    return {"params": params, "norm": {"feature_scale": rms}}


def save_variables(variables: dict, path: str) -> None:
    flat = {"/".join(p.key for p in path_): np.asarray(v)
            for path_, v in jax.tree_util.tree_flatten_with_path(variables)[0]}
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    np.savez(path, **flat)


def load_variables(path: str) -> dict:
    variables: dict = {}
    with np.load(path) as f:
        for name in f.files:
            node = variables
            *parents, leaf = name.split("/")
            for key in parents:
                node = node.setdefault(key, {})
            node[leaf] = jnp.asarray(f[name])
    return variables


def digits_classifier(cache_dir: Optional[str] = None) -> dict:
    """The shipped variables; without them, the ones cached in ``cache_dir`` (trained and
    written there on first use; ``cache_dir=None`` trains without caching)."""
    if os.path.exists(WEIGHTS):
        return load_variables(WEIGHTS)
    cached = os.path.join(cache_dir, "digits_cnn.npz") if cache_dir else None
    if cached and os.path.exists(cached):
        return load_variables(cached)
    variables = train_digits_classifier()
    if cached:
        save_variables(variables, cached)
    return variables


_apply = jax.jit(DigitsCNN().apply)


def digits_features(variables: dict, images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(features ``[N, 64]``, logits ``[N, 10]``) of ``images [N, H, W, 1]`` in [0, 1]."""
    feats, logits = _apply(variables, jnp.asarray(images, jnp.float32))
    return np.asarray(feats, np.float64), np.asarray(logits, np.float64)


def digits_quality(samples: np.ndarray, reference: np.ndarray, variables: Optional[dict] = None,
                   cache_dir: Optional[str] = None) -> dict:
    """KID (mean, std over subsets), Fréchet distance and classifier score (the Inception Score
    formula with the digit classifier, 1 … 10) of ``samples`` against ``reference`` digits."""
    variables = digits_classifier(cache_dir) if variables is None else variables
    fs, logits = digits_features(variables, samples)
    fr, _ = digits_features(variables, reference)
    kid_mean, kid_std = fid.kid(fs, fr, num_subsets=100, subset_size=1000)
    (mu1, s1), (mu2, s2) = fid.feature_stats(fs), fid.feature_stats(fr)
    score, _ = fid.inception_score(logits, splits=1)
    return {"digits_kid": kid_mean, "digits_kid_std": kid_std,
            "digits_fd": fid.frechet_distance(mu1, s1, mu2, s2, method="eigh"), "digits_score": score}
