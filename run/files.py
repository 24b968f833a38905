"""Result files that are never silently replaced and never seen half-written.

Every writer in ``run/`` goes through here (samples, eval results, recon folders, train
snapshots; the figures mode should too):

- :func:`check_new` refuses an output that exists unless ``overwrite`` (``--overwrite`` on the
  command line); modes call it *before* computing, so a refusal costs nothing.
- :func:`atomic_write` writes to a hidden temporary name in the same directory and then renames
  it into place, so a kill mid-write leaves ``.<name>.tmp-<pid><ext>``, never a truncated
  ``<name>``. Without ``overwrite`` the final step is ``os.link`` (fails if the name appeared
  meanwhile, e.g. a concurrent run), with it ``os.replace``; both are atomic on POSIX.
- :func:`atomic_dir` does the same for a folder: files go into ``<name>.tmp-<pid>/``, which is
  renamed to ``<name>`` when the block ends without an error.

Appending a line to ``metrics.jsonl`` is not routed through here: an append either lands whole
or leaves a torn last line that readers skip, and rewriting the log on every step would cost
more than it protects.
"""
from __future__ import annotations

import contextlib
import json
import os
import shutil
from typing import Callable, Iterable, Iterator

import numpy as np

from run.builders import ConfigError


class OutputExists(ConfigError):
    """An output file or folder exists and ``--overwrite`` was not given (exit code 2)."""


def check_new(paths: str | Iterable[str], overwrite: bool = False) -> None:
    """Raise :class:`OutputExists` naming the first of ``paths`` that exists, unless ``overwrite``."""
    if overwrite:
        return
    for p in [paths] if isinstance(paths, (str, os.PathLike)) else paths:
        if os.path.lexists(p):
            raise OutputExists(f"{p} exists; pass --overwrite to replace it (or use another --workdir)")


def _tmp_name(path: str) -> str:
    # The extension stays last: np.savez appends ".npz" to other names and matplotlib picks the
    # format from it. The leading dot keeps the file out of "*.png"-style globs.
    d, name = os.path.split(os.path.abspath(path))
    stem, ext = os.path.splitext(name)
    return os.path.join(d, f".{stem}.tmp-{os.getpid()}{ext}")


def _fsync(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write(path: str, write: Callable[[str], None], overwrite: bool = False) -> str:
    """``write(tmp_path)`` then move it to ``path`` atomically; returns ``path``.

    Without ``overwrite`` an existing ``path`` raises :class:`OutputExists` (checked before
    writing and again at the rename). The temporary file is removed if ``write`` fails.
    """
    path = os.path.abspath(path)
    check_new(path, overwrite)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = _tmp_name(path)
    try:
        write(tmp)
        _fsync(tmp)   # the data reach the disk before the name does
        if overwrite:
            os.replace(tmp, path)
        else:
            try:
                os.link(tmp, path)
            except FileExistsError:
                raise OutputExists(f"{path} appeared while it was being written (another run?); "
                                   f"pass --overwrite to replace it") from None
    finally:
        if os.path.lexists(tmp):
            os.unlink(tmp)
    return path


def atomic_savez(path: str, overwrite: bool = False, **arrays) -> str:
    return atomic_write(path, lambda tmp: np.savez(tmp, **arrays), overwrite)


def atomic_json(path: str, obj, overwrite: bool = False) -> str:
    def write(tmp):
        with open(tmp, "w") as f:
            json.dump(obj, f, indent=2)
    return atomic_write(path, write, overwrite)


@contextlib.contextmanager
def atomic_dir(path: str, overwrite: bool = False) -> Iterator[str]:
    """``with atomic_dir(out) as tmp:`` write files into ``tmp``; on success ``tmp`` becomes ``out``.

    An existing ``out`` is refused (:class:`OutputExists`) unless ``overwrite``; then it is
    renamed aside first and deleted only after the new folder is in place. On an error the
    temporary folder is removed and ``out`` is left as it was.
    """
    path = os.path.abspath(path)
    check_new(path, overwrite)
    tmp = f"{path}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)   # a leftover of an earlier run with this pid
    os.makedirs(tmp)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = f"{path}.old-{os.getpid()}"
    if os.path.lexists(path):
        if not overwrite:   # appeared while we were writing (a concurrent run)
            shutil.rmtree(tmp, ignore_errors=True)
            check_new(path)
        os.rename(path, old)
    os.rename(tmp, path)
    shutil.rmtree(old, ignore_errors=True)
