"""The prior that ships (priors/brain128): its files are what prior.json says, it fits
configs/mri/brain128.py, and the README's no-training command reconstructs with it.

The reconstruction is the user's command on 2 held-out slices with fewer DDS steps and one
sample (the full bench is bench/bench_mri.py). Measured: zero-filled 22.8 dB, DDS 33.6 dB with the
shipped weights; the same run's EMA at step 1000 gave DDS 11 dB below zero-filled, so the
8 dB margin fails for a prior that does not denoise.
"""
import hashlib
import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PRIOR = os.path.join(ROOT, "priors", "brain128")


def test_shipped_files_match_their_record():
    record = json.load(open(os.path.join(PRIOR, "prior.json")))
    blob = open(os.path.join(PRIOR, "ema_params.msgpack"), "rb").read()
    assert hashlib.sha256(blob).hexdigest() == record["sha256"] and len(blob) == record["bytes"]
    assert len(blob) <= 25 * 2**20 and len(blob) < 4 * record["param_count"] + 65536   # EMA weights only (+ names)
    from configs.mri.brain128 import get_config
    config = get_config()
    assert record["trained"]["n_iters"] == config.training.n_iters == record["step"]
    assert record["model"]["nf"] == config.model.nf and record["data"]["image_size"] == config.data.image_size


def test_recon_with_no_training_reads_the_shipped_prior(tmp_path):
    workdir = tmp_path / "b"
    cmd = [sys.executable, "main.py", "--config", "configs/mri/brain128.py", "--workdir", str(workdir),
           "--mode", "recon", "--config.recon.num_slices=2", "--config.recon.n_samples=1",
           "--config.recon.dds.num_steps=20", "--config.recon.cs_method=tv", "--config.recon.cs_tune=False"]
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    assert "using the prior in" in out.stderr and "step 4000" in out.stderr
    assert not (workdir / "checkpoints").exists() or not os.listdir(workdir / "checkpoints")
    (metrics,) = list(workdir.glob("recon/*/metrics.json"))
    methods = json.load(open(metrics))["methods"]
    dds, zf = methods["dds"]["mean"]["psnr"], methods["zero_filled"]["mean"]["psnr"]
    assert dds > zf + 8.0, (dds, zf)
