"""Score-matching objectives as pure functions of (params, batch, rng).

A ``score_fn_builder(params, rng, train) -> score_fn(x, t)`` turns parameters into a score
function (models.make_score_fn gives one for Flax networks; any callable works). ``rng`` seeds
dropout and may be ``None`` when ``train`` is false. Every loss returns a scalar; nothing here
names a device axis, so the same function runs under jit on a sharded batch, or in a user's
own pmap / shard_map with their own pmean.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from sde_lib import SDE, bcast

ScoreFnBuilder = Callable[..., Callable[[jax.Array, jax.Array], jax.Array]]


def _reduce(v: jax.Array, reduce_mean: bool) -> jax.Array:
    """Per-sample reduction over all but the batch axis."""
    v = v.reshape(v.shape[0], -1)
    return jnp.mean(v, axis=1) if reduce_mean else jnp.sum(v, axis=1)


def dsm_loss(sde: SDE, score_fn_builder: ScoreFnBuilder, *, reduce_mean: bool = False,
             likelihood_weighting: bool = False, eps: float = 1e-5, train: bool = True):
    """Continuous denoising score matching with t ~ U(eps, T).

    Default weighting λ(t) = σ_t² gives ‖σ_t s + z‖²; ``likelihood_weighting`` uses λ = g(t)²
    (Song et al., 2021b), giving ‖s + z / σ_t‖² g(t)², a bound on the negative log-likelihood.
    """
    def loss_fn(params, batch, rng):
        k_t, k_z, k_drop = jax.random.split(rng, 3)
        t = jax.random.uniform(k_t, (batch.shape[0],), minval=eps, maxval=sde.T)
        z = jax.random.normal(k_z, batch.shape, batch.dtype)
        mean, std = sde.marginal_prob(batch, t)
        x_t = mean + bcast(std, batch) * z
        score = score_fn_builder(params, k_drop, train)(x_t, t)
        if likelihood_weighting:
            g2 = sde.sde(jnp.zeros_like(batch), t)[1] ** 2
            per = _reduce((score + z / bcast(std, z)) ** 2, reduce_mean) * g2
        else:
            per = _reduce((score * bcast(std, z) + z) ** 2, reduce_mean)
        return jnp.mean(per)
    return loss_fn


def discrete_loss(sde: SDE, score_fn_builder: ScoreFnBuilder, *, reduce_mean: bool = True,
                  scale: float = 1.0, train: bool = True):
    """Denoising on the SDE's discrete chain: step i ~ U{0, …, N-1}, x_i = alpha_i x0 + sigma_i z.

    With the network's ε = -sigma_i s this is ``scale`` · ‖ε_θ - z‖²: DDPM's L_simple on a VP
    SDE (ᾱ_i of the linear-β chain) and NCSN's loss ½ σ_i² ‖s + z/σ_i‖² on the SMLD ladder of a
    VE SDE. Both come from ``sde.discrete_coeffs``, so one function serves every SDE.
    """
    def loss_fn(params, batch, rng):
        k_i, k_z, k_drop = jax.random.split(rng, 3)
        i = jax.random.randint(k_i, (batch.shape[0],), 0, sde.N)
        t = sde.discrete_time(i)
        alpha, sigma = sde.discrete_coeffs(t)
        z = jax.random.normal(k_z, batch.shape, batch.dtype)
        x_t = bcast(alpha, batch) * batch + bcast(sigma, batch) * z
        score = score_fn_builder(params, k_drop, train)(x_t, t)
        eps_pred = -bcast(sigma, score) * score
        return scale * jnp.mean(_reduce((eps_pred - z) ** 2, reduce_mean))
    return loss_fn


def ddpm_loss(sde, score_fn_builder, *, reduce_mean: bool = True, train: bool = True):
    """DDPM's L_simple = E‖ε_θ(x_i, i) - ε‖² (Ho et al., 2020)."""
    return discrete_loss(sde, score_fn_builder, reduce_mean=reduce_mean, scale=1.0, train=train)


def smld_loss(sde, score_fn_builder, *, reduce_mean: bool = False, train: bool = True):
    """NCSN's ½ σ_i² ‖s_θ(x̃, σ_i) + (x̃ - x)/σ_i²‖² (Song & Ermon, 2019)."""
    return discrete_loss(sde, score_fn_builder, reduce_mean=reduce_mean, scale=0.5, train=train)


def ssm_loss(sde: SDE, score_fn_builder: ScoreFnBuilder, *, reduce_mean: bool = False,
             eps: float = 1e-5, n_projections: int = 1, train: bool = True):
    """Sliced score matching (Song et al., 2019, variance-reduced form) on p_t, t ~ U(eps, T).

    Per sample: σ_t² [vᵀ ∇_x(vᵀ s) + ½‖s‖²] with Rademacher v. It needs no knowledge of the
    perturbation kernel, only samples of p_t, and equals ½ σ_t² E‖s - ∇log p_t‖² up to a constant.
    """
    def loss_fn(params, batch, rng):
        k_t, k_z, k_v, k_drop = jax.random.split(rng, 4)
        t = jax.random.uniform(k_t, (batch.shape[0],), minval=eps, maxval=sde.T)
        mean, std = sde.marginal_prob(batch, t)
        x_t = mean + bcast(std, batch) * jax.random.normal(k_z, batch.shape, batch.dtype)
        score_fn = score_fn_builder(params, k_drop, train)
        f = lambda x: score_fn(x, t)
        total = 0.0
        for k in jax.random.split(k_v, n_projections):
            v = jax.random.rademacher(k, batch.shape, batch.dtype)
            s, jv = jax.jvp(f, (x_t,), (v,))
            total = total + _reduce(v * jv, reduce_mean) + 0.5 * _reduce(s**2, reduce_mean)
        return jnp.mean(std**2 * total / n_projections)
    return loss_fn


# config name -> loss constructor; the one registry of loss names.
LOSSES = {"dsm": dsm_loss, "ddpm": ddpm_loss, "smld": smld_loss, "ssm": ssm_loss}


def get_loss_fn(sde: SDE, score_fn_builder: ScoreFnBuilder, kind: str = "dsm", **options):
    """``loss_fn(params, batch: [B, ...], rng) -> scalar`` for the named objective.

    kinds: "dsm" (options reduce_mean, likelihood_weighting, eps), "ddpm", "smld"
    (reduce_mean), "ssm" (reduce_mean, eps, n_projections). All take ``train``.
    """
    if kind not in LOSSES:
        raise ValueError(f"unknown loss {kind!r}; valid names: {sorted(LOSSES)}")
    try:
        return LOSSES[kind](sde, score_fn_builder, **options)
    except TypeError as e:
        raise TypeError(f"loss {kind!r}: {e}") from None
