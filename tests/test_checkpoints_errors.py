"""Bad checkpoints give a CheckpointFormatError that names the file and what to fix; nothing is written."""
from __future__ import annotations

import os
import shutil
import struct

import numpy as np
import pytest

import models
import peer_cases as pc
from models import CheckpointFormatError

CASES = pc.cases()


def _cfg(name: str, **over) -> dict:
    cfg = pc.model_config(CASES[name])
    cfg.update(over)
    return cfg


def _copy(tmp_path, name: str) -> str:
    src = pc.checkpoint_file(name, CASES[name])
    dst = tmp_path / os.path.basename(src)
    shutil.copy(src, dst)
    return str(dst)


@pytest.mark.parametrize("name,over,where,key", [
    ("ssp_ncsnpp_ve", dict(nf=16), "GaussianFourierProjection_0/W", "model.nf"),
    ("ssp_ncsnpp_ve", dict(num_channels=3, image_size=16), "Conv_0/kernel", "model.num_channels"),
    ("ssp_ncsnpp_ve", dict(num_res_blocks=2), "", "model.num_res_blocks"),
    ("ssp_ddpmpp_vp", dict(embedding_type="fourier", scale_by_sigma=True), "GaussianFourierProjection_0",
     "model.embedding_type"),
    ("flax_ncsnpp_ve", dict(embedding_type="positional", scale_by_sigma=False), "Dense_0/kernel",
     "model.embedding_type"),
    ("ssp_ncsnpp_skip", dict(progressive="none"), "", "progressive"),
    ("flax_ncsnpp_ve", dict(ch_mult=(1, 1)), "", "model.nf / ch_mult"),
    ("flax_ddpmpp_vp", dict(resblock_type="ddpm"), "", "resblock_type"),
    ("adm_small", dict(use_scale_shift_norm=False), "emb_layers_1", "model.use_scale_shift_norm"),
    ("adm_small", dict(out_channels=2), "out_2", "model.out_channels / learn_sigma"),
    ("adm_neworder", dict(num_classes=None), "label_emb", "num_classes"),
])
def test_a_state_that_does_not_fit_the_config_names_parameter_and_key(tmp_path, name, over, where, key):
    path = _copy(tmp_path, name)
    with pytest.raises(CheckpointFormatError) as err:
        models.load_checkpoint(path, _cfg(name, **over))
    msg = str(err.value)
    assert path in msg and where in msg and key in msg, msg
    assert os.listdir(tmp_path) == [os.path.basename(path)]       # nothing written


def test_a_file_of_another_family_or_format(tmp_path):
    with pytest.raises(CheckpointFormatError, match="guided_diffusion checkpoint needs model.name adm"):
        models.load_checkpoint(_copy(tmp_path, "adm_small"), _cfg("ssp_ddpm"))
    with pytest.raises(CheckpointFormatError, match="score_sde_pytorch checkpoint needs model.name ncsnpp"):
        models.load_checkpoint(_copy(tmp_path, "ssp_ddpm"), _cfg("adm_small"))
    text = tmp_path / "notes.txt"
    text.write_text("hello\n")
    with pytest.raises(CheckpointFormatError, match="notes.txt: neither a torch.save file nor a score_sde"):
        models.load_checkpoint(text, _cfg("ssp_ddpm"))
    npz = tmp_path / "weights.npz"
    np.savez(npz, w=np.ones(2))
    with pytest.raises(CheckpointFormatError, match="weights.npz: a zip file, but not a torch.save archive"):
        models.load_checkpoint(npz, _cfg("ssp_ddpm"))
    other = tmp_path / "other.pt"
    other.write_bytes(open(pc.path("torchio_zip.pt"), "rb").read())
    with pytest.raises(CheckpointFormatError, match="other.pt: not a checkpoint of score_sde"):
        models.load_checkpoint(other, _cfg("ssp_ddpm"))
    with pytest.raises(CheckpointFormatError, match="without score_sde checkpoint_<N> files"):
        models.load_checkpoint(tmp_path, _cfg("flax_ncsnpp_ve"))
    with pytest.raises(ValueError, match="weights must be 'ema' or 'raw'"):
        models.load_checkpoint(pc.path("ssp_ddpm.pth"), _cfg("ssp_ddpm"), weights="best")


@pytest.mark.parametrize("name", ["ssp_ncsnpp_ve", "flax_ncsnpp_ve", "adm_small"])
def test_truncated_files(tmp_path, name):
    path = _copy(tmp_path, name)
    data = open(path, "rb").read()
    with open(path, "wb") as f:
        f.write(data[: len(data) * 2 // 3])
    with pytest.raises(CheckpointFormatError, match=os.path.basename(path)):
        models.load_checkpoint(path, _cfg(name))


def test_a_pickle_with_a_foreign_global_is_refused(tmp_path):
    marker = tmp_path / "pwned"
    cmd = f"touch {marker}".encode()
    # A legacy-format torch file whose first pickle is os.system("touch …"), never executed.
    evil = b"\x80\x02cposix\nsystem\nX" + struct.pack("<I", len(cmd)) + cmd + b"\x85R."
    path = tmp_path / "checkpoint_95.pth"
    path.write_bytes(evil)
    with pytest.raises(CheckpointFormatError, match=r"checkpoint_95.pth: the pickle asks for the global "
                                                    r"posix\.system"):
        models.load_checkpoint(path, _cfg("ssp_ncsnpp_ve"))
    with pytest.raises(CheckpointFormatError, match="posix.system"):
        models.checkpoint_step(path)
    assert not marker.exists()


def test_ema_missing_and_image_size_missing():
    from models import convert_score_sde
    from models.torch_io import read_torch_file
    cfg = _cfg("ssp_ddpm")
    del cfg["image_size"]
    with pytest.raises(CheckpointFormatError, match="needs image_size and num_channels"):
        models.load_checkpoint(pc.path("ssp_ddpm.pth"), cfg)
    state = read_torch_file(pc.path("ssp_ddpm.pth"))
    with pytest.raises(CheckpointFormatError, match="no 'shadow_params' list; load weights='raw'"):
        convert_score_sde.ema_state_dict(state["model"], {"decay": 0.999}, "f.pth")
    short = {"shadow_params": state["ema"]["shadow_params"][:-1]}
    with pytest.raises(CheckpointFormatError, match="EMA tensors for"):
        convert_score_sde.ema_state_dict(state["model"], short, "f.pth")
