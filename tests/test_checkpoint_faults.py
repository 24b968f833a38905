"""Checkpoints damaged on disk for real (a truncated OCDBT data file, a deleted manifest, garbage
written over data) after a real training run, and a disk that fills up while saving: a real
size-limited tmpfs where this machine lets us mount one, and an OSError injected at the write
everywhere."""
import errno
import gc
import glob
import os
import shutil
import subprocess
import sys

import jax
import numpy as np
import orbax.checkpoint as ocp
import pytest

from test_cli import cli, ckpt_steps
from toy_runs import restore_step, tiny_config as toy_config, train_here


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """Checkpoints 100, 200, 300 of the TINY toy run."""
    w = tmp_path_factory.mktemp("trained") / "w"
    train_here(w, 300, 100)
    assert ckpt_steps(w) == [100, 200, 300]
    return w


def data_files(workdir, step):
    return sorted(glob.glob(f"{workdir}/checkpoints/{step}/default/ocdbt.process_*/d/*"), key=os.path.getsize)


def damage(workdir, step, kind):
    item = f"{workdir}/checkpoints/{step}/default"
    if kind == "truncated":          # what a full disk or an interrupted copy leaves
        big = data_files(workdir, step)[-1]
        os.truncate(big, os.path.getsize(big) // 3)
    elif kind == "no_manifest":      # a copy that skipped a file
        os.remove(f"{item}/manifest.ocdbt")
    elif kind == "garbage":          # a bad block
        big = data_files(workdir, step)[-1]
        with open(big, "r+b") as f:
            f.write(os.urandom(os.path.getsize(big)))


# Orbax's abandoned reads of a failed restore must not print tracebacks later, when collected.
@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("kind", ["truncated", "no_manifest", "garbage"])
def test_damaged_newest_checkpoint_is_skipped_moved_aside_and_named(trained, tmp_path, kind, capsys):
    from run.context import load_ema
    w = tmp_path / "w"
    shutil.copytree(trained, w)
    damage(w, 300, kind)
    _, params, step = load_ema(toy_config(), str(w))       # the path of sample / eval / recon
    gc.collect()
    err = capsys.readouterr().err
    assert step == 200 and "using checkpoint 200" in err
    lines = [line for line in err.splitlines() if "is damaged" in line]
    assert len(lines) == 1 and "checkpoint 300" in lines[0] and "300.damaged" in lines[0], err
    assert "Traceback" not in err and ckpt_steps(w) == [100, 200] and (w / "checkpoints" / "300.damaged").is_dir()
    good = restore_step(trained, 200).ema_params
    for a, b in zip(jax.tree.leaves(good), jax.tree.leaves(params)):
        np.testing.assert_array_equal(a, b)
    # Never picked again: the next reader goes straight to 200, silently.
    assert load_ema(toy_config(), str(w))[2] == 200 and "is damaged" not in capsys.readouterr().err


def test_training_resumes_from_the_newest_good_checkpoint(trained, tmp_path):
    w = tmp_path / "w"
    shutil.copytree(trained, w)
    damage(w, 300, "truncated")
    out = cli(w, "train", "--config.training.n_iters=400", "--config.training.snapshot_freq=100")
    assert "checkpoint 300" in out.stderr and "moved it to 300.damaged and using step 200" in out.stderr
    assert "Traceback" not in out.stderr and "OUT_OF_RANGE" in out.stderr   # the reason, on one line
    assert ckpt_steps(w) == [200, 300, 400] and (w / "checkpoints" / "300.damaged").is_dir()


# asyncio may report an abandoned read, and TensorStore call back into the closed loop, while
# the failed restore is still unwinding (CI saw both): they must already be filtered then. A fresh process, so that no earlier
# failure has installed the filter; the read that fails logs the report itself, as asyncio would.
RESTORE_THAT_LOGS = """
import logging, sys
import jax.numpy as jnp
from run.checkpoint import Checkpointer
c = Checkpointer(sys.argv[1])
state = {"w": jnp.zeros(3)}
c.save(1, state); c.wait(); c.save(2, state); c.wait()
real = c.manager.restore
class Debris:   # what TensorStore's late callback into Orbax's closed event loop raises
    def __del__(self):
        raise RuntimeError("Event loop is closed")
def restore(step, args):
    if step == 2:
        Debris()   # freed at once: an unraisable exception inside the failing restore
        try:
            raise ValueError("OUT_OF_RANGE: a read of step 2")
        except ValueError as e:
            logging.getLogger("asyncio").error(
                "Task exception was never retrieved\\nfuture: <Task finished coro=<_read_shard() done, "
                "defined at /site-packages/orbax/checkpoint/serialization.py:1>>", exc_info=e)
        try:   # a gather's future names no coroutine: known by where its exception was raised
            exec(compile("raise Exception('a read')", "/site-packages/orbax/checkpoint/serialization.py", "exec"))
        except Exception as e:
            logging.getLogger("asyncio").error(
                "_GatheringFuture exception was never retrieved\\nfuture: <_GatheringFuture finished "
                "exception=Exception('a read')>", exc_info=e)
        raise ValueError("OUT_OF_RANGE: a read of step 2")
    return real(step, args=args)
c.manager.restore = restore
print("restored", c.restore_latest(state)[1])
try:   # not Orbax's: passes
    raise KeyError("mine")
except KeyError as e:
    logging.getLogger("asyncio").error("Future exception was never retrieved\\nfuture: <Future "
                                       "finished exception=KeyError('mine')>", exc_info=e)
"""


def test_abandoned_read_reported_during_the_failed_restore_is_filtered(tmp_path):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", RESTORE_THAT_LOGS, str(tmp_path / "w")], cwd=root,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0 and "restored 1" in out.stdout, out.stderr
    assert "checkpoint 2" in out.stderr and "OUT_OF_RANGE" in out.stderr
    assert "KeyError: 'mine'" in out.stderr, out.stderr                       # others' reports pass
    before = out.stderr.rsplit("Future exception was never retrieved", 1)[0]   # all but that one
    assert "Traceback" not in before and "never retrieved" not in before, out.stderr
    assert "Event loop is closed" not in out.stderr and "Exception ignored" not in out.stderr, out.stderr


def test_a_second_damaged_copy_gets_a_new_name_and_readers_leave_a_live_trainers_files(trained, tmp_path, capsys):
    from run.context import load_ema
    from run.lock import TrainLock
    w = tmp_path / "w"
    shutil.copytree(trained, w)
    for name in ("300.damaged", "300"):
        if name == "300":
            shutil.copytree(trained / "checkpoints" / "300", w / "checkpoints" / "300")
        damage(w, 300, "garbage")
        assert load_ema(toy_config(), str(w))[2] == 200
    assert sorted(os.listdir(w / "checkpoints")) == ["100", "200", "300.damaged", "300.damaged-1"]
    capsys.readouterr()
    shutil.copytree(trained / "checkpoints" / "300", w / "checkpoints" / "300")
    damage(w, 300, "no_manifest")
    with TrainLock(str(w)):   # a live training run holds the workdir: report, do not move
        assert load_ema(toy_config(), str(w))[2] == 200
    assert "Left in place while a training run holds the workdir" in capsys.readouterr().err
    assert (w / "checkpoints" / "300").is_dir()


def test_config_that_matches_no_checkpoint_moves_nothing(trained, tmp_path):
    from run.context import load_ema
    w = tmp_path / "w"
    shutil.copytree(trained, w)
    with pytest.raises(ValueError, match="no checkpoint .* can be restored.*original config"):
        load_ema(toy_config(hidden=48), str(w))
    assert sorted(os.listdir(w / "checkpoints")) == ["100", "200", "300"]


# --------------------------------------------------------------------------- full disks

def _tmpfs(path, size: str):
    """Mount a size-limited tmpfs at ``path`` or skip, saying why."""
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root (id -u is not 0); the injected-OSError test covers the logic")
    os.makedirs(path)
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True,
                       text=True)
    if r.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({r.stderr.strip() or r.returncode}); the injected-OSError test "
                    f"covers the logic")


