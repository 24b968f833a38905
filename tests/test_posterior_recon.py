"""run/recon.py: the reconstruction pipeline on simulated and fastMRI k-space, with a Gaussian
prior fitted to brain training slices standing in for a trained network (its score is exact)."""
import csv
import json
import os

import jax
import numpy as np
import pytest

import mri
import sde_lib
from configs.mri.brain_recon import get_config
from run import recon

SIZE = 16


def _config(**recon_overrides):
    c = get_config()
    c.data.image_size = c.model.image_size = SIZE
    c.recon.num_slices = 2
    c.recon.n_samples = 2
    c.recon.cs_iters = 50
    c.recon.cs_tune = False   # the λ search is tested in test_posterior_recon_baselines (saves its compile)
    c.recon.mask.center_fraction = 0.15
    for key, value in recon_overrides.items():
        c.recon[key] = value
    return c


@pytest.fixture(scope="module")
def prior():
    gmm = recon.fit_gaussian_prior(_config(), n=1000)
    sde = sde_lib.VPSDE(0.1, 20.0, 100)
    return sde, gmm.score_fn(sde)


def test_simulated_single_coil_writes_every_output_and_beats_the_baselines(prior, tmp_path):
    sde, score_fn = prior
    config = _config(options={"corrector": "langevin"})
    out = tmp_path / "recon" / recon.run_name(config.recon)
    summary = recon.reconstruct_with(config, sde, score_fn, str(out))
    names = ["zero_filled", "cs_tv", "score_mri"]
    assert list(summary["methods"]) == names
    for f in ["images.npz", "metrics.csv", "metrics.json", "slice_00.png", "slice_01.png"]:
        assert (out / f).exists(), f
    with open(out / "metrics.csv") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 3 * 3 and {r["slice"] for r in rows} == {"0", "1", "mean"}
    assert set(rows[0]) == {"method", "slice", "nmse", "psnr", "ssim", "seconds", "nfe"}
    meta = json.loads((out / "metrics.json").read_text())
    assert meta["methods"]["score_mri"]["nfe"] == 200 and meta["meta"]["complex_prior"] == "False"
    images = np.load(out / "images.npz")
    assert images["recon_score_mri"].shape == images["std"].shape == images["ground_truth"].shape == (2, SIZE, SIZE)
    assert images["std"].min() >= 0 and images["std"].max() > 0
    ours, zf = summary["methods"]["score_mri"]["mean"], summary["methods"]["zero_filled"]["mean"]
    assert ours["psnr"] > zf["psnr"] + 5 and ours["ssim"] > zf["ssim"] and ours["nmse"] < zf["nmse"]


def test_simulated_multicoil_sense_and_noise(prior):
    sde, score_fn = prior
    config = _config(method="dds", options={"num_steps": 20, "cg_iters": 10}, multicoil=True, num_coils=4,
                     noise_std=0.01)
    summary = recon.reconstruct_with(config, sde, score_fn)
    assert summary["dds"]["nfe"] == 20
    assert summary["dds"]["mean"]["psnr"] > summary["zero_filled"]["mean"]["psnr"] + 3


@pytest.mark.parametrize("override,match", [
    (dict(method="red_diff"), "valid names"),
    (dict(options={"zeta": 1.0}), "not options of 'score_mri'"),
    (dict(mask={"kind": "spiral", "acceleration": 4.0, "center_fraction": 0.08, "seed": 0}), "valid: .*equispaced"),
    (dict(cs_method="l1"), "valid: .*tv"),
    (dict(options={"multicoil": "coil_by_coil"}), "needs multi-coil data"),
    (dict(options={"multicoil": "coil_by_coil"}, multicoil=True, complex_prior="real"), "complex coil images"),
    (dict(complex_prior="maybe"), r"valid: .auto., .real. \(False\)"),
    (dict(complex_prior="complex"), "num_channels=2"),
    (dict(n_samples=0), "n_samples must be >= 1"),
])
def test_recon_config_errors_name_the_key_and_the_valid_choices(override, match):
    config = _config()
    for key, value in override.items():
        config.recon[key] = value
    with pytest.raises(recon.ReconConfigError, match=match):
        recon.validate_recon(config)
