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
    config = _config(cs_method="tv,wavelet", cs_iters=30, cs_val_slices=3, cs_tune=True)
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
    assert unc["local_window"] == 5 and unc["spearman_local"] == pytest.approx(
        np.mean([s["spearman_local"] for s in unc["per_slice"]]))
    assert unc["spearman_image"] == pytest.approx(np.mean([s["spearman_image"] for s in unc["per_slice"]]))
    table = recon.format_table(summary["methods"])
    assert f"ρ of 5×5 local means {unc['spearman_local']:.2f}" in table
    assert f"whole image, background included, {unc['spearman_image']:.2f}" in table
    assert "| ρ(std, \\|err\\|) | ±2σ coverage | notes |" in table
    assert f"λ = {saved['methods']['cs_tv']['cs']['rel_lam']:.2g}·max" in table and "30 it" in table


def test_fixed_and_default_lambda():
    s = recon.parse_recon(_config(cs_lam=0.05, cs_tune=True, cs_iters=10))   # a given λ wins over tuning
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


def test_dds_weight_is_tuned_on_validation_slices_for_noisy_data(prior):
    """recon.tune_gamma with noisy data: dds's data-consistency weight (the floor under its
    noise-derived weight) is the best of the grid by the mean PSNR of the n-sample mean per
    validation slice (training split, test setting); re-running two grid values by hand gives the
    table's PSNRs; the weight matters (the table is not flat)."""
    import dataclasses
    from run.recon.methods import GAMMA_FLOOR_GRID
    from run.recon.problem import Problem
    sde, score_fn = prior
    config = _config(method="dds", noise_std=0.05, cs_val_slices=3, tune_gamma=True)
    config.recon.dds.num_steps = 10
    s = recon.parse_recon(config)
    problem = recon.build_problem(s)
    val = recon.validation_data(problem, s)
    res = recon.run_posterior(problem, sde, score_fn, s, validation=val)
    g = res["gamma"]
    table = g["tuning"]["table"]
    assert g["source"] == "tuned on 3 validation slices" and g["tuning"]["n_val"] == 3
    assert g["option"] == "gamma_floor" and len(table) == len(GAMMA_FLOOR_GRID) + g["tuning"]["extended"]
    psnrs = [r["psnr"] for r in table]
    assert g["value"] == table[int(np.argmax(psnrs))]["value"] and max(psnrs) - min(psnrs) > 0.1
    vp = Problem(gt=val[1], y=val[0], operator=problem.operator, mask=problem.mask, complex_data=False,
                 source="validation", slice_ids=[0, 1, 2])
    for row in (table[0], table[int(np.argmax(psnrs))]):
        trial = dataclasses.replace(s, options={**s.options, "gamma_floor": row["value"]})
        again = mri.mean_metrics(mri.slice_metrics(val[1], recon.run_posterior(vp, sde, score_fn, trial)["image"]))
        assert again["psnr"] == pytest.approx(row["psnr"], abs=1e-3)
    # the test slices ran with the chosen weight: the same as passing it by hand
    fixed = dataclasses.replace(s, options={**s.options, "gamma_floor": g["value"]})
    by_hand = recon.run_posterior(problem, sde, score_fn, fixed)
    assert "gamma" not in by_hand
    np.testing.assert_allclose(by_hand["image"], res["image"], atol=1e-5)
    summary = recon.summarize(problem, {"dds": res}, s.n_samples)
    assert summary["dds"]["gamma"]["value"] == g["value"]
    assert f"γ floor = {g['value']:.2g} (tuned on 3 validation slices" in recon.format_table(summary)
    # not tuned: noiseless data, tune_gamma off, or a method without a weight
    for overrides in (dict(noise_std=0.0), dict(tune_gamma=False)):
        c = _config(method="dds", cs_val_slices=3, **{"noise_std": 0.05, "tune_gamma": True, **overrides})
        c.recon.dds.num_steps = 10
        st = recon.parse_recon(c)
        assert recon.choose_gamma(recon.build_problem(st), sde, score_fn, st) is None
    st = recon.parse_recon(_config(method="score_mri", noise_std=0.05, tune_gamma=True))
    assert recon.choose_gamma(problem, sde, score_fn, st) is None
    for given in ({"gamma": 1.0}, {"gamma_floor": 0.1}):   # the user's own weight is kept
        st = recon.parse_recon(_config(method="dds", noise_std=0.05, tune_gamma=True, options=given))
        assert recon.choose_gamma(problem, sde, score_fn, st) is None
