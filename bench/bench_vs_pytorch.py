"""Our NCSN++ training step beside score_sde_pytorch's own, measured in one run on this machine.

    python bench/bench_vs_pytorch.py --torch-python /path/to/venv/bin/python \\
        --peer-dir /path/to/score_sde_pytorch [--rounds 3] [--steps 4]

Setting (issue 12): NCSN++ VE, 32×32×1, nf 32, ch_mult (1, 2, 2), 2 res blocks, attention at 16,
batch 16, continuous DSM with Adam, gradient clipping and EMA, with FIR (every released NCSN++)
and without (the DDPM++ family's resampling). Each round times ours (this process) and theirs
(a subprocess of ``--torch-python``, so PyTorch is never imported here or needed by the
project) one after the other for both configs, so the machine's load is shared alike; the table
gives the best of the rounds. PyTorch uses as many threads as this machine has cores, and its
subprocess inherits this process's environment, the huge-page tunable of run/host_memory.py
included (it made PyTorch's step 3-10 % faster too).

``--peer-dir``: a checkout of yang-song/score_sde_pytorch that imports on a CPU (its ``op``
package compiles CUDA kernels at import; replace ``upfirdn2d_op`` / ``fused`` by None so its
native fallbacks run). Without ``--torch-python`` only our rows are printed.

Also prints, for ours: the network's gradient inside a ``lax.fori_loop`` against the same
gradient outside a loop, with the library's loop-friendly convolution VJP (``models.conv``) and
with XLA's own (issue 12's second goal: ≤ 1.3×).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402

import models  # noqa: E402
from bench.bench_unet import small_config  # noqa: E402
from bench.timing import best_time, machine  # noqa: E402
from run.trainer import Trainer  # noqa: E402

# Runs in the --torch-python subprocess: the peer's own model, loss, optimiser and EMA.
_THEIRS = r'''
import json, sys, time
peer, fir, batch, steps = sys.argv[1], sys.argv[2] == "1", int(sys.argv[3]), int(sys.argv[4])
sys.path.insert(0, peer)
import torch
torch.set_num_threads(int(sys.argv[5]))
from configs.ve import cifar10_ncsnpp_continuous as cfgmod
import losses, sde_lib
from models import ncsnpp, utils as mutils
from models.ema import ExponentialMovingAverage
c = cfgmod.get_config()
c.device = torch.device("cpu")
c.data.image_size, c.data.num_channels, c.data.centered = 32, 1, False
m = c.model
m.nf, m.ch_mult, m.num_res_blocks, m.attn_resolutions, m.dropout, m.fir = 32, (1, 2, 2), 2, (16,), 0.0, fir
c.training.batch_size = batch
model = mutils.create_model(c)
opt = losses.get_optimizer(c, model.parameters())
ema = ExponentialMovingAverage(model.parameters(), decay=c.model.ema_rate)
state = dict(optimizer=opt, model=model, ema=ema, step=0)
sde = sde_lib.VESDE(sigma_min=m.sigma_min, sigma_max=m.sigma_max, N=m.num_scales)
step_fn = losses.get_step_fn(sde, train=True, optimize_fn=losses.optimization_manager(c), reduce_mean=False,
                             continuous=True, likelihood_weighting=False)
x = torch.rand(batch, 1, 32, 32)
labels = torch.linspace(0.1, 1.0, batch)
def best(f, n):
    f(); ts = []
    for _ in range(n):
        t0 = time.perf_counter(); f(); ts.append(time.perf_counter() - t0)
    return min(ts)
model.eval()
with torch.no_grad():
    fwd = best(lambda: model(x, labels), steps)
model.train()
step = best(lambda: step_fn(state, x), steps)
print(json.dumps(dict(forward=fwd, step=step)))
'''


def ours(fir: bool, batch: int, steps: int) -> dict:
    c = small_config(batch)
    c.model.fir = fir
    tr = Trainer(c, None)
    state = tr.init_state()
    x = jnp.asarray(tr.dataset.batch(jax.random.PRNGKey(0), batch))
    labels = jnp.linspace(0.1, 1.0, batch)
    fwd = jax.jit(lambda p, x: tr.model.apply(p, x, labels))
    step = jax.jit(tr.train_step).lower(state, x, jax.random.PRNGKey(1)).compile()
    return dict(forward=best_time(fwd, state.params, x, repeats=steps),
                step=best_time(lambda s: step(s, x, jax.random.PRNGKey(1))[0], state, repeats=steps))


def theirs(python: str, peer: str, fir: bool, batch: int, steps: int) -> dict:
    out = subprocess.run([python, "-c", _THEIRS, peer, "1" if fir else "0", str(batch), str(steps),
                          str(os.cpu_count() or 1)], capture_output=True, text=True, timeout=1800,
                         cwd=peer)   # the peer's own packages (configs/, models/) first, not ours
    if out.returncode:
        raise RuntimeError(f"the PyTorch side failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def grad_in_loop(batch: int, iters: int = 4) -> dict:
    """ms per network gradient outside a loop and inside a fori_loop, fast VJP on and off."""
    c = small_config(batch)
    c.model.fir = False
    tr = Trainer(c, None)
    params = tr.init_state().params
    x = jnp.asarray(tr.dataset.batch(jax.random.PRNGKey(0), batch))
    labels = jnp.linspace(0.1, 1.0, batch)

    def g(x):
        return jax.grad(lambda x: jnp.sum(tr.model.apply(params, x, labels) ** 2))(x)
    rows = {}
    for fast in (True, False):
        with models.reverse_mode_convs(fast):
            once = jax.jit(g).lower(x).compile()
            loop = jax.jit(lambda x: jax.lax.fori_loop(0, iters, lambda i, v: v + 1e-6 * g(v), x)).lower(x).compile()
        rows[fast] = (best_time(once, x, repeats=3), best_time(loop, x, repeats=2) / iters)
    return rows


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--torch-python", default="")
    p.add_argument("--peer-dir", default="")
    p.add_argument("--batch", type=int, default=16)
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    best = {}
    for r in range(args.rounds):
        for fir in (True, False):
            for side in ("ours", "theirs"):
                if side == "theirs" and not args.torch_python:
                    continue
                t = ours(fir, args.batch, args.steps) if side == "ours" else \
                    theirs(args.torch_python, args.peer_dir, fir, args.batch, args.steps)
                key = (fir, side)
                best[key] = {k: min(v, best.get(key, {}).get(k, v)) for k, v in t.items()}
                print(f"round {r}: {'FIR' if fir else 'no FIR'} {side}: forward {1e3 * t['forward']:.0f} ms, "
                      f"step {1e3 * t['step']:.0f} ms", flush=True)
    print(f"\nmachine: {machine()}; batch {args.batch}, best of {args.rounds} rounds × {args.steps} steps\n")
    print("| config | ours forward | PyTorch forward | ours train step | PyTorch train step | step ratio |")
    print("|---|---|---|---|---|---|")
    for fir in (True, False):
        o, t = best[(fir, "ours")], best.get((fir, "theirs"))
        name = "NCSN++ with FIR" if fir else "same, fir=False"
        tf = f"{1e3 * t['forward']:.0f} ms" if t else "–"
        ts = f"{1e3 * t['step']:.0f} ms" if t else "–"
        ratio = f"{o['step'] / t['step']:.2f}" if t else "–"
        print(f"| {name} | {1e3 * o['forward']:.0f} ms | {tf} | {1e3 * o['step']:.0f} ms | {ts} | {ratio} |")
    rows = grad_in_loop(args.batch)
    print("\n| network gradient (fir=False) | outside a loop | inside fori_loop, per iteration | ratio |")
    print("|---|---|---|---|")
    for fast, (once, loop) in rows.items():
        name = "models.conv VJP (training, dps on CPU)" if fast else "XLA's own VJP"
        print(f"| {name} | {1e3 * once:.0f} ms | {1e3 * loop:.0f} ms | {loop / once:.2f} |")


if __name__ == "__main__":
    main()
