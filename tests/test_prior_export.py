"""Shipped priors (run/prior.py): --mode export writes a run's EMA parameters alone; sample and
recon in an empty workdir read them through config.prior_dir; bad priors are clear errors."""
import json
import os

import jax
import numpy as np
import pytest

from configs.toy2d import get_config
from run import prior
from run.checkpoint import Checkpointer
from run.context import load_ema
from run.export import export
from run.trainer import Trainer


def _tiny():
    config = get_config()
    config.model.hidden, config.model.num_layers, config.model.num_scales = 32, 2, 100
    config.sampling.num_samples, config.eval.batch_size = 256, 256
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """A workdir with one checkpoint whose EMA differs from its initial parameters."""
    workdir = str(tmp_path_factory.mktemp("run"))
    config = _tiny()
    tr = Trainer(config, workdir)
    state, _ = tr.run_steps(tr.init_state(), 0, 20)
    ckpt = Checkpointer(workdir)
    ckpt.save(20, state)
    ckpt.close()
    return config, workdir, jax.device_get(state.ema_params)


def test_export_then_read_from_an_empty_workdir(trained, tmp_path):
    config, workdir, ema = trained
    config.prior_dir = str(tmp_path / "prior")
    path = export(config, workdir)
    record = json.loads((tmp_path / "prior" / "prior.json").read_text())
    assert record["step"] == 20 and record["param_count"] == sum(x.size for x in jax.tree.leaves(ema))
    assert record["trained"]["batch_size"] == config.training.batch_size
    assert os.path.getsize(path) < 1.1 * 4 * record["param_count"] + 4096   # EMA weights only, float32
    with pytest.raises(FileExistsError, match="not replaced"):
        export(config, workdir)
    # A fresh workdir has no checkpoint: the prior is read instead, bit-exactly.
    ctx, params, step = load_ema(config, str(tmp_path / "fresh"))
    assert step == 20
    for a, b in zip(jax.tree.leaves(params), jax.tree.leaves(ema)):
        np.testing.assert_array_equal(np.asarray(a), b)
    # A workdir with its own checkpoint keeps using it.
    _, own, _ = load_ema(config, workdir)
    for a, b in zip(jax.tree.leaves(own), jax.tree.leaves(ema)):
        np.testing.assert_array_equal(np.asarray(a), b)
    from run.sample import sample
    out = sample(config, str(tmp_path / "fresh"))
    assert out.endswith("samples_20.npz") and np.load(out)["samples"].shape == (256, 2)


def test_priors_that_do_not_fit_are_clear_errors(trained, tmp_path):
    config, workdir, _ = trained
    config.prior_dir = str(tmp_path / "p")
    export(config, workdir)
    wider = _tiny()
    wider.model.hidden = 48
    wider.prior_dir = config.prior_dir
    with pytest.raises(ValueError, match="has shape .* wants"):
        load_ema(wider, str(tmp_path / "w1"))
    with open(tmp_path / "p" / prior.PARAMS_FILE, "r+b") as f:
        f.truncate(100)
    with pytest.raises(ValueError, match="not a readable prior"):
        load_ema(config, str(tmp_path / "w2"))
    config.prior_dir = str(tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="holds no prior"):
        load_ema(config, str(tmp_path / "w3"))