def _fill(path, leave: int):
    """Leave about ``leave`` bytes free on the file system of ``path``."""
    free = shutil.disk_usage(path).free
    with open(os.path.join(path, "ballast"), "wb") as f:
        f.write(b"\0" * max(free - leave, 0))


@pytest.mark.parametrize("checked_before", [True, False])
def test_full_disk_stops_training_naming_the_space_and_keeps_checkpoints(trained, tmp_path, monkeypatch,
                                                                          checked_before):
    from run.checkpoint import Checkpointer, CheckpointWriteError
    mnt = tmp_path / "mnt"
    _tmpfs(mnt, "2m")
    try:
        w = mnt / "w"
        shutil.copytree(trained, w)
        _fill(mnt, 16 * 1024)
        if not checked_before:   # let the write itself hit ENOSPC (Orbax / tensorstore report it)
            monkeypatch.setattr(Checkpointer, "_needed_bytes", lambda self, state: 0)
        with pytest.raises(CheckpointWriteError) as e:
            train_here(w, 500, 100)
        msg = str(e.value)
        assert f"cannot write checkpoint 400 to {w}/checkpoints" in msg and "needs about" in msg, msg
        for part in ("MiB is free there", "[100, 200, 300] are intact", "from step 300"):
            assert part in msg, msg
        assert ckpt_steps(w) == [100, 200, 300] and int(restore_step(w, 300).step) == 300
    finally:
        subprocess.run(["umount", str(mnt)], check=False)


def test_unwritable_checkpoint_write_is_one_clear_error(trained, tmp_path, monkeypatch):
    """Anywhere (no mount needed): ENOSPC raised by Orbax's save itself."""
    from run.checkpoint import CheckpointWriteError
    w = tmp_path / "w"
    shutil.copytree(trained, w)

    def full(self, step, *a, **k):
        raise OSError(errno.ENOSPC, "No space left on device", str(w))
    monkeypatch.setattr(ocp.CheckpointManager, "save", full)
    with pytest.raises(CheckpointWriteError, match=r"cannot write checkpoint 400 .*No space left on device.*"
                                                   r"needs about [0-9.]+ MiB; [0-9.]+ MiB is free"):
        train_here(w, 400, 100)
    monkeypatch.undo()
    assert ckpt_steps(w) == [100, 200, 300] and int(restore_step(w, 300).step) == 300
