"""The variational bound of a DDPM chain in bits/dim (Ho et al., 2020; Nichol & Dhariwal, 2021).

For the chain q(x_i | x_{i-1}) of ``sde.chain`` (0-based steps i = 0 … N-1, DDPM's t = i + 1)

    -log p_θ(x_0) <= L_prior + Σ_{i=1}^{N-1} L_i + L_0,
    L_prior = KL(q(x_{N-1} | x_0) ‖ N(0, I)),
    L_i     = E_q KL(q(x_{i-1} | x_i, x_0) ‖ p_θ(x_{i-1} | x_i)),      (DDPM's L_{t-1})
    L_0     = -E_q log p_θ(x_0 | x_1)                                   (the decoder)

with p_θ(x_{i-1} | x_i) = N(μ̃_i(x̂_0, x_i), σ_i²): μ̃ is the posterior mean of the chain with
x_0 replaced by the model's Tweedie estimate x̂_0 = (x_i - sqrt(1 - ᾱ_i) ε̂) / sqrt(ᾱ_i).

The model: ``score_fn(x, t)`` as everywhere in the library, evaluated at t = sde.discrete_time(i)
and read as ε̂ = -sqrt(1 - ᾱ_i) · score. For a discrete DDPM network wrapped by
``models.make_score_fn(..., continuous=False)`` (s = -ε_θ(x, i) / sqrt(1 - ᾱ_i)) this returns
ε_θ(x, i) exactly; a continuous-time model is read at the chain's times. An ε-predictor on
indices plugs in as ``lambda x, t: sde_lib.score_from_eps(eps(x, sde.timestep_index(t)),
sde.discrete_std(t))``.

σ_i² (``variance``): "fixed_large" β_i (Ho et al.; at i = 0 this is 1 - ᾱ_0, the noise level
of x_1, so the decoder is well matched and the bound tends to -log p(x_0) as N grows; note that
guided-diffusion's FIXED_LARGE uses β̃_1 at i = 0 instead), "fixed_small" β̃_i (β̃_1 at i = 0,
where β̃_0 = 0; a looser bound that does not tighten with N: near t = 0 it misses ½ Σ (r_i - 1 -
log r_i), r_i = (1 - ᾱ_i) / (1 - ᾱ_{i-1}), whatever N), or "learned": log σ_i² = v log β_i + (1 - v) log β̃_i with v = (v_raw + 1) / 2 and
``var_fn(x, t) -> v_raw`` in [-1, 1] shaped like x, called like score_fn (an ADM network's
second output half, guided-diffusion's "learned_range").

L_0 (``decoder``): "discretized", the discretised Gaussian of 8-bit data: pixel k of L levels sits
at lo + k (hi - lo) / (L - 1) in ``data_range``, its bin has that width, the outer bins extend to
±∞; the result is a bound on -log2 P(pixels) per dimension (comparable with papers' bits/dim).
"gaussian": the density N(x_0; μ, σ_0²) for continuous data; then bits/dim is of a density in
model space (no 8-bit offset; compare with ``samplers.bits_per_dim(..., offset=0)``).

Estimators: "exact" evaluates all N terms (one fresh x_i per term and datum, in chunks of
``chunk`` steps so memory stays at chunk · B samples); "sampled" draws one i ~ U{0, …, N-1} per
datum and returns L_prior + N · L_i, an unbiased estimate of the same sum.
"""
from __future__ import annotations

import math
from typing import Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from sde_lib import SDE, bcast, x0_from_eps

VARIANCES = ("fixed_small", "fixed_large", "learned")
DECODERS = ("discretized", "gaussian")
VLB_ESTIMATORS = ("exact", "sampled")


class VLB(NamedTuple):
    """bpd ``[B]``: the bound; prior_bpd ``[B]``: L_prior; terms_bpd: ``[B, N]`` (exact, column i
    is L_i, column 0 the decoder) or ``[B]`` (sampled: N · L_i at ``t_index`` ``[B]``); nfe: score
    evaluations per datum."""
    bpd: jax.Array
    prior_bpd: jax.Array
    terms_bpd: jax.Array
    t_index: jax.Array
    nfe: jax.Array


