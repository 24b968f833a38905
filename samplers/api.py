"""``samplers.sample``: one entry point over every sampling method, compiled once per setting."""
from __future__ import annotations

import functools
import inspect
from typing import Callable

import jax

from samplers.adaptive_sde import adaptive_sde_sample
from samplers.ddim import ddim_sample
from samplers.dpm_solver import dpm_solver_pp_sample
from samplers.heun import heun_sample
from samplers.ode import ode_sample
from samplers.pc import pc_sample

# name -> fn(rng, sde, score_fn, shape, **options) -> (x, nfe). The one registry of methods;
# sibling modules add theirs here by import, not by side effect.
METHODS: dict[str, Callable] = {
    "pc": pc_sample,
    "ode": ode_sample,
    "ddim": ddim_sample,
    "dpm_solver_pp": dpm_solver_pp_sample,
    "heun": heun_sample,
    "adaptive_sde": adaptive_sde_sample,
}


def get_method(name: str) -> Callable:
    if name not in METHODS:
        raise ValueError(f"unknown sampling method {name!r}; valid names: {sorted(METHODS)}")
    return METHODS[name]


def check_options(fn: Callable, options: dict, what: str) -> None:
    """Reject option names the method does not take, listing the ones it does."""
    params = inspect.signature(fn).parameters
    valid = [n for n, p in params.items() if p.kind == p.KEYWORD_ONLY]
    bad = [k for k in options if k not in valid]
    if bad:
        raise TypeError(f"{what} got unknown option(s) {bad}; valid options: {valid}")


@functools.lru_cache(maxsize=32)
def _compiled(method: str, sde, score_fn, shape: tuple, options: tuple):
    fn = METHODS[method]
    return jax.jit(lambda rng: fn(rng, sde, score_fn, shape, **dict(options)))


def get_sampler(sde, score_fn, shape, method: str = "pc", **options) -> Callable:
    """A compiled ``sampler(rng) -> (x, nfe)``; build once, call many times."""
    fn = get_method(method)
    check_options(fn, options, f"method {method!r}")
    shape = tuple(int(s) for s in shape)
    try:
        return _compiled(method, sde, score_fn, shape, tuple(sorted(options.items())))
    except TypeError:  # an unhashable option value: compile without caching
        return jax.jit(lambda rng: fn(rng, sde, score_fn, shape, **options))


def sample(rng: jax.Array, sde, score_fn, shape, method: str = "pc", **options):
    """Draw ``shape[0]`` samples; returns ``(x: [shape], nfe)`` with nfe the exact score-call count.

    Under an outer ``jax.jit`` (e.g. with model parameters as arguments) this traces inline.
    """
    if isinstance(rng, jax.core.Tracer) or any(isinstance(v, jax.core.Tracer) for v in options.values()):
        fn = get_method(method)
        check_options(fn, options, f"method {method!r}")
        return fn(rng, sde, score_fn, tuple(shape), **options)
    return get_sampler(sde, score_fn, shape, method, **options)(rng)
