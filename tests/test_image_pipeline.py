"""The image pipeline end to end on embedded digits with a tiny U-Net: train, sample, eval."""
import json
import os

import jax
import numpy as np
import pytest

from configs.digits_ddpmpp import get_config


def tiny_config():
    config = get_config()
    config.data.image_size = 8
    m = config.model
    # one level (no resampling: the U-Net itself is tested in test_models_unet): compile time
    m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions = 8, (1,), 1, (8,)
    m.num_scales = 50
    config.training.batch_size = 32
    config.training.n_iters = 60
    config.training.n_jitted_steps = 1
    config.training.snapshot_freq = 60
    config.training.log_freq = 10
    config.training.snapshot_sampling = True
    # as many as sample mode draws: the same program, compiled once (tests/conftest.py's cache)
    config.training.snapshot_num_samples = 8
    config.sampling.num_samples = 8
    config.eval.batch_size = 8
    config.eval.num_samples = 8
    config.eval.enable_bpd = True
    config.optim.lr, config.optim.warmup = 2e-3, 10
    return config


def test_digits_training_decreases_loss_and_modes_write_files(tmp_path):
    from run.evaluate import evaluate
    from run.sample import sample
    from run.train import train
    config = tiny_config()
    train(config, str(tmp_path), progress=False)
    losses_ = [json.loads(l)["loss"] for l in open(tmp_path / "metrics.jsonl")]
    assert len(losses_) == 6
    assert np.mean(losses_[-2:]) < 0.7 * losses_[0], losses_
    assert os.path.exists(tmp_path / "samples" / "train_snapshot_60.png")
    path = sample(config, str(tmp_path))
    x = np.load(path)["samples"]
    assert x.shape == (8, 8, 8, 1) and np.all(np.isfinite(x))
    assert os.path.exists(tmp_path / "samples" / "samples_60.png")
    result = evaluate(config, str(tmp_path))
    assert np.isfinite(result["heldout_loss"])
    # bits/dim of 8-bit digits: finite and in a positive (the dequantised bound) for a barely trained model
    assert 0.0 < result["bits_per_dim"] < 30.0, result
    assert os.path.exists(tmp_path / f"eval_samples_60.png")
    assert os.path.exists(tmp_path / "eval_60.json")


def test_missing_tfds_dataset_names_how_to_get_it(tmp_path):
    from run.train import train
    config = tiny_config()
    config.data.dataset = "tfds:cifar10"
    config.data.num_channels = 3
    with pytest.raises(Exception, match="cifar10"):
        train(config, str(tmp_path), progress=False)
