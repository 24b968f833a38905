"""Our NCSN++ training step beside score_sde_pytorch's own, measured in one run on this machine.

    python bench/bench_vs_pytorch.py --torch-python /path/to/venv/bin/python \\
        --peer-dir /path/to/score_sde_pytorch [--rounds 3] [--steps 4] [--block 3]

Setting (issue 12): NCSN++ VE, 32×32×1, nf 32, ch_mult (1, 2, 2), 2 res blocks, attention at 16,
batch 16, continuous DSM with Adam, gradient clipping and EMA, with FIR (every released NCSN++)
and without (the DDPM++ family's resampling). Ours runs in this process, theirs in a subprocess
of ``--torch-python`` that stays up (PyTorch is never imported here or needed by the project).
The two take turns in short blocks of ``--block`` back-to-back calls (a training loop's
regime; which side goes first alternates), so that a drift of this machine's speed (tens of %
within minutes) hits both alike. A block's time is its best call. The table gives the best
block of each and two ratios: best ÷ best, and the median over the pairs of blocks run one
after the other. PyTorch uses as many threads as this machine has cores, and its
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
import os
import statistics
import subprocess
import sys
import tempfile
import time

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

# Runs in the --torch-python subprocess: the peer's own model, loss, optimiser and EMA for both
# configs, built once; then one timed call per request on stdin ("forward 1" / "step 0"), its
# seconds on stdout, so that the parent can let ours and theirs take turns.
_THEIRS = r"""
import json, sys, time
peer, batch = sys.argv[1], int(sys.argv[2])
sys.path.insert(0, peer)
import torch
torch.set_num_threads(int(sys.argv[3]))
from configs.ve import cifar10_ncsnpp_continuous as cfgmod
import losses, sde_lib
from models import ncsnpp, utils as mutils
from models.ema import ExponentialMovingAverage
x = torch.rand(batch, 1, 32, 32)
labels = torch.linspace(0.1, 1.0, batch)
calls = {}
for fir in (True, False):
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
    def forward(model=model):
        model.eval()
        with torch.no_grad():
            model(x, labels)
    def step(model=model, state=state, step_fn=step_fn):
        model.train()
        step_fn(state, x)
    forward(); step()   # warm-up
    calls[f"forward {int(fir)}"], calls[f"step {int(fir)}"] = forward, step
print("ready", flush=True)
for line in sys.stdin:
    f = calls[line.strip()]
    t0 = time.perf_counter(); f(); dt = time.perf_counter() - t0
    print(json.dumps(dt), flush=True)
