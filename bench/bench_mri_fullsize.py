"""MRI reconstruction at full size: seconds per slice and XLA's memory estimate at 128 and 320 px,
and whether bfloat16 compute changes the PSNR.

    python bench/bench_mri_fullsize.py [--config configs/mri/brain128.py] [--sizes 128,320]
        [--coils 15] [--batches 1,4] [--steps 50] [--method dds]

The prior is the config's shipped one (``config.prior_dir``) or a workdir's (``--workdir``); its
network is fully convolutional, so it runs at any size (the attention level follows the size:
``attn_resolutions = size / 16``, the same parameters). The problem: held-out brain slices at
the size, ``--coils`` birdcage coils (SENSE), equispaced 4× (centre 8 %). For each size and
slice batch: compile seconds, run seconds per slice, NFE, and XLA's estimate of the compiled
program's memory (CPU has no allocator statistics). At the config's own size it also runs the
same reconstruction with ``model.dtype = "bfloat16"`` and prints both PSNRs.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()

import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402
import numpy as np  # noqa: E402

import mri  # noqa: E402
import samplers  # noqa: E402
from bench.timing import compiled_mib, machine  # noqa: E402
from run import builders  # noqa: E402
from run.context import load_ema  # noqa: E402
from run.recon.problem import build_problem  # noqa: E402
from run.recon.settings import parse_recon  # noqa: E402


def load_config(path: str):
    spec = importlib.util.spec_from_file_location("bench_fullsize_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def sized(config, size: int, coils: int, dtype: str = "float32"):
    c = load_config(config) if isinstance(config, str) else config
    c.data.image_size = c.model.image_size = size
    c.model.attn_resolutions = (size // 16,)
    c.model.dtype = dtype
    r = c.recon
    r.multicoil, r.num_coils, r.num_slices, r.n_samples = coils > 1, max(coils, 1), 4, 1
    r.mask.kind, r.mask.acceleration, r.mask.center_fraction = "equispaced", 4.0, 0.08
    r.cs_tune = False
    return c


def run(config, params, batch: int, steps: int, method: str) -> dict:
    settings = parse_recon(config)
    problem = build_problem(settings)
    sde, model = builders.build_sde(config), builders.build_model(config)
    score_fn = builders.score_fn_builder(config, sde, model)(params)
    op = problem.operator
    opts = dict(settings.options, num_steps=steps)

    def fn(rng, y):
        mean, _, nfe = samplers.posterior_mean_std(rng, sde, score_fn, op, y, 1, method, False, **opts)
        return jnp.abs(samplers.to_complex(mean)), nfe

    y = problem.y[:batch]
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(jax.random.PRNGKey(0), y).compile()
    compile_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    image, nfe = jax.block_until_ready(compiled(jax.random.PRNGKey(0), y))
    seconds = time.perf_counter() - t0
    mem = compiled_mib(compiled)
    psnr = float(np.mean([m["psnr"] for m in mri.slice_metrics(problem.gt[:batch], np.asarray(image))]))
    return dict(compile=compile_s, per_slice=seconds / batch, nfe=int(nfe), mem=mem, psnr=psnr)


def main(argv=None) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--config", default=os.path.join(here, "configs", "mri", "brain128.py"))
    p.add_argument("--workdir", default="", help="a workdir with checkpoints (default: the config's prior_dir)")
    p.add_argument("--sizes", default="128,320")
    p.add_argument("--coils", type=int, default=15)
    p.add_argument("--batches", default="1,4")
    p.add_argument("--steps", type=int, default=50)
    p.add_argument("--method", default="dds")
    args = p.parse_args(argv)
    base = load_config(args.config)
    _, params, step = load_ema(base, args.workdir or os.path.join("/tmp", f"bench_fullsize_{os.getpid()}"))
    print(f"# {args.method}, {args.steps} NFE, {args.coils} coils, equispaced 4x; prior step {step}; {machine()}\n")
    print("| size | slices per call | compile s | s / slice | NFE | XLA memory estimate (MiB) | PSNR (dB) |")
    print("|---|---|---|---|---|---|---|")
    own = int(base.data.image_size)
    for size in [int(s) for s in args.sizes.split(",")]:
        rows = {}
        for batch in [int(b) for b in args.batches.split(",")]:
            rows[batch] = r = run(sized(args.config, size, args.coils), params, batch, args.steps, args.method)
            print(f"| {size} | {batch} | {r['compile']:.0f} | {r['per_slice']:.1f} | {r['nfe']} | {r['mem']:.0f} "
                  f"| {r['psnr']:.2f} |", flush=True)
        if size == own:
            b = min(rows)
            f32 = rows[b]   # the float32 run of the same slices, already done above
            bf16 = run(sized(args.config, size, args.coils, "bfloat16"), params, b, args.steps, args.method)
            print(f"\nbfloat16 at {size} px: PSNR {bf16['psnr']:.3f} vs float32 {f32['psnr']:.3f} dB "
                  f"(difference {bf16['psnr'] - f32['psnr']:+.3f}), {bf16['per_slice']:.1f} vs "
                  f"{f32['per_slice']:.1f} s / slice\n")


if __name__ == "__main__":
    main()
