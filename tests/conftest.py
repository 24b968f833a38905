import os

# Tests see one CPU device unless a test starts its own process with more.
os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# The same XLA:CPU settings main.py uses (run/xla_flags.py), so tests exercise what users run;
# subprocesses started by tests inherit them through the environment.
from run import xla_flags  # noqa: E402

xla_flags.apply()

# The suite compiles ~2,000 small programs and runs most of them for milliseconds, so XLA's
# compile time is most of its time. XLA:CPU's older (non-"fusion emitter") code generator
# compiles them faster: measured on 2026-12-03 (wall, one run each, same session), tests/
# test_models_unet.py + test_image_pipeline.py 94-99 s -> 76-78 s; test_pc_samplers.py +
# test_posterior_api.py 86 -> 77 s. (The fast-compile preset --xla_cpu_opt_preset=
# CPU_OPT_PRESET_FAST_COMPILE measured 83 s and 79 s there; both together 89 s and 73 s.) It
# changes code generation, not semantics. Users keep XLA's default: on the 32 px NCSN++ of
# bench/bench_vs_pytorch.py it made the train step 498 -> 527 ms and the forward 105 -> 149 ms.
# SCORE_SDE_TEST_FAST_COMPILE=0 runs the suite with exactly the users' settings.
FAST_COMPILE = "--xla_cpu_use_fusion_emitters=false"
if os.environ.get("SCORE_SDE_TEST_FAST_COMPILE", "1") != "0":
    xla_flags.add(FAST_COMPILE)

# A compilation cache shared by this run's processes (xdist workers and the main.py / multi-
# process subprocesses the tests start inherit it through the environment), removed when the
# run ends. Many tests compile the same programs (the toy2d train step in every CLI, resume and
# fault test), and XLA's compile time is most of the suite's time: measured 2026-12-05 on the 2
# cores, test_cli + test_preemption_lock + test_checkpoint_faults + test_output_files +
# test_train_init + test_prior_export with 2 workers 181-188 s -> 105-121 s (two interleaved
# pairs of runs); files with few shared programs gained 4-8 %. A cached executable is
# the one XLA would compile (the key covers the program, the compile options and XLA_FLAGS).
# Nothing persists between runs, so every run still compiles each program once.
# SCORE_SDE_TEST_COMPILE_CACHE=0, or a JAX_COMPILATION_CACHE_DIR of your own, leaves it out.
if (os.environ.get("SCORE_SDE_TEST_COMPILE_CACHE", "1") != "0"
        and not os.environ.get("JAX_COMPILATION_CACHE_DIR")):
    import atexit
    import shutil
    import tempfile

    _cache_dir = tempfile.mkdtemp(prefix="score-sde-jax-test-xla-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache_dir
    # every program, however small or quick to compile (the defaults skip those under 1 s)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
