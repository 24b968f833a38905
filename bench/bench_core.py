"""Core benchmark: PC sampler overhead per score evaluation and toy training throughput.

    python bench/bench_core.py

Ratios are measured in the same run against a bare baseline (ideal 1.0):
- sampler: wall time per score evaluation of each compiled sampling loop (PC, DDIM,
  DPM-Solver++, Heun) ÷ one jitted model forward on the same batch, alternating in rounds;
- training: one step of the library's train loop (in-graph data, DSM loss, Adam, EMA) ÷ a bare
  jitted forward + backward + Adam update of the same network, both run as a ``lax.scan`` of
  ``n_jitted_steps`` steps so neither pays per-call dispatch, alternating in rounds (best of
  each). The bare step gets a fresh batch and fresh noise labels every step: loop-invariant
  inputs would let XLA hoist the network's time embedding out of the loop.
"""
from __future__ import annotations

import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import optax  # noqa: E402

import samplers  # noqa: E402
from bench.timing import best_interleaved, machine  # noqa: E402
from configs.toy2d import get_config  # noqa: E402
from run.trainer import Trainer  # noqa: E402


def main():
    config = get_config()
    tr = Trainer(config, None)
    state = tr.init_state()
    params = state.params
    B = 512
    x = jax.random.normal(jax.random.PRNGKey(0), (B, 2))
    t = jnp.full((B,), 0.5)
    labels = t * 999

    # --- sampler ---------------------------------------------------------------------------
    fwd = jax.jit(lambda p, x, l: tr.model.apply(p, x, l))
    runs = [("PC euler_maruyama + none", dict(predictor="euler_maruyama", corrector="none")),
            ("PC reverse_diffusion + langevin", dict(predictor="reverse_diffusion", corrector="langevin",
                                                     snr=0.16, n_steps=1)),
            ("DDIM, 200 steps, eta 0", dict(method="ddim", num_steps=200)),
            ("DDIM, 200 steps, eta 1", dict(method="ddim", num_steps=200, eta=1.0)),
            ("DPM-Solver++(2M), 200 steps", dict(method="dpm_solver_pp", num_steps=200)),
            ("Heun, 100 steps", dict(method="heun", num_steps=100))]
    compiled, nfes = [], []
    for _, opts in runs:
        sampler = jax.jit(lambda p, k, opts=opts: samplers.sample(k, tr.sde, tr.builder(p), (B, 2), **opts))
        nfes.append(int(sampler(params, jax.random.PRNGKey(1))[1]))
        compiled.append(sampler)
    t_fwd, *t_smp = best_interleaved([(fwd, (params, x, labels), 200)]
                                     + [(s, (params, jax.random.PRNGKey(1)), 1) for s in compiled], rounds=5)
    rows = [(name, nfe, t_s, t_s / nfe * 1e6, t_s / nfe / t_fwd)
            for (name, _), nfe, t_s in zip(runs, nfes, t_smp)]

    # --- training --------------------------------------------------------------------------
    k = int(config.training.n_jitted_steps)
    bs = int(config.training.batch_size)
    ours = tr.compiled_steps(k)
    opt = tr.optimizer
    # A fresh batch and fresh noise levels for every step, fed through the scan: the time
    # embedding (sin / cos of the labels) is part of the network's forward. Labels that stay the
    # same across the loop let XLA hoist the embedding out of it (and constant ones fold it away
    # at compile time), so the bare step skipped part of the network: that flattered the
    # baseline by 5 % (2026-12-06).
    xs = jax.vmap(lambda key: tr.sample_data(key, bs))(jax.random.split(jax.random.PRNGKey(3), k))
    ls = jax.random.uniform(jax.random.PRNGKey(4), (k, bs), minval=0.0, maxval=999.0)

    @jax.jit
    def bare(p, o, xs, ls):
        def one(carry, xl):
            p, o = carry
            xb, lb = xl
            g = jax.grad(lambda p: jnp.mean(tr.model.apply(p, xb, lb) ** 2))(p)
            u, o = opt.update(g, o, p)
            return (optax.apply_updates(p, u), o), None
        return jax.lax.scan(one, (p, o), (xs, ls))[0]

    # Alternate the two in rounds and keep each one's best: a slow spell of the machine then
    # hits both rather than one.
    st, _ = ours(tr.init_state())   # compile; the state is donated, so each call feeds the next
    bare_args = (params, opt.init(params), xs, ls)
    jax.block_until_ready(bare(*bare_args))
    t_ours = t_bare = float("inf")
    for _ in range(11):
        t0 = time.perf_counter()
        st, _ = ours(st)
        jax.block_until_ready(st)
        t_ours = min(t_ours, (time.perf_counter() - t0) / k)
        t0 = time.perf_counter()
        jax.block_until_ready(bare(*bare_args))
        t_bare = min(t_bare, (time.perf_counter() - t0) / k)

    print(f"machine: {machine()}\n")
    print(f"one jitted MLP forward, batch {B}: {t_fwd * 1e6:.1f} µs\n")
    print("| sampler | NFE | total s | µs / NFE | ÷ forward |")
    print("|---|---|---|---|---|")
    for name, nfe, tot, us, ratio in rows:
        print(f"| {name} | {nfe} | {tot:.3f} | {us:.1f} | {ratio:.2f} |")
    print()
    print("| training (toy2d config, batch %d) | ms / step | steps / s | ÷ bare fwd+bwd+Adam |" % bs)
    print("|---|---|---|---|")
    print(f"| bare forward + backward + Adam | {t_bare * 1e3:.3f} | {1 / t_bare:.0f} | 1.00 |")
    print(f"| library train step (data, DSM, Adam, EMA) | {t_ours * 1e3:.3f} | {1 / t_ours:.0f} | {t_ours / t_bare:.3f} |")


if __name__ == "__main__":
    main()
