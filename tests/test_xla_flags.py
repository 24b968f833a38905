"""run/xla_flags.py: the XLA:CPU setting is added only where it is safe and never over a user's."""
import os
import subprocess
import sys

from run import xla_flags

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_added_when_jaxlib_knows_it_and_kept_out_otherwise():
    assert xla_flags.jaxlib_knows(xla_flags.FLAG_NAME)          # jaxlib 0.10.x names it
    assert not xla_flags.jaxlib_knows("--xla_cpu_no_such_flag_in_any_jaxlib")
    env = {"XLA_FLAGS": "--xla_backend_optimization_level=0"}
    assert xla_flags.apply(env)
    assert env["XLA_FLAGS"].split() == ["--xla_backend_optimization_level=0", xla_flags.FLAG]
    assert xla_flags.apply(env) and env["XLA_FLAGS"].count(xla_flags.FLAG_NAME) == 1   # idempotent


def test_user_choice_wins():
    mine = {"XLA_FLAGS": f"{xla_flags.FLAG_NAME}=LIBRARY_FUSION_TYPE_DOT"}
    assert not xla_flags.apply(mine)
    assert mine["XLA_FLAGS"] == f"{xla_flags.FLAG_NAME}=LIBRARY_FUSION_TYPE_DOT"
    off = {"SCORE_SDE_XLA_DEFAULTS": "0"}
    assert not xla_flags.apply(off) and "XLA_FLAGS" not in off


def test_too_late_once_a_backend_started():
    """After the first computation XLA has read XLA_FLAGS: apply() must say so and not pretend."""
    code = ("import os, jax; jax.numpy.ones(1).block_until_ready(); from run import xla_flags; "
            "print(xla_flags.apply(), repr(os.environ.get('XLA_FLAGS', '')))")
    env = {k: v for k, v in os.environ.items() if k not in ("XLA_FLAGS", "SCORE_SDE_XLA_DEFAULTS")}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=dict(env, PYTHONPATH=ROOT),
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split() == ["False", "''"], out.stdout


def test_this_test_run_uses_it():
    """conftest.py applies it, so the suite exercises what main.py users get."""
    assert xla_flags.FLAG in os.environ.get("XLA_FLAGS", "").split()


def test_add_keeps_a_users_value_and_refuses_unknown_flags():
    env = {"XLA_FLAGS": "--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_RUNTIME"}
    assert not xla_flags.add("--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_COMPILE", env)
    assert env["XLA_FLAGS"] == "--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_RUNTIME"
    env = {"XLA_FLAGS": "--xla_cpu_opt_preset_longer_name=1"}     # a name it prefixes is another flag
    assert xla_flags.add("--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_COMPILE", env)
    env = {}
    assert not xla_flags.add("--xla_cpu_no_such_flag_in_any_jaxlib=1", env) and "XLA_FLAGS" not in env
    assert xla_flags.add("--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_COMPILE", env)
    assert env["XLA_FLAGS"] == "--xla_cpu_opt_preset=CPU_OPT_PRESET_FAST_COMPILE"


def test_this_test_run_compiles_with_the_tests_only_flag():
    """conftest.py adds it (the suite's time depends on it) unless told not to."""
    import conftest
    want = (os.environ.get("SCORE_SDE_TEST_FAST_COMPILE", "1") != "0"
            and xla_flags.jaxlib_knows(conftest.FAST_COMPILE.split("=")[0]))
    assert (conftest.FAST_COMPILE in os.environ.get("XLA_FLAGS", "").split()) == want
    env = {}
    xla_flags.apply(env)                                   # what main.py adds for users
    assert env["XLA_FLAGS"] == xla_flags.FLAG and conftest.FAST_COMPILE not in env["XLA_FLAGS"]
