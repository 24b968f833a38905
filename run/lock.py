"""``<workdir>/train.lock``: one training run per workdir.

The lock is ``fcntl.flock`` on an open file, so the kernel releases it when the holding process
dies however it dies (SIGKILL, OOM, a node reboot on a local disk). The file records the holder
(pid, host, start time, command) so a refusal can name it. A clean exit empties the file; a file
that still names a holder but whose lock can be taken was left by a run that died, and is taken
over with a warning. The file itself is never deleted: deleting it would let a second run lock a
fresh inode while a third still holds the old one.

Only training takes the lock (sample / eval / recon only read finished checkpoints, which Orbax
writes by atomic rename), and in a multi-process run only process 0 takes it: the other
processes share the workdir legitimately and follow process 0's verdict.
"""
from __future__ import annotations

import datetime
import errno
import fcntl
import json
import logging
import os
import socket
import sys

from run.builders import ConfigError

LOCK_NAME = "train.lock"


class WorkdirBusy(ConfigError):
    """Another live training run holds the workdir (exit code 2)."""


def describe(holder: dict | None) -> str:
    if not holder:
        return "a process that has not written its details yet"
    return (f"pid {holder.get('pid')} on host {holder.get('host')} since {holder.get('started')} "
            f"({holder.get('command', '?')})")


def _read(fd: int) -> dict | None:
    raw = os.pread(fd, 65536, 0)
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:   # torn write of a holder that died mid-write
        return {"pid": "?", "host": "?", "started": "?", "command": raw[:200].decode(errors="replace")}


class TrainLock:
    """``acquire()`` / ``release()`` (or ``with``) the lock of ``workdir``."""

    def __init__(self, workdir: str):
        self.path = os.path.join(os.path.abspath(workdir), LOCK_NAME)
        self._fd: int | None = None

    def acquire(self) -> dict | None:
        """Take the lock; returns the stale holder it took over (or None). Raises
        :class:`WorkdirBusy` naming the live holder."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _read(fd)
            os.close(fd)
            pid = (holder or {}).get("pid", "?")
            raise WorkdirBusy(
                f"{os.path.dirname(self.path)} is in use by another training run: {describe(holder)}. "
                f"Wait for it to finish, stop it (kill {pid}: it saves a checkpoint and exits), or use "
                f"another --workdir. Sample / eval / recon may run meanwhile. (lock: {self.path})") from None
        except OSError as e:
            # e.g. ENOLCK on a network file system without lock support: run unprotected, say so.
            os.close(fd)
            logging.warning("cannot lock %s (%s); training runs without protection against a second "
                            "run in this workdir", self.path, e.strerror or e)
            return None
        stale = _read(fd)
        info = dict(pid=os.getpid(), host=socket.gethostname(),
                    started=datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
                    command=" ".join(sys.argv)[:300])
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info).encode(), 0)
        os.fsync(fd)
        self._fd = fd
        if stale:
            msg = (f"took over {self.path} from a training run that is no longer running: "
                   f"{describe(stale)}")
            logging.warning(msg)
            print(f"warning: {msg}", file=sys.stderr)
        return stale

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            os.ftruncate(self._fd, 0)   # empty file = released cleanly (not stale)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            os.close(self._fd)
            self._fd = None

    def __enter__(self):
        self.acquire()
        return self

    def __exit__(self, *exc):
        self.release()


def held_by_other(workdir: str) -> dict | None:
    """The holder's details if a live training run holds ``workdir`` (without taking the lock
    for longer than a shared probe), else None. Readers use it before moving a damaged
    checkpoint aside, which they must not do under a live trainer's feet."""
    path = os.path.join(os.path.abspath(workdir), LOCK_NAME)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read(fd) or {}
        except OSError as e:
            if e.errno in (errno.ENOLCK, errno.EOPNOTSUPP):
                return None
            raise
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def hold_train_lock(workdir: str) -> TrainLock:
    """Process 0 takes the lock; every process learns whether it did (so a refused
    multi-process run stops on all processes instead of leaving the others waiting)."""
    import jax

    from run import mesh as mesh_lib
    lock = TrainLock(workdir)
    error = None
    if jax.process_index() == 0:
        try:
            lock.acquire()
        except WorkdirBusy as e:
            error = e
    if not mesh_lib.broadcast_from_0(int(error is None)):
        raise error or WorkdirBusy(f"process 0 could not lock {lock.path}: another training run holds "
                                   f"{workdir} (see process 0's error)")
    return lock
