"""FID, KID and Inception Score against closed forms; the stats cache; the weights-file reader."""
import math
import os
import pickle

import numpy as np
import pytest
from scipy import linalg

from inception_weights import random_state_dict
from models import inception
from models.torch_io import UnsafePickleError
from run import fid, inception_features

FIXTURES = os.path.join(os.path.dirname(__file__), "fixtures")


def random_cov(rng, d, lo=0.2, hi=3.0):
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    return q @ np.diag(rng.uniform(lo, hi, d)) @ q.T


def test_frechet_distance_closed_form_for_commuting_covariances():
    rng = np.random.default_rng(0)
    mu1, mu2 = rng.normal(size=6), rng.normal(size=6)
    a, b = rng.uniform(0.1, 4, 6), rng.uniform(0.1, 4, 6)
    q, _ = np.linalg.qr(rng.normal(size=(6, 6)))                 # same eigenvectors: they commute
    value = fid.frechet_distance(mu1, q @ np.diag(a) @ q.T, mu2, q @ np.diag(b) @ q.T)
    np.testing.assert_allclose(value, np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2), rtol=1e-9)


def test_frechet_distance_against_an_independent_square_root():
    """tr (Σ1 Σ2)^½ = tr (Σ1^½ Σ2 Σ1^½)^½, the latter from symmetric eigendecompositions only."""
    rng = np.random.default_rng(1)
    s1, s2 = random_cov(rng, 8), random_cov(rng, 8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    w, v = np.linalg.eigh(s1)
    h = v @ np.diag(np.sqrt(w)) @ v.T
    tr = np.sum(np.sqrt(np.linalg.eigvalsh(h @ s2 @ h)))
    ref = np.sum((mu1 - mu2) ** 2) + np.trace(s1) + np.trace(s2) - 2 * tr
    np.testing.assert_allclose(fid.frechet_distance(mu1, s1, mu2, s2), ref, rtol=1e-9)
    np.testing.assert_allclose(fid.frechet_distance(mu1, s1, mu2, s2, method="eigh"), ref, rtol=1e-9)
    np.testing.assert_allclose(np.trace(linalg.sqrtm(s1 @ s2)).real, tr, rtol=1e-9)


@pytest.mark.parametrize("n,d", [(500, 16), (20, 64)])           # the second is singular
def test_fid_of_a_set_with_itself_is_zero(n, d):
    f = np.random.default_rng(2).normal(size=(n, d)) @ np.random.default_rng(3).normal(size=(d, d))
    mu, sigma = fid.feature_stats(f)
    for method in ("sqrtm", "eigh"):
        assert abs(fid.frechet_distance(mu, sigma, mu, sigma, method=method)) < 1e-6 * np.trace(sigma) + 1e-3


def test_kid_is_unbiased():
    """Zero-mean Gaussians: E k(x, y) = 1 + 3 tr(Σx Σy) / d², so MMD² = 3 ‖Σ1 - Σ2‖_F² / d². Fresh
    draws of 40 + 40 samples, averaged over 1000 repetitions, hit it within 3 standard errors,
    while the biased (V-statistic) estimate misses by many."""
    rng = np.random.default_rng(4)
    d, m, reps = 4, 40, 1000
    s1, s2 = random_cov(rng, d, 0.5, 1.5), random_cov(rng, d, 0.5, 1.5)
    exact = 3 * np.sum((s1 - s2) ** 2) / d**2
    c1, c2 = np.linalg.cholesky(s1), np.linalg.cholesky(s2)
    vals, biased = [], []
    for _ in range(reps):
        x, y = rng.normal(size=(m, d)) @ c1.T, rng.normal(size=(m, d)) @ c2.T
        vals.append(fid.polynomial_mmd2(x, y))
        k = lambda a, b: (a @ b.T / d + 1) ** 3
        biased.append(k(x, x).mean() + k(y, y).mean() - 2 * k(x, y).mean())
    se = np.std(vals) / math.sqrt(reps)
    assert abs(np.mean(vals) - exact) < 3 * se, (np.mean(vals), exact, se)
    assert abs(np.mean(biased) - exact) > 10 * se
    # kid() averages the same estimator over subsets drawn without replacement: its expectation is
    # the full-set U-statistic.
    x, y = rng.normal(size=(120, d)) @ c1.T, rng.normal(size=(120, d)) @ c2.T
    mean, std = fid.kid(x, y, num_subsets=2000, subset_size=30, seed=0)
    assert abs(mean - fid.polynomial_mmd2(x, y)) < 3 * std / math.sqrt(2000)


def test_inception_score_limits():
    assert abs(fid.inception_score(np.zeros((100, 1008)))[0] - 1.0) < 1e-12          # uniform p(y|x)
    labels = np.arange(100) % 10
    confident = np.full((100, 10), -50.0)
    confident[np.arange(100), labels] = 50.0
    np.testing.assert_allclose(fid.inception_score(confident, splits=10)[0], 10.0, rtol=1e-9)   # = #classes
    assert abs(fid.inception_score(confident, splits=1)[0] - 10.0) < 1e-9


def test_reference_stats_are_computed_once_and_reused(tmp_path):
    path = str(tmp_path / "stats" / "ref.npz")
    calls = []
    feats = np.random.default_rng(5).normal(size=(50, 3))
    compute = lambda: calls.append(1) or feats
    first = fid.reference_stats(path, compute)
    second = fid.reference_stats(path, compute)
    assert len(calls) == 1 and set(second) == {"mu", "sigma", "features"}
    np.testing.assert_allclose(second["sigma"], np.cov(feats, rowvar=False))
    np.testing.assert_allclose(first["mu"], second["mu"])
    np.savez(tmp_path / "bad.npz", m=np.zeros(3))
    with pytest.raises(ValueError, match="mu"):
        fid.load_stats(str(tmp_path / "bad.npz"))


@pytest.mark.parametrize("fmt", ["zip", "legacy"])
def test_torch_file_reader_without_torch(fmt):
    sd = inception_features._read_torch_state_dict(os.path.join(FIXTURES, f"torch_small_{fmt}.pth"))
    ref = np.load(os.path.join(FIXTURES, "torch_small_expected.npz"))
    assert sorted(sd) == sorted(ref.files)
    for k in ref.files:
        assert sd[k].dtype == ref[k].dtype and sd[k].shape == ref[k].shape
        np.testing.assert_array_equal(sd[k], ref[k])


def test_reader_refuses_code_in_the_pickle(tmp_path):
    path = tmp_path / "evil.pth"
    path.write_bytes(pickle.dumps({"x": os.system}))              # a global that is not a tensor part
    with pytest.raises(UnsafePickleError, match="posix.system|os.system"):   # the project's one torch reader
        inception_features._read_torch_state_dict(str(path))


def test_missing_weights_say_where_to_get_them(tmp_path):
    with pytest.raises(FileNotFoundError) as e:
        inception_features.load_inception(str(tmp_path / "nope.pth"))
    assert inception.FID_WEIGHTS_URL in str(e.value) and "eval.inception_weights" in str(e.value)


def test_image_quality_end_to_end_with_random_weights(tmp_path, monkeypatch):
    """A weights file (.npz state dict) -> variables -> features -> metrics of a set against its
    own reference statistics: KID as its closed form, IS >= 1, and FID called on the two identical statistics
    (the 2048-dimensional matrix square root itself, half a minute on two cores, is tested on
    smaller matrices above)."""
    path = str(tmp_path / "w.npz")
    np.savez(path, **random_state_dict(inception.inception_state_dict_shapes()))
    variables = inception_features.load_inception(path)
    images = np.random.default_rng(6).uniform(size=(12, 16, 16, 1)).astype(np.float32)
    ref = fid.reference_stats(str(tmp_path / "ref.npz"),
                              lambda: inception_features.inception_features(variables, images, batch_size=8)[0])
    assert ref["features"].shape == (12, 2048)
    seen = []
    monkeypatch.setattr(fid, "frechet_distance", lambda *args, **kw: seen.append(args) or 0.0)
    out = inception_features.image_quality(variables, images, ref, batch_size=8)   # 8 + 4 padded
    assert set(out) == {"fid", "kid", "kid_std", "inception_score", "inception_score_std"}
    (mu, sigma, mu_ref, sigma_ref), = seen
    np.testing.assert_allclose(mu, mu_ref, rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(sigma, sigma_ref, rtol=1e-4, atol=1e-6)
    # 12 < subset_size: every subset is the whole set, so KID is the U-statistic of the set against
    # itself, (2/m)(mean off-diagonal k - mean diagonal k): slightly negative, not 0.
    np.testing.assert_allclose(out["kid"], fid.polynomial_mmd2(ref["features"], ref["features"]), rtol=1e-3)
    assert out["kid"] < 0 and out["kid_std"] < 1e-3 * abs(out["kid"])
    assert out["inception_score"] >= 1.0
