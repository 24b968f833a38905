"""Sample quality vs score evaluations for every sampling method, on the 8-mode ring.

    python bench/bench_samplers.py [--quick]

For VP and VE with the exact (analytic) mixture score, each method draws 2000 samples with 16
seeds; quality is the sliced Wasserstein-2 distance (256 fixed random directions) from the 2000
samples to the exact mixture, averaged over the seeds. The exact side of each 1-D distance is
the mixture's own quantile function at the 2000 plotting positions (the projected mixture's
CDF is a sum of normal CDFs, inverted by bisection), so only the sampler's draw is noisy. The
floor row is the same distance for 2000 exact mixture samples: the finite-sample value that
no sampler can beat at this n. A method "reaches" 1000-step Euler–Maruyama quality when its
mean distance is below EM's, or above it by less than two standard errors of the difference.

Paired column, for the deterministic solvers only: every method draws its prior sample the same
way from the seed, so the RMS distance ‖x - x_ref‖ to a tight (rtol = atol = 1e-6) RK45 solve
of the same probability-flow ODE from the same prior sample is the solver's own error, free of
sampling noise.

Overhead column: the sampler's wall time divided by its NFE, over the wall time of one bare
jitted score call on the same batch (ideal 1.0; below 1.0 means the bare call's dispatch
overhead outweighs what the solver adds around each score evaluation inside its compiled loop).

Prints a markdown table and saves bench/results/bench_samplers.png. About 3-5 minutes on 2 CPU
cores (most of it compilation).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)
import samplers  # noqa: E402
import sde_lib  # noqa: E402

N_SAMPLES = 2000
SEEDS = tuple(range(16))
RING = sde_lib.GaussianMixture.ring()
DIRECTIONS = np.random.default_rng(0).normal(size=(256, 2))
DIRECTIONS /= np.linalg.norm(DIRECTIONS, axis=1, keepdims=True)


def exact_quantiles(n):
    """``[n, directions]``: quantiles of the projected exact mixture at levels (i + ½) / n."""
    from scipy.special import ndtr
    w = np.asarray(RING.weights, np.float64)
    m = DIRECTIONS @ np.asarray(RING.means, np.float64).T                      # [L, K]
    sd = np.sqrt(np.einsum("ld,kde,le->lk", DIRECTIONS, np.asarray(RING.covs, np.float64), DIRECTIONS))
    levels = (np.arange(n) + 0.5) / n
    lo = np.full((n, len(DIRECTIONS)), m.min() - 10 * sd.max())
    hi = np.full((n, len(DIRECTIONS)), m.max() + 10 * sd.max())
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        cdf = np.einsum("k,nlk->nl", w, ndtr((mid[..., None] - m[None]) / sd[None]))
        below = cdf < levels[:, None]
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
    return 0.5 * (lo + hi)


QUANTILES = exact_quantiles(N_SAMPLES)


def sliced_w2(x):
    """Sliced Wasserstein-2 distance from 2000 2-D samples to the exact ring mixture."""
    px = np.sort(np.asarray(x, np.float64) @ DIRECTIONS.T, axis=0)
    return float(np.sqrt(np.mean((px - QUANTILES) ** 2)))


def configs(quick: bool):
    runs = [("pc", {"predictor": "euler_maruyama", "corrector": "none", "_N": 1000}),
            ("pc", {"predictor": "euler_maruyama", "corrector": "none", "_N": 2000})]
    runs += [("ode", {"rtol": r, "atol": r}) for r in ((1e-2, 1e-3) if quick else (1e-2, 1e-3, 1e-4))]
    runs += [("ddim", {"num_steps": n}) for n in ((10, 50) if quick else (10, 20, 50, 100, 200))]
    runs += [("ddim", {"num_steps": n, "eta": 1.0}) for n in ((50,) if quick else (20, 50, 200))]
    runs += [("dpm_solver_pp", {"num_steps": n}) for n in ((10, 20) if quick else (5, 8, 10, 15, 20, 30, 50))]
    runs += [("heun", {"num_steps": n}) for n in ((6, 10) if quick else (4, 6, 8, 10, 15, 25))]
    runs += [("adaptive_sde", {"rtol": r}) for r in ((0.05,) if quick else (0.1, 0.05, 0.02))]
    return runs


def bare_score_time(sde, score, x):
    f = jax.jit(score)
    t = jnp.full((x.shape[0],), 0.5, jnp.float32)
    f(x, t).block_until_ready()
    reps = []
    for _ in range(5):
        t0 = time.perf_counter()
        for _ in range(50):
            out = f(x, t)
        out.block_until_ready()
        reps.append((time.perf_counter() - t0) / 50)
    return min(reps)


def label(method, opts):
    shown = {k: v for k, v in opts.items() if k not in ("predictor", "corrector", "atol", "_N")}
    if method == "pc":
        return f"pc euler_maruyama N={opts['_N']}"
    return method + " " + " ".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in shown.items())


def run(quick: bool):
    floor_d = [sliced_w2(RING.sample(jax.random.PRNGKey(200 + s), N_SAMPLES)) for s in SEEDS]
    floor = (float(np.mean(floor_d)), float(np.std(floor_d, ddof=1)))
    exact = np.asarray(RING.sample(jax.random.PRNGKey(100), N_SAMPLES))
    rows = []
    for sde_name in ("VP", "VE"):
        make = (lambda n: sde_lib.VPSDE(N=n)) if sde_name == "VP" else (lambda n: sde_lib.VESDE(N=n))
        base_sde = make(1000)
        bare = bare_score_time(base_sde, RING.score_fn(base_sde), jnp.asarray(exact, jnp.float32))
        rows.append((sde_name, "exact samples (floor)", 0, floor[0], floor[1], float("nan"), float("nan")))
        ref_sampler = samplers.get_sampler(base_sde, RING.score_fn(base_sde), (N_SAMPLES, 2), method="ode",
                                           rtol=1e-6, atol=1e-6)
        refs = [np.asarray(ref_sampler(jax.random.PRNGKey(s))[0], np.float64) for s in SEEDS]
        for method, opts in configs(quick):
            opts = dict(opts)
            sde = make(opts.pop("_N", 1000))
            score = RING.score_fn(sde)
            sampler = samplers.get_sampler(sde, score, (N_SAMPLES, 2), method=method, **opts)
            x, nfe = sampler(jax.random.PRNGKey(SEEDS[0]))
            x.block_until_ready()
            deterministic = method in ("ode", "dpm_solver_pp", "heun") or (method == "ddim" and not opts.get("eta"))
            dists, walls, devs = [], [], []
            for s, ref in zip(SEEDS, refs):
                t0 = time.perf_counter()
                x, nfe = sampler(jax.random.PRNGKey(s))
                x.block_until_ready()
                walls.append(time.perf_counter() - t0)
                dists.append(sliced_w2(x))
                devs.append(float(np.sqrt(np.mean(np.sum((np.asarray(x, np.float64) - ref) ** 2, 1)))))
            nfe = int(nfe)
            overhead = min(walls) / nfe / bare
            rows.append((sde_name, label(method, dict(opts, _N=sde.N)), nfe, float(np.mean(dists)),
                         float(np.std(dists, ddof=1)), float(np.mean(devs)) if deterministic else float("nan"),
                         overhead))
            print(f"  {sde_name} {rows[-1][1]:38s} nfe {nfe:5d}  sw2 {rows[-1][3]:.4f}", file=sys.stderr)
    return rows, floor


def report(rows):
    print(f"| SDE | method | NFE | sliced W2 (mean ± sd over {len(SEEDS)} seeds) | RMS to exact ODE flow (paired) "
          "| time per NFE / bare score call |")
    print("|---|---|---:|---:|---:|---:|")
    for sde_name, name, nfe, sw, sd, dev, over in rows:
        over_s = "-" if np.isnan(over) else f"{over:.2f}"
        dev_s = "-" if np.isnan(dev) else f"{dev:.2e}"
        print(f"| {sde_name} | {name} | {nfe} | {sw:.4f} ± {sd:.4f} | {dev_s} | {over_s} |")
    print()
    k = math.sqrt(len(SEEDS))
    for sde_name in ("VP", "VE"):
        ref = next(r for r in rows if r[0] == sde_name and r[1] == "pc euler_maruyama N=1000")
        cands = [r for r in rows if r[0] == sde_name and 0 < r[2] <= 20]
        below = [r for r in cands if r[3] <= ref[3]]
        tied = [r for r in cands if r[3] > ref[3] and r[3] - ref[3] < 2 * math.hypot(r[4], ref[4]) / k]
        fmt = lambda rs: ", ".join(f"{r[1]} (NFE {r[2]}, {r[3]:.4f})" for r in sorted(rs, key=lambda r: r[2])) or "none"
        print(f"{sde_name}: 1000-step Euler–Maruyama SW2 {ref[3]:.4f} ± {ref[4] / k:.4f} (s.e.). "
              f"In <= 20 NFE, at or below it: {fmt(below)}; within 2 s.e. above it: {fmt(tied)}.")


def plot(rows, floor, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), sharey=True)
    for ax, sde_name in zip(axes, ("VP", "VE")):
        families = {}
        for s, name, nfe, sw, sd, _, _ in rows:
            if s != sde_name or nfe == 0:
                continue
            fam = name.split(" ")[0] + (" eta=1" if "eta=1" in name else "")
            families.setdefault(fam, []).append((nfe, sw, sd))
        for fam, pts in families.items():
            pts.sort()
            n, w, d = map(np.array, zip(*pts))
            ax.errorbar(n, w, yerr=d / math.sqrt(len(SEEDS)), marker="o", capsize=2, label=fam)
        ax.axhline(floor[0], color="k", ls=":", label="exact-sample floor")
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("NFE (score evaluations)")
        ax.set_title(f"{sde_name}: 8-mode ring, {N_SAMPLES} samples")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("sliced W2 to the exact mixture (mean ± s.e.)")
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    os.makedirs(os.path.dirname(path), exist_ok=True)
    fig.savefig(path, dpi=120)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer settings (about a minute)")
    args = parser.parse_args()
    t0 = time.time()
    rows, floor = run(args.quick)
    report(rows)
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "results", "bench_samplers.png")
    plot(rows, floor, path)
    print(f"\nplot: {path}; total {time.time() - t0:.0f} s on {jax.devices()[0].platform}")


if __name__ == "__main__":
    main()
