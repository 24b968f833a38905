"""``--mode recon``: MRI reconstruction from undersampled k-space with the trained prior.

    python main.py --config configs/mri/brain_recon.py --workdir runs/brain --mode recon

Steps: load the latest checkpoint's EMA parameters (the prior); parse ``config.recon`` once
(:mod:`~run.recon.settings`); build the problem (:mod:`~run.recon.problem`) — k-space of held-out
slices simulated from the test split of ``config.data`` (single-coil, or multi-coil with
birdcage maps) or read from a fastMRI file (``recon.fastmri_path``, retrospectively
undersampled); reconstruct with ``recon.method`` and the zero-filled and compressed-sensing
baselines (:mod:`~run.recon.methods`; ``recon.n_samples`` posterior samples per slice: their
mean is the reconstruction, their std the uncertainty map; each CS method of ``recon.cs_method``
with λ tuned on validation slices of the training split when ``recon.cs_tune``,
:mod:`~run.recon.validation`); write (:mod:`~run.recon.output`) to ``<workdir>/recon/<name>/``:

- ``images.npz``: ground truth, mask, every method's images, the std map;
- ``metrics.csv`` / ``metrics.json``: NMSE, PSNR, SSIM per slice and their mean, seconds, NFE;
  the JSON also holds, per CS method, λ (absolute and relative to max|A^H y|), its source, the
  tuning table, the iterations and the objective of every iterate, and for the posterior the
  Spearman correlation of std with |error| and the ±2σ coverage (object support);
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
from run.recon.methods import choose_gamma, needs_validation, run_baselines, run_cs, run_posterior
from run.recon.output import format_table, summarize, write_outputs
from run.recon.problem import Problem, build_problem
from run.recon.settings import (ReconConfigError, ReconSettings, as_settings, parse_complex_prior, parse_recon,
                                run_name, validate_recon)
from run.recon.validation import choose_lambda, validation_data


def reconstruct_with(config, sde, score_fn: Callable, out_dir: str | None = None, overwrite: bool = False,
                     step: int | None = None) -> dict:
    """Everything after loading the prior: problem, ours, baselines, metrics, files (if out_dir;
    an existing folder is refused unless ``overwrite``). ``config``: a config or its parsed
    :class:`ReconSettings`; ``step``: the prior's checkpoint, recorded in metrics.json.

    Returns the JSON summary (``{"meta", "methods"}``) when files are written, else its
    ``"methods"`` part (``{method: {"mean", "per_slice", "seconds", "nfe", ...}}``, see
    :func:`~run.recon.output.summarize`).
    """
    s = as_settings(config)
    if out_dir is not None:
        check_new(out_dir, overwrite)   # before any compute
    problem = build_problem(s)
    validation = validation_data(problem, s) if needs_validation(s) else None   # one draw for CS λ and gamma
    results = run_baselines(problem, s, validation)
    results[s.method] = run_posterior(problem, sde, score_fn, s, validation=validation)
    if out_dir is None:
        return summarize(problem, results, s.n_samples)
    ops = problem.operator   # one operator, or one per slice (multi-coil fastMRI files)
    meta = dict(method=s.method, options={k: str(v) for k, v in s.options.items()},
                complex_prior=results[s.method]["complex_prior"], source=problem.source,
                slices=problem.slice_ids, noise_std=s.noise_std, n_samples=s.n_samples,
                mask=f"{s.mask_label} (achieved {mri.mask_acceleration(problem.mask):.2f}x), "
                     f"centre {s.center_fraction:g}",
                operator=type(ops[0] if isinstance(ops, list) else ops).__name__, cs_iters=s.cs_iters,
                cs_tune=s.cs_tune)
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


__all__ = ["Problem", "ReconConfigError", "ReconSettings", "build_problem", "choose_gamma", "choose_lambda", "fit_gaussian_prior",
           "format_table", "parse_complex_prior", "parse_recon", "reconstruct", "reconstruct_with", "run_baselines",
           "run_cs", "run_name", "run_posterior", "summarize", "validate_recon", "validation_data", "write_outputs"]
