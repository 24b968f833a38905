"""The offline digits quality figure: a shipped classifier that really classifies, metrics that
rank real digits above blurred ones above noise, and training + caching when weights are absent."""
import functools
import os

import numpy as np
from scipy import ndimage

from run import digits_quality as dq


def test_shipped_classifier_classifies_held_out_digits():
    variables = dq.digits_classifier()
    x, y = dq.digits_data("test")
    feats, logits = dq.digits_features(variables, x)
    assert feats.shape == (len(x), 64) and logits.shape == (len(x), 10)
    assert np.mean(logits.argmax(1) == y) > 0.95
    # features are normalised to unit RMS on the training digits
    xt, _ = dq.digits_data("train")
    rms = np.sqrt(np.mean(np.sum(dq.digits_features(variables, xt)[0] ** 2, 1)) / 64)
    assert abs(rms - 1.0) < 1e-3


def test_quality_ranks_real_blurred_and_noise():
    variables = dq.digits_classifier()
    test, _ = dq.digits_data("test")
    ref, _ = dq.digits_data("train")
    real = dq.digits_quality(test, ref, variables)
    blur = dq.digits_quality(ndimage.gaussian_filter(test, (0, 1.5, 1.5, 0)), ref, variables)
    noise = dq.digits_quality(np.random.default_rng(0).uniform(size=test.shape).astype(np.float32), ref, variables)
    assert real["digits_kid"] < 0.1 and real["digits_score"] > 8.5
    assert real["digits_kid"] + 3 * blur["digits_kid_std"] < blur["digits_kid"] < noise["digits_kid"]
    assert real["digits_fd"] < blur["digits_fd"] < noise["digits_fd"]
    assert noise["digits_score"] < blur["digits_score"] < real["digits_score"] <= 10.0
    # any image size: digits at 32 px are resized to the classifier's 16
    big = np.repeat(np.repeat(test, 2, axis=1), 2, axis=2)
    assert abs(dq.digits_quality(big, ref, variables)["digits_score"] - real["digits_score"]) < 0.5


def test_trains_and_caches_when_no_weights_ship(tmp_path, monkeypatch):
    calls = []
    short = functools.partial(dq.train_digits_classifier, steps=150)
    monkeypatch.setattr(dq, "WEIGHTS", str(tmp_path / "absent.npz"))
    monkeypatch.setattr(dq, "train_digits_classifier", lambda: calls.append(1) or short())
    first = dq.digits_classifier(str(tmp_path))
    assert os.path.exists(tmp_path / "digits_cnn.npz") and calls == [1]
    second = dq.digits_classifier(str(tmp_path))
    assert calls == [1]
    x, y = dq.digits_data("test")
    for v in (first, second):
        assert np.mean(dq.digits_features(v, x)[1].argmax(1) == y) > 0.85
