"""Orbax checkpoints of the TrainState under ``<workdir>/checkpoints``.

Every process calls save/restore (Orbax coordinates multi-host writes). A state is saved only
after it has been checked finite, so a diverged run never replaces its last good checkpoint.

What can go wrong on a cluster, and what happens here:

- **A damaged checkpoint** (a truncated or garbled file, a missing manifest: an interrupted copy,
  a full disk, a bad block): :meth:`Checkpointer.restore_latest` — the one restore path of
  training and of sample / eval / recon — tries the steps newest first, says in one line which
  step it skipped and why, moves the damaged directory aside to ``<step>.damaged`` (never
  deleted; Orbax only lists directories named by a bare step number) and uses the newest one
  that restores. If *no* checkpoint restores nothing is moved: that is a config that does not
  match the checkpoints far more often than every checkpoint being damaged.
- **An unfinished save** (a kill mid-write) is a ``<step>.orbax-checkpoint-tmp*`` directory:
  never listed as a step; the next training run deletes it (``cleanup_tmp_directories``).
  Readers never clean up, since a live training run may be writing that directory.
- **A full or unwritable disk**: :meth:`save` checks the free space first, and turns a failed
  write into :class:`CheckpointWriteError` naming the directory, the space needed and the space
  free; the checkpoints already written are untouched.
"""
from __future__ import annotations

import errno
import gc
import logging
import os
import shutil
import sys
import types
import warnings

import jax
import numpy as np
import orbax.checkpoint as ocp

from run import mesh as mesh_lib
from run.lock import describe, held_by_other

# A checkpoint's metadata (_METADATA, _sharding, array metadata, manifests, one file-system
# block per file) adds roughly this much to the arrays' bytes for small states.
_METADATA_BYTES = 256 * 1024
_DISK_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.EIO}
_DISK_TEXT = {os.strerror(n): n for n in _DISK_ERRNOS} | {f"os_error_code='{n}'": n for n in _DISK_ERRNOS}


class CheckpointWriteError(OSError):
    """A checkpoint could not be written (disk full, read-only, no permission); the message
    names the directory and the space needed. Earlier checkpoints are intact."""


def _root_cause(e: BaseException) -> BaseException:
    seen = set()
    while (e.__cause__ or e.__context__) is not None and id(e) not in seen:
        seen.add(id(e))
        e = e.__cause__ or e.__context__
    return e


def _one_line(e: BaseException, limit: int = 240) -> str:
    root = _root_cause(e)
    text = " ".join(str(root).split())
    return f"{type(root).__name__}: {text[:limit]}{'...' if len(text) > limit else ''}"


def _disk_error(e: BaseException) -> str | None:
    """What the file system said ("No space left on device", ...) if ``e`` is a disk error."""
    x, depth = e, 0
    while x is not None and depth < 20:
        if isinstance(x, OSError) and x.errno in _DISK_ERRNOS:
            return os.strerror(x.errno)
        for text, code in _DISK_TEXT.items():   # tensorstore's errors are ValueErrors with text
            if text in str(x):
                return os.strerror(code)
        x, depth = x.__cause__ or x.__context__, depth + 1
    return None


def _tree_bytes(tree) -> int:
    return int(sum(np.prod(x.shape) * np.dtype(x.dtype).itemsize for x in jax.tree.leaves(tree)))


def _dir_bytes(path: str) -> int:
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.path.getsize(os.path.join(root, f))
            except OSError:
                pass
    return total


def _mib(n: float) -> str:
    return f"{n / 2**20:.1f} MiB"


def _orbax_coroutine(text: str) -> bool:
    return "orbax" in text and "coro" in text


def _raised_in_orbax(exc_info) -> bool:
    tb = exc_info[2] if exc_info else None
    while tb is not None:
        if "orbax" in tb.tb_frame.f_code.co_filename:
            return True
        tb = tb.tb_next
    return False


class _DropAbandonedTasks(logging.Filter):
    """asyncio's "<Task | _GatheringFuture | Future> exception was never retrieved" for Orbax's
    abandoned reads: named by the coroutine in the message (tasks) or by where the exception was
    raised (a gather's future names no coroutine: seen when a rerun resumed training under load)."""

    def filter(self, record):
        msg = record.getMessage()
        if not msg.split("\n", 1)[0].endswith("exception was never retrieved"):
            return True
        return not (_orbax_coroutine(msg) or _raised_in_orbax(record.exc_info))


