"""Reconstructions of a :class:`Problem`: the score-based posterior and the classical baselines,
each timed apart from its compilation."""
from __future__ import annotations

import dataclasses
import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

import datasets
import models
import mri
import samplers
from run.recon.problem import Problem
from run.recon.settings import ReconSettings
from run.recon.validation import choose_lambda, reference_operator, validation_data


def _affine(config_data) -> tuple[float, float]:
    """The data scaler as x_model = a x + b (datasets.scaler is 2x - 1 or the identity)."""
    b = float(datasets.scaler(config_data)(np.zeros(())))
    a = float(datasets.scaler(config_data)(np.ones(()))) - b
    return a, b


def blocks(problem: Problem, batch: int) -> list[tuple[int, int, object]]:
    """``(start, stop, operator)`` of each compiled call: ``batch`` slices that share the
    operator, or one slice at a time when every slice has its own (multi-coil fastMRI files)."""
    n = len(problem.gt)
    if isinstance(problem.operator, (list, tuple)):
        return [(i, i + 1, op) for i, op in enumerate(problem.operator)]
    batch = max(1, min(batch, n))
    return [(i, min(i + batch, n), problem.operator) for i in range(0, n, batch)]


def run_compiled(fn: Callable, calls: list[tuple], compiled: dict | None = None) -> tuple[list, float, float]:
    """``fn(*args)`` for each ``args`` in ``calls`` as one ``jax.jit`` program per distinct input
    shape (operators are arguments, so per-slice operators do not recompile). ``compiled``: the
    programs by input shapes, kept by a caller that runs the same ``fn`` again. Returns the
    outputs (NumPy), the run seconds and the compile seconds."""
    jitted, outs, run_s, compile_s = jax.jit(fn), [], 0.0, 0.0
    compiled = {} if compiled is None else compiled
    for args in calls:
        leaves, tree = jax.tree.flatten(args)
        key = (tree, tuple((jnp.shape(x), jnp.result_type(x)) for x in leaves))
        if key not in compiled:
            t0 = time.perf_counter()
            compiled[key] = jitted.lower(*args).compile()
            compile_s += time.perf_counter() - t0
        t0 = time.perf_counter()
        outs.append(jax.device_get(jax.block_until_ready(compiled[key](*args))))
        run_s += time.perf_counter() - t0
    return outs, run_s, compile_s


# The data-consistency weight: the noise-derived schedule (alpha s / sigma_t)² plus a constant floor
# (dds's ``gamma_floor``), the floor tuned on a half-decade grid grown past a winning end. Why a
# floor and not a constant: measured on the shipped 128 px prior, 8 coils, noise 0.01, 2 test
# slices, 4 samples: equispaced 8x default 30.06 dB, floor 0.1 30.16, best constant (0.1) 28.78;
# Poisson 8x default 33.08, floor 0.3 38.58, best constant (1) 37.69; a small floor is the
# default itself, so the family contains both ends (a constant alone lost 1.2 dB to the default).
GAMMA_FLOOR_GRID: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0)
TUNED_WEIGHT = "gamma_floor"


def _tunes_gamma(s: ReconSettings) -> bool:
    options = samplers.posterior_options(s.method)
    return (s.tune_gamma and s.noise_std > 0 and TUNED_WEIGHT in options
            and not {"gamma", TUNED_WEIGHT} & set(s.options))