def _sum(v: jax.Array) -> jax.Array:
    return jnp.sum(jnp.reshape(v, (v.shape[0], -1)), axis=1)


def normal_kl(mean1, logvar1, mean2, logvar2) -> jax.Array:
    """KL(N(mean1, e^logvar1) ‖ N(mean2, e^logvar2)) elementwise (arguments broadcast)."""
    return 0.5 * (logvar2 - logvar1 + jnp.exp(logvar1 - logvar2)
                  + (mean1 - mean2) ** 2 * jnp.exp(-logvar2) - 1.0)


def _log_normal_mass(a: jax.Array, b: jax.Array) -> jax.Array:
    """log(Φ(b) - Φ(a)) for a < b without cancellation: on the right of 0 use the upper tail."""
    flip = a > 0
    lo, hi = jnp.where(flip, -b, a), jnp.where(flip, -a, b)       # Φ(b) - Φ(a) = Φ(-a) - Φ(-b)
    log_hi, log_lo = log_ndtr(hi), log_ndtr(lo)
    return log_hi + jnp.log1p(-jnp.exp(jnp.minimum(log_lo - log_hi, 0.0)))


def discretized_gaussian_log_likelihood(x: jax.Array, mean: jax.Array, log_var: jax.Array, *,
                                        data_range: tuple = (-1.0, 1.0), num_levels: int = 256) -> jax.Array:
    """log P(bin of x) under N(mean, e^log_var), elementwise; bins of width (hi - lo) / (L - 1)
    centred on the L levels of ``data_range``, the two outer bins open to ±∞. x is read as the
    level nearest to it, so the result depends on x only through its bin."""
    lo, hi = float(data_range[0]), float(data_range[1])
    width = (hi - lo) / (num_levels - 1)
    k = jnp.clip(jnp.round((x - lo) / width), 0, num_levels - 1)
    centre = lo + k * width
    inv_std = jnp.exp(-0.5 * log_var)
    a = jnp.where(k == 0, -jnp.inf, (centre - 0.5 * width - mean) * inv_std)
    b = jnp.where(k == num_levels - 1, jnp.inf, (centre + 0.5 * width - mean) * inv_std)
    return _log_normal_mass(a, b)


def _check(name: str, value: str, valid) -> None:
    if value not in valid:
        raise ValueError(f"unknown {name} {value!r}; valid names: {list(valid)}")


def _chain(sde: SDE):
    chain = getattr(sde, "chain", None)
    if chain is None or not hasattr(chain, "q_posterior"):
        raise ValueError(f"ddpm_vlb needs an SDE with a DDPM chain (sde.chain, e.g. VPSDE or CosineVPSDE); "
                         f"{type(sde).__name__} has none")
    return chain


def _model_log_variance(chain, i, x_t, t, variance: str, var_fn):
    """log σ_i² of p_θ(x_{i-1} | x_i): ``[B]`` for the fixed choices, shaped like x for "learned"."""
    small = chain.posterior_log_variance_clipped[i]
    large = chain.log_betas[i]
    if variance == "fixed_small":
        return bcast(small, x_t)
    if variance == "fixed_large":
        return bcast(large, x_t)
    v = 0.5 * (var_fn(x_t, t) + 1.0)
    return v * bcast(chain.log_betas[i], x_t) + (1.0 - v) * bcast(small, x_t)


def _term_nats(sde, chain, score_fn, var_fn, x0, i, noise, opts) -> jax.Array:
    """L_i in nats ``[B]`` for per-datum steps ``i: [B]`` and one draw x_i = q_sample(x0, i, noise)."""
    t = sde.discrete_time(i)
    x_t = chain.q_sample(x0, i, noise)
    alpha, sigma = chain.sqrt_alphas_cumprod[i], chain.sqrt_one_minus_alphas_cumprod[i]
    eps = -bcast(sigma, x_t) * score_fn(x_t, t)
    x0_hat = x0_from_eps(x_t, eps, alpha, sigma)
    if opts["clip_denoised"]:
        x0_hat = jnp.clip(x0_hat, *opts["data_range"])
    mean_p, _ = chain.q_posterior(x0_hat, x_t, i)
    logvar_p = _model_log_variance(chain, i, x_t, t, opts["variance"], var_fn)
    mean_q, _ = chain.q_posterior(x0, x_t, i)
    kl = _sum(normal_kl(mean_q, bcast(chain.posterior_log_variance_clipped[i], x_t), mean_p, logvar_p))
    if opts["decoder"] == "discretized":
        logp = discretized_gaussian_log_likelihood(x0, mean_p, logvar_p, data_range=opts["data_range"],
                                                   num_levels=opts["num_levels"])
    else:
        logp = -0.5 * (math.log(2 * math.pi) + logvar_p + (x0 - mean_p) ** 2 * jnp.exp(-logvar_p))
    return jnp.where(i == 0, -_sum(logp), kl)