_task_filter = _DropAbandonedTasks()


def _is_abandoned_read(u) -> bool:
    coro = isinstance(u.object, types.CoroutineType) and "orbax" in u.object.cr_code.co_filename
    closed = isinstance(u.exc_value, RuntimeError) and str(u.exc_value) == "Event loop is closed"
    return coro or closed


def _quiet_abandoned_reads() -> None:
    """A failed restore abandons Orbax's reads of the other arrays (its ``asyncio.gather``
    stops at the first error and its event loop is closed). At moments nobody chooses they then
    print tracebacks to stderr: TensorStore finishing a read calls back into the closed loop
    ("Event loop is closed"), collected coroutines raise on close (Orbax turns GeneratorExit
    into an Exception) or were "never awaited", and asyncio reports "Task (or _GatheringFuture)
    exception was never retrieved". Exactly these are dropped (the one-line report of the damaged step says what went
    wrong); any other unraisable exception, log record or warning passes as before.

    Called before every restore, not after one fails: the debris can appear while the failed
    restore is still unwinding (CI saw both the asyncio report and the closed-loop callback
    there). Idempotent: the hook is re-wrapped only if someone replaced it."""
    if not getattr(sys.unraisablehook, "_drops_abandoned_reads", False):
        previous = sys.unraisablehook

        def hook(u):
            if not _is_abandoned_read(u):
                previous(u)
        hook._drops_abandoned_reads = True
        sys.unraisablehook = hook
    logger = logging.getLogger("asyncio")
    if _task_filter not in logger.filters:
        logger.addFilter(_task_filter)
    # Every time: warning filters are process state that others (pytest) reset.
    warnings.filterwarnings("ignore", r"coroutine '(_read_array_index_and_device_put|async_deserialize|"
                                      r"_read_and_create_array)' was never awaited", RuntimeWarning)


def say(msg: str) -> None:
    """One line in the log and on stderr (process 0): what a user must see, without a traceback."""
    logging.warning(msg)
    if jax.process_index() == 0:
        print(f"warning: {msg}", file=sys.stderr, flush=True)


