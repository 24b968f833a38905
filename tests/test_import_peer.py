"""--mode import: a score_sde_pytorch checkpoint (written by the peer's own code, fixture) becomes a
workdir; then sample (DPM-Solver++, 20 NFE) and recon run on it; bad imports write nothing."""
import os
import subprocess
import sys

import jax
import numpy as np
import pytest
from ml_collections import ConfigDict

import models
import peer_cases as pc
from configs.mri.score_mri_knee320 import get_config
from run.checkpoint import Checkpointer
from run.context import load_ema
from run.importer import import_checkpoint

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CASE = pc.cases()["ssp_ncsnpp_ve"]   # NCSN++ VE, 16 px, 1 channel, not centred: score-MRI's family
FILE = pc.checkpoint_file("ssp_ncsnpp_ve", CASE)
MODEL_KEYS = ("nf", "ch_mult", "num_res_blocks", "attn_resolutions", "fir", "progressive", "progressive_input",
              "embedding_type", "resblock_type", "scale_by_sigma", "dropout", "sigma_min", "sigma_max")


def _config(**model):
    c = get_config()                          # score-MRI's knee config, shrunk to the fixture
    c.data.image_size = c.model.image_size = CASE["image_size"]
    for k in MODEL_KEYS:
        c.model[k] = tuple(CASE[k]) if isinstance(CASE[k], list) else CASE[k]
    c.model.num_scales = 100
    for k, v in model.items():
        c.model[k] = v
    c.import_path = FILE
    c.sampling.method = "dpm_solver_pp"
    c.sampling.options = ConfigDict({"num_steps": 20})
    c.sampling.num_samples, c.eval.batch_size = 4, 4
    c.recon.method, c.recon.options = "dds", ConfigDict({"num_steps": 4})
    c.recon.num_slices, c.recon.n_samples, c.recon.cs_iters = 1, 2, 5
    c.recon.cs_tune = False   # the λ search is tested in test_posterior_recon_baselines (saves its compile)
    c.recon.mask.center_fraction = 0.25
    return c


def test_import_then_sample_and_recon(tmp_path, capsys):
    config = _config()
    workdir = str(tmp_path / "knee")
    assert import_checkpoint(config, workdir) == 7           # the peer's own step
    ckpt = Checkpointer(workdir)
    assert ckpt.latest_step() == 7
    ckpt.close()
    ctx, params, step = load_ema(config, workdir)
    want = models.load_checkpoint(FILE, config, weights="ema")
    assert step == 7
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(want)):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    with pytest.raises(FileExistsError, match="already holds checkpoints"):
        import_checkpoint(config, workdir)

    from run.sample import sample
    out = np.load(sample(config, workdir))
    assert out["samples"].shape == (4, 16, 16, 1) and int(out["nfe"]) == 20 and np.all(np.isfinite(out["samples"]))

    from run.recon import reconstruct
    summary = reconstruct(config, workdir)
    assert summary["methods"]["dds"]["nfe"] == 4
    assert np.isfinite(summary["methods"]["dds"]["mean"]["psnr"])


def test_bad_imports_write_nothing(tmp_path):
    workdir = tmp_path / "w"
    with pytest.raises(models.CheckpointFormatError, match="nf"):
        import_checkpoint(_config(nf=16), str(workdir))       # the fixture has nf = 8
    assert not workdir.exists()
    missing = _config()
    missing.import_path = str(tmp_path / "nope.pth")
    with pytest.raises(ValueError, match="does not exist"):
        import_checkpoint(missing, str(workdir))
    assert not workdir.exists()


def test_the_command_line_import(tmp_path):
    cmd = [sys.executable, "main.py", "--config", "configs/mri/score_mri_knee320.py", "--workdir", str(tmp_path / "k"),
           "--mode", "import", f"--config.import_path={FILE}", "--config.data.image_size=16",
           "--config.model.image_size=16", "--config.model.nf=8", "--config.model.ch_mult=(1, 2)",
           "--config.model.num_res_blocks=1", "--config.model.attn_resolutions=(8,)",
           "--config.model.progressive=none", "--config.model.progressive_input=residual"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "imported" in out.stdout and os.path.isdir(tmp_path / "k" / "checkpoints" / "7")
    again = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert again.returncode != 0 and "already holds checkpoints" in again.stderr
    empty = subprocess.run(cmd[:5] + [str(tmp_path / "e"), "--mode", "import"], cwd=ROOT, capture_output=True,
                           text=True, timeout=300)
    assert empty.returncode == 2 and "import_path" in empty.stderr and not (tmp_path / "e").exists()
