"""sigpy's L1-wavelet reconstruction (``sigpy.mri.app.L1WaveletRecon``) on bench_mri's problems.

An outside reference for our CS baselines: another toolkit's standard compressed-sensing recon
(accelerated proximal gradient; its default Daubechies-4 wavelet, or another) on exactly the
same k-space, with its λ tuned the same way as ours (the same validation slices, the same grid
of λ relative to max|Aᴴy|, growing past a winning end). sigpy is never a dependency of the
project: the bench runs this only when it is installed (``pip install sigpy``).

Before anything runs, :func:`check_same_forward` checks that sigpy's SENSE operator maps the
ground truth to our operator's measurements (centred orthonormal FFT, same coil maps and mask),
so both toolkits solve the same problem.
"""
from __future__ import annotations

import importlib.util
import time

import numpy as np

import mri
from mri.tuning import grid_search
from run.recon.problem import Problem
from run.recon.validation import lambda_unit, reference_operator

DEFAULT_WAVELET = "db4"   # L1WaveletRecon's own default


def name(wavelet: str = DEFAULT_WAVELET) -> str:
    """The row's name in the bench table."""
    return f"sigpy_l1_{wavelet}"


def available() -> bool:
    return importlib.util.find_spec("sigpy") is not None


def _maps(op, slice_index: int) -> np.ndarray:
    """sigpy's ``mps`` ``[C, H, W]`` for one slice: the coil maps, or ones for a single coil."""
    if isinstance(op, (list, tuple)):
        op = op[slice_index]
    if hasattr(op, "sens"):
        return np.asarray(op.sens, np.complex64)
    return np.ones((1,) + tuple(np.shape(op.mask)), np.complex64)


def _coil_axis(y: np.ndarray) -> np.ndarray:
    """One slice's k-space with a coil axis, as sigpy wants it."""
    return y if y.ndim == 3 else y[None]


def check_same_forward(problem: Problem, atol: float = 1e-4) -> float:
    """Largest |sigpy Sense(gt) - our forward(gt)| over the first slice, relative to max|y|;
    raises if it exceeds ``atol`` (the toolkits would solve different problems)."""
    import sigpy.mri as smri
    ours = np.asarray(reference_operator(problem).forward(np.asarray(problem.gt[:1], np.complex64)))[0]
    theirs = smri.linop.Sense(_maps(problem.operator, 0), weights=np.asarray(problem.mask, np.float32))(
        np.asarray(problem.gt[0], np.complex64))
    err = float(np.max(np.abs(_coil_axis(ours) - theirs)) / max(np.max(np.abs(ours)), 1e-12))
    if err > atol:
        raise RuntimeError(f"sigpy's SENSE operator differs from ours by {err:.2e} (relative): the FFT or "
                           "coil-map conventions disagree, so its numbers would not be comparable")
    return err


def reconstruct(y, op, mask, rel_lam: float, n_iter: int, objective: bool = False, wavelet: str = DEFAULT_WAVELET):
    """Magnitudes ``[S, H, W]`` of sigpy's L1-wavelet recon of each slice of ``y`` with
    λ = ``rel_lam`` · max|Aᴴy| (our unit, over the whole batch) and PyWavelets' ``wavelet``
    (sigpy's transform: decimated, zero-padded edges); with ``objective``, also the objective of
    every iterate summed over slices (sigpy records it per iteration)."""
    import sigpy.mri as smri
    y = np.asarray(y, np.complex64)
    lam = rel_lam * lambda_unit(op, y)
    weights = np.asarray(mask, np.float32)
    images, trace = [], None
    for i in range(len(y)):
        app = smri.app.L1WaveletRecon(_coil_axis(y[i]), _maps(op, i), lam, weights=weights,
                                      wave_name=wavelet, max_iter=n_iter, show_pbar=False,
                                      save_objective_values=objective)
        images.append(np.abs(app.run()))
        if objective:
            values = np.asarray(app.objective_values, np.float64)
            trace = values if trace is None else trace + values
    return np.stack(images).astype(np.float32), trace


def run(problem: Problem, validation, n_iter: int = 200, wavelet: str = DEFAULT_WAVELET) -> dict:
    """sigpy's L1-wavelet recon of ``problem`` with λ tuned on ``validation`` (``(y, gt)`` of
    :func:`run.recon.validation_data`), in the format of :func:`run.recon.methods.run_cs`."""
    check_same_forward(problem)
    y_val, gt_val = validation
    val_op = reference_operator(problem)
    t0 = time.perf_counter()

    def score(rel: float) -> dict:
        image = reconstruct(y_val, val_op, problem.mask, rel, n_iter, wavelet=wavelet)[0]
        return mri.mean_metrics(mri.slice_metrics(np.asarray(gt_val), image))
    best = grid_search(score, mri.DEFAULT_REL_GRID)
    tuning = dict(rel_lam=best["value"], psnr=best["psnr"], at_edge=best["at_edge"], extended=best["extended"],
                  seconds=time.perf_counter() - t0, n_val=int(len(gt_val)))
    t0 = time.perf_counter()
    image, objective = reconstruct(problem.y, problem.operator, problem.mask, best["value"], n_iter, objective=True,
                                   wavelet=wavelet)
    seconds = time.perf_counter() - t0
    change = abs(objective[-1] - objective[-2]) / abs(objective[-1]) if len(objective) > 1 else float("nan")
    scale = lambda_unit(problem.operator, np.asarray(problem.y, np.complex64))
    return dict(image=image, seconds=seconds, compile_seconds=0.0, nfe=0,
                cs=dict(method=f"sigpy L1WaveletRecon ({wavelet})", iters=n_iter, objective=objective.tolist(),
                        objective_rel_change=float(change), rel_lam=best["value"], lam=best["value"] * scale,
                        source=f"tuned on {len(gt_val)} validation slices", tuning=tuning))
