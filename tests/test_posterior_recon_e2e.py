"""``run.recon.reconstruct(config, workdir)`` end to end: a U-Net checkpoint in a workdir (here an
untrained one: the point is the plumbing, not the quality) -> <workdir>/recon/<name>/."""
import json

import pytest

from configs.mri.brain_recon import get_config
from run import recon
from run.checkpoint import Checkpointer
from run.trainer import Trainer


def _tiny_config():
    c = get_config()
    c.data.image_size = c.model.image_size = 8
    c.model.nf, c.model.ch_mult, c.model.num_res_blocks, c.model.attn_resolutions = 8, (1,), 1, ()
    c.model.dropout = 0.0
    c.model.num_scales = 100
    c.recon.method = "dds"
    c.recon.options = {"num_steps": 3}
    c.recon.num_slices, c.recon.n_samples, c.recon.cs_iters = 1, 2, 5
    c.recon.cs_tune = False   # the λ search is tested in test_posterior_recon_baselines (saves its compile)
    c.recon.mask.center_fraction = 0.25
    return c


def test_reconstruct_from_a_workdir_checkpoint(tmp_path, capsys):
    config = _tiny_config()
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        recon.reconstruct(config, str(tmp_path))
    tr = Trainer(config, str(tmp_path))
    ckpt = Checkpointer(tr.workdir)
    ckpt.save(0, tr.init_state())
    ckpt.close()
    summary = recon.reconstruct(config, str(tmp_path))
    out = tmp_path / "recon" / "dds_equispaced4x"
    assert {p.name for p in out.iterdir()} == {"images.npz", "metrics.csv", "metrics.json", "slice_00.png"}
    assert json.loads((out / "metrics.json").read_text())["methods"]["dds"]["nfe"] == 3
    assert summary["meta"]["operator"] == "SinglecoilOperator"
    printed = capsys.readouterr().out
    assert "| method | NMSE | PSNR (dB) | SSIM | seconds | NFE |" in printed and "| dds |" in printed