def prior_kl_nats(chain, x0: jax.Array) -> jax.Array:
    """L_prior = KL(q(x_{N-1} | x_0) ‖ N(0, I)) in nats, ``[B]``."""
    last = chain.num_steps - 1
    mean = chain.sqrt_alphas_cumprod[last] * x0
    return _sum(normal_kl(mean, jnp.log1p(-chain.alphas_cumprod[last]), 0.0, 0.0))


def ddpm_vlb(rng: jax.Array, sde: SDE, score_fn: Callable, x0: jax.Array, *,
             variance: str = "fixed_large", var_fn: Optional[Callable] = None,
             decoder: str = "discretized", estimator: str = "exact", data_range: tuple = (-1.0, 1.0),
             num_levels: int = 256, clip_denoised: bool = False, chunk: int = 50) -> VLB:
    """The chain's variational bound on -log p_θ(x0), per datum, in bits/dim (see the module doc).

    x0: ``[B, ...]`` in model space; for decoder "discretized" on the ``num_levels`` grid of
    ``data_range`` (pixel values, not dequantised ones). ``clip_denoised`` clips x̂_0 to
    ``data_range`` (guided-diffusion's image default). ``rng`` draws the x_i (and, for
    "sampled", the steps). Pure and jittable (options static); ``chunk`` steps share one score
    call of batch chunk · B.
    """
    _check("variance", variance, VARIANCES)
    _check("decoder", decoder, DECODERS)
    _check("VLB estimator", estimator, VLB_ESTIMATORS)
    if variance == "learned" and var_fn is None:
        raise ValueError('variance="learned" needs var_fn(x, t) -> v_raw in [-1, 1] (the model\'s variance output)')
    chain = _chain(sde)
    n = chain.num_steps
    x0 = jnp.asarray(x0, jnp.float32)
    b, d = x0.shape[0], math.prod(x0.shape[1:])
    opts = dict(variance=variance, decoder=decoder, data_range=tuple(float(v) for v in data_range),
                num_levels=int(num_levels), clip_denoised=bool(clip_denoised))
    to_bpd = 1.0 / (d * math.log(2.0))
    prior = prior_kl_nats(chain, x0) * to_bpd
    if estimator == "sampled":
        k_i, k_z = jax.random.split(rng)
        i = jax.random.randint(k_i, (b,), 0, n)
        noise = jax.random.normal(k_z, x0.shape, x0.dtype)
        term = n * _term_nats(sde, chain, score_fn, var_fn, x0, i, noise, opts) * to_bpd
        return VLB(prior + term, prior, term, i, jnp.asarray(1, jnp.int32))

    c = max(1, min(int(chunk), n))
    steps = jnp.arange(-(-n // c) * c).reshape(-1, c)            # padded to whole chunks

    def one_chunk(idx):
        idx = jnp.minimum(idx, n - 1)                             # padding repeats the last step
        noise = jax.vmap(lambda j: jax.random.normal(jax.random.fold_in(rng, j), x0.shape, x0.dtype))(idx)
        xs = jnp.broadcast_to(x0[None], (c,) + x0.shape).reshape((c * b,) + x0.shape[1:])
        terms = _term_nats(sde, chain, score_fn, var_fn, xs, jnp.repeat(idx, b),
                           noise.reshape(xs.shape), opts)
        return terms.reshape(c, b)

    terms = jax.lax.map(one_chunk, steps).reshape(-1, b)[:n].T * to_bpd     # [B, N]
    return VLB(prior + jnp.sum(terms, axis=1), prior, terms, jnp.arange(n), jnp.asarray(n, jnp.int32))
