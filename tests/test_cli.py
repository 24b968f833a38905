"""The command line as a user meets it: train, kill, resume, sample, eval, and bad input."""
import json
import os
import signal
import subprocess
import sys
import time

import jax
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TINY = ["--config.model.hidden=32", "--config.model.num_layers=2", "--config.training.batch_size=64",
        "--config.training.n_jitted_steps=10", "--config.training.log_freq=50",
        "--config.sampling.num_samples=512", "--config.eval.batch_size=512",
        "--config.eval.num_samples=512", "--config.model.num_scales=100", "--config.model.ema_rate=0.99"]


def cli_cmd(workdir, mode, *extra):
    return [sys.executable, "main.py", "--config", "configs/toy2d.py", "--workdir", str(workdir),
            "--mode", mode, *TINY, *extra]


def cli(workdir, mode, *extra, timeout=300, check=True):
    cmd = cli_cmd(workdir, mode, *extra)
    out = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(cmd)} failed:\n{out.stderr[-3000:]}")
    return out


def ckpt_steps(workdir):
    """Finished checkpoints (Orbax writes into '<step>.orbax-checkpoint-tmp' first)."""
    d = os.path.join(str(workdir), "checkpoints")
    return sorted(int(n) for n in os.listdir(d) if n.isdigit()) if os.path.isdir(d) else []


def load_params(workdir, step):
    """The parameters of a checkpoint, read back through the library (Orbax on disk)."""
    from configs.toy2d import get_config
    from run.checkpoint import Checkpointer
    from run.trainer import Trainer
    config = get_config()
    config.model.hidden, config.model.num_layers, config.model.num_scales = 32, 2, 100
    tr = Trainer(config, str(workdir))
    ck = Checkpointer(str(workdir))
    state = ck.restore(tr.init_state(), step)
    ck.close()
    return state


def cli_start(workdir, mode, *extra):
    """``cli`` in the background (``cli_finish`` waits): independent runs share the 2 cores.
    stderr goes to a file beside the workdir (a pipe nobody reads could fill and stall it)."""
    log = f"{workdir}.{mode}.{time.monotonic_ns()}.stderr"
    with open(log, "w") as f:
        proc = subprocess.Popen(cli_cmd(workdir, mode, *extra), cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=f)
    proc.log = log
    return proc


def cli_finish(proc, timeout=300):
    try:
        proc.wait(timeout=timeout)
    finally:
        proc.kill()   # no-op once it exited; never leave a run behind a failed test
    if proc.returncode != 0:
        raise AssertionError(f"{' '.join(proc.args)} failed:\n{open(proc.log).read()[-3000:]}")


def test_train_killed_and_rerun_resumes_to_the_same_parameters(tmp_path):
    ref, killed = tmp_path / "ref", tmp_path / "killed"
    args = ("--config.training.n_iters=600", "--config.training.snapshot_freq=100")
    ref_run = cli_start(ref, "train", *args)   # the uninterrupted reference, meanwhile
    # Start the same run, SIGKILL it once a checkpoint exists, then rerun the same command.
    proc = cli_start(killed, "train", *args)
    deadline = time.time() + 240
    while time.time() < deadline and not ckpt_steps(killed):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    steps_at_kill = ckpt_steps(killed)
    assert steps_at_kill and steps_at_kill[-1] < 600, f"killed too late: {steps_at_kill}"
    rerun = cli_start(killed, "train", *args)
    cli_finish(ref_run)
    sampled = cli_start(ref, "sample")   # sample and eval only read ref's checkpoint
    cli(ref, "eval")
    cli_finish(sampled)
    cli_finish(rerun)
    a, b = load_params(ref, 600), load_params(killed, 600)
    assert int(a.step) == int(b.step) == 600
    for x, y in zip(jax.tree.leaves(a.params), jax.tree.leaves(b.params)):
        np.testing.assert_allclose(x, y, rtol=1e-5, atol=1e-6)
    # metrics.jsonl shows the run went on from its checkpoint rather than starting over
    steps = [json.loads(l)["step"] for l in open(killed / "metrics.jsonl")]
    assert steps[-1] == 600

    # sample and eval modes write what they promise
    assert os.path.exists(ref / "samples" / "samples_600.npz") and os.path.exists(ref / "samples" / "samples_600.png")
    x = np.load(ref / "samples" / "samples_600.npz")["samples"]
    assert x.shape == (512, 2) and np.all(np.isfinite(x))
    result = json.load(open(ref / "eval_600.json"))
    assert np.isfinite(result["heldout_loss"]) and result["sliced_wasserstein"] < 1.0, result


@pytest.mark.parametrize("override,valid", [
    ("--config.training.sde=nosde", "vesde"),
    ("--config.model.name=nomodel", "mlp"),
    ("--config.sampling.predictor=nopred", "euler_maruyama"),
    ("--config.sampling.corrector=nocorr", "langevin"),
    ("--config.data.dataset=nodata", "gmm_ring"),
    ("--config.sampling.method=nomethod", "pc"),
    ("--config.model.sigma_min=-1", "sigma_min"),
])
def test_unknown_names_fail_before_compute_listing_valid_ones(tmp_path, override, valid):
    extra = [override] + (["--config.training.sde=vesde"] if "sigma" in override else [])
    t0 = time.time()
    out = cli(tmp_path / "w", "train", *extra, check=False, timeout=120)
    assert out.returncode == 2, out.stderr[-2000:]
    assert valid in out.stderr
    assert not os.path.exists(tmp_path / "w"), "nothing may be written for a bad config"


def test_unwritable_workdir_names_the_path(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = cli(blocker / "run", "train", "--config.training.n_iters=10", check=False, timeout=120)
    assert out.returncode != 0
    assert str(blocker / "run") in out.stderr


def test_processes_probing_one_workdir_do_not_collide(tmp_path):
    """Every process of a multi-process run checks the shared workdir at the same moment; with
    one fixed probe name, one process deleted the file another was about to remove and that
    process stopped with 'cannot be written' (a CI failure). Hammer it from two threads."""
    from concurrent.futures import ThreadPoolExecutor

    from run.builders import prepare_workdir

    def hammer(_):
        for _ in range(1500):
            prepare_workdir(str(tmp_path / "shared"))
    with ThreadPoolExecutor(2) as pool:
        list(pool.map(hammer, range(2)))
    assert os.listdir(tmp_path / "shared") == []


def test_nan_loss_stops_training_and_keeps_last_good_checkpoint(tmp_path):
    from configs.toy2d import get_config
    from run.train import TrainingDiverged, train
    config = get_config()
    config.model.hidden, config.model.num_layers, config.model.num_scales = 32, 2, 100
    config.training.batch_size, config.training.n_iters, config.training.snapshot_freq = 64, 100, 100
    config.training.log_freq, config.training.n_jitted_steps = 50, 10
    train(config, str(tmp_path), progress=False)
    good = load_params(tmp_path, 100)
    # Resume with an absurd learning rate: parameters overflow, the loss goes NaN.
    config.optim.lr = 1e36
    config.training.n_iters = 300
    with pytest.raises(TrainingDiverged, match="step 100"):
        train(config, str(tmp_path), progress=False)
    assert ckpt_steps(tmp_path) == [100]
    again = load_params(tmp_path, 100)
    for x, y in zip(jax.tree.leaves(good.params), jax.tree.leaves(again.params)):
        np.testing.assert_array_equal(x, y)
