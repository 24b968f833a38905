"""``--mode recon``: MRI reconstruction from undersampled k-space with the trained prior.

    python main.py --config configs/mri/brain_recon.py --workdir runs/brain --mode recon

Steps: load the latest checkpoint's EMA parameters (the prior); parse ``config.recon`` once
(:mod:`~run.recon.settings`); build the problem (:mod:`~run.recon.problem`) — k-space of held-out
slices simulated from the test split of ``config.data`` (single-coil, or multi-coil with
birdcage maps) or read from a fastMRI file (``recon.fastmri_path``, retrospectively
undersampled); reconstruct with ``recon.method`` and the zero-filled and compressed-sensing
baselines (:mod:`~run.recon.methods`; ``recon.n_samples`` posterior samples per slice: their
mean is the reconstruction, their std the uncertainty map); write (:mod:`~run.recon.output`) to
``<workdir>/recon/<name>/``:

- ``images.npz``: ground truth, mask, every method's images, the std map;
- ``metrics.csv`` / ``metrics.json``: NMSE, PSNR, SSIM per slice and their mean, seconds, NFE;
- ``slice_<i>.png``: ground truth, zero-filled, CS, ours, their error maps and the std map.

:func:`reconstruct_with` runs everything after loading the prior for any ``score_fn`` (the
tests and ``bench/bench_mri.py`` use it with :func:`fit_gaussian_prior`, whose score is exact).
"""
from __future__ import annotations

import os
from typing import Callable

import jax

import mri
from run import builders
from run.context import load_ema, start_run
from run.files import check_new
from run.recon.gaussian_prior import fit_gaussian_prior
from run.recon.methods import run_baselines, run_posterior
from run.recon.output import format_table, write_outputs
from run.recon.problem import Problem, build_problem
from run.recon.settings import (ReconConfigError, ReconSettings, as_settings, parse_complex_prior, parse_recon,
                                run_name, validate_recon)


def reconstruct_with(config, sde, score_fn: Callable, out_dir: str | None = None, overwrite: bool = False,
                     step: int | None = None) -> dict:
    """Everything after loading the prior: problem, ours, baselines, metrics, files (if out_dir;
    an existing folder is refused unless ``overwrite``). ``config``: a config or its parsed
    :class:`ReconSettings`; ``step``: the prior's checkpoint, recorded in metrics.json.

    Returns the JSON summary (``{"meta", "methods"}``) when files are written, else
    ``{method: {"mean", "seconds", "nfe"}}``.
    """
    s = as_settings(config)
    if out_dir is not None:
        check_new(out_dir, overwrite)   # before any compute
    problem = build_problem(s)
    results = run_baselines(problem, s)
    results[s.method] = run_posterior(problem, sde, score_fn, s)
    if out_dir is None:
        return {name: dict(mean=mri.mean_metrics(mri.slice_metrics(problem.gt, r["image"])), seconds=r["seconds"],
                           nfe=r["nfe"]) for name, r in results.items()}
    meta = dict(method=s.method, options={k: str(v) for k, v in s.options.items()},
                complex_prior=results[s.method]["complex_prior"], source=problem.source,
                slices=problem.slice_ids, noise_std=s.noise_std, n_samples=s.n_samples,
                mask=f"{s.mask_label} (achieved {mri.mask_acceleration(problem.mask):.2f}x), "
                     f"centre {s.center_fraction:g}",
                operator=type(problem.operator).__name__)
    if step is not None:
        meta["checkpoint_step"] = int(step)
    return write_outputs(out_dir, problem, results, s.method, meta, s.figures, overwrite)


def reconstruct(config, workdir: str, overwrite: bool = False) -> dict:
    """``--mode recon``: reconstruct with the latest EMA checkpoint in ``workdir``; writes
    ``<workdir>/recon/<name>/`` and returns the metrics summary (also printed as a table).
    An existing folder is refused before the checkpoint is read, unless ``overwrite``
    (``recon.name`` picks another folder)."""
    start_run(config)
    settings = parse_recon(config)   # fails before the checkpoint is read
    workdir = builders.prepare_workdir(workdir)
    out_dir = os.path.join(workdir, "recon", settings.name)
    if jax.process_index() == 0:
        check_new(out_dir, overwrite)
    ctx, params, step = load_ema(config, workdir)
    summary = reconstruct_with(settings, ctx.sde, ctx.builder(params), out_dir if jax.process_index() == 0 else None,
                               overwrite, step)
    if jax.process_index() == 0:
        print(format_table(summary["methods"], f"{summary['meta']['mask']}, {len(summary['meta']['slices'])} slices"))
        print(f"wrote {out_dir}/ (images.npz, metrics.csv, metrics.json, slice_*.png)")
    return summary


__all__ = ["Problem", "ReconConfigError", "ReconSettings", "build_problem", "fit_gaussian_prior", "format_table",
           "parse_complex_prior", "parse_recon", "reconstruct", "reconstruct_with", "run_baselines", "run_name",
           "run_posterior", "validate_recon", "write_outputs"]
