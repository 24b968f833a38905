"""Forward time of the released MRI priors at full size: score-MRI's knee NCSN++ and DDS's knee ADM.

    python bench/bench_peer_models.py [--repeats 3] [--only score_mri|dds]

Batch 1 at 320×320 (configs/mri/score_mri_knee320.py: 1 channel, 61.4 M parameters;
configs/mri/dds_knee_adm.py: 2 channels, learned σ, 361.4 M parameters), random float32 weights
of the released shapes (the time does not depend on their values), one jitted
``model.apply``; prints the compile time and the best of ``--repeats`` calls after it, and
what a full sampler costs at that rate (score-MRI's 2000 NFE, DDS's 50, DPM-Solver++'s 20).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import models  # noqa: E402
from bench.timing import best_time, machine  # noqa: E402
from configs.mri import dds_knee_adm, score_mri_knee320  # noqa: E402
from models.checkpoints import model_section  # noqa: E402

PRIORS = {
    # name: (config module, label at which it is timed, what its sampler needs)
    "score_mri": (score_mri_knee320, 1.0, "score-MRI PC, 2000 NFE"),
    "dds": (dds_knee_adm, 500.0, "DDS, 50 NFE"),
}
NFE = {"score_mri": 2000, "dds": 50}


def bench(name: str, repeats: int) -> dict:
    module, label, _ = PRIORS[name]
    config = module.get_config()
    model = models.get_model(model_section(config))
    size, channels = config.data.image_size, config.data.num_channels
    x = jax.random.normal(jax.random.PRNGKey(0), (1, size, size, channels))
    labels = jnp.full((1,), label)
    params = jax.jit(model.init)(jax.random.key(0, impl="rbg"), x, labels)
    n = sum(p.size for p in jax.tree.leaves(params))
    t0 = time.perf_counter()
    fwd = jax.jit(lambda p, x: model.apply(p, x, labels)).lower(params, x).compile()
    compile_s = time.perf_counter() - t0
    sec = best_time(fwd, params, x, repeats=repeats)
    return dict(name=name, params=n, compile_s=compile_s, fwd_s=sec, size=size, channels=channels)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=sorted(PRIORS), default=None)
    args = ap.parse_args()
    rows = [bench(n, args.repeats) for n in PRIORS if args.only in (None, n)]
    print(f"machine: {machine()}\n")
    print("| prior | parameters | input | compile (s) | forward, batch 1 (s) | its sampler | 20 NFE (DPM-Solver++) |")
    print("|---|---|---|---|---|---|---|")
    for r in rows:
        own = NFE[r["name"]] * r["fwd_s"]
        print(f"| {PRIORS[r['name']][2].split(',')[0]} ({r['name']}) | {r['params'] / 1e6:.1f} M | "
              f"{r['size']}×{r['size']}×{r['channels']} | {r['compile_s']:.0f} | {r['fwd_s']:.2f} | "
              f"{PRIORS[r['name']][2].split(', ')[1]}: {own / 60:.1f} min | {20 * r['fwd_s']:.0f} s |")


if __name__ == "__main__":
    main()
