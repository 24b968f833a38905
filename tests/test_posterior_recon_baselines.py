"""run/recon: CS baselines with λ tuned on validation slices of the training split (never the test
slices), reported with λ and the objective; and the posterior std's calibration metrics."""
import json

import jax
import numpy as np
import pytest

import datasets
import mri
from run import recon
from test_posterior_recon import _config, prior  # noqa: F401  (prior is a fixture)


def test_validation_slices_come_from_the_training_split_with_the_test_setting():
    config = _config(cs_val_slices=3, noise_std=0.01, multicoil=True, num_coils=4)
    s = recon.parse_recon(config)
    problem = recon.build_problem(s)
    y_val, gt_val = recon.validation_data(problem, s)
    train = datasets.get_dataset(config.data, "train").batch(jax.random.PRNGKey(11), 3)
    np.testing.assert_allclose(gt_val, np.asarray(train)[..., 0])
    assert y_val.shape == (3,) + problem.y.shape[1:]                     # the same operator (4 coils)
    # none of them is a test slice
    dist = np.abs(gt_val[:, None] - problem.gt[None]).max(axis=(-2, -1))
    assert dist.min() > 0.05
    # the same noise level: residual outside the clean data has the test problem's std
    resid = np.asarray(y_val) - np.asarray(problem.operator.forward(gt_val))
    sampled = np.broadcast_to(problem.mask, resid.shape) > 0
    assert np.std(resid[sampled].real) == pytest.approx(0.01, rel=0.1)
    assert np.all(resid[~sampled] == 0)


def test_tuned_cs_and_uncertainty_are_reported(prior, tmp_path, capsys):
    sde, score_fn = prior
    config = _config(cs_method="tv,wavelet", cs_iters=30, cs_val_slices=3)
    out = tmp_path / "out"
    summary = recon.reconstruct_with(config, sde, score_fn, str(out))
    assert list(summary["methods"]) == ["zero_filled", "cs_tv", "cs_wavelet", "score_mri"]
    saved = json.loads((out / "metrics.json").read_text())
    problem = recon.build_problem(config)
    scale = float(mri.lambda_scale(problem.operator, problem.y))
    for name in ("cs_tv", "cs_wavelet"):
        cs = saved["methods"][name]["cs"]
        assert cs["source"] == "tuned on 3 validation slices" and cs["iters"] == 30
        table = cs["tuning"]["table"]
        assert cs["rel_lam"] in [r["rel_lam"] for r in table] and cs["lam"] == pytest.approx(cs["rel_lam"] * scale, rel=1e-5)
        assert len(table) == len(mri.DEFAULT_REL_GRID) + cs["tuning"]["extended"] and cs["tuning"]["n_val"] == 3
        assert cs["tuning"]["psnr"] == max(r["psnr"] for r in table)
        assert len(cs["objective"]) == 30 and cs["objective"][-1] < cs["objective"][0]
        assert "uncertainty" not in saved["methods"][name]
    unc = saved["methods"]["score_mri"]["uncertainty"]
    assert set(unc["mean"]) == {"spearman", "coverage"} and len(unc["per_slice"]) == 2
    assert -1 <= unc["mean"]["spearman"] <= 1 and 0 <= unc["mean"]["coverage"] <= 1
    assert unc["calibrated_coverage"] == pytest.approx(mri.calibrated_coverage(2))
    assert -1 <= unc["calibrated_spearman"] <= 1
    table = recon.format_table(summary["methods"])
    assert "| ρ(std, \\|err\\|) | ±2σ coverage | notes |" in table
    assert f"λ = {saved['methods']['cs_tv']['cs']['rel_lam']:.2g}·max" in table and "30 it" in table


def test_fixed_and_default_lambda():
    s = recon.parse_recon(_config(cs_lam=0.05, cs_iters=10))
    problem = recon.build_problem(s)
    cs = recon.run_cs(problem, s, "tv")["cs"]
    assert cs["lam"] == 0.05 and cs["source"] == "fixed (recon.cs_lam)" and cs["tuning"] is None
    s = recon.parse_recon(_config(cs_tune=False, cs_iters=10))
    cs = recon.run_cs(problem, s, "wavelet_db4")["cs"]
    assert cs["source"] == "default" and cs["rel_lam"] == 0.01


@pytest.mark.parametrize("override,match", [
    (dict(cs_method="tv,l1"), "valid: .*wavelet_db4"),
    (dict(cs_val_slices=0), "cs_val_slices must be >= 1"),
    (dict(cs_lam=-1.0), "cs_lam must be >= 0"),
])
def test_cs_config_errors(override, match):
    with pytest.raises(recon.ReconConfigError, match=match):
        recon.validate_recon(_config(**override))
