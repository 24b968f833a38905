"""Reconstructions of a :class:`Problem`: the score-based posterior and the classical baselines,
each timed apart from its compilation."""
from __future__ import annotations

import time
from typing import Callable

import jax
import jax.numpy as jnp
import numpy as np

import datasets
import mri
import samplers
from run.recon.problem import Problem
from run.recon.settings import ReconSettings
from run.recon.validation import choose_lambda, validation_data


def _affine(config_data) -> tuple[float, float]:
    """The data scaler as x_model = a x + b (datasets.scaler is 2x - 1 or the identity)."""
    b = float(datasets.scaler(config_data)(np.zeros(())))
    a = float(datasets.scaler(config_data)(np.ones(()))) - b
    return a, b


def timed(fn: Callable, *args) -> tuple[object, float, float]:
    """``(fn(*args) as NumPy, run seconds, compile seconds)`` of ``jax.jit(fn)``."""
    t0 = time.perf_counter()
    compiled = jax.jit(fn).lower(*args).compile()
    t1 = time.perf_counter()
    out = jax.device_get(jax.block_until_ready(compiled(*args)))
    return out, time.perf_counter() - t1, t1 - t0


def run_posterior(problem: Problem, sde, score_fn: Callable, s: ReconSettings, rng: jax.Array | None = None) -> dict:
    """Posterior mean (magnitude ``[S, H, W]``), std map, seconds (run) / compile seconds, NFE."""
    a, b = _affine(s.data)
    complex_prior = s.prior_for(problem.complex_data)
    opts = dict(s.options)
    if "noise_std" in samplers.posterior_options(s.method):
        opts.setdefault("noise_std", a * s.noise_std)
    rng = jax.random.PRNGKey(s.seed) if rng is None else rng
    op = problem.operator
    view = samplers.PriorView(op, problem.y[:1], complex_prior)
    offset = view.to_image(jnp.full(view.prior_shape, b, jnp.float32))   # the image of x_model = b
    y_model = a * problem.y + op.forward(offset)

    def fn(rng, y):
        mean, std, nfe = samplers.posterior_mean_std(rng, sde, score_fn, op, y, s.n_samples, s.method,
                                                     complex_prior, **opts)
        if s.coil_by_coil:   # already a (model-scale) magnitude image
            return mean[..., 0] / a, std[..., 0] / a, nfe
        x = (mean - b) / a
        image = jnp.abs(samplers.to_complex(x)) if x.shape[-1] in (1, 2) else x[..., 0]
        return image, jnp.sqrt(jnp.sum(std**2, axis=-1)) / a, nfe

    batch = max(1, min(s.slice_batch, len(problem.gt)))
    images, stds, run_s, compile_s, nfe = [], [], 0.0, 0.0, 0
    for start in range(0, len(problem.gt), batch):
        (image, std, k), run, comp = timed(fn, jax.random.fold_in(rng, start), y_model[start:start + batch])
        run_s, compile_s, nfe = run_s + run, compile_s + comp, int(k)
        images.append(np.asarray(image))
        stds.append(np.asarray(std))
    return dict(image=np.concatenate(images), std=np.concatenate(stds), seconds=run_s,
                compile_seconds=compile_s, nfe=nfe, complex_prior=str(complex_prior))


def run_cs(problem: Problem, s: ReconSettings, method: str, validation=None) -> dict:
    """One CS baseline (magnitude ``[S, H, W]``) with λ from :func:`~run.recon.validation.choose_lambda`
    and ``s.cs_iters`` iterations; ``"cs"`` records λ, its source, the iterations and the objective
    of every iterate (summed over slices) with its last relative change."""
    op = problem.operator
    lam = choose_lambda(problem, s, method, validation)

    def fn(y):
        x, trace = mri.cs_reconstruct(op, y, method, n_iter=s.cs_iters, rel_lam=lam["rel_lam"], return_objective=True)
        return jnp.abs(x), jnp.sum(trace, axis=tuple(range(1, trace.ndim)))

    (image, objective), run, comp = timed(fn, problem.y)
    objective = np.asarray(objective, np.float64)
    change = abs(objective[-1] - objective[-2]) / abs(objective[-1]) if len(objective) > 1 else float("nan")
    return dict(image=np.asarray(image), seconds=run, compile_seconds=comp, nfe=0,
                cs=dict(method=method, iters=s.cs_iters, objective=objective.tolist(),
                        objective_rel_change=float(change), **lam))


def run_baselines(problem: Problem, s: ReconSettings) -> dict:
    """Zero-filled ``|A^H y|`` and each compressed-sensing method of ``cs_method`` (as ``cs_<name>``),
    magnitudes ``[S, H, W]``."""
    op = problem.operator
    image, run, comp = timed(lambda y: mri.zero_filled(op, y), problem.y)
    out = {"zero_filled": dict(image=np.asarray(image), seconds=run, compile_seconds=comp, nfe=0)}
    validation = validation_data(problem, s) if s.cs_tune and s.cs_lam is None else None
    for method in s.cs_methods:
        out["cs_" + method] = run_cs(problem, s, method, validation)
    return out
