"""Signals and a second run, for real: SIGTERM saves and exits 0, the rerun reaches the
uninterrupted run's parameters bit for bit; a second signal during that save aborts without
harm; a second ``--mode train`` on a live workdir is refused naming the holder, while sample may
read; a killed holder's lock is taken over. (Two processes: tests/test_parallel.py.)

``python tests/test_preemption_lock.py slow_finalize <main.py flags>`` runs main.py with Orbax's
final rename of a checkpoint held back once a first signal has arrived, so that a second signal
lands during the save with certainty.
"""
import json
import os
import signal
import subprocess
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from test_cli import ROOT, TINY, ckpt_steps, load_params
from toy_runs import train_here

HERE = os.path.abspath(__file__)
N = 5000   # 1-3 s of training at TINY's 2000-5000 steps/s: long enough to be interrupted
LONG = ["--config.training.n_iters=10000000", "--config.training.snapshot_freq=1000"]


def start(workdir, *extra, slow_finalize=False):
    """A training run in the background; its stderr goes to ``<workdir>.stderr`` (``proc.err()``)."""
    head = [HERE, "slow_finalize"] if slow_finalize else ["main.py"]
    cmd = [sys.executable, *head, "--config", "configs/toy2d.py", "--workdir", str(workdir), "--mode", "train",
           *TINY, *extra]
    log = f"{workdir}.stderr"
    with open(log, "w") as f:
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=f, text=True)
    proc.err = lambda: open(log).read()
    return proc


def wait_for(cond, proc, what, timeout=120):
    deadline = time.time() + timeout
    while not cond():
        if proc.poll() is not None:
            pytest.fail(f"training exited ({proc.returncode}) before {what}:\n{proc.err()[-3000:]}")
        if time.time() > deadline:
            proc.kill()
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.02)


def logged_step(workdir) -> int:
    try:
        with open(os.path.join(workdir, "metrics.jsonl")) as f:
            return max([json.loads(line)["step"] for line in f if line.endswith("\n")] or [0])
    except FileNotFoundError:
        return 0


def test_sigterm_saves_exits_0_and_the_rerun_matches_an_uninterrupted_run(tmp_path):
    run = tmp_path / "run"
    args = [f"--config.training.n_iters={N}", f"--config.training.snapshot_freq={N}"]
    proc = start(run, *args)
    ref = train_here(tmp_path / "ref", N, N)   # meanwhile
    wait_for(lambda: logged_step(run) >= 500, proc, "step 500")
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=60)
    seconds, err = time.time() - t0, proc.err()
    assert proc.returncode == 0, err[-3000:]
    saved = ckpt_steps(run)
    assert len(saved) == 1 and 500 <= saved[0] < N, saved   # a preemption save (no other before N)
    assert f"stopped by SIGTERM at step {saved[0]}" in err and "Traceback" not in err
    assert seconds < 30, f"SIGTERM -> exit took {seconds:.1f} s"
    resumed = train_here(run, N, N)
    assert int(resumed.step) == N
    for x, y in zip(jax.tree.leaves(ref), jax.tree.leaves(resumed)):
        np.testing.assert_array_equal(x, y)   # bit-exact: the same steps in the same chunks


def test_dispatch_window_keeps_the_host_at_most_depth_chunks_ahead():
    """Why a SIGTERM is answered within a few steps: the train loop waits for all but its last
    ``depth`` chunks, where JAX alone lets the host queue up to ~32 (78 s of brain128 steps)."""
    from run.train import DispatchWindow

    @jax.jit
    def chunk(x):   # 60 dependent 384² matmuls: 10 GFLOP, 50-200 ms on 2 cores
        return jax.lax.fori_loop(0, 60, lambda i, y: jnp.tanh(y @ y), x)

    x0 = jnp.eye(384) * 0.5
    chunk(x0).block_until_ready()   # compile
    outs = [x0]
    for _ in range(5):   # the premise: unbounded, dispatch runs ahead of the device
        outs.append(chunk(outs[-1]))
    assert not outs[1].is_ready(), "a chunk finished before the next was dispatched: too fast to test"
    jax.block_until_ready(outs[-1])

    window, outs = DispatchWindow(2), [x0]
    for _ in range(5):
        outs.append(chunk(outs[-1]))
        window.push(outs[-1])
        assert all(o.is_ready() for o in outs[1:-2]), [o.is_ready() for o in outs]
    jax.block_until_ready(outs[-1])
    with pytest.raises(ValueError, match="depth >= 1"):
        DispatchWindow(0)