def choose_gamma(problem: Problem, sde, score_fn: Callable, s: ReconSettings, validation=None) -> dict | None:
    """The data-consistency weight of a posterior method that has one (dds: ``gamma_floor``, the
    floor under its noise-derived weight), chosen like CS λ: on the validation slices of
    :func:`~run.recon.validation.validation_data` (training split, the test problem's operator
    and noise level, their own noise draw), by the mean PSNR of the reconstruction the test
    slices get (the mean of ``n_samples`` posterior samples), over ``GAMMA_FLOOR_GRID`` (grown
    past a winning end, ``mri.grid_search``). Why the same n: averaging removes the samples'
    spread, so the mean of 4 prefers more weight on the prior than one sample does (measured, 8
    coils, noise 0.01, equispaced 4x, constant weights: one-sample tuning chose 0.3, test 34.7 dB /
    SSIM 0.70; the 4-sample mean chose 1, 35.1 dB / SSIM 0.87). The weight is an argument of one
    compiled program, so the whole grid compiles once.

    Only with ``recon.tune_gamma``, noisy data (``noise_std > 0``: noiseless data is projected
    exactly) and neither ``gamma`` nor ``gamma_floor`` given in the method's options; else None.
    Returns ``{"option", "value", "source", "tuning"}``.
    """
    if not _tunes_gamma(s):
        return None
    t0 = time.perf_counter()
    y_val, gt_val = validation_data(problem, s) if validation is None else validation
    val = Problem(gt=gt_val, y=y_val, operator=reference_operator(problem), mask=problem.mask,
                  complex_data=problem.complex_data, source="validation", slice_ids=list(range(len(gt_val))))
    fn, programs = _posterior_fn(sde, score_fn, s, val.complex_data, dynamic=TUNED_WEIGHT), {}

    def score(value: float) -> dict:
        out = _run_posterior_fn(val, fn, s, jax.random.PRNGKey(s.seed), (jnp.float32(value),), programs)
        return mri.mean_metrics(mri.slice_metrics(gt_val, out["image"]))

    best = mri.grid_search(score, GAMMA_FLOOR_GRID, max_extend=4)
    tuning = dict(psnr=best["psnr"], at_edge=best["at_edge"], extended=best["extended"], table=best["table"],
                  n_val=int(len(gt_val)), seconds=time.perf_counter() - t0)
    return dict(option=TUNED_WEIGHT, value=best["value"], source=f"tuned on {len(gt_val)} validation slices",
                tuning=tuning)


def _posterior_fn(sde, score_fn: Callable, s: ReconSettings, complex_data: bool, dynamic: str | None = None):
    """``fn(rng, y, op[, value]) -> (magnitude, std, nfe)`` of ``s.method`` with ``s.options``;
    ``dynamic`` names an option that is the traced argument ``value`` instead (one program for
    every value of it)."""
    a, b = _affine(s.data)
    complex_prior = s.prior_for(complex_data)
    opts = dict(s.options)
    if "noise_std" in samplers.posterior_options(s.method):
        opts.setdefault("noise_std", a * s.noise_std)

    def fn(rng, y, op, *value):
        view = samplers.PriorView(op, y, complex_prior)
        offset = view.to_image(jnp.full(view.prior_shape, b, jnp.float32))   # the image of x_model = b
        y_model = a * y + op.forward(offset)
        options = {**opts, dynamic: value[0]} if dynamic else opts
        mean, std, nfe = samplers.posterior_mean_std(rng, sde, score_fn, op, y_model, s.n_samples, s.method,
                                                     complex_prior, **options)
        if s.coil_by_coil:   # already a (model-scale) magnitude image
            return mean[..., 0] / a, std[..., 0] / a, nfe
        x = (mean - b) / a
        image = jnp.abs(samplers.to_complex(x)) if x.shape[-1] in (1, 2) else x[..., 0]
        return image, jnp.sqrt(jnp.sum(std**2, axis=-1)) / a, nfe
    return fn


