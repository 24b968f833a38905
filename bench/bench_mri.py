"""Accelerated-MRI reconstruction of held-out brain slices: score-based posterior sampling beside
zero-filling and compressed sensing.

    python bench/bench_mri.py --workdir runs/brain                 # the trained prior in runs/brain
    python bench/bench_mri.py --gaussian                           # no training: a Gaussian prior
    python bench/bench_mri.py --workdir runs/brain --methods score_mri,dds --num_slices 8 --n_samples 4

Settings: 4x and 8x equispaced 1-D Cartesian masks and an 8x 2-D variable-density Poisson-disc
mask, single coil, noiseless, on ``--num_slices`` slices of the brain test split (never seen in
training) at the config's ``data.image_size`` (configs/mri/brain_recon.py: 32 px). For each
setting the table gives the mean NMSE / PSNR / SSIM over the slices (fastMRI definitions, data
range = the slices' max), the wall seconds of the whole batch after compilation and the NFE
per sample. The reconstruction is the mean of ``--n_samples`` posterior samples.

``--workdir``: restores the latest EMA checkpoint with ``--config`` (``run.context.load_ema``). ``--gaussian``: a Gaussian prior fitted to 4000 training slices in
model space, whose score is exact; it measures the samplers and the pipeline without a
network (a Gaussian is a weak image prior, so absolute numbers are below a trained network's).
Centre fractions: 0.08 at 4x, 0.04 at 8x (1-D: the centre block must fit the column budget of
a small image); 0.08 of each side for Poisson.

Per-method settings: the config's ``recon.<method>`` sections (configs/mri/brain_recon.py:
score_mri and projection walk the SDE's N levels with one Langevin corrector step each, 2N NFE;
dps 1000 steps; dds 50 steps; mmps 200 Euler–Maruyama steps with 5 CG iterations). ``--steps n``
gives every method n steps (score_mri / projection then use the ancestral predictor).
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

import jax

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import xla_flags  # noqa: E402

xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)
import samplers  # noqa: E402
import sde_lib  # noqa: E402
from run import builders, recon  # noqa: E402

SETTINGS = [("equispaced", 4.0, 0.08), ("equispaced", 8.0, 0.04), ("poisson", 8.0, 0.08)]


def load_config(path: str):
    spec = importlib.util.spec_from_file_location("bench_recon_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def main(argv=None) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", help="run directory holding the trained prior's checkpoints")
    p.add_argument("--gaussian", action="store_true", help="use a Gaussian prior fitted to training slices")
    p.add_argument("--config", default=os.path.join(here, "configs", "mri", "brain_recon.py"))
    p.add_argument("--methods", default="score_mri,dds,dps,projection")
    p.add_argument("--num_slices", type=int, default=8)
    p.add_argument("--n_samples", type=int, default=4)
    p.add_argument("--steps", type=int, default=0, help="num_steps for every method (0: the config's)")
    p.add_argument("--cs_iters", type=int, default=200)
    args = p.parse_args(argv)
    if bool(args.workdir) == bool(args.gaussian):
        p.error("give exactly one of --workdir (a trained prior) or --gaussian")
    config = load_config(args.config)
    methods = [m for m in args.methods.split(",") if m]
    for m in methods:
        if m not in samplers.POSTERIOR_METHODS:
            p.error(f"unknown method {m!r}; valid: {sorted(samplers.POSTERIOR_METHODS)}")

    if args.gaussian:
        builders.validate(config)
        sde = builders.build_sde(config)
        t0 = time.perf_counter()
        gmm = recon.fit_gaussian_prior(config, n=4000)
        score_fn = gmm.score_fn(sde)
        prior = f"Gaussian prior fitted to 4000 training slices ({time.perf_counter() - t0:.0f} s)"
    else:
        from run.context import load_ema
        ctx, params, step = load_ema(config, args.workdir)
        sde, score_fn = ctx.sde, ctx.builder(params)
        prior = f"EMA checkpoint step {step} in {args.workdir}"
    if not isinstance(sde, sde_lib.SDE):
        raise TypeError("the prior's SDE is not an sde_lib.SDE")

    print(f"# MRI reconstruction, {config.data.dataset} test split, {config.data.image_size} px, "
          f"{args.num_slices} slices, single coil, noiseless")
    print(f"prior: {prior}; SDE {type(sde).__name__}(N={sde.N}); device {jax.devices()[0].platform}; "
          f"reconstruction = mean of {args.n_samples} posterior samples\n")
    for kind, acc, centre in SETTINGS:
        rows = {}
        for i, method in enumerate(methods):
            c = load_config(args.config)
            c.recon.method = method
            opts = {}
            if args.steps:
                opts["num_steps"] = args.steps
                if method in ("score_mri", "projection"):
                    opts["predictor"] = "ancestral_sampling"
            c.recon.options = opts
            c.recon.num_slices, c.recon.n_samples, c.recon.cs_iters = args.num_slices, args.n_samples, args.cs_iters
            c.recon.mask.kind, c.recon.mask.acceleration, c.recon.mask.center_fraction = kind, acc, centre
            c.recon.figures = False
            summary = recon.reconstruct_with(c, sde, score_fn)
            if i == 0:
                rows.update({k: v for k, v in summary.items() if k != method})
            rows[method] = summary[method]
        print(recon.format_table(rows, f"{kind} {acc:g}x, centre fraction {centre:g}"))
        print()


if __name__ == "__main__":
    main()