class Checkpointer:
    """``read_only``: for sample / eval / recon (never saves, deletes or cleans up).
    ``cleanup_tmp``: delete unfinished saves of earlier runs; only for the training run that
    holds the workdir's lock."""

    def __init__(self, workdir: str, max_to_keep: int = 3, read_only: bool = False, cleanup_tmp: bool = False):
        self.workdir = os.path.abspath(workdir)
        self.directory = os.path.join(self.workdir, "checkpoints")
        self.read_only = read_only
        # Orbax's own read_only option logs a warning on every open; readers simply never save.
        options = ocp.CheckpointManagerOptions(max_to_keep=max_to_keep, create=not read_only,
                                               cleanup_tmp_directories=cleanup_tmp and not read_only)
        self.manager = ocp.CheckpointManager(self.directory, options=options)
        self._pending: tuple[int, int] | None = None   # (step, bytes) of the save still running

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    # --- saving --------------------------------------------------------------------------------
    def _write_error(self, step: int, needed: int, reason: str) -> CheckpointWriteError:
        free = shutil.disk_usage(self.directory).free if os.path.isdir(self.directory) else 0
        # From the disk: Orbax's own list already dropped the oldest step, which it deletes only
        # after the new one is complete, so it is still there.
        self.manager.reload()
        kept = self.manager.all_steps()
        return CheckpointWriteError(
            f"cannot write checkpoint {step} to {self.directory}: {reason}. It needs about "
            f"{_mib(needed)}; {_mib(free)} is free there. Earlier checkpoints {list(kept)} are intact: free "
            f"some space (or make the directory writable) and rerun the same command to resume "
            f"from step {kept[-1] if kept else 0}.")

    def _needed_bytes(self, state) -> int:
        latest = self.latest_step()
        on_disk = _dir_bytes(os.path.join(self.directory, str(latest))) if latest is not None else 0
        return max(_tree_bytes(state) + _METADATA_BYTES, on_disk)

    def wait(self) -> None:
        """Wait for the asynchronous save in flight; a failed write raises CheckpointWriteError."""
        pending, self._pending = self._pending, None
        try:
            self.manager.wait_until_finished()
        except Exception as e:
            reason = _disk_error(e)
            if pending is not None and reason:
                raise self._write_error(*pending, reason) from None
            raise

    def save(self, step: int, state) -> None:
        """Start saving ``state`` as ``step`` (asynchronously: :meth:`wait` / :meth:`close` finish it)."""
        if self.read_only:
            raise RuntimeError(f"this Checkpointer of {self.directory} is read-only")
        self.wait()   # a failure of the previous save surfaces here, named by its own step
        needed = self._needed_bytes(state)
        free = shutil.disk_usage(self.directory).free
        if not mesh_lib.all_processes(free >= needed):
            raise self._write_error(step, needed, "not enough free space (checked before writing)")
        try:
            self.manager.save(int(step), args=ocp.args.StandardSave(state))
        except Exception as e:
            reason = _disk_error(e)
            if reason:
                raise self._write_error(step, needed, reason) from None
            raise
        self._pending = (int(step), needed)

    # --- restoring -----------------------------------------------------------------------------
    def restore(self, abstract_state, step: int | None = None):
        """Restore ``step`` (default: the latest) into the structure (and shardings) of
        ``abstract_state``; no fallback (see :meth:`restore_latest`)."""
        step = self.latest_step() if step is None else step
        if step is None:
            raise FileNotFoundError(f"no checkpoint in {self.directory}: train first (--mode train)")
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, abstract_state)
        return self.manager.restore(step, args=ocp.args.StandardRestore(target))

    def restore_latest(self, abstract_state):
        """``(state, step)`` of the newest checkpoint that restores, or ``(None, None)`` when the
        directory has none. Damaged newer ones are reported and moved aside (see the module
        docstring); if none restores, raises ValueError listing why, and moves nothing."""
        failures = []   # (step, reason)
        _quiet_abandoned_reads()
        for step in sorted(self.manager.all_steps(), reverse=True):
            try:
                state, reason = self.restore(abstract_state, step), None
            except Exception as e:   # tensorstore and Orbax raise many types for one bad file
                state, reason = None, _one_line(e)
            if reason is not None:   # outside the except: its traceback would keep the debris alive
                _quiet_abandoned_reads()
                gc.collect()   # collect the debris now rather than during training
            if not mesh_lib.all_processes(reason is None):
                failures.append((step, reason or "failed on another process"))
                continue
            for bad, why in failures:
                self._set_aside(bad, why, step)
            if failures:
                self.manager.reload()
            return state, step
        if not failures:
            return None, None
        why = "; ".join(f"step {s}: {r}" for s, r in failures[:3])
        raise ValueError(
            f"no checkpoint in {self.directory} can be restored into this config's state ({why}). If "
            f"model.* or optim.* changed since they were written, use the original config or a new "
            f"--workdir.")

    def _set_aside(self, step: int, why: str, used: int) -> None:
        src = os.path.join(self.directory, str(step))
        holder = held_by_other(self.workdir) if self.read_only and jax.process_index() == 0 else None
        if not mesh_lib.broadcast_from_0(int(holder is None)):
            # A live trainer lists this step and would trip over its disappearance.
            say(f"checkpoint {step} in {self.directory} is damaged ({why}); using step {used}. "
                f"Left in place while a training run holds the workdir ({describe(holder)}).")
            return
        dst = f"{src}.damaged"
        n = 1
        while os.path.lexists(dst):
            dst, n = f"{src}.damaged-{n}", n + 1
        mesh_lib.barrier(f"set_aside_{step}_start")   # every process has finished reading it
        if jax.process_index() == 0:
            os.rename(src, dst)
        mesh_lib.barrier(f"set_aside_{step}_done")
        say(f"checkpoint {step} in {self.directory} is damaged ({why}); moved it to "
            f"{os.path.basename(dst)} and using step {used}")

    def close(self, quiet: bool = False) -> None:
        """Finish the save in flight and close. ``quiet``: on the way out of another error, log
        a failure here instead of raising it over that error."""
        error = None
        try:
            self.wait()
        except Exception as e:
            error = e
        try:
            self.manager.close()
        except Exception as e:   # Orbax may raise the failed save's error a second time
            error = error or e
        if error is not None:
            if not quiet:
                raise error
            logging.warning("while closing %s after an error: %s", self.directory, _one_line(error))