def _run_posterior_fn(problem: Problem, fn: Callable, s: ReconSettings, rng: jax.Array, extra: tuple = (),
                      programs: dict | None = None) -> dict:
    calls = [(jax.random.fold_in(rng, start), problem.y[start:stop], op, *extra)
             for start, stop, op in blocks(problem, s.slice_batch)]
    # DPS differentiates the network in reverse mode only, inside its loop: on CPU its
    # convolutions take models.conv's loop-friendly VJP (XLA's runs ~35x slower in a loop).
    fast = s.method == "dps" and jax.devices()[0].platform == "cpu"
    with models.reverse_mode_convs(fast):   # read while fn is traced (in run_compiled)
        outs, run_s, compile_s = run_compiled(fn, calls, programs)
    return dict(image=np.concatenate([np.asarray(o[0]) for o in outs]),
                std=np.concatenate([np.asarray(o[1]) for o in outs]), seconds=run_s,
                compile_seconds=compile_s, nfe=int(outs[-1][2]), complex_prior=str(s.prior_for(problem.complex_data)))


def run_posterior(problem: Problem, sde, score_fn: Callable, s: ReconSettings, rng: jax.Array | None = None,
                  validation=None) -> dict:
    """Posterior mean (magnitude ``[S, H, W]``), std map, seconds (run) / compile seconds, NFE;
    ``"gamma"``: the record of :func:`choose_gamma` when it chose the method's weight."""
    tuned = choose_gamma(problem, sde, score_fn, s, validation)
    if tuned is not None:
        s = dataclasses.replace(s, options={**s.options, tuned["option"]: tuned["value"]})
    rng = jax.random.PRNGKey(s.seed) if rng is None else rng
    out = _run_posterior_fn(problem, _posterior_fn(sde, score_fn, s, problem.complex_data), s, rng)
    if tuned is not None:
        out["gamma"] = tuned
    return out


def run_cs(problem: Problem, s: ReconSettings, method: str, validation=None) -> dict:
    """One CS baseline (magnitude ``[S, H, W]``) with λ from :func:`~run.recon.validation.choose_lambda`
    and ``s.cs_iters`` iterations; ``"cs"`` records λ, its source, the iterations and the objective
    of every iterate (summed over slices) with its last relative change."""
    lam = choose_lambda(problem, s, method, validation)

    def fn(y, op):
        x, trace = mri.cs_reconstruct(op, y, method, n_iter=s.cs_iters, rel_lam=lam["rel_lam"], return_objective=True)
        return jnp.abs(x), jnp.sum(trace, axis=tuple(range(1, trace.ndim)))

    calls = [(problem.y[start:stop], op) for start, stop, op in blocks(problem, len(problem.gt))]
    outs, run, comp = run_compiled(fn, calls)
    objective = np.sum([np.asarray(o[1], np.float64) for o in outs], axis=0)
    change = abs(objective[-1] - objective[-2]) / abs(objective[-1]) if len(objective) > 1 else float("nan")
    return dict(image=np.concatenate([np.asarray(o[0]) for o in outs]), seconds=run, compile_seconds=comp, nfe=0,
                cs=dict(method=method, iters=s.cs_iters, objective=objective.tolist(),
                        objective_rel_change=float(change), **lam))


def needs_validation(s: ReconSettings) -> bool:
    """Whether CS λ or the posterior's ``gamma`` is tuned on validation slices."""
    return (s.cs_tune and s.cs_lam is None) or _tunes_gamma(s)


def run_baselines(problem: Problem, s: ReconSettings, validation=None) -> dict:
    """Zero-filled ``|A^H y|`` and each compressed-sensing method of ``cs_method`` (as ``cs_<name>``),
    magnitudes ``[S, H, W]``. ``validation``: :func:`validation_data`, if already computed."""
    calls = [(problem.y[start:stop], op) for start, stop, op in blocks(problem, len(problem.gt))]
    images, run, comp = run_compiled(lambda y, op: mri.zero_filled(op, y), calls)
    out = {"zero_filled": dict(image=np.concatenate([np.asarray(i) for i in images]), seconds=run,
                               compile_seconds=comp, nfe=0)}
    if validation is None and s.cs_tune and s.cs_lam is None:
        validation = validation_data(problem, s)
    for method in s.cs_methods:
        out["cs_" + method] = run_cs(problem, s, method, validation)
    return out
