"""The DDPM variational bound against its closed form on Gaussian data, against the exact ODE
likelihood of a mixture, the unbiasedness of the t-sampled estimate, and the 8-bit decoder."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.stats import norm

import samplers
import sde_lib
from test_cosine import paper_alpha_bar

MEAN, VAR = np.array([0.5, -0.3]), np.array([0.3, 0.8])      # Gaussian data N(MEAN, diag VAR)
GAUSS = sde_lib.GaussianMixture.gaussian(MEAN, np.diag(VAR))
decoder_logp = jax.jit(samplers.discretized_gaussian_log_likelihood)   # eager log_ndtr is slow


def chain_betas(kind, n):
    """β written out again from the papers, for an independent reference."""
    if kind == "linear":                                       # VPSDE(0.1, 20, N)'s chain
        return np.linspace(0.1 / n, 20.0 / n, n)
    abar = paper_alpha_bar(np.arange(n + 1) / n)
    return np.minimum(1 - abar[1:] / abar[:-1], 0.999)


def closed_form_nats(betas, x0, variance):
    """E over x_i ~ q(x_i | x0) of every bound term, for N(MEAN, diag VAR) data and the exact
    score of the chain's marginals: (prior [B], terms [B, N]) in nats. The model's x̂0 is the
    posterior mean m + K (x_i - a m), K = a c / (a² c + s²), so E (x0 - x̂0)² per dimension is
    (1 - a K)² (x0 - m)² + K² s², and every KL is between Gaussians."""
    abar = np.cumprod(1 - betas)
    abar_prev = np.concatenate([[1.0], abar[:-1]])
    post = (1 - abar_prev) / (1 - abar) * betas
    terms = np.zeros((x0.shape[0], len(betas)))
    for i in range(len(betas)):
        a, s2 = math.sqrt(abar[i]), 1 - abar[i]
        k = a * VAR / (a * a * VAR + s2)
        err = (1 - a * k) ** 2 * (x0 - MEAN) ** 2 + k**2 * s2
        var = betas[i] if variance == "fixed_large" else post[max(i, 1)]
        if i == 0:                                             # Gaussian decoder, mean x̂0
            terms[:, 0] = np.sum(0.5 * (np.log(2 * np.pi * var) + err / var), 1)
        else:
            c0 = betas[i] * math.sqrt(abar_prev[i]) / (1 - abar[i])
            terms[:, i] = np.sum(0.5 * (np.log(var / post[i]) + post[i] / var - 1 + c0**2 * err / var), 1)
    a2, s2 = abar[-1], 1 - abar[-1]
    prior = np.sum(0.5 * (s2 + a2 * x0**2 - 1 - np.log(s2)), 1)
    return prior, terms


def make_sde(kind, n):
    return sde_lib.VPSDE(0.1, 20.0, n) if kind == "linear" else sde_lib.CosineVPSDE(N=n)


def to_nats(bpd, d=2):
    return np.asarray(bpd, np.float64) * d * math.log(2.0)


@pytest.mark.parametrize("kind", ["linear", "cosine"])
@pytest.mark.parametrize("variance", ["fixed_large", "fixed_small"])
def test_exact_sum_equals_the_closed_form_on_gaussian_data(kind, variance):
    n, reps = 100, 512
    points = np.array([[0.5, -0.3], [1.4, 0.9], [-0.4, -1.5]])
    sde = make_sde(kind, n)
    x0 = jnp.asarray(np.repeat(points, reps, axis=0), jnp.float32)
    vlb = samplers.ddpm_vlb(jax.random.PRNGKey(0), sde, GAUSS.score_fn(sde, discrete=True), x0,
                            variance=variance, decoder="gaussian", chunk=32)
    assert vlb.terms_bpd.shape == (3 * reps, n) and int(vlb.nfe) == n
    prior, terms = closed_form_nats(chain_betas(kind, n), points, variance)
    np.testing.assert_allclose(to_nats(vlb.prior_bpd).reshape(3, reps)[:, 0], prior, rtol=1e-4, atol=1e-6)
    total = to_nats(vlb.bpd).reshape(3, reps)
    mean, se = total.mean(1), total.std(1, ddof=1) / math.sqrt(reps)
    ref = prior + terms.sum(1)
    assert np.all(np.abs(mean - ref) < 3.5 * se), (mean, ref, se)
    # the total is the sum of its parts
    np.testing.assert_allclose(vlb.bpd, vlb.prior_bpd + vlb.terms_bpd.sum(1), rtol=1e-5)


def test_bound_lies_above_the_exact_nll_of_a_mixture_and_tightens_with_n():
    """E[VLB] >= E[-log p(x0)] (the ODE likelihood with the exact score; both densities in model
    space), and with σ² = β_i the gap shrinks as the chain is refined: ≈ 0.25, 0.03 nats per
    sample at N = 21, 200 (per-sample spread ≈ 1.6 nats, so n = 4096 gives standard errors 0.025)."""
    gmm = sde_lib.GaussianMixture([0.2, 0.5, 0.3], [[-2.0, 0.0], [1.0, 1.0], [2.0, -2.0]],
                                  [[[0.3, 0.1], [0.1, 0.2]], [[0.1, 0.0], [0.0, 0.4]], [[0.5, -0.2], [-0.2, 0.3]]])
    x0 = gmm.sample(jax.random.PRNGKey(0), 4096)
    vp = sde_lib.VPSDE(0.1, 20.0, 1000)
    logp, _ = samplers.log_likelihood(jax.random.PRNGKey(0), vp, gmm.score_fn(vp), x0, estimator="exact")
    nll = -np.asarray(logp, np.float64)
    gaps = {}
    for n in (21, 200):
        sde = sde_lib.VPSDE(0.1, 20.0, n)
        vlb = samplers.ddpm_vlb(jax.random.PRNGKey(1), sde, gmm.score_fn(sde, discrete=True), x0,
                                variance="fixed_large", decoder="gaussian")
        gap = to_nats(vlb.bpd) - nll
        gaps[n] = (gap.mean(), gap.std(ddof=1) / math.sqrt(len(gap)))
        assert gaps[n][0] > -3 * gaps[n][1], (n, gaps[n])
    (g_lo, se_lo), (g_hi, se_hi) = gaps[21], gaps[200]
    assert g_lo - g_hi > 3 * math.hypot(se_lo, se_hi), gaps
    assert g_hi < 0.25 * g_lo + 3 * se_hi, gaps


@pytest.mark.parametrize("variance", ["fixed_large", "fixed_small"])
def test_sampled_estimate_is_unbiased(variance):
    n, reps = 50, 8192
    points = np.array([[0.5, -0.3], [1.4, 0.9]])
    sde = make_sde("linear", n)
    x0 = jnp.asarray(np.repeat(points, reps, axis=0), jnp.float32)
    vlb = samplers.ddpm_vlb(jax.random.PRNGKey(3), sde, GAUSS.score_fn(sde, discrete=True), x0,
                            variance=variance, decoder="gaussian", estimator="sampled")
    assert vlb.terms_bpd.shape == (2 * reps,) and int(vlb.nfe) == 1
    assert len(np.unique(np.asarray(vlb.t_index))) == n          # every step gets drawn
    est = to_nats(vlb.bpd).reshape(2, reps)
    prior, terms = closed_form_nats(chain_betas("linear", n), points, variance)
    mean, se = est.mean(1), est.std(1, ddof=1) / math.sqrt(reps)
    assert np.all(np.abs(mean - (prior + terms.sum(1))) < 3 * se), (mean, prior + terms.sum(1), se)


def test_learned_variance_interpolates_between_the_fixed_ones():
    sde = make_sde("linear", 30)
    score = GAUSS.score_fn(sde, discrete=True)
    x0 = GAUSS.sample(jax.random.PRNGKey(0), 16)
    run = lambda **kw: jax.jit(lambda x: samplers.ddpm_vlb(jax.random.PRNGKey(4), sde, score, x,
                                                           decoder="gaussian", **kw))(x0)
    for v_raw, fixed in ((-1.0, "fixed_small"), (1.0, "fixed_large")):
        learned = run(variance="learned", var_fn=lambda x, t, v=v_raw: jnp.full_like(x, v))
        np.testing.assert_allclose(learned.terms_bpd, run(variance=fixed).terms_bpd, rtol=1e-5, atol=1e-6)


def test_discretized_decoder_sums_to_one_over_the_bins():
    levels = jnp.linspace(-1.0, 1.0, 256)[:, None]                    # every pixel value, [256, 1]
    cases = np.array([(0.0, 0.01), (0.3, 0.5), (-0.999, 1e-4), (1.7, 0.2), (0.1, 20.0), (0.5, 1e-3)])
    mean, log_var = jnp.asarray(cases[:, 0])[None], jnp.asarray(2 * np.log(cases[:, 1]))[None]
    logp = decoder_logp(levels, mean, log_var)   # [256, 6]
    np.testing.assert_allclose(jnp.sum(jnp.exp(logp), axis=0), 1.0, atol=1e-4)
    # a middle bin is Φ(b) - Φ(a) with edges half a level either side; the ends are open
    x, mean, std = jnp.array([0.2, -1.0, 1.0]), 0.15, 0.3
    logp = decoder_logp(x, jnp.full(3, mean), jnp.full(3, 2 * math.log(std)))
    k = np.round((np.asarray(x, np.float64) + 1) * 127.5)
    c = -1 + k / 127.5
    ref = [norm.cdf(c[0] + 1 / 255, mean, std) - norm.cdf(c[0] - 1 / 255, mean, std),
           norm.cdf(-1 + 1 / 255, mean, std), norm.sf(1 - 1 / 255, mean, std)]
    np.testing.assert_allclose(np.exp(np.asarray(logp)), ref, rtol=1e-4)
    # far in a tail the log-probability stays finite (no cancellation to log 0)
    far = decoder_logp(jnp.array([0.5]), jnp.array([-0.9]), jnp.array([2 * math.log(0.02)]))
    assert np.isfinite(float(far[0])) and float(far[0]) < -1000


def test_discretized_bound_on_8bit_data_is_a_bound_on_bits():
    rng = np.random.default_rng(0)
    k = rng.integers(80, 176, size=(64, 3, 3, 1))
    x0 = jnp.asarray(k / 127.5 - 1.0, jnp.float32)
    sde = make_sde("linear", 40)
    vlb = samplers.ddpm_vlb(jax.random.PRNGKey(0), sde, lambda x, t: -x, x0, decoder="discretized")
    assert np.all(np.isfinite(vlb.bpd)) and np.all(np.asarray(vlb.terms_bpd[:, 0]) >= 0)   # -log2 of a probability
    assert np.all(np.asarray(vlb.terms_bpd[:, 1:]) >= -1e-6)                                 # KLs


def test_errors_name_what_is_wrong():
    x0 = jnp.zeros((2, 2))
    ve = sde_lib.VESDE()
    with pytest.raises(ValueError, match="chain"):
        samplers.ddpm_vlb(jax.random.PRNGKey(0), ve, lambda x, t: -x, x0)
    vp = make_sde("linear", 30)
    with pytest.raises(ValueError, match="var_fn"):
        samplers.ddpm_vlb(jax.random.PRNGKey(0), vp, lambda x, t: -x, x0, variance="learned")
    with pytest.raises(ValueError, match="fixed_small"):
        samplers.ddpm_vlb(jax.random.PRNGKey(0), vp, lambda x, t: -x, x0, variance="beta")
    with pytest.raises(ValueError, match="sampled"):
        samplers.ddpm_vlb(jax.random.PRNGKey(0), vp, lambda x, t: -x, x0, estimator="hutchinson")
