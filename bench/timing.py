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

    from run import host_memory, xla_flags
    ynn = "YNNPACK for reductions only" if xla_flags.FLAG in os.environ.get("XLA_FLAGS", "").split() \
        else "XLA's default kernels"
    pages = "huge-page malloc" if host_memory.huge_pages_on() else "glibc's default malloc"
    return (f"{platform.processor() or platform.machine()}, {jax.device_count()} x {dev.platform} "
            f"({dev.device_kind}), jax {jax.__version__}, XLA:CPU {ynn}, {pages}")


def compiled_mib(compiled) -> float:
    """XLA's estimate of a compiled program's memory in MiB (temporaries + arguments + outputs);
    NaN where the backend gives none. On CPU this is the only figure (no allocator statistics)."""
    ma = compiled.memory_analysis()
    if ma is None:
        return float("nan")
    return (ma.temp_size_in_bytes + ma.argument_size_in_bytes + ma.output_size_in_bytes) / 2**20


def best_interleaved(calls, rounds: int) -> list[float]:
    """Seconds per call of each ``(fn, args, number)`` in ``calls``: the best of ``rounds`` rounds
    that time every entry in turn (:func:`best_time` with one repeat of ``number`` calls). This
    machine's speed drifts by tens of percent within minutes; alternating lets a slow spell hit
    every entry rather than one, so their ratios stay fair."""
    best = [float("inf")] * len(calls)
    for _ in range(rounds):
        for j, (fn, args, number) in enumerate(calls):
            best[j] = min(best[j], best_time(fn, *args, repeats=1, number=number))
    return best


def bare_train_step(model, optimizer, x):
    """``step(params, opt_state, labels) -> (params, opt_state)``: the network's forward, backward
    (loss mean(out²)) and optimizer update on the fixed batch ``x``, nothing else: the baseline a
    library train step is measured against. The labels are an argument: as a constant, XLA
    would fold the time embedding away at compile time."""
    import optax

    def step(p, o, labels):
        g = jax.grad(lambda p: jax.numpy.mean(model.apply(p, x, labels) ** 2))(p)
        u, o = optimizer.update(g, o, p)
        return optax.apply_updates(p, u), o
    return step
