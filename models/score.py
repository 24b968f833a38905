"""The map from a network's raw output to a score function s(x, t) for any SDE.

Two choices, both read from the config and neither dispatching on the SDE's class:
- ``label``: what the network is conditioned on. "time" feeds t·(N-1) (score_sde's continuous
  VP convention; with ``continuous=False`` the integer step index), "sigma" feeds the marginal
  std σ_t (NCSN / VE convention; the network takes the log itself).
- ``output``: "eps" means the network predicts the noise ε and s = -ε / σ_t (DDPM); "score"
  means the output is already a score (e.g. NCSN++ with ``scale_by_sigma`` divides by σ itself).
With ``continuous=False`` σ_t is the discrete chain's (sqrt(1 - ᾱ_i) or the SMLD σ_i), which is
what the DDPM and SMLD losses train against.

A network may return more channels than its input (ADM with a learned variance returns ε and
then v, ``[B, H, W, 2C]``): the prediction is the first C channels (the input's), the rest is
left to whoever reads it (``models.split_adm_output``).
"""
from __future__ import annotations

from typing import Any, Callable

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast

OUTPUTS = ("eps", "score")
LABELS = ("time", "sigma")


def check_parametrization(output: str, label: str) -> None:
    if output not in OUTPUTS:
        raise ValueError(f"unknown model output type {output!r}; valid: {list(OUTPUTS)}")
    if label not in LABELS:
        raise ValueError(f"unknown model label type {label!r}; valid: {list(LABELS)}")


def noise_std(sde: SDE, t: jax.Array, continuous: bool) -> jax.Array:
    return sde.marginal_coeffs(t)[1] if continuous else sde.discrete_std(t)


def noise_labels(sde: SDE, t: jax.Array, label: str, continuous: bool) -> jax.Array:
    if label == "sigma":
        return noise_std(sde, t, continuous)
    if continuous:
        return t * (sde.N - 1) / sde.T
    return sde.timestep_index(t).astype(jnp.float32)


def make_score_fn(sde: SDE, apply_fn: Callable[..., jax.Array], params: Any, *, output: str = "eps",
                  label: str = "time", continuous: bool = True, train: bool = False,
                  rng: jax.Array | None = None) -> Callable[[jax.Array, jax.Array], jax.Array]:
    """Wrap ``apply_fn(params, x, labels, train=..., rngs=...)`` as ``score_fn(x, t)``.

    ``rng`` seeds dropout when ``train`` is true.
    """
    check_parametrization(output, label)

    def score_fn(x: jax.Array, t: jax.Array) -> jax.Array:
        labels = noise_labels(sde, t, label, continuous)
        kwargs = {"rngs": {"dropout": rng}} if (train and rng is not None) else {}
        out = apply_fn(params, x, labels, train=train, **kwargs)
        if out.shape[-1] > x.shape[-1]:
            out = out[..., : x.shape[-1]]
        if output == "eps":
            return -out / bcast(noise_std(sde, t, continuous), out)
        return out

    return score_fn
