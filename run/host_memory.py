"""Huge pages for the host allocator: the entry points restart themselves once with glibc's
``glibc.malloc.hugetlb=1`` tunable when that pays.

Why: XLA:CPU allocates each compiled call's temporaries as one block (297 MiB for the 32 px
NCSN++ training step at batch 16) from a worker thread. glibc hands a block that size out with
``mmap`` and returns it with ``munmap`` when the call ends, so every call touches fresh pages:
76 000 page faults per step, 130–200 ms of kernel time per 500 ms step on the 2-core bench
machine (a page fault costs ≈ 3.3 µs there). With the tunable, glibc asks for transparent huge
pages (2 MiB) for what it maps, and the same step spends 28–37 ms in the kernel and runs
16–20 % faster (the 128 px brain prior's step: 24 %; README › Benchmarks › "Host memory").
``mallopt`` cannot do this at run time: glibc reads its
tunables once, when the process starts, hence the one restart (``os.execve`` of the same
command line, before anything else has run: same pid, same open files).

Nothing happens unless all of these hold: Linux with glibc ≥ 2.35 (the tunable's first
release); the kernel's transparent huge pages in ``madvise`` mode (with ``always`` every large
mapping gets them already; with ``never`` none can); ``GLIBC_TUNABLES`` not already naming the
tunable (a user's own choice wins, and it also stops a second restart);
``SCORE_SDE_XLA_DEFAULTS`` not ``0`` (the switch that keeps every runtime default of ours off).
An entry point calls ``host_memory.apply(__name__)`` first thing: it acts only in the program
being run (``__name__ == "__main__"``), never when the file is imported (a restart re-runs the
whole command line, and a test importing ``main`` must not restart pytest). This module imports
no JAX.
"""
from __future__ import annotations

import os
import platform
import sys

TUNABLE_NAME = "glibc.malloc.hugetlb"
TUNABLE = f"{TUNABLE_NAME}=1"
THP_MODE_FILE = "/sys/kernel/mm/transparent_hugepage/enabled"


def thp_mode(path: str = THP_MODE_FILE) -> str:
    """The kernel's transparent-huge-page mode (``always``, ``madvise``, ``never``), or "" where
    there is no such file (not Linux, or a kernel without THP)."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return ""
    start, end = text.find("["), text.find("]")
    return text[start + 1:end] if 0 <= start < end else ""


def glibc_version() -> tuple[int, ...]:
    """The running glibc's version, or () for another C library."""
    lib, version = platform.libc_ver()
    if lib != "glibc":
        return ()
    try:
        return tuple(int(p) for p in version.split("."))
    except ValueError:
        return ()


def huge_pages_on(environ=os.environ) -> bool:
    """Whether this process runs with the tunable set to 1 (what the bench machine line names)."""
    return TUNABLE in environ.get("GLIBC_TUNABLES", "").split(":")


def environment_with_tunable(environ, mode: str, glibc: tuple[int, ...]):
    """The environment a restart should get, or None where no restart is useful (see the
    module docstring for the conditions)."""
    tunables = environ.get("GLIBC_TUNABLES", "")
    if TUNABLE_NAME + "=" in tunables:
        return None
    if environ.get("SCORE_SDE_XLA_DEFAULTS", "1") == "0":
        return None
    if mode != "madvise" or glibc < (2, 35):
        return None
    env = dict(environ)
    env["GLIBC_TUNABLES"] = f"{tunables}:{TUNABLE}" if tunables else TUNABLE
    return env


def apply(caller: str) -> None:
    """Restart this program once with the huge-page tunable when it pays (module docstring);
    otherwise return and let it go on as it is. ``caller``: the calling module's ``__name__``;
    only ``"__main__"`` may restart, and only a program started from a file (not ``python -c``,
    an interactive shell or a notebook kernel, whose state a restart would throw away)."""
    from_file = getattr(sys.modules.get("__main__"), "__file__", None)
    if caller != "__main__" or not from_file or not sys.platform.startswith("linux") or not sys.executable:
        return
    env = environment_with_tunable(os.environ, thp_mode(), glibc_version())
    if env is None:
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)
