"""``samplers.sample``: one entry point over every sampling method, one compiled program each."""
from __future__ import annotations

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


def get_sampler(sde, score_fn, shape, method: str = "pc", **options) -> Callable:
    """A compiled ``sampler(rng) -> (x, nfe)`` that the caller owns: build once, call many times
    (it compiles on the first call). Nothing is cached here: the sampler, its ``score_fn`` and
    whatever parameters that closure holds live exactly as long as the caller keeps them."""
    fn = get_method(method)
    check_options(fn, options, f"method {method!r}")
    shape = tuple(int(s) for s in shape)
    return jax.jit(lambda rng: fn(rng, sde, score_fn, shape, **options))


def sample(rng: jax.Array, sde, score_fn, shape, method: str = "pc", **options):
    """Draw ``shape[0]`` samples; returns ``(x: [shape], nfe)`` with nfe the exact score-call count.

    One compiled program per call (``get_sampler(...)(rng)``); to sample repeatedly, keep a
    ``get_sampler`` result instead. Under an outer ``jax.jit`` (e.g. with model parameters as
    arguments) this traces inline.
    """
    return get_sampler(sde, score_fn, shape, method, **options)(rng)
