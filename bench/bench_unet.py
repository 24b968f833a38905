"""NCSN++ training-step benchmark at 32×32×1 (issue 3's reference setting).

    python bench/bench_unet.py [--batch 16] [--steps 5]

NCSN++ (VE, fourier, FIR, biggan), nf=32, ch_mult (1, 2, 2), 2 res blocks, attention at 16,
batch 16. Prints, measured in the same run:
- one jitted forward; a bare jitted forward + backward + Adam (loss = mean(out²));
- the library's train step (DSM loss with its noise draws, Adam, EMA) on a fixed batch, and
  the same step inside the train loop with host data (embedded brain slices) — ratios to bare;
- images/s and XLA's memory estimate for the compiled step (CPU has no allocator statistics);
- PC, DDIM and DPM-Solver++ on the same network: time per score evaluation ÷ one forward.
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

import samplers  # noqa: E402
from bench.timing import bare_train_step, best_interleaved, compiled_mib, machine  # noqa: E402
from configs.ve.ncsnpp_cifar10_continuous import get_config  # noqa: E402
from run.trainer import Trainer  # noqa: E402


def small_config(batch: int):
    c = get_config()
    c.data.dataset, c.data.image_size, c.data.num_channels = "brain", 32, 1
    c.data.centered, c.data.random_flip = False, False
    m = c.model
    m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions, m.dropout = 32, (1, 2, 2), 2, (16,), 0.0
    c.training.batch_size, c.training.n_jitted_steps = batch, 1
    return c


def mem_mb(compiled) -> str:
    mib = compiled_mib(compiled)
    return "n/a" if mib != mib else f"{mib:.0f}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--steps", type=int, default=5)
    args = ap.parse_args()
    config = small_config(args.batch)
    tr = Trainer(config, None)
    state = tr.init_state()
    params, model = state.params, tr.model
    x = jnp.asarray(tr.dataset.batch(jax.random.PRNGKey(0), args.batch))
    labels = jnp.full((args.batch,), 1.0)

    # The labels are an argument, not a constant: a constant would let XLA fold the time
    # embedding away at compile time (what the library's step computes from random t).
    fwd = jax.jit(lambda p, x, l: model.apply(p, x, l))
    opt = tr.optimizer
    bare_c = jax.jit(bare_train_step(model, opt, x)).lower(params, opt.init(params), labels).compile()
    lib = jax.jit(tr.train_step).lower(state, x, jax.random.PRNGKey(1)).compile()
    t_fwd, t_bare, t_lib = best_interleaved([(fwd, (params, x, labels), 2),
                                             (bare_c, (params, opt.init(params), labels), 1),
                                             (lambda s: lib(s, x, jax.random.PRNGKey(1))[0], (state,), 1)],
                                            rounds=args.steps)

    # Samplers on the same network: time per score evaluation ÷ one jitted forward, each
    # alternating with the forward in rounds (best of each).
    shape = (args.batch, *tr.shape)
    runs = [("PC euler_maruyama, 20 levels", dict(predictor="euler_maruyama", corrector="none", num_steps=20)),
            ("PC euler_maruyama + langevin, 10 levels", dict(predictor="euler_maruyama", corrector="langevin",
                                                             num_steps=10)),
            ("DDIM, 20 steps", dict(method="ddim", num_steps=20)),
            ("DPM-Solver++(2M), 20 steps", dict(method="dpm_solver_pp", num_steps=20))]
    smp = [jax.jit(lambda p, k, o=o: samplers.sample(k, tr.sde, tr.builder(p), shape, **o)) for _, o in runs]
    nfes = [int(f(params, jax.random.PRNGKey(1))[1]) for f in smp]
    t_f, *t_s = best_interleaved([(fwd, (params, x, labels), 2)]
                                 + [(f, (params, jax.random.PRNGKey(1)), 1) for f in smp], rounds=3)

    st = tr.init_state()
    st, _ = tr.run_steps(st, 0, 1)
    loop_times = []
    for i in range(args.steps):   # each step's batch made on the host, as in train()
        t0 = time.perf_counter()
        st, _ = tr.run_steps(st, i + 1, 1)
        jax.block_until_ready(st)
        loop_times.append(time.perf_counter() - t0)
    print("train loop, s per step:", " ".join(f"{t:.3f}" for t in loop_times))
    t_loop = min(loop_times)   # best of, like every other row

    # Two steps per compiled call: a lax.scan, which run/train.py unrolls on CPU (XLA:CPU runs
    # backward convolutions ~25x slower inside a while loop).
    st, _ = tr.run_steps(st, args.steps + 1, 2)
    jax.block_until_ready(st)
    scan_times = []
    for i in range(max(args.steps // 2, 2)):
        t0 = time.perf_counter()
        st, _ = tr.run_steps(st, args.steps + 3 + 2 * i, 2)
        jax.block_until_ready(st)
        scan_times.append((time.perf_counter() - t0) / 2)
    t_scan = min(scan_times)

    print(f"machine: {machine()}\n")
    print(f"NCSN++ 32×32×1, nf=32, ch_mult (1,2,2), 2 res blocks, attn 16, batch {args.batch}\n")
    print("| what | ms | ÷ bare step | images / s | compiled memory (MiB) |")
    print("|---|---|---|---|---|")
    print(f"| jitted forward | {t_fwd * 1e3:.1f} | | {args.batch / t_fwd:.0f} | |")
    print(f"| bare forward + backward + Adam | {t_bare * 1e3:.1f} | 1.00 | {args.batch / t_bare:.0f} | {mem_mb(bare_c)} |")
    print(f"| library train step (DSM, Adam, EMA), fixed batch | {t_lib * 1e3:.1f} | {t_lib / t_bare:.2f} | {args.batch / t_lib:.0f} | {mem_mb(lib)} |")
    print(f"| train loop incl. host data (brain slices) | {t_loop * 1e3:.1f} | {t_loop / t_bare:.2f} | {args.batch / t_loop:.0f} | |")
    print(f"| same, 2 steps per compiled call (lax.scan) | {t_scan * 1e3:.1f} | {t_scan / t_bare:.2f} | {args.batch / t_scan:.0f} | |")
    print(f"\n| sampler (batch {args.batch}) | NFE | s | per NFE ÷ one forward ({t_f * 1e3:.1f} ms) |")
    print("|---|---|---|---|")
    for (name, _), n, t in zip(runs, nfes, t_s):
        print(f"| {name} | {n} | {t:.2f} | {t / n / t_f:.3f} |")
    print("\nreference (issue 3): PyTorch score_sde on these 2 cores ≈ 60 ms forward, ≈ 240 ms per training step")


if __name__ == "__main__":
    main()
