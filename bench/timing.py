"""Helpers shared by the benchmarks: best-of-k timing of compiled calls, the machine, and
XLA's memory estimate of a compiled program."""
from __future__ import annotations

import platform
import time

import jax


def best_time(fn, *args, repeats: int = 5, number: int = 1) -> float:
    """Seconds per call: the best of ``repeats`` runs of ``number`` calls (after one warm-up)."""
    jax.block_until_ready(fn(*args))
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(number):
            out = fn(*args)
        jax.block_until_ready(out)
        best = min(best, (time.perf_counter() - t0) / number)
    return best


def machine() -> str:
    dev = jax.devices()[0]
    import os

    from run import xla_flags
    ynn = "YNNPACK for reductions only" if xla_flags.FLAG in os.environ.get("XLA_FLAGS", "").split() \
        else "XLA's default kernels"
    return (f"{platform.processor() or platform.machine()}, {jax.device_count()} x {dev.platform} "
            f"({dev.device_kind}), jax {jax.__version__}, XLA:CPU {ynn}")


def compiled_mib(compiled) -> float:
    """XLA's estimate of a compiled program's memory in MiB (temporaries + arguments + outputs);
    NaN where the backend gives none. On CPU this is the only figure (no allocator statistics)."""
    ma = compiled.memory_analysis()
    if ma is None:
        return float("nan")
    return (ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes) / 2**20
