"""Accelerated-MRI reconstruction of held-out brain slices: score-based posterior sampling beside
zero-filling and compressed sensing with λ tuned on validation slices.

    python bench/bench_mri.py --workdir runs/brain                 # the trained prior in runs/brain
    python bench/bench_mri.py --gaussian                           # no training: a Gaussian prior
    python bench/bench_mri.py --workdir runs/brain --methods score_mri,dds --num_slices 8 --n_samples 4
    python bench/bench_mri.py --gaussian --size 32 --coils 8 --cs tv,wavelet,wavelet_db4

Settings (the issue's bar): 4x equispaced 1-D Cartesian mask with an 8 % centre, 8x equispaced
with a 4 % centre, and an 8x 2-D variable-density Poisson-disc mask (8 % centre); single coil, or
``--coils C`` birdcage coils (SENSE); noiseless unless ``--noise_std``; ``--num_slices`` slices of
the brain test split (never seen in training) at ``--size`` px (default: the config's
``data.image_size``, 32 px for configs/mri/brain_recon.py).

For each setting the table gives the mean NMSE / PSNR / SSIM over the slices (fastMRI
definitions, data range = the slices' max), the wall seconds of the whole batch after
compilation and the NFE per sample; for the posterior methods, the Spearman rank correlation of
the per-pixel std with |error| and the fraction of pixels with |error| <= 2 std, both over the
object support (ground truth > 5 % of its max), and in the notes the coverage and the ρ a
calibrated sampler with the same std maps would reach with ``--n_samples`` samples
(``mri.calibrated_coverage``, ``mri.calibrated_spearman``: the ceiling of ρ for those maps) and
the ρ of the two maps averaged over 5 x 5 neighbourhoods (``spearman_local``). The
reconstruction is the mean of ``--n_samples`` posterior samples.

With sigpy installed (never a dependency), a ``sigpy_l1_db4`` row runs sigpy's own L1-wavelet
recon (``sigpy.mri.app.L1WaveletRecon``, its default Daubechies-4; ``--sigpy_wavelets db4,haar``
for more rows) on the same k-space, its λ tuned the same way (bench/sigpy_baseline.py;
``--sigpy off`` skips it).

CS rows (``--cs``, default TV and Haar, the best wavelet measured at 32 and 64 px): λ of each is
chosen per setting by a 15-value log-grid search maximising the mean PSNR of ``--cs_val_slices``
slices of the training split measured in the same setting (``recon.cs_tune``,
run/recon/validation.py; the grid grows past an end that wins), then applied to the test slices; the notes name λ (relative to
max|Aᴴy|), the iterations (``--cs_iters``) and the last relative change of the objective.

``--workdir``: restores the latest EMA checkpoint with ``--config`` (``run.context.load_ema``). ``--gaussian``: a Gaussian prior fitted to 4000 training slices in
model space, whose score is exact; it measures the samplers and the pipeline without a
network (a Gaussian is a weak image prior, so absolute numbers are below a trained network's).

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
from run import host_memory, xla_flags  # noqa: E402

host_memory.apply(__name__)   # a script may restart once, with huge pages for malloc (run/host_memory.py)
xla_flags.apply()   # before the first JAX backend starts (run/xla_flags.py)
import mri  # noqa: E402
import samplers  # noqa: E402
import sde_lib  # noqa: E402
from bench import sigpy_baseline  # noqa: E402
from run import builders, recon  # noqa: E402

SETTINGS = [("equispaced", 4.0, 0.08), ("equispaced", 8.0, 0.04), ("poisson", 8.0, 0.08)]


def load_config(path: str):
    spec = importlib.util.spec_from_file_location("bench_recon_config", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.get_config()


def _settings(args, config_path: str, method: str, kind: str, acc: float, centre: float):
    """The parsed recon settings of one method in one setting."""
    c = load_config(config_path)
    _resize(c, args.size)
    c.recon.method = method
    opts = {}
    if args.steps:
        opts["num_steps"] = args.steps
        if method in ("score_mri", "projection"):
            opts["predictor"] = "ancestral_sampling"
    c.recon.options = opts
    c.recon.num_slices, c.recon.n_samples = args.num_slices, args.n_samples
    c.recon.cs_method, c.recon.cs_iters, c.recon.cs_tune = args.cs, args.cs_iters, True
    c.recon.cs_val_slices, c.recon.cs_lam = args.cs_val_slices, 0.0
    c.recon.multicoil, c.recon.num_coils = args.coils > 1, max(args.coils, 1)
    c.recon.noise_std = args.noise_std
    c.recon.mask.kind, c.recon.mask.acceleration, c.recon.mask.center_fraction = kind, acc, centre
    c.recon.figures = False
    return recon.parse_recon(c)


def _resize(config, size: int) -> None:
    if size:
        config.data.image_size = config.model.image_size = size


def main(argv=None) -> None:
    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workdir", help="run directory holding the trained prior's checkpoints")
    p.add_argument("--gaussian", action="store_true", help="use a Gaussian prior fitted to training slices")
    p.add_argument("--config", default=os.path.join(here, "configs", "mri", "brain_recon.py"))
    p.add_argument("--methods", default="score_mri,dds,dps,projection",
                   help="posterior methods, comma-separated ('': the baselines only)")
    p.add_argument("--num_slices", type=int, default=8)
    p.add_argument("--n_samples", type=int, default=4)
    p.add_argument("--steps", type=int, default=0, help="num_steps for every method (0: the config's)")
    p.add_argument("--size", type=int, default=0, help="image size in px (0: the config's data.image_size)")
    p.add_argument("--coils", type=int, default=1, help="1: single coil; C > 1: C birdcage coils, SENSE")
    p.add_argument("--noise_std", type=float, default=0.0, help="k-space noise std (real and imaginary parts)")
    p.add_argument("--cs", default="tv,wavelet", help="CS baselines, each with λ tuned on validation slices")
    p.add_argument("--cs_iters", type=int, default=200)
    p.add_argument("--cs_val_slices", type=int, default=8, help="training-split slices that tune each CS λ")
    p.add_argument("--sigpy", choices=("auto", "on", "off"), default="auto",
                   help="also run sigpy's L1-wavelet recon, λ tuned the same way (auto: when sigpy is installed)")
    p.add_argument("--sigpy_wavelets", default=sigpy_baseline.DEFAULT_WAVELET,
                   help="PyWavelets names for the sigpy rows, comma-separated (e.g. db4,haar)")
    args = p.parse_args(argv)
    if args.sigpy == "on" and not sigpy_baseline.available():
        p.error("--sigpy on needs sigpy (pip install sigpy); it is not installed")
    use_sigpy = args.sigpy == "on" or (args.sigpy == "auto" and sigpy_baseline.available())
    if bool(args.workdir) == bool(args.gaussian):
        p.error("give exactly one of --workdir (a trained prior) or --gaussian")
    config = load_config(args.config)
    _resize(config, args.size)
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
        ckpts = os.path.join(args.workdir, "checkpoints")
        own = os.path.isdir(ckpts) and any(n.isdigit() for n in os.listdir(ckpts))
        prior = (f"EMA checkpoint step {step} in {args.workdir}" if own else
                 f"the shipped prior {config.prior_dir} (EMA, step {step})")
    if not isinstance(sde, sde_lib.SDE):
        raise TypeError("the prior's SDE is not an sde_lib.SDE")

    coils = f"{args.coils} birdcage coils (SENSE)" if args.coils > 1 else "single coil"
    noise = f"k-space noise std {args.noise_std:g}" if args.noise_std else "noiseless"
    print(f"# MRI reconstruction, {config.data.dataset} test split, {config.data.image_size} px, "
          f"{args.num_slices} slices, {coils}, {noise}")
    print(f"prior: {prior}; SDE {type(sde).__name__}(N={sde.N}); device {jax.devices()[0].platform}; "
          f"reconstruction = mean of {args.n_samples} posterior samples; CS λ tuned per setting on "
          f"{args.cs_val_slices} training-split slices, {args.cs_iters} iterations\n")
    for kind, acc, centre in SETTINGS:
        # the baselines' settings (any method's: they differ only in recon.method)
        s = _settings(args, args.config, methods[0] if methods else "dds", kind, acc, centre)
        problem = recon.build_problem(s)
        validation = recon.validation_data(problem, s)   # the same slices tune CS λ and dds's gamma
        results = recon.run_baselines(problem, s, validation)
        for wavelet in [w for w in args.sigpy_wavelets.split(",") if w] if use_sigpy else []:
            results[sigpy_baseline.name(wavelet)] = sigpy_baseline.run(problem, validation, args.cs_iters, wavelet)
        tuning = {k: r["cs"]["tuning"]["seconds"] for k, r in results.items() if "cs" in r}
        for method in methods:
            results[method] = recon.run_posterior(problem, sde, score_fn,
                                                  _settings(args, args.config, method, kind, acc, centre),
                                                  validation=validation)
        summary = recon.summarize(problem, results, args.n_samples)
        print(recon.format_table(summary, f"{kind} {acc:g}x, centre fraction {centre:g}"))
        print("\nλ tuning: " + ", ".join(f"{k} {v:.1f} s" for k, v in tuning.items())
              + f" (grid of {len(mri.DEFAULT_REL_GRID)} × {args.cs_iters} iterations on {args.cs_val_slices} slices)\n")


if __name__ == "__main__":
    main()
