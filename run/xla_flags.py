"""XLA:CPU settings measured to be faster for score networks; applied by the entry points.

With jax/jaxlib 0.10.2, XLA:CPU hands convolutions and matrix products to the YNNPACK library
by default. On the 2-core AVX-512 machine of bench/ that path is markedly slower than XLA's
Eigen kernels for our networks; keeping YNNPACK for reductions only
(``--xla_cpu_experimental_ynn_fusion_type=LIBRARY_FUSION_TYPE_REDUCE``) measured, in one run
each (bench/bench_unet.py, bench/bench_core.py; see README "Performance"):

- NCSN++ 32 px, batch 16: forward 78 -> 70 ms, forward+backward+Adam 341 -> 309 ms;
- 3x3 convolutions alone: 215-235 -> 300-380 GFLOP/s (weight gradients 120-160 -> 205-315);
- MLP PC sampler: 906 -> 509 us per score evaluation; MLP train step 2.6 -> 1.8 ms.

XLA aborts the process on a flag it does not know, and XLA_FLAGS is read once, when JAX first
starts a backend. So ``apply()`` must run before anything uses a device (importing JAX is
fine), adds the flag only when
the installed jaxlib names it, and never overrides what the user put in XLA_FLAGS. Set
``SCORE_SDE_XLA_DEFAULTS=0`` to leave XLA_FLAGS untouched. This module imports no JAX.
"""
from __future__ import annotations

import importlib.util
import mmap
import os
import sys

FLAG_NAME = "--xla_cpu_experimental_ynn_fusion_type"
FLAG = f"{FLAG_NAME}=LIBRARY_FUSION_TYPE_REDUCE"


def jaxlib_knows(flag_name: str) -> bool:
    """Whether the installed jaxlib's XLA defines ``flag_name`` (searched in its shared library:
    no JAX import, and no risk of the abort an unknown flag causes)."""
    spec = importlib.util.find_spec("jaxlib")
    if spec is None or not spec.submodule_search_locations:
        return False
    needle = flag_name.lstrip("-").encode()
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "libjax_common.so")
        if not os.path.exists(path):
            continue
        try:
            with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as m:
                if m.find(needle) >= 0:
                    return True
        except (OSError, ValueError):
            return False
    return False


def backends_started() -> bool:
    """Whether this process already started a JAX backend (without importing JAX)."""
    if "jax" not in sys.modules:
        return False
    from jax._src import xla_bridge   # no public "were devices used yet?"
    return xla_bridge.backends_are_initialized()


def add(flag: str, environ=None) -> bool:
    """Add ``flag`` ("--name=value") to ``XLA_FLAGS`` when safe (see the module docstring).
    Returns whether it is in effect for this process (already set by the user counts; a
    different value the user chose for the same name wins and gives False)."""
    env = os.environ if environ is None else environ
    name = flag.split("=", 1)[0]
    flags = env.get("XLA_FLAGS", "")
    if name in {f.split("=", 1)[0] for f in flags.split()}:   # exact names: one may prefix another
        return flag in flags.split()
    if env.get("SCORE_SDE_XLA_DEFAULTS", "1") == "0":
        return False
    if environ is None and backends_started():
        return False     # too late: XLA read XLA_FLAGS when the first backend started
    if not jaxlib_knows(name):
        return False
    env["XLA_FLAGS"] = f"{flags} {flag}".strip()
    return True


def apply(environ=None) -> bool:
    """Add ``FLAG``, the entry points' default, to ``XLA_FLAGS`` when safe (``add``)."""
    return add(FLAG, environ)