"""


def ours(batch: int) -> dict:
    """``{(what, fir): call}``: our compiled forward and train step of both configs, warmed up."""
    calls = {}
    for fir in (True, False):
        c = small_config(batch)
        c.model.fir = fir
        tr = Trainer(c, None)
        state = tr.init_state()
        x = jnp.asarray(tr.dataset.batch(jax.random.PRNGKey(0), batch))
        labels = jnp.linspace(0.1, 1.0, batch)
        fwd = jax.jit(lambda p, x, tr=tr, t=labels: tr.model.apply(p, x, t)).lower(state.params, x).compile()
        step = jax.jit(tr.train_step).lower(state, x, jax.random.PRNGKey(1)).compile()
        calls[("forward", fir)] = lambda fwd=fwd, p=state.params, x=x: fwd(p, x)
        calls[("step", fir)] = lambda step=step, s=state, x=x: step(s, x, jax.random.PRNGKey(1))[0]
        for f in (calls[("forward", fir)], calls[("step", fir)]):
            jax.block_until_ready(f())
    return calls


class Theirs:
    """score_sde_pytorch in a ``--torch-python`` subprocess that stays up and times one call per
    request; PyTorch is never imported here."""

    def __init__(self, python: str, peer: str, batch: int):
        # stderr to a file, not a pipe: warnings that fill a pipe nobody reads would stall the worker
        self.err = tempfile.TemporaryFile("w+")
        self.proc = subprocess.Popen([python, "-c", _THEIRS, peer, str(batch), str(os.cpu_count() or 1)],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self.err,
                                     text=True, cwd=peer)   # the peer's own packages (configs/, models/) first
        if self.proc.stdout.readline().strip() != "ready":
            self._fail()

    def _fail(self):
        self.proc.kill()
        self.proc.wait()
        self.err.seek(0)
        raise RuntimeError(f"the PyTorch side failed:\n{self.err.read()[-3000:]}")

    def time(self, what: str, fir: bool) -> float:
        self.proc.stdin.write(f"{what} {int(fir)}\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            self._fail()
        return float(line)

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        self.err.close()


def _time_ours(call) -> float:
    t0 = time.perf_counter()
    jax.block_until_ready(call())
    return time.perf_counter() - t0


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
    p.add_argument("--steps", type=int, default=4, help="pairs of blocks per round, config and kind")
    p.add_argument("--block", type=int, default=3, help="back-to-back calls per block; its time is the best")
    p.add_argument("--rounds", type=int, default=3)
    args = p.parse_args(argv)
    mine = ours(args.batch)
    theirs = Theirs(args.torch_python, args.peer_dir, args.batch) if args.torch_python else None
    times = {}     # (side, what, fir) -> seconds of each block (its best call)
    ratios = {}    # (what, fir) -> ours / theirs of each pair of blocks run one after the other
    try:
        for r in range(args.rounds):
            for fir in (True, False):
                for what in ("forward", "step"):
                    for i in range(args.steps):
                        pair = {}
                        for side in (("ours", "theirs") if (r + i) % 2 == 0 else ("theirs", "ours")):
                            if side == "theirs" and theirs is None:
                                continue
                            pair[side] = min(_time_ours(mine[(what, fir)]) if side == "ours"
                                             else theirs.time(what, fir) for _ in range(args.block))
                            times.setdefault((side, what, fir), []).append(pair[side])
                        if "theirs" in pair:
                            ratios.setdefault((what, fir), []).append(pair["ours"] / pair["theirs"])
                best = {side: 1e3 * min(times[(side, "step", fir)][-args.steps:])
                        for side in ("ours", "theirs") if (side, "step", fir) in times}
                print(f"round {r}: {'FIR' if fir else 'no FIR'} step, best of {args.steps}: "
                      + ", ".join(f"{k} {v:.0f} ms" for k, v in best.items()), flush=True)
    finally:
        if theirs is not None:
            theirs.close()
    n = args.rounds * args.steps
    print(f"\nmachine: {machine()}; batch {args.batch}; {n} blocks of {args.block} back-to-back calls "
          f"each, ours and theirs taking turns; times are the best block (its best call), 'paired' "
          f"the median of the {n} ratios of blocks run one after the other\n")
    print("| config | ours forward | PyTorch forward | ours train step | PyTorch train step | step ratio "
          "(best ÷ best) | step ratio (paired median) |")
    print("|---|---|---|---|---|---|---|")

    def ms(side, what, fir):
        v = times.get((side, what, fir))
        return f"{1e3 * min(v):.0f} ms" if v else "–"
    for fir in (True, False):
        name = "NCSN++ with FIR" if fir else "same, fir=False"
        if theirs is not None:
            ratio = min(times[("ours", "step", fir)]) / min(times[("theirs", "step", fir)])
            cols = f"{ratio:.2f} | {statistics.median(ratios[('step', fir)]):.2f}"
        else:
            cols = "– | –"
        print(f"| {name} | {ms('ours', 'forward', fir)} | {ms('theirs', 'forward', fir)} | "
              f"{ms('ours', 'step', fir)} | {ms('theirs', 'step', fir)} | {cols} |")
    rows = grad_in_loop(args.batch)
    print("\n| network gradient (fir=False) | outside a loop | inside fori_loop, per iteration | ratio |")
    print("|---|---|---|---|")
    for fast, (once, loop) in rows.items():
        name = "models.conv VJP (training, dps on CPU)" if fast else "XLA's own VJP"
        print(f"| {name} | {1e3 * once:.0f} ms | {1e3 * loop:.0f} ms | {loop / once:.2f} |")


if __name__ == "__main__":
    main()
