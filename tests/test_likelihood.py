"""Likelihoods through the probability-flow ODE against exact Gaussian log-densities, the
unbiasedness of the trace estimators, exact NFE, and the bits-per-dimension conversion."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import samplers
import sde_lib


def gaussian(d):
    """N(mu, Sigma) in D = d with a full covariance, eigenvalues in [0.6, 2.5], |mu| ~ 0.6.

    Covariances >= ~I keep log p well away from 0 (so 1% is a meaningful tolerance), and a
    small mean keeps the prior mismatch of VE (p_T = N(mu, Sigma + 50² I) vs the model's
    N(0, 50² I), worth ~ z·mu / 50² per sample) far below it.
    """
    rng = np.random.default_rng(d)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    cov = q @ np.diag(np.linspace(0.6, 2.5, d)) @ q.T
    mu = rng.normal(size=d) * 0.6 / math.sqrt(d)
    return sde_lib.GaussianMixture.gaussian(mu, cov)


def make_sde(name):
    return sde_lib.VPSDE() if name == "vp" else sde_lib.VESDE()


_EXACT_CACHE = {}


def exact_trace_logp(sde_name, d):
    """(x [8, d], log-likelihood by the exact trace, nfe), computed once per (SDE, D)."""
    if (sde_name, d) not in _EXACT_CACHE:
        gm = gaussian(d)
        sde = make_sde(sde_name)
        x = gm.sample(jax.random.PRNGKey(d), 8)
        logp, nfe = samplers.log_likelihood(jax.random.PRNGKey(0), sde, gm.score_fn(sde), x,
                                            estimator="exact")
        _EXACT_CACHE[sde_name, d] = (x, logp, nfe)
    return _EXACT_CACHE[sde_name, d]


@pytest.mark.parametrize("sde_name", ["vp", "ve"])
@pytest.mark.parametrize("d", [2, 3, 4])
def test_exact_trace_matches_log_density(sde_name, d):
    x, logp, nfe = exact_trace_logp(sde_name, d)
    exact = gaussian(d).log_prob(x)
    assert logp.shape == (8,) and nfe.dtype == jnp.int32
    assert bool(jnp.all(jnp.abs(logp - exact) <= 0.01 * jnp.abs(exact))), (logp, exact)


@pytest.mark.parametrize("sde_name,estimator", [("vp", "gaussian"), ("ve", "rademacher")])
def test_trace_estimators_are_unbiased(sde_name, estimator):
    """Many independent noise draws at the same points average to the exact-trace value (same
    ODE, so prior mismatch and solver error cancel); tolerance 4 standard errors."""
    d, reps = 3, 256
    points, exact, _ = exact_trace_logp(sde_name, d)
    points, exact = points[:2], np.asarray(exact[:2])
    sde = make_sde(sde_name)
    x = jnp.repeat(points, reps, axis=0)        # every copy gets its own noise draw
    est, _ = samplers.log_likelihood(jax.random.PRNGKey(2), sde, gaussian(d).score_fn(sde), x,
                                     estimator=estimator)
    est = np.asarray(est, np.float64).reshape(2, reps)
    mean, se = est.mean(1), est.std(1, ddof=1) / math.sqrt(reps)
    assert np.all(se > 1e-3)                    # the estimator really is stochastic
    assert np.all(np.abs(mean - exact) < 4 * se), (mean, exact, se)


def test_likelihood_nfe_counts_real_score_calls():
    gm = gaussian(2)
    sde = sde_lib.VPSDE()
    calls = [0]

    def bump():
        calls[0] += 1

    def score(x, t):
        jax.debug.callback(bump)
        return gm.score_fn(sde)(x, t)

    x = gm.sample(jax.random.PRNGKey(0), 4)
    for estimator in ("exact", "rademacher"):     # "gaussian" shares rademacher's code path
        calls[0] = 0
        _, nfe = samplers.log_likelihood(jax.random.PRNGKey(1), sde, score, x, estimator=estimator,
                                         rtol=1e-4, atol=1e-4)
        jax.effects_barrier()
        assert int(nfe) == calls[0] > 2 and (int(nfe) - 2) % 6 == 0


def test_likelihood_errors_list_valid_names():
    gm = gaussian(2)
    sde = sde_lib.VPSDE()
    x = gm.sample(jax.random.PRNGKey(0), 2)
    with pytest.raises(ValueError, match="valid names") as e:
        samplers.log_likelihood(jax.random.PRNGKey(0), sde, gm.score_fn(sde), x, estimator="hutchinson")
    assert "rademacher" in str(e.value) and "exact" in str(e.value)
    with pytest.raises(ValueError, match="eps"):
        samplers.log_likelihood(jax.random.PRNGKey(0), sde, gm.score_fn(sde), x, eps=2.0)


def test_bits_per_dim_formula():
    x_shape = (5, 3, 4, 4)                      # D = 48
    d = 48
    # A model uniform on [-1, 1]^D (density 2^-D) is uniform over the 256 bins: exactly 8 bits.
    logp = jnp.full((5,), -d * math.log(2.0))
    np.testing.assert_allclose(samplers.bits_per_dim(logp, x_shape), 8.0, rtol=1e-6)
    # Same model in [0, 1] space (density 1): data_scale 1 gives 8 again.
    np.testing.assert_allclose(samplers.bits_per_dim(jnp.zeros(5), x_shape, data_scale=1.0), 8.0, rtol=1e-6)
    # score_sde's constant: offset 7 for [-1, 1] data.
    np.testing.assert_allclose(samplers.bits_per_dim(jnp.zeros(5), x_shape), 7.0, rtol=1e-6)
    np.testing.assert_allclose(samplers.bits_per_dim(jnp.zeros(5), x_shape, offset=0.0), 0.0, atol=1e-7)


def test_bits_per_dim_is_tight_for_a_histogram_model():
    """A density constant on each bin, p_u = L · P(k), makes the dequantisation bound tight:
    bpd must equal -log2 P(k) / D for the discrete distribution P."""
    rng = np.random.default_rng(0)
    levels, d = 16, 3
    probs = rng.dirichlet(np.ones(levels), size=d)               # independent per dimension
    k = rng.integers(0, levels, size=(6, d))
    log2_pk = np.log2(probs[np.arange(d), k]).sum(1)
    # Model space y = 2u - 1: log p_y = log p_u - D log 2.
    logp_y = (np.log(levels * probs[np.arange(d), k])).sum(1) - d * math.log(2.0)
    bpd = samplers.bits_per_dim(jnp.asarray(logp_y), (6, d), num_levels=levels)
    np.testing.assert_allclose(bpd, -log2_pk / d, rtol=1e-5)
