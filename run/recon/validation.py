"""λ of the CS baselines, per setting, from validation slices that are never the test slices.

The validation images are ``recon.cs_val_slices`` images of the TRAINING split of
``config.data`` (a fixed key): for the embedded brain data they are disjoint from the test
split by construction (whole slices apart, with a guard band: datasets/brain.py). They are
measured with the test problem's own operator (mask, coil maps) and noise level, so the setting
(mask kind, acceleration, coils, noise) is that of the test slices; only the images differ.
For a fastMRI file the operator is the file's (estimated maps), the images those of
``config.data``'s training split.
"""
from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np

import datasets
import mri
from run.recon.problem import Problem
from run.recon.settings import ReconConfigError, ReconSettings

VALIDATION_KEY = 11      # the training-split draw that serves as validation slices
NOISE_SEED_OFFSET = 1    # validation noise: seed + 1 (the test problem's noise uses seed)


def reference_operator(problem: Problem):
    """The operator that sets the validation problem: the problem's own, or (one operator per
    slice, multi-coil fastMRI files) the first slice's."""
    return problem.operator[0] if isinstance(problem.operator, (list, tuple)) else problem.operator


def lambda_unit(operator, y) -> float:
    """max|Aᴴy|, the unit of relative λ: over the batch ``y``, or over its first slice when
    ``operator`` is a list of one operator per slice (multi-coil fastMRI files)."""
    if isinstance(operator, (list, tuple)):
        return float(mri.lambda_scale(operator[0], y[:1]))
    return float(mri.lambda_scale(operator, y))


def validation_data(problem: Problem, s: ReconSettings) -> tuple[jax.Array, np.ndarray]:
    """``(y [V, ...], gt [V, H, W])``: validation measurements of the training split, simulated with
    ``problem.operator`` and ``s.noise_std``."""
    train = datasets.get_dataset(s.data, "train")
    x = np.asarray(datasets.inverse_scaler(s.data)(train.batch(jax.random.PRNGKey(VALIDATION_KEY), s.cs_val_slices)),
                   np.float32)
    if x.ndim != 4 or x.shape[-1] not in (1, 2):
        raise ReconConfigError(f"CS tuning needs one-channel (real) or two-channel (Re, Im) training images; "
                               f"{s.data.dataset!r} gives shape {x.shape[1:]}")
    images = x[..., 0] if x.shape[-1] == 1 else x[..., 0] + 1j * x[..., 1]
    if images.shape[-2:] != problem.gt.shape[-2:]:
        raise ReconConfigError(f"training images {images.shape[-2:]} and test slices {problem.gt.shape[-2:]} "
                               "differ in size")
    clean = np.asarray(reference_operator(problem).forward(jnp.asarray(images)))
    rng = np.random.default_rng(s.seed + NOISE_SEED_OFFSET)
    noise = rng.standard_normal(clean.shape) + 1j * rng.standard_normal(clean.shape)
    y = clean + s.noise_std * noise * np.broadcast_to(problem.mask, clean.shape)
    return jnp.asarray(y.astype(np.complex64)), np.abs(images).astype(np.float32)


def choose_lambda(problem: Problem, s: ReconSettings, method: str, validation=None) -> dict:
    """How λ of ``method`` is set on the test slices, and the tuning record:
    ``{"rel_lam", "lam", "source", "tuning"}``. ``recon.cs_lam > 0`` is used as given; else, with
    ``recon.cs_tune``, :func:`mri.tune_cs_lambda` on ``validation`` (``validation_data``, computed
    here when None); else the solver's default ``0.01 max|A^H y|``. ``lam`` is absolute, on the
    test batch (``rel_lam * max|A^H y|``)."""
    op = reference_operator(problem)
    scale = lambda_unit(problem.operator, problem.y)
    if s.cs_lam is not None:
        return dict(rel_lam=s.cs_lam / scale, lam=s.cs_lam, source="fixed (recon.cs_lam)", tuning=None)
    if not s.cs_tune:
        rel = mri.CS_METHODS[method][1]
        return dict(rel_lam=rel, lam=rel * scale, source="default", tuning=None)
    t0 = time.perf_counter()
    y_val, gt_val = validation_data(problem, s) if validation is None else validation
    best = mri.tune_cs_lambda(op, y_val, gt_val, method, n_iter=s.cs_iters)
    tuning = dict(best, n_val=int(len(gt_val)), seconds=time.perf_counter() - t0,
                  validation=f"{len(gt_val)} slices of the {s.data.dataset} train split (key {VALIDATION_KEY})")
    return dict(rel_lam=best["rel_lam"], lam=best["rel_lam"] * scale,
                source=f"tuned on {len(gt_val)} validation slices", tuning=tuning)
