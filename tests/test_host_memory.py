"""run.host_memory: the entry points' one restart with glibc's huge-page tunable."""
import os
import subprocess
import sys
import textwrap

import pytest

from run import host_memory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _env_without_our_settings():
    """This environment less the tunable (``make test`` sets it) and the opt-out."""
    return {k: v for k, v in os.environ.items() if k not in ("GLIBC_TUNABLES", "SCORE_SDE_XLA_DEFAULTS")}


def test_environment_with_tunable_conditions():
    env = {"PATH": "/bin"}
    new = host_memory.environment_with_tunable(env, "madvise", (2, 36))
    assert new["GLIBC_TUNABLES"] == "glibc.malloc.hugetlb=1" and new["PATH"] == "/bin"
    assert "GLIBC_TUNABLES" not in env                               # the caller's dict is left alone
    mine = {"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"}            # the user's other tunables stay
    assert host_memory.environment_with_tunable(mine, "madvise", (2, 35))["GLIBC_TUNABLES"] == \
        "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=1"
    # No restart: the tunable already named (the user's value wins; also what stops a loop), the
    # opt-out, THP off or already always on, a glibc without the tunable, another C library.
    assert host_memory.environment_with_tunable({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"},
                                                "madvise", (2, 36)) is None
    assert host_memory.environment_with_tunable({"SCORE_SDE_XLA_DEFAULTS": "0"}, "madvise", (2, 36)) is None
    assert host_memory.huge_pages_on(new)
    assert host_memory.huge_pages_on({"GLIBC_TUNABLES": "a=2:glibc.malloc.hugetlb=1"})
    assert not host_memory.huge_pages_on(env)
    assert not host_memory.huge_pages_on({"GLIBC_TUNABLES": "glibc.malloc.hugetlb=0"})
    for mode, glibc in [("always", (2, 36)), ("never", (2, 36)), ("", (2, 36)), ("madvise", (2, 34)),
                        ("madvise", ())]:
        assert host_memory.environment_with_tunable(env, mode, glibc) is None, (mode, glibc)


def test_thp_mode_reads_the_bracketed_choice(tmp_path):
    f = tmp_path / "enabled"
    f.write_text("always [madvise] never\n")
    assert host_memory.thp_mode(str(f)) == "madvise"
    f.write_text("[always] madvise never\n")
    assert host_memory.thp_mode(str(f)) == "always"
    assert host_memory.thp_mode(str(tmp_path / "missing")) == ""


def test_imported_modules_never_restart(monkeypatch):
    def execve(*a):
        raise AssertionError("restarted on import")
    monkeypatch.setattr(os, "execve", execve)
    monkeypatch.delenv("GLIBC_TUNABLES", raising=False)
    host_memory.apply("main")            # what `import main` passes: must not restart pytest


def test_no_restart_without_a_script_file():
    # `python -c` (like a notebook kernel) has no __main__.__file__: a restart would lose its state.
    code = (f"import os, sys; sys.path.insert(0, {REPO!r}); from run import host_memory; "
            "print('body'); host_memory.apply(__name__); print(os.environ.get('GLIBC_TUNABLES', ''))")
    env = _env_without_our_settings()
    out = subprocess.run([sys.executable, "-c", code], env=env, text=True, capture_output=True,
                         timeout=60, check=True).stdout.splitlines()
    assert out == ["body", ""], out


_SCRIPT = textwrap.dedent("""
    import ctypes, os, resource, sys
    sys.path.insert(0, {repo!r})
    from run import host_memory
    print("body runs", flush=True)
    host_memory.apply(__name__)
    print("after apply", os.environ.get("GLIBC_TUNABLES", ""), flush=True)
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    n = 64 << 20                       # above glibc's mmap threshold, as XLA's temporaries are
    p = libc.malloc(ctypes.c_size_t(n))
    f0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    ctypes.memset(p, 1, n)
    print("faults", resource.getrusage(resource.RUSAGE_SELF).ru_minflt - f0)
""")


@pytest.mark.skipif(not sys.platform.startswith("linux") or host_memory.thp_mode() != "madvise"
                    or host_memory.glibc_version() < (2, 35),
                    reason="needs Linux, glibc >= 2.35 and transparent huge pages in madvise mode")
def test_script_restarts_once_and_touches_huge_pages(tmp_path):
    script = tmp_path / "entry.py"
    script.write_text(_SCRIPT.format(repo=REPO))
    env = _env_without_our_settings()

    def run(extra):
        out = subprocess.run([sys.executable, "-u", str(script)], env={**env, **extra}, text=True,
                             capture_output=True, timeout=60, check=True).stdout.splitlines()
        return out, int(out[-1].split()[1])

    out, faults = run({})
    # Restarted once: the lines before apply() appear twice, the ones after it once, with the tunable.
    assert out.count("body runs") == 2 and out[2] == "after apply glibc.malloc.hugetlb=1", out
    off, faults_off = run({"SCORE_SDE_XLA_DEFAULTS": "0"})
    assert off.count("body runs") == 1 and off[1] == "after apply ", off
    # 64 MiB in 4 KiB pages is 16384 faults; in 2 MiB pages about 32 (measured: ~40). Half is the
    # bar, so that a kernel short of free huge pages for a few of them does not fail the test.
    assert faults_off >= 16000 and faults < faults_off // 2, (faults, faults_off)