def test_second_run_refused_reader_allowed_second_signal_aborts_cleanly(tmp_path):
    w = tmp_path / "w"
    proc = start(w, *LONG, slow_finalize=True)
    wait_for(lambda: len(ckpt_steps(w)) >= 2, proc, "two checkpoints")
    holder = json.loads((w / "train.lock").read_text())
    assert holder["pid"] == proc.pid
    # A second training run and a sampler, while the first one trains.
    cmd = [sys.executable, "main.py", "--config", "configs/toy2d.py", "--workdir", str(w), *TINY]
    modes = (["--mode", "train", *LONG], ["--mode", "sample", "--config.sampling.num_samples=64"])
    second, sampler = (subprocess.Popen(cmd + extra, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                        text=True) for extra in modes)
    err2, err_s = second.communicate(timeout=180)[1], sampler.communicate(timeout=180)[1]
    assert second.returncode == 2, err2[-2000:]
    assert f"pid {proc.pid} on host {holder['host']}" in err2 and "Traceback" not in err2
    assert sampler.returncode == 0 and "using checkpoint" in err_s, err_s[-2000:]
    assert proc.poll() is None, "the first run must still be training"

    before = ckpt_steps(w)
    proc.send_signal(signal.SIGTERM)
    tmp_dirs = lambda: [n for n in os.listdir(w / "checkpoints") if ".orbax-checkpoint-tmp" in n]  # noqa: E731
    wait_for(lambda: "SIGTERM received" in proc.err(), proc, "the first signal to be handled")
    # From now on every save's final rename is held back: a temporary directory that stays is a
    # save in progress (one that lingered from before the signal would vanish within moments).
    seen = []
    wait_for(lambda: seen.append(bool(tmp_dirs())) or seen[-15:] == [True] * 15, proc, "the save to start")
    t0 = time.time()
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGTERM, (proc.returncode, proc.err()[-2000:])
    assert time.time() - t0 < 10
    # Earlier checkpoints are intact (those not rotated out meanwhile); the unfinished save is not a step.
    after = ckpt_steps(w)
    assert after and set(after) <= set(before) | {after[-1]}, (before, after)
    assert tmp_dirs(), os.listdir(w / "checkpoints")
    last = after[-1]
    assert int(load_params(w, last).step) == last
    # The rerun takes over (the lock's holder died), deletes the unfinished save and resumes.
    assert int(train_here(w, last + 10, 1000).step) == last + 10
    assert not tmp_dirs() and ckpt_steps(w)[-1] == last + 10
    assert [json.loads(x)["step"] for x in open(w / "metrics.jsonl")][-1] == last + 10


def test_live_lock_is_refused_and_a_killed_holders_lock_is_taken_over(tmp_path, capsys):
    from run.lock import TrainLock, WorkdirBusy, held_by_other
    code = ("import sys, time; from run.lock import TrainLock; TrainLock(sys.argv[1]).acquire(); "
            "print('locked', flush=True); time.sleep(120)")
    holder = subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(WorkdirBusy, match=f"pid {holder.pid} on host"):
            TrainLock(str(tmp_path)).acquire()
        assert held_by_other(str(tmp_path))["pid"] == holder.pid
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    assert held_by_other(str(tmp_path)) is None   # the kernel released the dead holder's lock
    lock = TrainLock(str(tmp_path))
    stale = lock.acquire()
    assert stale["pid"] == holder.pid and "no longer running" in capsys.readouterr().err
    lock.release()
    assert (tmp_path / "train.lock").read_text() == ""   # released cleanly: the next run is not warned
    with TrainLock(str(tmp_path)) as again:
        assert again.path.endswith("train.lock")
    assert "no longer running" not in capsys.readouterr().err


def _slow_finalize_main():
    """main.py, with the final rename of a checkpoint delayed once the first signal arrived (the
    preemption guard then resets SIGTERM to its default)."""
    import asyncio

    from orbax.checkpoint._src.path import atomicity
    original = atomicity.AtomicRenameTemporaryPath.finalize

    async def finalize(self):
        if signal.getsignal(signal.SIGTERM) == signal.SIG_DFL:
            await asyncio.sleep(300)
        return await original(self)
    atomicity.AtomicRenameTemporaryPath.finalize = finalize
    sys.path.insert(0, ROOT)
    sys.argv = ["main.py", *sys.argv[2:]]
    import main
    from absl import app
    app.run(main.main)


if __name__ == "__main__" and sys.argv[1] == "slow_finalize":
    _slow_finalize_main()
