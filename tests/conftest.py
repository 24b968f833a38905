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

# One persistent XLA compilation cache per test session, shared with the subprocesses tests start
# (main.py runs inherit the environment). Many tests build the same model or step under a new
# Python closure, which misses jit's in-memory cache but compiles to the same HLO; every CLI test
# recompiles the same train / sample programs in a fresh process. The cache is keyed by the HLO,
# the compile options and XLA_FLAGS, so a hit gives the executable a compile would have given.
# The directory is new for each session and removed after it, so a run never depends on what an
# earlier run left behind (CI starts from nothing anyway). SCORE_SDE_TEST_COMPILE_CACHE=0 turns
# it off; a directory already set in JAX_COMPILATION_CACHE_DIR is used as it is and kept.
if (os.environ.get("SCORE_SDE_TEST_COMPILE_CACHE", "1") != "0"
        and not os.environ.get("JAX_COMPILATION_CACHE_DIR")):
    import atexit
    import shutil
    import tempfile

    _cache_dir = tempfile.mkdtemp(prefix="score-sde-jax-test-xla-cache-")
    atexit.register(shutil.rmtree, _cache_dir, ignore_errors=True)
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _cache_dir
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
